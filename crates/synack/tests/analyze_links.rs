//! Link layers: frames of one analyze does not read are counted and said
//! so (a capture nothing was read from must not look like one with no
//! handshakes in it), with libpcap's name for the link type.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::{Scratch, synack};
use serde_json::{Value, json};
use synack_capture::synth::{self, pcapng};
use synack_wire::{TcpFlags, TcpOptions};

/// A handshake's three IP packets, 10 ms apart from t = 100 s.
fn handshake() -> Vec<(f64, Vec<u8>)> {
    let (c, s): (SocketAddr, SocketAddr) = (
        "192.0.2.1:40000".parse().unwrap(),
        "192.0.2.2:80".parse().unwrap(),
    );
    let seg = |from, to, flags: TcpFlags, seq, ack| {
        synth::ip_segment(from, to, flags, seq, ack, 0, TcpOptions::default()).unwrap()
    };
    vec![
        (100.00, seg(c, s, TcpFlags::SYN, 1000, 0)),
        (100.01, seg(s, c, TcpFlags::SYN_ACK, 5000, 1001)),
        (100.02, seg(c, s, TcpFlags::ACK, 1001, 5001)),
    ]
}

/// A classic pcap of `frames` whose header says `linktype`.
fn pcap_of(linktype: u32, frames: &[(f64, Vec<u8>)]) -> Vec<u8> {
    let mut b = synth::raw_pcap(frames);
    b.splice(20..24, linktype.to_le_bytes());
    b
}

fn run(path: &Path, args: &[&str]) -> (i32, String) {
    let mut all = vec!["analyze"];
    all.extend_from_slice(args);
    all.push(path.to_str().unwrap());
    let out = synack(all);
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn json_of(path: &Path) -> Value {
    let (code, out) = run(path, &["--format", "json"]);
    assert_eq!(code, 0, "{out}");
    serde_json::from_str::<Value>(&out).unwrap()["files"][0].clone()
}

#[test]
fn a_pcap_of_a_link_layer_not_read_says_so() {
    let dir = Scratch::new("links");
    let file = dir.join("bt.pcap");
    std::fs::write(&file, pcap_of(187, &handshake())).unwrap();
    let (code, en) = run(&file, &[]);
    assert_eq!(code, 0, "{en}");
    assert!(en.contains("3 frames, 0 connection attempts"), "{en}");
    assert!(
        en.contains("anomalies: none found, no attempt to check")
            && !en.contains("every check passed"),
        "nothing was checked: {en}"
    );
    assert!(
        en.contains(
            "3 frames are of link type 187 (BLUETOOTH_HCI_H4): not a link layer analyze reads"
        ),
        "{en}"
    );
    let (_, zh) = run(&file, &["--lang", "zh"]);
    assert!(
        zh.contains("3 帧的链路类型为 187（BLUETOOTH_HCI_H4）"),
        "{zh}"
    );
    let j = json_of(&file);
    assert_eq!(
        j["unread_link_frames"],
        json!([{"linktype": 187, "name": "BLUETOOTH_HCI_H4", "frames": 3}])
    );
    // The same packets as raw IP are read: one attempt, nothing unread.
    std::fs::write(&file, pcap_of(101, &handshake())).unwrap();
    let j = json_of(&file);
    assert_eq!(j["unread_link_frames"], json!([]));
    assert_eq!(j["summary"]["outcomes"]["established"], 1);
}

/// A pcapng whose interfaces differ: the frames on the one read are
/// analysed, the others counted by link type, and a frame on an interface
/// the file never described is counted too. The HTML page says it as well.
#[test]
fn a_pcapng_counts_each_interface_not_read() {
    let dir = Scratch::new("links");
    let file = dir.join("two.pcapng");
    let h = handshake();
    let mut b = pcapng::shb();
    b.extend(pcapng::idb_of(101, 6, 0));
    b.extend(pcapng::idb_of(187, 6, 0));
    let us = |t: f64| (t * 1e6) as u64;
    for (i, (t, p)) in h.iter().enumerate() {
        b.extend(pcapng::epb(u32::from(i == 1), us(*t), p));
    }
    b.extend(pcapng::epb(7, us(101.0), &h[0].1));
    std::fs::write(&file, b).unwrap();
    let j = json_of(&file);
    assert_eq!(j["frames"], 4);
    assert_eq!(
        j["unread_link_frames"],
        json!([
            {"linktype": 187, "name": "BLUETOOTH_HCI_H4", "frames": 1},
            {"linktype": -1, "name": null, "frames": 1},
        ])
    );
    assert_eq!(j["summary"]["attempts"], 1);
    let (_, en) = run(&file, &[]);
    let said = "1 frame is of link type 187 (BLUETOOTH_HCI_H4); 1 frame is on an interface the file never described: not a link layer analyze reads";
    assert!(en.contains(said), "{en}");
    let (code, html) = run(&file, &["--format", "html"]);
    assert_eq!(code, 0);
    assert!(html.contains(said), "the page says it too");
}

/// Every link type named is named as libpcap names it: `tcpdump -r` prints
/// `link-type NAME (description)` for a file of it.
#[test]
fn link_type_names_are_libpcaps() {
    let dir = Scratch::new("links");
    let file = dir.join("lt.pcap");
    let named: Vec<(i32, &str)> = (0..=300)
        .filter_map(|lt| synack_capture::link::name(lt).map(|n| (lt, n)))
        .collect();
    assert!(named.len() > 20, "{named:?}");
    for (lt, name) in named {
        std::fs::write(&file, pcap_of(lt as u32, &[])).unwrap();
        let out = match Command::new("tcpdump").arg("-r").arg(&file).output() {
            Ok(o) => o,
            Err(e) => {
                assert!(std::env::var_os("CI").is_none(), "CI is set: tcpdump: {e}");
                eprintln!("SKIPPED: tcpdump is not installed");
                return;
            }
        };
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains(&format!("link-type {name} (")),
            "link type {lt}: we say {name}, tcpdump says {said}"
        );
    }
}

