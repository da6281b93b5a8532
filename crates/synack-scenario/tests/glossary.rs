//! The Chinese narration follows `docs/glossary.md`: no variant the
//! glossary rules out appears in any Chinese text of the program (every
//! string literal with Chinese in it, in every crate) or in any scenario's
//! rendered narration, and every glossary term is in use.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::{Path, PathBuf};

use synack_explain::{Format, Lang, Style};
use synack_scenario::{ALL, Options};

struct Row {
    concept: String,
    term: String,
    avoid: Vec<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn glossary() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("docs/glossary.md")).unwrap();
    text.lines()
        .filter(|l| l.starts_with('|') && !l.contains("---"))
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            Row {
                concept: cells[0].to_string(),
                term: cells[1].to_string(),
                avoid: cells[2].split('、').map(str::to_string).collect(),
            }
        })
        .collect()
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// Every line of Rust source under `crates/*/src` that has Chinese in it.
fn chinese_source() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("crates")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() && !p.ends_with("tests") && !p.ends_with("target") {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for (i, l) in text.lines().enumerate() {
                    if l.chars().any(is_cjk) {
                        out.push((format!("{}:{}", p.display(), i + 1), l.to_string()));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_chinese_narration_follows_the_glossary() {
    let rows = glossary();
    assert!(rows.len() >= 20, "{} rows", rows.len());
    let mut texts = chinese_source();
    assert!(texts.len() > 200, "{} lines", texts.len());
    for s in ALL {
        let t = synack_scenario::run_sim(&Options {
            scenario: s,
            seed: Some(1),
            ..Options::default()
        })
        .unwrap();
        let text = common::render(&t, Format::Text, Lang::Zh, Style::PLAIN);
        texts.push((format!("{} (zh)", s.name), text));
    }
    let mut bad = Vec::new();
    for r in &rows {
        for v in &r.avoid {
            for (at, l) in &texts {
                // A term may contain a variant (复位 is fine where 位 follows).
                if l.replace(&r.term, "").contains(v.as_str()) {
                    bad.push(format!("{at}: {v:?} for {} (use {})", r.concept, r.term));
                }
            }
        }
        if !texts.iter().any(|(_, l)| l.contains(&r.term)) {
            bad.push(format!("{} ({}) is never used", r.term, r.concept));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
