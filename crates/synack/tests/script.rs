//! `synack script`: the project's packetdrill corpus run against the Linux
//! kernel (each run in a namespace the command makes) and against the
//! engine; the difference table checked against what the runs find; the
//! narration's numbers against tshark's reading of `--pcap`; failures,
//! unsupported and malformed scripts with their exit status; the `--help`
//! examples.
//!
//! Needs root (the namespaces); without it the test says SKIPPED, and
//! under CI it fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn synack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .current_dir(root())
        .env("LC_ALL", "C")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every script of the corpus, as paths relative to the repository.
fn corpus() -> Vec<String> {
    let mut v = Vec::new();
    for dir in ["active", "passive"] {
        for e in std::fs::read_dir(root().join("packetdrill").join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "pkt") {
                v.push(format!(
                    "packetdrill/{dir}/{}",
                    p.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    v.sort();
    v
}

/// A script written in the test's `scratch`, its path.
fn temp(scratch: &common::Scratch, name: &str, body: &str) -> String {
    let p = scratch.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

fn records(o: &Output) -> Vec<serde_json::Value> {
    text(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The corpus passes on the kernel; the engine's results are what
/// packetdrill/DIFFERENCES.md says, and that file is what `--format table`
/// makes now.
#[test]
fn corpus_passes_on_linux_and_the_difference_table_is_current() {
    if !common::can_make_namespaces() {
        return;
    }
    let files = corpus();
    assert!(files.len() >= 25, "{files:?}");
    let mut args = vec!["script", "--peer", "both", "--format", "jsonl"];
    args.extend(files.iter().map(String::as_str));
    let o = synack(&args);
    let recs = records(&o);
    assert_eq!(
        recs.len(),
        2 * files.len(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut engine_failed = Vec::new();
    for r in &recs {
        if r["peer"] == "linux" {
            assert_eq!(r["result"], "pass", "{}: {}", r["script"], r["mismatch"]);
            // Every event ran, and the model is beside each.
            assert!(
                r["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e["model"].is_object()),
                "{}",
                r["script"]
            );
        } else if r["result"] != "pass" {
            engine_failed.push(r["script"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        o.status.code(),
        Some(if engine_failed.is_empty() { 0 } else { 1 })
    );
    let table = std::fs::read_to_string(root().join("packetdrill/DIFFERENCES.md")).unwrap();
    for f in &files {
        assert_eq!(
            table.contains(&format!("| {f} |")),
            engine_failed.contains(f),
            "{f} in the table?"
        );
    }
    assert!(
        !table.contains("not explained yet"),
        "a difference without its `// model:` reason"
    );
    let mut args = vec!["script", "--peer", "both", "--format", "table"];
    let globbed: Vec<String> = corpus();
    args.extend(globbed.iter().map(String::as_str));
    let made = text(&synack(&args));
    assert_eq!(
        made, table,
        "packetdrill/DIFFERENCES.md is stale: regenerate it with the command it names"
    );
}

/// The narration, in both languages, and its numbers against tshark's.
#[test]
fn narration_says_what_the_pcap_shows() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("script");
    let pcap = scratch.join("narration.pcap");
    let p = pcap.display().to_string();
    let o = synack(&[
        "script",
        "--pcap",
        &p,
        "--format",
        "jsonl",
        "packetdrill/passive/open-v4.pkt",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = &records(&o)[0];
    let events = r["events"].as_array().unwrap();
    let synack_ev = events.iter().find(|e| e["kind"] == "outbound").unwrap();
    let live_seq = synack_ev["packet"]["seq"].as_u64().unwrap();
    assert_eq!(synack_ev["packet"]["rel_seq"], 0);
    // tshark reads the same three segments, and the SYN-ACK's seq.
    let t = Command::new("tshark")
        .args([
            "-r",
            &p,
            "-T",
            "fields",
            "-e",
            "tcp.flags.str",
            "-e",
            "tcp.seq_raw",
            "-e",
            "tcp.ack_raw",
            "-e",
            "ip.src",
        ])
        .output()
        .unwrap();
    let rows: Vec<Vec<String>> = String::from_utf8_lossy(&t.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[1][1], live_seq.to_string());
    assert_eq!(rows[1][3], "192.168.0.1");
    assert_eq!(
        rows[2][2],
        (live_seq + 1).to_string(),
        "the third ACK acknowledges ISN + 1"
    );
    let _ = std::fs::remove_file(&pcap);

    let en = text(&synack(&["script", "packetdrill/passive/open-v4.pkt"]));
    for want in [
        "packetdrill/passive/open-v4.pkt · linux (the kernel): pass",
        "injected SYN seq 0 ack 0 win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
        "the kernel sent SYN+ACK seq ",
        " (the script's 0) ack 1 win ",
        "synack's model of Linux did the same: rule 13 (",
        "sockets: LISTEN 192.168.0.1:8080 → LISTEN 192.168.0.1:8080, SYN_RECV 192.168.0.1:8080↔192.0.2.1:48123",
        "ESTABLISHED 192.168.0.1:8080↔192.0.2.1:48123",
        "1 passed, 0 failed, 0 unsupported, unparsable or not run",
    ] {
        assert!(en.contains(want), "{want:?} missing:\n{en}");
    }
    let zh = text(&synack(&[
        "script",
        "--lang",
        "zh",
        "packetdrill/passive/open-v4.pkt",
    ]));
    for want in [
        "linux (内核): 通过",
        "注入 SYN，序列号 0",
        "内核发出 SYN+ACK，序列号 ",
        "（脚本中的 0），确认号 1",
        "synack 的 Linux 模型做了同样的事：规则 13（",
    ] {
        assert!(zh.contains(want), "{want:?} missing:\n{zh}");
    }
}

/// Failures said as packetdrill says them and explained; exit 1.
#[test]
fn failures_are_reported_with_their_numbers() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("script");
    let head = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n+0.1 < S 0:0(0) win 65535 <mss 1460>\n";
    let wrong_ack = temp(
        &scratch,
        "ack.pkt",
        &format!("{head}+0 > S. 0:0(0) ack 2 <mss 1460>\n"),
    );
    let o = synack(&["script", &wrong_ack]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("FAIL at line 5: ack: expected 2, actual 1 (-1)"),
        "{t}"
    );
    assert!(
        t.contains("why: the kernel acknowledged 1 (-1); the script expects 2"),
        "{t}"
    );
    // The engine expected the same as the kernel did.
    assert!(
        t.contains("synack's model of Linux differs here: ack: expected 2, actual 1 (-1)"),
        "{t}"
    );

    let late = temp(
        &scratch,
        "late.pkt",
        &format!("{head}+0.5 > S. 0:0(0) ack 1 <mss 1460>\n"),
    );
    let t = text(&synack(&["script", &late]));
    assert!(
        t.contains("FAIL at line 5: expected the packet at 0.6"),
        "{t}"
    );
    assert!(
        t.contains("early, more than the tolerance of 62.500 ms"),
        "{t}"
    );

    let never = temp(
        &scratch,
        "never.pkt",
        &format!("{head}+0 > S. 0:0(0) ack 1 <mss 1460>\n+0.2 > F. 1:1(0) ack 1\n"),
    );
    let o = synack(&["script", "--format", "jsonl", &never]);
    let r = &records(&o)[0];
    assert_eq!(r["result"], "fail");
    assert_eq!(r["mismatch"]["kind"], "missing");
    assert_eq!(r["mismatch"]["line"], 6);

    let call = temp(
        &scratch,
        "call.pkt",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 connect(3, ..., ...) = 0\n",
    );
    let t = text(&synack(&["script", "--peer", "both", &call]));
    assert!(
        t.contains("connect() returned -1 EINPROGRESS, expected 0"),
        "{t}"
    );
    assert!(
        t.contains("the kernel and the engine ran this script alike"),
        "{t}"
    );
}

/// Unsupported and unparsable scripts: named with their line, exit 2; a
/// bad --pcap path refused before any run.
#[test]
fn unsupported_and_malformed_scripts_exit_2() {
    let scratch = common::Scratch::new("script");
    let unsupported = temp(
        &scratch,
        "u.pkt",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ assert tcpi_rto == 1 }%\n",
    );
    let o = synack(&["script", "--peer", "engine", &unsupported]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("line 2: a %{ … }% assertion block (Python code) is not supported; the script was not run"), "{t}");
    let bad = temp(&scratch, "bad.pkt", "0 < S 0:10(5) win 1\n");
    let o = synack(&["script", "--peer", "engine", "--format", "jsonl", &bad]);
    assert_eq!(o.status.code(), Some(2));
    let r = &records(&o)[0];
    assert_eq!(r["result"], "unparsable");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .starts_with("line 1, column 7: bad sequence arithmetic"),
        "{r}"
    );
    let o = synack(&[
        "script",
        "--pcap",
        "/nonexistent/x.pcap",
        "--peer",
        "engine",
        &bad,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--pcap /nonexistent/x.pcap"));
    let o = synack(&["script", "--format", "table", &bad]);
    assert_eq!(o.status.code(), Some(2));
    // A mix of a pass and an unsupported script is not "all passed".
    let o = synack(&[
        "script",
        "--peer",
        "engine",
        "packetdrill/passive/open-v4.pkt",
        &unsupported,
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = synack(&[
        "script",
        "--peer",
        "engine",
        "packetdrill/passive/open-v4.pkt",
    ]);
    assert_eq!(o.status.code(), Some(0));
}

/// The examples of `synack script --help`, run as written (globs expanded).
#[test]
fn help_examples_run() {
    let help = text(&synack(&["script", "--help"]));
    let examples = help
        .split("Examples:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    let mut ran = 0;
    for line in examples
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("synack "))
    {
        let cmd = line.split("   ").next().unwrap().trim();
        let words = common::shell_words(cmd);
        let mut args = Vec::new();
        for w in words.iter().skip(1) {
            match w.strip_suffix("*.pkt") {
                Some(dir) => args.extend(corpus().into_iter().filter(|f| f.starts_with(dir))),
                None => args.push(w.clone()),
            }
        }
        let linux = !args.iter().any(|a| a == "engine");
        if linux && !common::can_make_namespaces() {
            continue;
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = synack(&a);
        assert!(
            matches!(o.status.code(), Some(0 | 1)) && !o.stdout.is_empty(),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 1, "no example ran");
}

/// Scripts written by `explain --format packetdrill` and `analyze --format
/// packetdrill` replay and pass: against the engine always, against the
/// kernel as root.
#[test]
fn written_scripts_replay_and_pass() {
    let scratch = common::Scratch::new("script");
    let linux = common::is_root() || std::env::var_os("CI").is_some();
    for scenario in ["normal", "refused", "syn-lost", "synack-lost", "ack-lost"] {
        let o = synack(&[
            "explain",
            "--peer",
            "sim",
            "--scenario",
            scenario,
            "--format",
            "packetdrill",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{scenario}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let body = text(&o);
        assert!(
            body.starts_with(&format!(
                "// synack explain --scenario {scenario}: the client "
            )),
            "{body}"
        );
        assert!(
            body.contains("> S 0:0(0) <mss 1460,sackOK,TS val "),
            "{body}"
        );
        let file = temp(&scratch, &format!("explain-{scenario}.pkt"), &body);
        let e = synack(&["script", "--peer", "engine", &file]);
        assert_eq!(
            e.status.code(),
            Some(0),
            "{scenario} on the engine:\n{body}\n{}",
            text(&e)
        );
        if linux && common::can_make_namespaces() {
            let k = synack(&["script", &file]);
            assert_eq!(
                k.status.code(),
                Some(0),
                "{scenario} on the kernel:\n{body}\n{}",
                text(&k)
            );
        }
    }
    if !(linux && common::can_make_namespaces()) {
        return;
    }
    // A capture of the kernel connecting, made by a script run, written back
    // as a script: the same handshake.
    let pcap = scratch.join("replay.pcap");
    let p = pcap.display().to_string();
    assert_eq!(
        synack(&["script", "--pcap", &p, "packetdrill/active/open-v4.pkt"])
            .status
            .code(),
        Some(0)
    );
    let o = synack(&["analyze", "--format", "packetdrill", &p]);
    let body = text(&o);
    assert!(
        body.contains("// attempt 1 of ") && body.contains("frames 1-3"),
        "{body}"
    );
    assert!(
        body.contains("< S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 700 ecr "),
        "{body}"
    );
    let file = temp(&scratch, "analyze.pkt", &body);
    let k = synack(&["script", &file]);
    assert_eq!(k.status.code(), Some(0), "{body}\n{}", text(&k));
    let _ = std::fs::remove_file(&pcap);
}
