//! Any text as a packetdrill script: parsed or refused with a line and
//! column; a script that parses is run against the engine (virtual clock,
//! no shell, no kernel), which must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synack_script::engine::EngineSut;
use synack_script::settings::Settings;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(script) = synack_script::parse(src) else {
        return;
    };
    let settings = Settings::default();
    let mut sut = EngineSut::new(&settings);
    let _ = synack_script::run::run("fuzz", src, &script, &settings, &mut sut);
});
