//! Any bytes as a pcap or pcapng file, through what `synack analyze` uses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = synack_capture::analyze_each(data, "fuzz", |a| {
        // The report is built from these; they must be usable.
        let _ = a.outcome.name();
        assert!(a.history.len() <= 200, "history bounded: {}", a.history);
    });
});
