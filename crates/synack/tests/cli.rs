//! The binary as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::process::Command;

fn synack(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .output()
        .expect("run synack")
}

#[test]
fn explain_prints_the_three_steps_with_fixed_isns() {
    let out = synack(&["explain", "--client-isn", "1000", "--server-isn", "5000"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Send(") || l.contains("Enter"))
        .collect();
    assert!(
        lines[0].contains("client") && lines[0].contains("SYN-SENT") && lines[0].contains("rule 1")
    );
    assert!(
        lines[1].contains("server")
            && lines[1].contains("[S] seq=1000")
            && lines[1].contains("SYN-RECEIVED")
    );
    assert!(
        lines[2].contains("client")
            && lines[2].contains("[S.] seq=5000 ack=1001")
            && lines[2].contains("ESTABLISHED")
    );
    assert!(
        lines[3].contains("server")
            && lines[3].contains("[.] seq=1001 ack=5001")
            && lines[3].contains("rule 15")
    );
}

#[test]
fn bad_arguments_exit_2() {
    let out = synack(&["explain", "--client-isn", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());
}
