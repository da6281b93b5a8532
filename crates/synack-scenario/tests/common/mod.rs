//! Shared by the scenario tests: a scenario by name, rendering with the
//! scenario's own answers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use synack_explain::{Format, Lang, Style};
use synack_scenario::Scenario;
use synack_trace::Trace;

pub fn sc(name: &str) -> Scenario {
    synack_scenario::by_name(name).unwrap()
}

pub fn render(t: &Trace, f: Format, lang: Lang, style: Style) -> String {
    synack_explain::render(t, &synack_scenario::answers(t), f, lang, style)
}

pub fn answer(t: &Trace, lang: Lang) -> (String, String) {
    let [en, zh] = synack_scenario::answers(t);
    if lang == Lang::Zh { zh } else { en }
}

/// The scenario against the kernel; `None` (SKIPPED) only without the
/// rights to make a namespace and with `CI` unset.
pub fn run_linux(o: synack_scenario::Options) -> Option<Trace> {
    match synack_scenario::run_linux(&o) {
        Ok(t) => Some(t),
        Err(synack_net::NetError::Namespace(e)) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED (set CI to make this a failure): {e}");
            None
        }
        Err(e) => panic!("{}: {e}", o.scenario.name),
    }
}
