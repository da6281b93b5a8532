//! The binary as a user runs it: languages, formats, errors and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;
use std::process::{Command, Output};

/// Runs `synack`; `explain` gets `--peer sim` unless the test names a peer.
fn synack(args: &[&str], lang: &str) -> Output {
    let mut args: Vec<&str> = args.to_vec();
    if args.first() == Some(&"explain") && !args.contains(&"--peer") {
        args.extend(["--peer", "sim"]);
    }
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(&args)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", lang)
        .env_remove("NO_COLOR")
        .output()
        .expect("run synack")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn explain_narrates_the_textbook_handshake() {
    let out = synack(&["explain", "--isn", "client=1000,server=5000"], "C");
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains(
            "ack = 1001 = client ISN 1000 + 1, because a SYN consumes one sequence number"
        )
    );
    assert!(text.contains("ack = 5001 = server's seq 5000 + 1"));
    assert!(text.contains("SYN-SENT → ESTABLISHED"));
    assert!(text.contains("Why three segments and not two?"));
    assert!(!text.contains('\x1b'), "no colour when not a terminal");
}

#[test]
fn language_follows_the_locale_and_the_flag() {
    let zh = stdout(&synack(&["explain"], "zh_CN.UTF-8"));
    assert!(zh.contains("三次握手"));
    let en = stdout(&synack(&["explain", "--lang", "en"], "zh_CN.UTF-8"));
    assert!(en.contains("three-way handshake") && !en.contains("三次握手"));
    let zh = stdout(&synack(&["explain", "--lang", "zh"], "en_US.UTF-8"));
    assert!(zh.contains("为什么是三次握手"));
}

#[test]
fn every_scenario_runs_in_every_format() {
    for s in [
        "normal",
        "syn-lost",
        "synack-lost",
        "ack-lost",
        "refused",
        "filtered",
        "close",
        "data",
    ] {
        for f in ["text", "json", "tcpdump"] {
            let out = synack(&["explain", "--scenario", s, "--format", f], "C");
            assert!(
                out.status.success(),
                "{s} {f}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.stdout.is_empty());
        }
    }
}

#[test]
fn json_is_versioned_and_parses() {
    let out = synack(
        &["explain", "--format", "json", "--scenario", "refused"],
        "C",
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "synack.explain/1");
    assert_eq!(v["scenario"], "refused");
    assert!(v["steps"].as_array().unwrap().len() >= 4);
}

#[test]
fn tcpdump_lines_look_like_tcpdump() {
    let out = synack(
        &[
            "explain",
            "--format",
            "tcpdump",
            "--isn",
            "client=1000,server=5000",
            "--seed",
            "0",
        ],
        "C",
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].ends_with(
        "IP 192.0.2.10.40000 > 198.51.100.20.80: Flags [S], seq 1000, win 64240, options [mss 1460,sackOK,TS val 2298633409 ecr 0,nop,wscale 7], length 0"
    ));
    assert!(lines[1].contains("Flags [S.], seq 5000, ack 1001,"));
    assert!(lines[2].contains("Flags [.], ack 1, win 501,"));
}

