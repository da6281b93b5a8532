//! Segments sent in IP fragments are analysed as the segments they were.
//! `nmap -f` splits its SYNs into 8-byte fragments; the kernel (in a
//! namespace this test makes) puts them together and answers, so the
//! capture holds an open and a closed port whose SYNs exist only in
//! pieces. analyze must find both attempts, each SYN at the frame that
//! completed it, as tshark does, on one thread and on two (split and
//! dealt); a capture with a piece missing gives the packet up and says so.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const SENTINEL: &[u8] = b"synack: the scan is over";

/// nmap's fragmented SYN scan of ports 80 (a listener) and 81 (none) on
/// the loopback of a namespace of its own, captured into `file`. The
/// capture ends once a datagram sent after nmap finished is in the file:
/// everything before it is too, whatever the timing. nmap's report.
fn fragmented_scan(file: &Path) -> String {
    let ns = common::Ns::new();
    ns.ok("ip", &["link", "set", "lo", "up"]);
    let path = file.to_path_buf();
    ns.run(move || {
        let listener = std::net::TcpListener::bind("127.0.0.1:80").unwrap();
        let dump = common::tcpdump_on_lo(&path, &[]);
        let scan = Command::new("nmap")
            .args(["-n", "-Pn", "-sS", "-f", "--max-retries", "0"])
            .args(["-p", "80,81", "127.0.0.1"])
            .output()
            .expect("nmap (scripts/test.sh installs it)");
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.send_to(SENTINEL, "127.0.0.1:9").unwrap();
        common::stop_once_written(dump, &path, SENTINEL);
        drop(listener);
        String::from_utf8_lossy(&scan.stdout).into_owned()
    })
}

/// The frames tshark shows as SYNs (it reassembles by default).
fn tshark_syns(file: &Path) -> Option<Vec<u64>> {
    let syns = ["-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0"];
    let text = common::tshark_fields(file, &syns, &["frame.number"])?;
    Some(text.lines().map(|l| l.trim().parse().unwrap()).collect())
}

/// The attempts as (server port, outcome, SYN frames), and the file's
/// counts.
fn attempts(out: &[u8]) -> (Vec<(u64, String, Vec<u64>)>, Value) {
    let v: Value = serde_json::from_slice(out).unwrap();
    let f = v["files"][0].clone();
    let mut a: Vec<(u64, String, Vec<u64>)> = f["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let port = a["server"].as_str().unwrap().rsplit(':').next().unwrap();
            let syns = a["syn_frames"].as_array().unwrap();
            (
                port.parse().unwrap(),
                a["outcome"].as_str().unwrap().to_string(),
                syns.iter().map(|s| s.as_u64().unwrap()).collect(),
            )
        })
        .collect();
    a.sort();
    (a, f)
}

#[test]
fn nmaps_fragmented_syns_are_put_back_together() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("fragments");
    let file = scratch.join("nmap-f.pcap");
    // What nmap concludes depends on its timing; the kernel's answers are
    // in the capture whatever nmap made of them, and are checked there.
    let report = fragmented_scan(&file);
    let name = file.to_str().unwrap();
    let one = common::synack_ok(["analyze", "--format", "json", "--threads", "1", name]);
    let (found, counts) = attempts(&one.stdout);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].0, found[1].0), (80, 81));
    assert_eq!(found[1].1, "refused", "the kernel answered: {report}");
    // The SYN-ACK, then the RST of a host with no socket for it.
    assert_eq!(found[0].1, "reset_during_handshake", "{report}");
    assert_eq!(counts["reassembled_packets"], 2);
    assert_eq!(counts["fragments_not_reassembled"], 0);
    let syns: Vec<u64> = found.iter().flat_map(|a| a.2.clone()).collect();
    if let Some(t) = tshark_syns(&file) {
        assert_eq!(syns, t, "each SYN at the frame tshark shows it at");
    }
    // Two threads, split over the mapped file and dealt from a stream.
    let split = common::synack_ok(["analyze", "--format", "json", "--threads", "2", name]);
    assert_eq!(attempts(&split.stdout).0, found);
    let out = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(["analyze", "--format", "json", "--threads", "2", "-"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert_eq!(attempts(&out.stdout).0, found);
    let text = common::synack_ok(["analyze", name]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("2 IP packets put back together from fragments"),
        "{text}"
    );

    // Without the first fragment of each SYN: nothing to put together.
    let mut kept = Vec::new();
    let mut n = 0;
    let first_pieces: Vec<u64> = syns.iter().map(|s| s - 2).collect();
    synack_capture::reader::read(&std::fs::read(&file).unwrap()[..], "t", |f| {
        n += 1;
        if !first_pieces.contains(&n) {
            kept.push((f.ts, f.data.to_vec()));
        }
    })
    .unwrap();
    let lossy = scratch.join("lossy.pcap");
    let mut b = synack_capture::synth::raw_pcap(&[]);
    b.splice(20..24, 1u32.to_le_bytes()); // Ethernet, as tcpdump wrote lo
    for (t, d) in &kept {
        let us = (t * 1e6).round() as u64;
        b.extend(((us / 1_000_000) as u32).to_le_bytes());
        b.extend(((us % 1_000_000) as u32).to_le_bytes());
        b.extend((d.len() as u32).to_le_bytes());
        b.extend((d.len() as u32).to_le_bytes());
        b.extend(d);
    }
    std::fs::write(&lossy, b).unwrap();
    let out = common::synack_ok(["analyze", "--format", "json", lossy.to_str().unwrap()]);
    let (found, counts) = attempts(&out.stdout);
    assert_eq!(counts["reassembled_packets"], 0);
    assert_eq!(
        counts["fragments_not_reassembled"], 4,
        "two pieces of each SYN"
    );
    assert!(found.iter().all(|a| a.2.is_empty()), "no SYN: {found:?}");
    let text = common::synack_ok(["analyze", lossy.to_str().unwrap()]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("4 IP fragments never made a whole packet")
            && text.contains("SYN not captured"),
        "{text}"
    );
}
