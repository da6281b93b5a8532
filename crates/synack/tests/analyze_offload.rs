//! Checksum offload told apart from damage. A sending Linux host that
//! leaves a segment's checksum to its network card writes the
//! pseudo-header's sum there, and so does its loopback, which never
//! finishes it: a capture of the kernel's own loopback (in a namespace
//! this test makes, IPv4 and IPv6) and a public capture of one have every
//! bad checksum named offload, each bad by tshark's check too; checksums
//! corrupted on purpose are bad and not offload.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::Path;

use serde_json::Value;

/// tshark's checksum verdict of each frame (`tcp.checksum.status`: 0 bad,
/// 1 good); `None` without tshark and CI unset.
fn tshark_bad(file: &Path) -> Option<usize> {
    let text = common::tshark_fields(
        file,
        &["-o", "tcp.check_checksum:TRUE"],
        &["tcp.checksum.status"],
    )?;
    Some(text.lines().filter(|l| l.trim() == "0").count())
}

/// The summary and the attempts of `file`, as JSON.
fn analysed(file: &Path) -> (Value, Vec<Value>) {
    let out = common::synack_ok(["analyze", "--format", "json", file.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &v["files"][0];
    (
        f["summary"].clone(),
        f["attempts"].as_array().unwrap().clone(),
    )
}

/// The handshake of a connection to `at` on the loopback of a namespace of
/// its own, captured by tcpdump into `file`: it takes the three segments and
/// exits, so the capture is whole when it has, whatever the timing.
fn loopback_handshake(file: &Path, at: std::net::SocketAddr) {
    let ns = common::Ns::new();
    ns.ok("ip", &["link", "set", "lo", "up"]);
    let path = file.to_path_buf();
    let status = ns.run(move || {
        let extra = [
            "-c".to_string(),
            "3".into(),
            format!("tcp port {}", at.port()),
        ];
        let mut dump = common::tcpdump_on_lo(&path, &extra);
        let listener = std::net::TcpListener::bind(at).unwrap();
        let client = std::net::TcpStream::connect(at).unwrap();
        let (server, _) = listener.accept().unwrap();
        let status = dump.wait().unwrap();
        drop((client, server));
        status
    });
    assert!(status.success(), "tcpdump: {status}");
}

/// Over IPv4 and IPv6 (whose pseudo-headers differ).
#[test]
fn the_kernels_loopback_checksums_are_offload() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("offload");
    for (name, at) in [("lo4.pcap", "127.0.0.1:4242"), ("lo6.pcap", "[::1]:4242")] {
        let file = scratch.join(name);
        loopback_handshake(&file, at.parse().unwrap());
        let (summary, attempts) = analysed(&file);
        assert_eq!(attempts.len(), 1, "{name}");
        let a = &attempts[0];
        assert_eq!(a["outcome"], "established", "{a}");
        assert_eq!(
            (
                a["bad_checksums"].as_u64(),
                a["offloaded_checksums"].as_u64()
            ),
            (Some(3), Some(3)),
            "{name}"
        );
        assert_eq!(summary["offloaded_checksums"], 3);
        if let Some(bad) = tshark_bad(&file) {
            assert_eq!(bad, 3, "{name}: tshark finds each checksum bad too");
        }
        let text = common::synack_ok(["analyze", file.to_str().unwrap()]);
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(
            text.contains(
                "3 of the bad checksums are the pseudo-header's sum alone: checksum offload"
            ),
            "{text}"
        );
    }
}

/// A public capture of Linux's loopback: every bad checksum offload, as
/// many as tshark finds bad.
#[test]
fn a_public_loopback_capture_is_offload_throughout() {
    let Some(dir) = common::public_captures() else {
        return;
    };
    let file = dir.join("lwerdna-simple_http_sll2.pcap");
    let (summary, _) = analysed(&file);
    let bad = summary["bad_checksums"].as_u64().unwrap();
    assert!(bad > 20, "{summary}");
    assert_eq!(summary["offloaded_checksums"], bad);
    if let Some(tshark) = tshark_bad(&file) {
        assert_eq!(tshark as u64, bad);
    }
}

/// Checksums the generator corrupted (a bit flipped) are bad, and none is
/// called offload; nor is a right one.
#[test]
fn corrupted_checksums_are_not_offload() {
    let scratch = common::Scratch::new("corrupt");
    let file = scratch.join("corrupt.pcap");
    let cfg = synack_capture::synth::SynthConfig {
        target_bytes: 2 << 20,
        ..Default::default()
    };
    let truth = synack_capture::synth::write(std::fs::File::create(&file).unwrap(), &cfg).unwrap();
    assert!(truth.bad_checksums > 0);
    let (summary, attempts) = analysed(&file);
    assert_eq!(summary["bad_checksums"], truth.bad_checksums);
    assert_eq!(summary["offloaded_checksums"], 0);
    assert!(attempts.iter().all(|a| a["offloaded_checksums"] == 0));
}