#[test]
fn colour_on_request_and_never_with_no_color() {
    let out = synack(&["explain", "--color", "always"], "C");
    assert!(stdout(&out).contains("\x1b["));
    let out = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(["explain", "--color", "auto", "--peer", "sim"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!stdout(&out).contains('\x1b'));
}

#[test]
fn bad_arguments_exit_2_with_a_reason() {
    for args in [
        &["explain", "--isn", "client=nope"][..],
        &["explain", "--isn", "peer=1"],
        &["explain", "--scenario", "sideways"],
        &["explain", "--lang", "fr"],
        &["explain", "--format", "xml"],
        &["explain", "--role", "server", "--peer", "sim"],
        &["explain", "--role", "server", "--scenario", "ecn"],
        &["frobnicate"],
    ] {
        let out = synack(args, "C");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    let out = synack(&["explain", "--isn", "client=nope"], "C");
    assert!(String::from_utf8_lossy(&out.stderr).contains("an ISN is a number"));
}

#[test]
fn help_teaches_with_examples() {
    let out = synack(&["explain", "--help"], "C");
    let text = stdout(&out);
    assert!(out.status.success());
    for s in [
        "Examples:",
        "--scenario",
        "ack-lost",
        "--isn",
        "client=1000,server=5000",
        "--format",
    ] {
        assert!(text.contains(s), "help lacks {s}");
    }
}

#[test]
fn output_to_a_closed_pipe_is_not_an_error() {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(["explain", "--scenario", "filtered", "--peer", "sim"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        status.success() || status.code().is_none(),
        "{status:?} {err}"
    );
}

#[test]
fn peer_linux_explains_against_the_kernel_or_says_why_not() {
    let out = synack(&["explain", "--peer", "linux", "--isn", "client=1000"], "C");
    let root = common::is_root();
    if !root && std::env::var_os("CI").is_none() {
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("network namespace"));
        eprintln!("SKIPPED the kernel part: not root");
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains("the peer is the Linux"));
    assert!(text.contains("server (Linux kernel)  sends SYN+ACK"));
    assert!(text.contains("ack = 1001 = client ISN 1000 + 1"));
    assert!(text.contains("reported by the kernel (sock_diag"));
}

#[test]
fn peer_auto_falls_back_to_sim_for_an_unprivileged_user() {
    // Run as nobody when we can switch users (as root, with setpriv).
    if !common::is_root() || !std::path::Path::new("/usr/bin/setpriv").exists() {
        eprintln!("SKIPPED: needs root and setpriv to try an unprivileged user");
        return;
    }
    // Unprivileged user namespaces may let nobody reach the kernel peer; a
    // TUN device that is /dev/null (in a mount namespace of this command
    // only) is one it cannot use, whoever it is.
    let script = format!(
        "mount --bind /dev/null /dev/net/tun && exec /usr/bin/setpriv --reuid=65534 --regid=65534 \
         --clear-groups {} explain --lang en",
        env!("CARGO_BIN_EXE_synack")
    );
    let out = Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("using the simulated peer"), "{err}");
    assert!(err.contains("/dev/net/tun"), "{err}");
    assert!(stdout(&out).contains("simulated link"));
}

#[test]
fn pcap_opens_in_tshark_as_a_complete_handshake() {
    let dir = std::env::temp_dir().join(format!("synack-cli-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("explain.pcap");
    let out = synack(
        &[
            "explain",
            "--scenario",
            "data",
            "--pcap",
            file.to_str().unwrap(),
        ],
        "C",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&file).unwrap();
    // pcap magic, LINKTYPE_RAW, and 8 segments after the 24-byte header.
    assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes());
    assert_eq!(&bytes[20..24], &101u32.to_le_bytes());
    let tshark = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args([
            "-2",
            "-T",
            "fields",
            "-e",
            "tcp.completeness",
            "-e",
            "_ws.expert.message",
        ])
        .output();
    match tshark {
        Ok(t) => {
            let text = String::from_utf8_lossy(&t.stdout);
            assert!(t.status.success() && !text.contains("Malformed"), "{text}");
            assert!(
                text.lines().any(|l| l
                    .split('\t')
                    .next()
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .is_some_and(|v| v >= 15)),
                "{text}"
            );
        }
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED the tshark part: tshark not installed")
        }
        Err(e) => panic!("CI is set but tshark cannot run: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connect_and_listen_on_a_tun_device_you_made() {
    if !common::is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but not root");
        eprintln!("SKIPPED: needs root to make a namespace and a TUN device");
        return;
    }
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::process::Stdio;
    // Everything happens in a namespace this thread makes; the children
    // (synack) inherit it.
    std::thread::spawn(|| {
        synack_net::lab::private_namespace().unwrap();
        for args in [
            &["tuntap", "add", "dev", "ext0", "mode", "tun"][..],
            &["addr", "add", "10.9.0.1/24", "dev", "ext0"],
            &["link", "set", "ext0", "up"],
        ] {
            synack_net::lab::run_ip(args).unwrap();
        }
        let bin = env!("CARGO_BIN_EXE_synack");
        // connect: the kernel listens.
        let l = TcpListener::bind("10.9.0.1:80").unwrap();
        let child = Command::new(bin)
            .args([
                "connect",
                "10.9.0.1:80",
                "--tun",
                "ext0",
                "--local",
                "10.9.0.2",
                "--send",
                "ping",
                "--lang",
                "en",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        l.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let (mut s, peer) = loop {
            match l.accept() {
                Ok(x) => break x,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(e) => panic!("synack never connected: {e}"),
            }
        };
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        assert_eq!(peer.to_string(), "10.9.0.2:40000");
        let mut b = [0u8; 4];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ping");
        s.write_all(b"pong").unwrap();
        drop(s);
        let out = child.wait_with_output().unwrap();
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(
            text.contains("received \"pong\"") && text.contains("SYN-SENT → ESTABLISHED"),
            "{text}"
        );
        // Refused: exit 1.
        let out = Command::new(bin)
            .args([
                "connect",
                "10.9.0.1:81",
                "--tun",
                "ext0",
                "--local",
                "10.9.0.2",
                "--lang",
                "en",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(stdout(&out).contains("connection refused"));
        // listen: the kernel connects to synack.
        let child = Command::new(bin)
            .args([
                "listen",
                "10.9.0.2:8080",
                "--tun",
                "ext0",
                "--send",
                "pong",
                "--lang",
                "en",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut c = TcpStream::connect_timeout(
            &"10.9.0.2:8080".parse().unwrap(),
            std::time::Duration::from_secs(5),
        )
        .unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        c.write_all(b"ping").unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"pong");
        drop(c);
        let out = child.wait_with_output().unwrap();
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(
            text.contains("received \"ping\"") && text.contains("LISTEN → SYN-RECEIVED"),
            "{text}"
        );
    })
    .join()
    .unwrap();
}

#[test]
fn connect_needs_an_existing_device_and_a_local_address() {
    let out = synack(
        &[
            "connect",
            "10.9.0.1:80",
            "--tun",
            "no-such-dev0",
            "--local",
            "10.9.0.2",
        ],
        "C",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ip tuntap add"));
    let out = synack(&["connect", "10.9.0.1:80", "--tun", "x"], "C");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--local"));
}

#[test]
fn ipv6_runs_with_documentation_addresses() {
    let out = synack(&["explain", "--ipv6", "--format", "tcpdump"], "C");
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("IP6 2001:db8::10.40000 > 2001:db8::20.80: Flags [S]"),
        "{text}"
    );
}

#[test]
fn analyze_reports_attempts_and_exit_codes() {
    let Some(dir) = common::public_captures() else {
        return;
    };
    let f = dir.join("chrissanders-synscan.pcapng");
    let out = synack(&["analyze", "--format", "jsonl", f.to_str().unwrap()], "C");
    assert_eq!(out.status.code(), Some(0));
    let recs: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 1994);
    let count = |o: &str| recs.iter().filter(|r| r["outcome"] == o).count();
    assert_eq!(
        (count("half_open"), count("refused"), count("no_answer")),
        (3, 5, 1986)
    );
    let out = synack(
        &[
            "analyze",
            "--format",
            "json",
            dir.join("chrissanders-tcp_handshake.pcapng")
                .to_str()
                .unwrap(),
        ],
        "C",
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = &v["files"][0]["attempts"][0];
    assert_eq!(
        (
            a["outcome"].as_str(),
            a["conn_state"].as_str(),
            a["ack_frame"].as_u64()
        ),
        (Some("established"), Some("S1"), Some(3))
    );
    assert_eq!(
        synack(&["analyze", "/no/such/file.pcap"], "C")
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        synack(&["analyze", env!("CARGO_MANIFEST_DIR")], "C")
            .status
            .code(),
        Some(1)
    );
    assert_eq!(synack(&["analyze"], "C").status.code(), Some(2));
    // Holding no attempt is refused, not taken as one.
    let none = synack(&["analyze", "--max-attempts", "0", "x.pcap"], "C");
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("at least 1"));
}

/// Whether `tool` runs (asked for its version with `flag`); when it does
/// not, says the test is skipped, which CI does not allow.
fn installed(tool: &str, flag: &str) -> bool {
    let ok = Command::new(tool)
        .arg(flag)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {tool} is missing"
        );
        eprintln!("SKIPPED: {tool} is not installed");
    }
    ok
}

/// `tshark -2` on captures synack wrote itself must see the same handshake
/// frames, retransmissions and initial RTT as `synack analyze`. Known tshark
/// quirks are expected differences: it gives an iRTT for a SYN answered by
/// RST,ACK (it counts RST,ACK as the third ACK).
#[test]
fn analyze_agrees_with_tshark_on_our_own_captures() {
    if !installed("tshark", "-v") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("synack-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut runs: Vec<Vec<&str>> = [
        "normal",
        "syn-lost",
        "synack-lost",
        "ack-lost",
        "refused",
        "filtered",
        "close",
        "data",
    ]
    .iter()
    .map(|s| vec!["--peer", "sim", "--scenario", s])
    .collect();
    if common::is_root() {
        runs.push(vec!["--peer", "linux", "--scenario", "synack-lost"]);
        runs.push(vec![
            "--peer",
            "linux",
            "--scenario",
            "data",
            "--role",
            "server",
        ]);
    }
    for (i, args) in runs.iter().enumerate() {
        let file = dir.join(format!("run{i}.pcap"));
        let f = file.to_str().unwrap();
        let mut a = vec!["explain", "--pcap", f, "--format", "json"];
        a.extend(args.iter());
        let out = synack(&a, "C");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours = synack(&["analyze", "--format", "jsonl", f], "C");
        let recs: Vec<serde_json::Value> = stdout(&ours)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(recs.len(), 1, "{args:?}: one attempt");
        let r = &recs[0];
        let t = Command::new("tshark")
            .arg("-r")
            .arg(&file)
            .args([
                "-2",
                "-T",
                "fields",
                "-E",
                "separator=,",
                "-e",
                "frame.number",
                "-e",
                "tcp.flags.syn",
                "-e",
                "tcp.flags.ack",
            ])
            .args([
                "-e",
                "tcp.analysis.retransmission",
                "-e",
                "tcp.analysis.initial_rtt",
                "-e",
                "ip.src",
            ])
            .output()
            .unwrap();
        let rows: Vec<Vec<String>> = String::from_utf8_lossy(&t.stdout)
            .lines()
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect();
        let col = |row: &Vec<String>, i: usize| row.get(i).cloned().unwrap_or_default();
        let frames = |syn: &str, ack: &str| -> Vec<u64> {
            rows.iter()
                .filter(|x| col(x, 1) == syn && col(x, 2) == ack)
                .map(|x| col(x, 0).parse().unwrap())
                .collect()
        };
        let json_frames = |k: &str| -> Vec<u64> {
            r[k].as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect()
        };
        assert_eq!(
            json_frames("syn_frames"),
            frames("1", "0"),
            "{args:?}: SYN frames"
        );
        assert_eq!(
            json_frames("synack_frames"),
            frames("1", "1"),
            "{args:?}: SYN-ACK frames"
        );
        let retrans = |syn: &str, ack: &str| {
            rows.iter()
                .filter(|x| col(x, 1) == syn && col(x, 2) == ack && !col(x, 3).is_empty())
                .count() as u64
        };
        assert_eq!(
            r["syn_retransmissions"].as_u64(),
            Some(retrans("1", "0")),
            "{args:?}: SYN retransmissions"
        );
        assert_eq!(
            r["synack_retransmissions"].as_u64(),
            Some(retrans("1", "1")),
            "{args:?}: SYN-ACK retransmissions"
        );
        let irtt = rows.iter().find_map(|x| col(x, 4).parse::<f64>().ok());
        // tshark ends its iRTT at the first pure ACK in either direction: a
        // server ACK before the third ACK (RFC 9293 rule 17's answer to a
        // duplicate SYN) shortens it. Only then may the values differ.
        let server_ip = r["server"]
            .as_str()
            .unwrap()
            .rsplit_once(':')
            .unwrap()
            .0
            .to_string();
        let ack_frame = r["ack_frame"].as_u64().unwrap_or(u64::MAX);
        let server_acked_first = rows.iter().any(|x| {
            col(x, 1) == "0"
                && col(x, 2) == "1"
                && col(x, 5) == server_ip
                && col(x, 0).parse::<u64>().unwrap() < ack_frame
        });
        match (r["handshake_rtt_s"].as_f64(), irtt) {
            (Some(a), Some(b)) => assert!(
                (a - b).abs() < 2e-6 || (server_acked_first && b < a),
                "{args:?}: RTT {a} vs tshark {b}"
            ),
            (None, Some(_)) if r["outcome"] == "refused" => {} // tshark's RST,ACK quirk
            (None, None) => {}
            other => panic!("{args:?}: RTT {other:?}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_checksums_match_tshark_and_filters_apply() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/captures/public");
    let tshark_ok = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !dir.is_dir() || !tshark_ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but captures or tshark are missing"
        );
        eprintln!("SKIPPED: needs the public captures and tshark");
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"));
    for f in files {
        let f = f.to_str().unwrap();
        let ours: u64 = stdout(&synack(&["analyze", "--format", "jsonl", f], "C"))
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["bad_checksums"]
                    .as_u64()
                    .unwrap()
            })
            .sum();
        // Only frames inside attempts count for us; tshark counts every TCP
        // frame, so compare on captures where every TCP frame has a SYN.
        let t = Command::new("tshark")
            .args([
                "-r",
                f,
                "-o",
                "tcp.check_checksum:TRUE",
                "-Y",
                "tcp.checksum.status==0 && !icmp",
            ])
            .output()
            .unwrap();
        let theirs = String::from_utf8_lossy(&t.stdout).lines().count() as u64;
        assert!(ours <= theirs, "{f}: {ours} bad checksums, tshark {theirs}");
        if f.contains("lwerdna") || f.contains("nowebaccess2") {
            assert_eq!(ours, theirs, "{f}");
        }
    }
    let scan = dir.join("chrissanders-synscan.pcapng");
    let out = synack(
        &[
            "analyze",
            "--format",
            "jsonl",
            "--filter",
            "outcome=refused,port=113",
            scan.to_str().unwrap(),
        ],
        "C",
    );
    let recs: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    // Port 113 was probed from two source ports; both were refused.
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert!(
        recs.iter()
            .all(|r| r.contains("\"server\":\"64.13.134.52:113\"")
                && r.contains("\"outcome\":\"refused\""))
    );
    assert_eq!(
        synack(&["analyze", "--filter", "nope=1", "x"], "C")
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn analyze_explains_each_check_in_both_languages_and_json() {
    let Some(dir) = common::public_captures() else {
        return;
    };
    let syn_data = dir.join("zeek-tcp-payload-syn.pcap");
    let f = syn_data.to_str().unwrap();
    let out = synack(&["analyze", f], "C");
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let first = text.lines().next().unwrap();
    assert!(first.contains("6 frames, 1 connection attempt ("), "{text}");
    assert!(
        text.contains("SYN data acknowledged without Fast Open [rule 21]"),
        "{text}"
    );
    assert!(
        text.contains("✗ frame 2: SYN-ACK acknowledges 111 = ISN 10 + 1 + 100"),
        "{text}"
    );
    assert!(!text.contains("✓"), "only failed checks without -v: {text}");
    assert!(
        out.stderr.is_empty(),
        "no progress bar when stderr is not a terminal"
    );
    let v = stdout(&synack(&["analyze", "-v", f], "C"));
    assert!(
        v.contains("client → server  [S] seq 10 ack 0 win 8192 len 100"),
        "{v}"
    );
    assert!(
        v.contains("✓ frame 3: the third ACK acknowledges 51 = server ISN 50 + 1 — correct"),
        "{v}"
    );
    let zh = stdout(&synack(&["analyze", "-v", "--lang", "zh", f], "C"));
    assert!(
        zh.contains("SYN-ACK 确认号为 111 = ISN 10 + 1 + 100 字节"),
        "{zh}"
    );
    assert!(zh.contains("规则 21"), "{zh}");
    let zh_env = stdout(&synack(&["analyze", f], "zh_CN.UTF-8"));
    assert!(zh_env.contains("次连接尝试"), "{zh_env}");
    let summary = stdout(&synack(&["analyze", "--summary", f], "C"));
    assert!(!summary.contains("#1 "), "{summary}");
    let bar = synack(&["analyze", "--summary", "--progress", "always", f], "C");
    assert!(String::from_utf8_lossy(&bar.stderr).contains('%'));

    let both = dir.join("chrissanders-http_ip4and6.pcapng");
    let out = synack(
        &["analyze", "--format", "json", both.to_str().unwrap(), f],
        "C",
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema"], "synack.analyze/1");
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["summary"]["outcomes"]["closed"], 2);
    let a = &files[0]["attempts"][1];
    for key in [
        "client",
        "server",
        "outcome",
        "syn_frames",
        "synack_frames",
        "ack_frame",
        "client_isn",
        "server_isn",
        "syn_retransmissions",
        "synack_retransmissions",
        "handshake_rtt_s",
        "rst",
        "client_options",
        "server_options",
        "negotiated",
        "conn_state",
        "history",
        "simultaneous_open",
        "checks",
        "steps",
    ] {
        assert!(a.get(key).is_some(), "{key} missing in {a}");
    }
    assert!(
        a["client"].as_str().unwrap().starts_with('['),
        "IPv6 as [addr]:port: {a}"
    );
    assert_eq!(a["negotiated"]["mss"], 1440);
    let checks = a["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["what"] == "syn_ack_ack" && c["rule"] == 4 && c["ok"] == true)
    );
    assert_eq!(files[1]["summary"]["anomalies"][0]["rule"], 21);

    let bad = synack(&["analyze", "--filter", "outcome=open", f], "C");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("half_open"));
}

/// Every example of `synack --help` and `synack explain --help` runs: the
/// command before its comment or pipe, on the simulated peer unless it
/// names one (the kernel examples run as root only).
#[test]
fn help_examples_run() {
    let mut ran = 0;
    for help in [vec!["--help"], vec!["explain", "--help"]] {
        let text = stdout(&synack(&help, "C"));
        let examples = text.split("Examples:").nth(1).unwrap_or("");
        for line in examples.lines().map(str::trim) {
            let line = line.trim_start_matches("sudo ");
            let Some(cmd) = line.strip_prefix("synack ") else {
                continue;
            };
            let cmd = cmd.split(['|', '#', '>']).next().unwrap();
            let cmd = cmd.split("   ").next().unwrap().trim();
            let mut args: Vec<&str> = cmd.split_whitespace().collect();
            let linux = args.contains(&"linux") && args.contains(&"--peer");
            if linux && !common::is_root() && std::env::var_os("CI").is_none() {
                eprintln!("SKIPPED (not root, CI unset): synack {cmd}");
                continue;
            }
            if !args.contains(&"--peer") {
                args.extend(["--peer", "sim"]);
            }
            let out = synack(&args, "C");
            assert!(
                out.status.success() && !out.stdout.is_empty(),
                "synack {cmd}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 8, "only {ran} examples found");
}

#[test]
fn completions_and_the_manual_are_generated() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = synack(&["completions", shell], "C");
        assert!(out.status.success(), "{shell}");
        assert!(
            stdout(&out).contains("analyze"),
            "{shell} completes subcommands"
        );
    }
    let man = stdout(&synack(&["man"], "C"));
    assert!(man.contains(".TH synack 1"), "{man}");
    assert!(man.contains("explain"));
}

#[test]
fn options_that_cannot_apply_are_said_and_a_bad_pcap_path_stops_the_run_first() {
    let out = synack(
        &[
            "explain",
            "--peer",
            "sim",
            "--scenario",
            "normal",
            "--closer",
            "server",
        ],
        "C",
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--closer applies to --scenario close"));
    let out = synack(&["explain", "--peer", "sim", "--kernel-defaults"], "C");
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--kernel-defaults applies to the Linux peer")
    );
    // The filtered scenario would run for minutes of virtual time; the path
    // is refused before anything runs.
    let out = synack(
        &[
            "explain",
            "--peer",
            "sim",
            "--scenario",
            "filtered",
            "--pcap",
            "/nonexistent/dir/x.pcap",
        ],
        "C",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dir/x.pcap"));
    if common::is_root() {
        let out = synack(
            &[
                "explain",
                "--peer",
                "linux",
                "--isn",
                "server=5000",
                "--delay-ms",
                "3",
            ],
            "C",
        );
        assert!(out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("picks its own ISN") && err.contains("--delay-ms"),
            "{err}"
        );
    }
}

/// Every example of `synack analyze --help` runs, on public captures in
/// place of the example's file names.
#[test]
fn analyze_help_examples_run() {
    let Some(dir) = common::public_captures() else {
        return;
    };
    let pcapng = dir.join("chrissanders-tcp_handshake.pcapng");
    let pcap = dir.join("tcpdump-tcp-handshake-nano.pcap");
    let zst = std::env::temp_dir().join(format!("synack-help-{}.pcap.zst", std::process::id()));
    let packed = ruzstd::encoding::compress_to_vec(
        &std::fs::read(&pcap).unwrap()[..],
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    std::fs::write(&zst, packed).unwrap();
    let text = stdout(&synack(&["analyze", "--help"], "C"));
    let examples = text
        .split("Examples:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    let mut ran = 0;
    for line in examples.lines().map(str::trim) {
        let Some(cmd) = line.strip_prefix("synack ") else {
            continue;
        };
        let cmd = cmd.split(['|', '>']).next().unwrap();
        let cmd = cmd.split("   ").next().unwrap().trim();
        let args: Vec<String> = common::shell_words(cmd)
            .into_iter()
            .map(|w| match w.as_str() {
                "trace.pcapng" => pcapng.display().to_string(),
                "trace.pcap" | "big.pcap" | "*.pcap" => pcap.display().to_string(),
                "trace.pcap.zst" => zst.display().to_string(),
                _ => w,
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = synack(&args, "C");
        assert_eq!(
            out.status.code(),
            Some(0),
            "synack {cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "synack {cmd}");
        ran += 1;
    }
    assert!(ran >= 10, "only {ran} analyze examples");
    let _ = std::fs::remove_file(&zst);
}

/// The examples of `synack connect --help`, run as written in a namespace
/// the test makes: the `ip` line, then connect (to a kernel listener) and
/// listen (with a kernel client in place of curl).
#[test]
fn device_help_examples_run() {
    if !common::is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but not root");
        eprintln!("SKIPPED: needs root to make a namespace and a TUN device");
        return;
    }
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let text = stdout(&synack(&["connect", "--help"], "C"));
    let examples = text
        .split("Examples")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    let lines: Vec<String> = examples
        .lines()
        .skip(1)
        .map(|l| l.trim().to_string())
        .collect();
    let bin = env!("CARGO_BIN_EXE_synack");
    let shell = move |line: &str| {
        let line = line
            .split('#')
            .next()
            .unwrap()
            .trim()
            .replace("synack ", &format!("{bin} "));
        Command::new("bash").args(["-c", &line]).output().unwrap()
    };
    std::thread::spawn(move || {
        synack_net::lab::private_namespace().unwrap();
        assert!(lines[0].starts_with("ip tuntap add dev tun0"), "{lines:?}");
        let out = shell(&lines[0]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // connect: the kernel listens on 10.9.0.1:80 and answers.
        let l = TcpListener::bind("10.9.0.1:80").unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = [0u8; 18];
            s.read_exact(&mut req).unwrap();
            s.write_all(b"HTTP/1.0 200 OK\r\n\r\n").unwrap();
            req
        });
        assert!(
            lines[1].starts_with("synack connect 10.9.0.1:80"),
            "{lines:?}"
        );
        let out = shell(&lines[1]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(&server.join().unwrap(), b"GET / HTTP/1.0\r\n\r\n");
        // listen: a kernel client connects once synack is up.
        assert!(
            lines[2].starts_with("synack listen 10.9.0.2:8080"),
            "{lines:?}"
        );
        let client = std::thread::spawn(|| {
            for _ in 0..200 {
                if let Ok(mut c) = TcpStream::connect("10.9.0.2:8080") {
                    let _ = c.write_all(b"hi");
                    return true;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            false
        });
        let out = shell(&lines[2]);
        assert!(client.join().unwrap());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    })
    .join()
    .unwrap();
}

/// In a real 80-column terminal (tmux), explain's text fits: the terminal
/// wraps no line, in English and in Chinese.
#[test]
fn explain_fits_an_80_column_tmux() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but tmux is missing"
        );
        eprintln!("SKIPPED: tmux is not installed");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_synack");
    for lang in ["en", "zh"] {
        let sock = format!("synack-test-{}-{lang}", std::process::id());
        let tmux = |args: &[&str]| {
            Command::new("tmux")
                .args(["-L", &sock])
                .args(args)
                .env_remove("COLUMNS")
                .output()
                .unwrap()
        };
        let cmd = format!(
            "{bin} explain --peer sim --scenario syn-flood --lang {lang}; tmux -L {sock} wait-for -S done; sleep 30"
        );
        let out = tmux(&["new-session", "-d", "-x", "80", "-y", "40", &cmd]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux(&["wait-for", "done"]);
        let raw = String::from_utf8(tmux(&["capture-pane", "-p", "-S", "-"]).stdout).unwrap();
        let joined =
            String::from_utf8(tmux(&["capture-pane", "-p", "-J", "-S", "-"]).stdout).unwrap();
        tmux(&["kill-server"]);
        assert!(raw.contains("SYN-RECEIVED"), "{raw}");
        assert_eq!(
            raw.trim_end().lines().count(),
            joined.trim_end().lines().count(),
            "the terminal wrapped lines ({lang}):\n{raw}"
        );
    }
}

/// `--step` in a real terminal: the diagram is drawn only up to the step
/// shown; `q` stops the walk and the answer follows.
#[test]
fn step_draws_the_diagram_along_and_q_stops() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but tmux is missing"
        );
        eprintln!("SKIPPED: tmux is not installed");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_synack");
    let sock = format!("synack-step-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &sock])
            .args(args)
            .output()
            .unwrap()
    };
    let cmd = format!(
        "{bin} explain --peer sim --step --lang en --isn client=1000,server=5000; tmux -L {sock} wait-for -S done; sleep 30"
    );
    assert!(
        tmux(&["new-session", "-d", "-x", "120", "-y", "60", &cmd])
            .status
            .success()
    );
    let screen = || String::from_utf8(tmux(&["capture-pane", "-p", "-S", "-"]).stdout).unwrap();
    let mut first = String::new();
    for _ in 0..100 {
        first = screen();
        if first.contains("[Enter: next step, q: stop]") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The first step is the client's connect(): the SYN is not drawn yet.
    assert!(first.contains("SYN-SENT"), "{first}");
    assert!(
        !first.contains("[S.] seq=5000"),
        "the SYN-ACK is drawn too early:\n{first}"
    );
    tmux(&["send-keys", "q", "Enter"]);
    tmux(&["wait-for", "done"]);
    let last = screen();
    tmux(&["kill-server"]);
    assert!(last.contains("Why three segments and not two?"), "{last}");
    assert_eq!(
        last.matches("[Enter: next step, q: stop]").count(),
        1,
        "{last}"
    );
}

/// `explain --help` names, for each of the sixteen questions, the
/// scenarios that answer it; each fits 80 columns.
#[test]
fn explain_help_maps_the_questions_to_scenarios() {
    let text = stdout(&synack(&["explain", "--help"], "C"));
    for q in &synack_scenario::questions::QUESTIONS {
        let at = text.find(q.en).unwrap_or_else(|| panic!("{}", q.en));
        let rest = &text[at..];
        assert!(rest.contains(q.zh), "{}", q.zh);
        let names = rest.lines().nth(2).unwrap();
        assert_eq!(names.trim(), format!("→ {}", q.scenarios.join(", ")));
    }
    let list = text.split("answer them:").nth(1).unwrap();
    for l in list.lines() {
        let cols: usize = l.chars().map(|c| if c > '\u{2e7f}' { 2 } else { 1 }).sum();
        assert!(cols <= 80, "{cols} columns: {l}");
    }
}

/// What engineers hand `analyze`: stdin, gzip, zstd and xz files, an
/// empty file, a directory, a damaged zstd file; and a closed pipe ends a
/// JSON run quietly, as it does a text one.
#[test]
fn analyze_reads_stdin_and_gzip_and_says_why_it_cannot_read_the_rest() {
    use std::io::Write;
    let Some(dir) = common::public_captures() else {
        return;
    };
    let pcap = dir.join("tcpdump-tcp-handshake-nano.pcap");
    let bytes = std::fs::read(&pcap).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(["analyze", "-"])
        .env("LANG", "C")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.starts_with("-: 3 frames, 1 connection attempt ("),
        "{text}"
    );
    assert!(text.contains("(1 handshake)"), "{text}");
    let tmp = std::env::temp_dir().join(format!("synack-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    // Compressed by the tools engineers use, read through the decoders.
    for (tool, ext) in [("gzip", "gz"), ("zstd -q", "zst"), ("xz", "xz")] {
        let packed = tmp.join(format!("x.pcap.{ext}"));
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{tool} -c {} > {}",
                pcap.display(),
                packed.display()
            ))
            .status()
            .unwrap();
        if !status.success() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but {tool} is missing"
            );
            eprintln!("SKIPPED {ext}: {tool} is not installed");
            continue;
        }
        let out = synack(&["analyze", packed.to_str().unwrap()], "C");
        assert_eq!(out.status.code(), Some(0), "{ext}");
        assert!(
            stdout(&out).contains("3 frames, 1 connection attempt"),
            "{ext}"
        );
    }
    // A named pipe has no length: it is read as a stream, not called empty.
    let fifo = tmp.join("fifo.pcap");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let (to, capture) = (fifo.clone(), bytes.clone());
    let writer = std::thread::spawn(move || std::fs::write(to, capture));
    let out = synack(&["analyze", fifo.to_str().unwrap()], "C");
    // Had synack not opened it, the writer would wait for a reader: be one
    // (O_NONBLOCK, so the open itself does not wait), so the test fails
    // rather than hangs.
    let _unblock = (!writer.is_finished()).then(|| {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(0o4000)
            .open(&fifo)
    });
    writer.join().unwrap().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout(&out).contains("3 frames, 1 connection attempt"),
        "{out:?}"
    );
    let empty = tmp.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let zst = tmp.join("x.pcap.zst");
    std::fs::write(&zst, [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]).unwrap();
    for (path, why) in [
        (empty.as_path(), "is empty (0 bytes)"),
        (tmp.as_path(), "is a directory"),
        (zst.as_path(), "zstd"),
    ] {
        let out = synack(&["analyze", path.to_str().unwrap()], "C");
        assert_eq!(out.status.code(), Some(1), "{why}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{err}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
    // A reader that stops early: exit 0 and nothing on stderr, in every format.
    let scan = dir.join("chrissanders-synscan.pcapng");
    for format in ["text", "json", "jsonl"] {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{} analyze --format {format} {} | head -c 10 > /dev/null; exit ${{PIPESTATUS:-0}}",
                env!("CARGO_BIN_EXE_synack"),
                scan.display()
            ))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("Broken pipe") && !err.contains("error"),
            "{format}: {err}"
        );
    }
    let out = synack(&["analyze", "-v", scan.to_str().unwrap()], "C");
    assert!(
        !stdout(&out).contains("+-"),
        "a signed interval reads +0.000 or -2 µs"
    );
}

/// The numbers on the line of `text` that starts with `start`, after it.
fn numbers_after(text: &str, start: &str) -> Vec<f64> {
    let line = text
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{text}"));
    line[start.len()..]
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.parse::<f64>().ok())
        .collect()
}

/// Each line of `text` starting with one of `lines`' beginnings holds as
/// many numbers as it says, all above zero.
fn positive_figures(text: &str, lines: &[(&str, usize)]) {
    for &(start, count) in lines {
        let n = numbers_after(text, start);
        assert_eq!(n.len(), count, "{start} in:\n{text}");
        assert!(n.iter().all(|&x| x > 0.0), "{start} in:\n{text}");
    }
}

/// `synack bench live` prints every figure it promises, each a number: the
/// rates, both ratios, and the two-queue line with its scaling.
#[test]
fn bench_live_prints_its_ratios_and_the_two_queue_scaling() {
    if !common::is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but not root");
        eprintln!("SKIPPED: needs root to make a namespace and TUN devices");
        return;
    }
    let out = synack(&["bench", "live", "--count", "200"], "C.UTF-8");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    positive_figures(
        &text,
        &[
            ("synack/raw-tun ratio:", 1),
            ("synack/kernel-loopback ratio:", 1),
            // synack and the raw loop, two threads and one.
            ("two TUN queues, a thread each:", 4),
            ("2-queue scaling:", 2),
        ],
    );
}

/// `synack bench analyze` prints, for the data-heavy capture and the SYN
/// scan alike, every figure it promises, each a number: the ratios to
/// tcpdump on one thread, on one thread held to one core and on two, the
/// 2-thread scaling with its times, and attempts per second with the bytes
/// each held attempt took.
#[test]
fn bench_analyze_prints_its_ratios_and_the_two_thread_scaling() {
    if !installed("tcpdump", "--version") {
        return;
    }
    let out = synack(
        &[
            "bench",
            "analyze",
            "--size-mb",
            "4",
            // More SYNs than are held at once (100,000): the limit is
            // reached, and the memory each takes at the margin is measured.
            "--scan-attempts",
            "250000",
            "--runs",
            "2",
            "--no-tshark",
        ],
        "C.UTF-8",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let captures: Vec<&str> = text.split("capture: ").skip(1).collect();
    assert_eq!(
        captures.len(),
        2,
        "a data-heavy capture and a scan in:\n{text}"
    );
    for (i, part) in captures.into_iter().enumerate() {
        let scan = i == 1;
        positive_figures(
            part,
            &[
                ("synack/tcpdump ratio:", 1),
                ("synack/tcpdump ratio, one core:", 1),
                ("synack/tcpdump ratio, 2 threads:", 1),
                // The scaling, "1 thread" and its time, "2 threads" and
                // theirs, the cores.
                ("2-thread scaling:", 6),
                // Attempts, per second, held at once, bytes each, the two
                // peaks; on the scan, which reaches the limit, the bytes
                // each at the margin, the attempts and the peak of a run
                // holding half as many.
                ("attempts:", if scan { 9 } else { 6 }),
            ],
        );
        if scan {
            let margin = numbers_after(part, "attempts:").get(6).copied();
            assert!(margin.is_some_and(|b| b <= 256.0), "{part}");
        }
        let scaling = numbers_after(part, "2-thread scaling:");
        assert_eq!(
            (scaling.get(1), scaling.get(3)),
            (Some(&1.0), Some(&2.0)),
            "{part}"
        );
    }
}
