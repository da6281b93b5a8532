//! Where tshark is known to be wrong about handshakes (research notes §7),
//! shown on captures made here and run through `tshark -2`: the difference
//! must be exactly the documented one, and synack must be right. If a tshark
//! release fixes a quirk, this test says so.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::net::SocketAddr;
use std::process::Command;

use synack_capture::synth::{ip_segment, raw_pcap};
use synack_wire::{TcpFlags, TcpOptions};

fn tshark_present() -> bool {
    if Command::new("tshark").arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but tshark is missing"
    );
    eprintln!("SKIPPED: tshark not installed (scripts/test.sh installs it)");
    false
}

/// Per frame: (retransmission flag, initial RTT) from `tshark -2`.
fn tshark(pcap: &[u8], name: &str) -> Vec<(bool, Option<f64>)> {
    let path =
        std::env::temp_dir().join(format!("synack-quirk-{}-{name}.pcap", std::process::id()));
    std::fs::write(&path, pcap).unwrap();
    let out = Command::new("tshark")
        .args(["-n", "-2", "-r"])
        .arg(&path)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=;",
            "-e",
            "tcp.analysis.retransmission",
            "-e",
            "tcp.analysis.initial_rtt",
        ])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (r, i) = l.split_once(';').unwrap_or((l, ""));
            (!r.is_empty(), i.parse().ok())
        })
        .collect()
}

fn seg(src: &str, dst: &str, flags: TcpFlags, seq: u32, ack: u32) -> Vec<u8> {
    let (s, d): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
    ip_segment(s, d, flags, seq, ack, 0, TcpOptions::default()).unwrap()
}

const A: &str = "192.0.2.1:5000";
const B: &str = "192.0.2.2:6000";

#[test]
fn simultaneous_open_synacks_are_not_retransmissions() {
    if !tshark_present() {
        return;
    }
    let sa = TcpFlags::SYN_ACK;
    let frames = vec![
        (1.0, seg(A, B, TcpFlags::SYN, 100, 0)),
        (1.001, seg(B, A, TcpFlags::SYN, 900, 0)),
        (1.002, seg(A, B, sa, 100, 901)),
        (1.003, seg(B, A, sa, 900, 101)),
        (1.004, seg(A, B, TcpFlags::ACK, 101, 901)),
    ];
    let pcap = raw_pcap(&frames);
    let theirs = tshark(&pcap, "simopen");
    // tshark: both SYN-ACKs flagged as retransmissions; its initial RTT
    // starts at the most recent SYN of either side (B's, at 1.001).
    assert_eq!(
        theirs.iter().map(|x| x.0).collect::<Vec<_>>(),
        [false, false, true, true, false]
    );
    let irtt = theirs.iter().find_map(|x| x.1).unwrap();
    assert!((irtt - 0.003).abs() < 1e-6, "{theirs:?}");
    let a = synack_capture::analyze(&pcap[..], "simopen").unwrap();
    let x = &a.attempts[0];
    assert!(x.simultaneous_open);
    assert_eq!(x.outcome.name(), "simultaneous_open");
    assert_eq!((x.syn_retransmissions, x.synack_retransmissions), (0, 0));
    // Ours starts at the client's own SYN.
    assert!((x.handshake_rtt_s.unwrap() - 0.004).abs() < 1e-6);
}

#[test]
fn a_handshake_at_epoch_zero_has_an_rtt() {
    if !tshark_present() {
        return;
    }
    let frames = |t0: f64| {
        vec![
            (t0, seg(A, B, TcpFlags::SYN, 100, 0)),
            (t0 + 0.25, seg(B, A, TcpFlags::SYN_ACK, 900, 101)),
            (t0 + 0.5, seg(A, B, TcpFlags::ACK, 101, 901)),
        ]
    };
    for (t0, tshark_has_irtt) in [(0.0, false), (10.0, true)] {
        let pcap = raw_pcap(&frames(t0));
        let theirs = tshark(&pcap, "epoch");
        assert_eq!(
            theirs.iter().any(|x| x.1.is_some()),
            tshark_has_irtt,
            "t0 {t0}: {theirs:?}"
        );
        let a = synack_capture::analyze(&pcap[..], "epoch").unwrap();
        let rtt = a.attempts[0].handshake_rtt_s.unwrap();
        assert!((rtt - 0.5).abs() < 1e-6, "{rtt}");
        if let Some(b) = theirs.iter().find_map(|x| x.1) {
            assert!((b - rtt).abs() < 1e-6);
        }
    }
}

#[test]
fn a_refusing_rst_ack_is_not_a_third_ack() {
    if !tshark_present() {
        return;
    }
    let frames = vec![
        (5.0, seg(A, B, TcpFlags::SYN, 100, 0)),
        (5.125, seg(B, A, TcpFlags::RST_ACK, 0, 101)),
    ];
    let pcap = raw_pcap(&frames);
    let theirs = tshark(&pcap, "refused");
    // tshark ends its initial RTT at the RST,ACK.
    let irtt = theirs.iter().find_map(|x| x.1).unwrap();
    assert!((irtt - 0.125).abs() < 1e-6, "{irtt}");
    let a = synack_capture::analyze(&pcap[..], "refused").unwrap();
    let x = &a.attempts[0];
    assert_eq!(x.outcome.name(), "refused");
    assert_eq!((x.ack_frame, x.handshake_rtt_s), (None, None));
}
