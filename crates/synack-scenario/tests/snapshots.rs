//! Every scenario, in both languages and every format, with fixed ISNs and
//! the virtual clock, compared with the files in `tests/snapshots/`.
//! `SYNACK_BLESS=1 cargo test -p synack-explain` rewrites them; review the
//! diff before committing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::path::PathBuf;

mod common;

use common::{answer, render, sc};
use synack_explain::{Format, Lang, Style};
use synack_scenario::{Options, Scenario, run_sim as run};

fn trace(s: Scenario) -> synack_explain::Trace {
    run(&Options {
        scenario: s,
        client_isn: Some(1000),
        server_isn: Some(5000),
        seed: Some(0),
        ..Options::default()
    })
    .unwrap()
}

fn check(name: &str, got: &str) -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("SYNACK_BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
        return None;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want == got {
        return None;
    }
    let line = want
        .lines()
        .zip(got.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| want.lines().count().min(got.lines().count()));
    Some(format!(
        "{name}: differs at line {}:\n  want: {}\n  got:  {}",
        line + 1,
        want.lines().nth(line).unwrap_or("<end>"),
        got.lines().nth(line).unwrap_or("<end>")
    ))
}

#[test]
fn every_scenario_matches_its_snapshots() {
    let mut failures = Vec::new();
    for s in synack_scenario::ALL {
        let t = trace(s);
        let outputs = [
            ("en.txt", render(&t, Format::Text, Lang::En, Style::PLAIN)),
            ("zh.txt", render(&t, Format::Text, Lang::Zh, Style::PLAIN)),
            ("json", render(&t, Format::Json, Lang::En, Style::PLAIN)),
            (
                "tcpdump",
                render(&t, Format::Tcpdump, Lang::En, Style::PLAIN),
            ),
        ];
        for (ext, got) in outputs {
            failures.extend(check(&format!("{}.{ext}", s.name), &got));
        }
    }
    // The close with the server closing first.
    let t = run(&Options {
        scenario: sc("close"),
        client_isn: Some(1000),
        server_isn: Some(5000),
        closer: synack_engine::sim::Side::B,
        seed: Some(0),
        ..Options::default()
    })
    .unwrap();
    for (ext, got) in [
        ("en.txt", render(&t, Format::Text, Lang::En, Style::PLAIN)),
        ("zh.txt", render(&t, Format::Text, Lang::Zh, Style::PLAIN)),
        ("json", render(&t, Format::Json, Lang::En, Style::PLAIN)),
    ] {
        failures.extend(check(&format!("close-server-first.{ext}"), &got));
    }
    assert!(
        failures.is_empty(),
        "{}\n(run with SYNACK_BLESS=1 to accept)",
        failures.join("\n")
    );
}

#[test]
fn runs_are_deterministic() {
    for s in synack_scenario::ALL {
        let a = render(&trace(s), Format::Json, Lang::En, Style::PLAIN);
        let b = render(&trace(s), Format::Json, Lang::En, Style::PLAIN);
        assert_eq!(a, b, "{}", s.name);
    }
}

#[test]
fn chinese_uses_textbook_terms() {
    let t = render(&trace(sc("normal")), Format::Text, Lang::Zh, Style::PLAIN);
    for term in [
        "三次握手",
        "初始序列号",
        "确认号",
        "标志位",
        "SYN 占用一个序列号",
    ] {
        assert!(t.contains(term), "missing {term}");
    }
    let t = render(
        &trace(sc("synack-lost")),
        Format::Text,
        Lang::Zh,
        Style::PLAIN,
    );
    assert!(t.contains("半连接队列"));
}

#[test]
fn each_scenario_tells_what_was_dropped_and_ends_with_its_answer() {
    for s in synack_scenario::ALL {
        let t = render(&trace(s), Format::Text, Lang::En, Style::PLAIN);
        let lost = t.contains("✕ lost");
        let drops = matches!(
            s.name,
            "syn-lost"
                | "synack-lost"
                | "ack-lost"
                | "filtered"
                | "syn-flood"
                | "ecn"
                | "last-ack-lost"
                | "time-wait"
                | "third-ack-data"
        );
        assert_eq!(lost, drops, "{}", s.name);
        let last = t.trim_end().lines().rev().find(|l| l.ends_with('?'));
        assert!(last.is_some(), "{} has no question", s.name);
        // Every number in the answer came from the run: none is missing.
        for lang in [Lang::En, Lang::Zh] {
            let (_, a) = answer(&trace(s), lang);
            assert!(!a.contains(" ?") && !a.contains("?,"), "{}: {a}", s.name);
        }
    }
}

#[test]
fn colour_only_when_asked() {
    let t = trace(sc("normal"));
    assert!(!render(&t, Format::Text, Lang::En, Style::PLAIN).contains('\x1b'));
    assert!(
        render(
            &t,
            Format::Text,
            Lang::En,
            Style {
                color: true,
                ..Style::PLAIN
            }
        )
        .contains("\x1b[")
    );
}

/// By default a thing is said once per run: each rule's text, each
/// segment's options, the ISN's origin; `-v` says everything each time.
#[test]
fn a_thing_is_said_once_unless_verbose() {
    let verbose = Style {
        verbose: true,
        ..Style::PLAIN
    };
    for s in synack_scenario::ALL {
        let t = trace(s);
        for lang in [Lang::En, Lang::Zh] {
            let once = render(&t, Format::Text, lang, Style::PLAIN);
            let all = render(&t, Format::Text, lang, verbose);
            assert!(once.lines().count() <= all.lines().count(), "{}", s.name);
            for rule in synack_engine::Rule::ALL {
                let summary = synack_explain::rule_summary(rule, lang);
                let n = once.matches(summary).count();
                assert!(
                    n <= 1,
                    "{} {lang:?}: rule {} said {n} times",
                    s.name,
                    rule.id()
                );
            }
            for told in [
                "(options as above)",
                "（选项同上）",
                "made as told above",
                "生成方式同上",
            ] {
                assert!(!all.contains(told), "{}: verbose says {told:?}", s.name);
            }
        }
    }
}
