//! An IPv6 SYN in two fragments (a Fragment header in each): put back
//! together, its TCP checksum right over the whole segment, at the frame
//! that completed it, as tshark's reassembly shows it. (The kernel-backed
//! IPv4 test, nmap -f, is the CLI's `analyze_fragments.rs`; nmap does not
//! fragment IPv6.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::net::SocketAddr;
use std::process::Command;

use synack_capture::synth;
use synack_wire::{TcpFlags, TcpOptions};

/// `whole` (an IPv6 packet with no extension header) as fragments of
/// `size` bytes of its payload each, packet id `id`.
fn fragments(whole: &[u8], size: usize, id: u32) -> Vec<Vec<u8>> {
    let (fixed, payload) = whole.split_at(40);
    payload
        .chunks(size)
        .enumerate()
        .map(|(i, chunk)| {
            let offset = i * size;
            let more = offset + chunk.len() < payload.len();
            let mut p = fixed.to_vec();
            p[6] = 44;
            p[4..6].copy_from_slice(&((8 + chunk.len()) as u16).to_be_bytes());
            let word = ((offset / 8) as u16) << 3 | u16::from(more);
            p.extend([fixed[6], 0]);
            p.extend(word.to_be_bytes());
            p.extend(id.to_be_bytes());
            p.extend(chunk);
            p
        })
        .collect()
}

#[test]
fn an_ipv6_syn_in_fragments_is_put_back_together() {
    let (c, s): (SocketAddr, SocketAddr) = (
        "[2001:db8::1]:40000".parse().unwrap(),
        "[2001:db8::2]:80".parse().unwrap(),
    );
    let mss = TcpOptions {
        mss: Some(1440),
        ..TcpOptions::default()
    };
    let syn = synth::ip_segment(c, s, TcpFlags::SYN, 1000, 0, 0, mss).unwrap();
    let pieces = fragments(&syn, 16, 77);
    assert_eq!(pieces.len(), 2, "24 bytes of TCP: 16 and 8");
    let mut frames: Vec<(f64, Vec<u8>)> =
        vec![(1.0, pieces[1].clone()), (1.001, pieces[0].clone())];
    let seg = |from, to, flags, seq, ack| {
        synth::ip_segment(from, to, flags, seq, ack, 0, TcpOptions::default()).unwrap()
    };
    frames.push((1.01, seg(s, c, TcpFlags::SYN_ACK, 5000, 1001)));
    frames.push((1.02, seg(c, s, TcpFlags::ACK, 1001, 5001)));
    let file = synth::raw_pcap(&frames);

    let mut attempts = Vec::new();
    let t = synack_capture::analyze_each(&file[..], "t", |a| attempts.push(a.clone())).unwrap();
    assert_eq!((t.reassembled, t.fragments_lost), (1, 0));
    assert_eq!(attempts.len(), 1);
    let a = &attempts[0];
    assert_eq!(a.outcome.name(), "established");
    assert_eq!(a.syn_frames, vec![2], "the piece that completed it");
    assert_eq!(a.bad_checksums, 0, "the checksum covers the whole segment");
    assert_eq!(a.client_options.as_ref().and_then(|o| o.mss), Some(1440));

    let dir = std::env::temp_dir().join(format!("synack-frag6-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f6.pcap");
    std::fs::write(&path, &file).unwrap();
    let out = Command::new("tshark")
        .args(["-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0"])
        .args(["-T", "fields", "-e", "frame.number", "-r"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    match out {
        Ok(o) => assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "2"),
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "CI is set: tshark: {e}");
            eprintln!("SKIPPED the tshark check: no tshark");
        }
    }
}
