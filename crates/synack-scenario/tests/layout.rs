//! Every scenario in both languages fits an 80-column terminal: no line
//! longer, the diagram intact, Chinese lines broken by the usual rules.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use synack_explain::layout::cols;
use synack_explain::{Format, Lang, Style};
use synack_scenario::{ALL, Options};

#[test]
fn every_scenario_fits_80_columns() {
    let style = Style {
        width: Some(80),
        ..Style::PLAIN
    };
    for s in ALL {
        for ipv6 in [false, true] {
            let mut o = Options {
                scenario: s,
                seed: Some(0),
                ..Options::default()
            };
            if ipv6 {
                o.client = "[2001:db8::10]:40000".parse().unwrap();
                o.server = "[2001:db8::20]:80".parse().unwrap();
            }
            let t = synack_scenario::run_sim(&o).unwrap();
            for lang in [Lang::En, Lang::Zh] {
                let text = common::render(&t, Format::Text, lang, style);
                for line in text.lines() {
                    assert!(
                        cols(line) <= 80,
                        "{} {lang:?}: {} columns: {line}",
                        s.name,
                        cols(line)
                    );
                    if lang == Lang::Zh {
                        let first = line.trim_start().chars().next();
                        assert!(
                            !first.is_some_and(|c| "，。、；：！？）".contains(c)),
                            "{}: starts with closing punctuation: {line}",
                            s.name
                        );
                        assert!(!line.ends_with('（'), "{}: ends with （: {line}", s.name);
                    }
                }
                // The states are whole words, not cut by a wrap.
                assert!(!text.contains("SYN-RECEI\n"), "{}", s.name);
            }
        }
    }
}
