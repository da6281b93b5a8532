//! Every rule the engine cites has a test named `rule_NN_…`, and the rules
//! the core must implement are among them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::fs;
use std::path::Path;

use synack_engine::Rule;

fn read_dir(dir: &Path) -> String {
    let mut all = String::new();
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            all += &read_dir(&p);
        } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("rules.rs") {
            // rules.rs lists every rule; citing means a decision elsewhere.
            all += &fs::read_to_string(&p).unwrap();
        }
    }
    all
}

#[test]
fn every_cited_rule_has_a_named_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = read_dir(&root.join("src"));
    let tests = read_dir(&root.join("tests"));
    let mut missing = Vec::new();
    let mut cited = Vec::new();
    for r in Rule::ALL {
        // Match whole names: `Rule::SynRcvdAck` must not count for `Rule::SynRcvdAckX`.
        let name = format!("Rule::{r:?}");
        let is_cited = src
            .match_indices(&name)
            .any(|(i, _)| !src[i + name.len()..].starts_with(|c: char| c.is_alphanumeric()));
        if !is_cited {
            continue;
        }
        cited.push(r.id());
        if !tests.contains(&format!("fn rule_{:02}_", r.id())) {
            missing.push(format!("{} ({r:?})", r.id()));
        }
    }
    assert!(missing.is_empty(), "rules without a test: {missing:?}");
    // The core's checklist (1–5, 7, 8, 10–16, 19–20, 26–31, 35–39, 46–54).
    let core: Vec<u8> = [1..=5, 7..=8, 10..=16, 19..=20, 26..=31, 35..=39, 46..=54]
        .into_iter()
        .flatten()
        .collect();
    let uncited: Vec<u8> = core.into_iter().filter(|id| !cited.contains(id)).collect();
    assert!(
        uncited.is_empty(),
        "core rules not cited by the engine: {uncited:?}"
    );
}