/// `ip` in an 802.11 data frame: QoS or not, to or from the access point,
/// in LLC/SNAP; `radiotap` puts a radiotap header before it.
fn wifi(ip: &[u8], qos: bool, to_ap: bool, radiotap: bool) -> Vec<u8> {
    let mut f = if radiotap {
        vec![0, 0, 8, 0, 0, 0, 0, 0]
    } else {
        vec![]
    };
    f.push(if qos { 0x88 } else { 0x08 });
    f.push(if to_ap { 0x01 } else { 0x02 });
    f.extend([0, 0]); // duration
    for a in [0x0a, 0x0b, 0x0c] {
        f.extend([2, 0, 0, 0, 0, a]);
    }
    f.extend([0x10, 0]); // sequence control
    if qos {
        f.extend([0, 0]);
    }
    let ethertype: u8 = if ip.first() == Some(&0x45) {
        0x00
    } else {
        0xdd
    };
    let hi = if ethertype == 0 { 0x08 } else { 0x86 };
    f.extend([0xaa, 0xaa, 0x03, 0, 0, 0, hi, ethertype]);
    f.extend(ip);
    f
}

/// 802.11 alone (link type 105) and after radiotap (127): the handshake's
/// data frames are read, an encrypted data frame and a beacon are not,
/// and the frames analyze takes for TCP are the ones tshark decodes as TCP.
#[test]
fn wireless_data_frames_are_read() {
    let dir = Scratch::new("links");
    for (lt, radiotap) in [(105u32, false), (127, true)] {
        let h = handshake();
        let mut frames: Vec<(f64, Vec<u8>)> = vec![
            (h[0].0, wifi(&h[0].1, true, true, radiotap)),
            (h[1].0, wifi(&h[1].1, true, false, radiotap)),
            (h[2].0, wifi(&h[2].1, false, true, radiotap)),
        ];
        let mut sealed = wifi(&h[2].1, true, true, radiotap);
        let at = usize::from(radiotap) * 8 + 1;
        sealed[at] |= 0x40; // protected: what follows is ciphertext
        frames.push((100.03, sealed));
        let mut beacon = if radiotap {
            vec![0, 0, 8, 0, 0, 0, 0, 0]
        } else {
            vec![]
        };
        beacon.extend([0x80, 0, 0, 0]);
        beacon.extend([0xff; 20]);
        frames.push((100.04, beacon));
        let file = dir.join(&format!("wifi{lt}.pcap"));
        std::fs::write(&file, pcap_of(lt, &frames)).unwrap();
        let j = json_of(&file);
        assert_eq!(j["unread_link_frames"], json!([]), "link type {lt}");
        let a = &j["attempts"][0];
        assert_eq!(a["outcome"], "established", "link type {lt}: {a}");
        let steps: Vec<u64> = a["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["frame"].as_u64().unwrap())
            .collect();
        assert_eq!(steps, [1, 2, 3]);
        let Some(tcp) = common::tshark_fields(&file, &["-Y", "tcp"], &["frame.number"]) else {
            continue;
        };
        let tcp: Vec<u64> = tcp.lines().map(|l| l.trim().parse().unwrap()).collect();
        assert_eq!(tcp, steps, "link type {lt}: the frames tshark reads as TCP");
    }
}

/// PPP as ISP links carry it: PPPoE on Ethernet (DSL), PPPoE alone
/// (PPP_ETHER), and PPP with and without HDLC-like framing, its protocol
/// in two bytes or compressed to one. The frames analyze takes for TCP
/// are the ones tshark decodes as TCP.
#[test]
fn ppp_and_pppoe_frames_are_read() {
    let dir = Scratch::new("links");
    for lt in [1u32, 51, 9] {
        let frames: Vec<(f64, Vec<u8>)> = handshake()
            .iter()
            .enumerate()
            .map(|(i, (t, ip))| (*t, ppp_framed(lt, ip, i)))
            .collect();
        let file = dir.join(&format!("ppp{lt}.pcap"));
        std::fs::write(&file, pcap_of(lt, &frames)).unwrap();
        let j = json_of(&file);
        assert_eq!(j["unread_link_frames"], json!([]), "link type {lt}");
        let a = &j["attempts"][0];
        assert_eq!(a["outcome"], "established", "link type {lt}: {j}");
        let Some(tcp) = common::tshark_fields(&file, &["-Y", "tcp"], &["frame.number"]) else {
            continue;
        };
        let tcp: Vec<u64> = tcp.lines().map(|l| l.trim().parse().unwrap()).collect();
        assert_eq!(
            tcp,
            [1, 2, 3],
            "link type {lt}: tshark reads the same frames as TCP"
        );
    }
}

/// `ip` as the `i`th frame of link type `lt`: PPPoE in Ethernet (1),
/// PPPoE alone (51), or PPP (9) framed three ways in turn.
fn ppp_framed(lt: u32, ip: &[u8], i: usize) -> Vec<u8> {
    let mut pppoe = vec![0x11, 0x00, 0x12, 0x34];
    pppoe.extend(((ip.len() + 2) as u16).to_be_bytes());
    pppoe.extend([0x00, 0x21]);
    pppoe.extend(ip);
    match lt {
        1 => {
            let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0x64];
            f.extend(pppoe);
            f
        }
        51 => pppoe,
        _ => {
            let mut f = match i {
                0 => vec![0xff, 0x03, 0x00, 0x21],
                1 => vec![0x21],
                _ => vec![0x00, 0x21],
            };
            f.extend(ip);
            f
        }
    }
}
