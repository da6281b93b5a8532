//! The project's corpus against the engine, in process (no root): every
//! script passes, or packetdrill/DIFFERENCES.md lists it with its reason;
//! and the executor's mismatch kinds on scripts made to fail.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::path::Path;

use synack_script::report::{MismatchKind, Verdict};
use synack_script::settings::Settings;
use synack_script::{Peers, check};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn engine(src: &str) -> synack_script::report::Report {
    check("t.pkt", src, &Settings::default(), Peers::Engine)
        .unwrap()
        .remove(0)
}

#[test]
fn the_engine_passes_the_corpus_or_the_table_says_why_not() {
    let table = std::fs::read_to_string(root().join("packetdrill/DIFFERENCES.md")).unwrap();
    let mut n = 0;
    for dir in ["active", "passive"] {
        for e in std::fs::read_dir(root().join("packetdrill").join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = format!(
                "packetdrill/{dir}/{}",
                p.file_name().unwrap().to_string_lossy()
            );
            let src = std::fs::read_to_string(&p).unwrap();
            let r = check(&name, &src, &Settings::default(), Peers::Engine)
                .unwrap()
                .remove(0);
            let listed = table.contains(&format!("| {name} |"));
            assert_eq!(
                r.result != Verdict::Pass,
                listed,
                "{name}: {:?} {:?}",
                r.result,
                r.mismatch
            );
            if listed {
                assert!(
                    synack_script::compare::model_comment(&src).is_some(),
                    "{name} has no `// model:` reason"
                );
            }
            n += 1;
        }
    }
    assert!(n >= 40, "{n} scripts");
}

const OPEN: &str = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n+0.1 < S 0:0(0) win 65535 <mss 1460>\n";

#[test]
fn each_kind_of_mismatch() {
    let r = engine(&format!("{OPEN}+0 > S. 0:0(0) ack 2 <mss 1460>\n"));
    let m = r.mismatch.unwrap();
    assert_eq!(
        (m.kind, m.line, m.message.as_str()),
        (MismatchKind::Field, 5, "ack: expected 2, actual 1 (-1)")
    );
    // On the virtual clock the SYN-ACK comes at 0.100 exactly: 0.5 s late is a timing mismatch.
    let m = engine(&format!("{OPEN}+0.5 > S. 0:0(0) ack 1 <mss 1460>\n"))
        .mismatch
        .unwrap();
    assert_eq!(m.kind, MismatchKind::Timing);
    assert_eq!(
        (m.expected_us, m.at_us, m.tolerance_us),
        (Some(600_000), Some(100_000), Some(62_500))
    );
    let m = engine(&format!(
        "{OPEN}+0 > S. 0:0(0) ack 1 <mss 1460>\n+0.1 > F. 1:1(0) ack 1\n"
    ))
    .mismatch
    .unwrap();
    assert_eq!((m.kind, m.line), (MismatchKind::Missing, 6));
    let m = engine(
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 connect(3, ..., ...) = -1 EINPROGRESS\n",
    )
    .mismatch
    .unwrap();
    assert_eq!(m.kind, MismatchKind::Call);
    assert!(m.message.contains("blocked"), "{}", m.message);
    let m = engine("0 `touch /tmp/x`\n").mismatch.unwrap();
    assert_eq!(m.kind, MismatchKind::Shell);
    let r = engine(
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, SOL_TCP, TCP_MAXSEG, [1000], 4) = 0\n",
    );
    assert!(
        r.mismatch
            .unwrap()
            .message
            .contains("the engine has no socket option")
    );
    let r = engine("--mss=1000\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
    assert_eq!(r.result, Verdict::Unsupported);
    assert_eq!(r.unsupported.unwrap().construct, "the script option --mss");
}

#[test]
fn a_blocking_call_returns_when_the_packet_comes() {
    let src = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0...0.1 connect(3, ..., ...) = 0\n*  > S 0:0(0) <...>\n0.1 < S. 0:0(0) ack 1 win 65535 <mss 1460>\n+0 > . 1:1(0) ack 1\n";
    let r = engine(src);
    assert_eq!(r.result, Verdict::Pass, "{:?}", r.mismatch);
    assert_eq!(r.events[1].returned.as_deref(), Some("0 at 0.100 s"));
    // Said to return at 0.3 s, it returns at 0.1 s: a timing mismatch.
    let r = engine(&src.replace("+0...0.1", "+0...0.3"));
    assert_eq!(r.mismatch.unwrap().kind, MismatchKind::Timing);
}
