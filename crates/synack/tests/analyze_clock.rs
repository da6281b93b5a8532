//! Captures whose times go backward (two hosts' captures merged, their
//! clocks apart): the report says where, in both languages and in JSON,
//! and prints no RTT across it; tshark's `frame.time_delta` finds the same
//! frame stamped early by the same amount.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::net::SocketAddr;

use common::{Scratch, synack};
use serde_json::{Value, json};
use synack_capture::synth;
use synack_wire::{TcpFlags, TcpOptions};

/// SYN at 10 s, the SYN-ACK stamped 100 ms before it, the ACK at 10.1 s.
fn merged() -> Vec<u8> {
    let (c, s): (SocketAddr, SocketAddr) = (
        "192.0.2.1:40000".parse().unwrap(),
        "192.0.2.2:80".parse().unwrap(),
    );
    let seg = |from, to, flags: TcpFlags, seq, ack| {
        synth::ip_segment(from, to, flags, seq, ack, 0, TcpOptions::default()).unwrap()
    };
    synth::raw_pcap(&[
        (10.0, seg(c, s, TcpFlags::SYN, 1000, 0)),
        (9.9, seg(s, c, TcpFlags::SYN_ACK, 5000, 1001)),
        (10.1, seg(c, s, TcpFlags::ACK, 1001, 5001)),
    ])
}

fn text(path: &str, args: &[&str]) -> String {
    let mut all = vec!["analyze"];
    all.extend_from_slice(args);
    all.push(path);
    let out = synack(all);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn times_going_backward_are_said_and_give_no_rtt() {
    let dir = Scratch::new("clock");
    let file = dir.join("merged.pcap");
    std::fs::write(&file, merged()).unwrap();
    let path = file.to_str().unwrap();

    let en = text(path, &["-v"]);
    assert!(
        en.contains("frame 2 is stamped 0.100000 s before frame 1, which came before it"),
        "{en}"
    );
    assert!(en.contains("1 attempt whose times go backward"), "{en}");
    assert!(
        en.contains("frame      2  -0.100000 s  server → client"),
        "{en}"
    );
    assert!(
        !en.contains("RTT:") && !en.contains("handshake RTT"),
        "no RTT across the step back: {en}"
    );
    let zh = text(path, &["--lang", "zh"]);
    assert!(
        zh.contains("帧 2 的时间戳比在它之前抓到的帧 1 早 0.100000 s"),
        "{zh}"
    );

    let j: Value = serde_json::from_str(&text(path, &["--format", "json"])).unwrap();
    let f = &j["files"][0];
    let a = &f["attempts"][0];
    assert_eq!(
        a["clock_back"],
        json!({"frame": 2, "latest_frame": 1, "by_ns": 100_000_000})
    );
    assert_eq!(a["handshake_rtt_s"], Value::Null);
    assert_eq!(f["summary"]["clock_back"], 1);
    assert_eq!(f["summary"]["handshake_rtt_s"]["count"], 0);

    // tshark: the frame whose delta from the one before it is negative.
    let Some(deltas) = common::tshark_fields(&file, &[], &["frame.number", "frame.time_delta"])
    else {
        return;
    };
    let back: Vec<(u64, f64)> = deltas
        .lines()
        .filter_map(|l| {
            let (n, d) = l.split_once('\t')?;
            Some((n.parse().ok()?, d.parse().ok()?))
        })
        .filter(|(_, d)| *d < 0.0)
        .collect();
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(back[0].0, 2);
    assert!((back[0].1 + 0.1).abs() < 1e-9, "{back:?}");
}
