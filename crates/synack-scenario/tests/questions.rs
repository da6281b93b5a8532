//! The README lists the sixteen questions and their scenarios exactly as
//! the scenario crate does (`SYNACK_BLESS=1` rewrites the list there).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

#[test]
fn the_readme_lists_the_questions_of_the_registry() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let text = std::fs::read_to_string(path).unwrap();
    let (head, rest) = text.split_once("<!-- questions:begin -->\n").unwrap();
    let (listed, tail) = rest.split_once("<!-- questions:end -->").unwrap();
    let want = synack_scenario::questions::table();
    if std::env::var_os("SYNACK_BLESS").is_some() {
        let new = format!("{head}<!-- questions:begin -->\n{want}<!-- questions:end -->{tail}");
        std::fs::write(path, new).unwrap();
        return;
    }
    assert_eq!(
        listed, want,
        "README.md's questions (SYNACK_BLESS=1 rewrites them)"
    );
    assert_eq!(want.lines().count(), 2 + 16);
}
