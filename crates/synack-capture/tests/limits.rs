//! What the reader and the tracker do with files that push their limits:
//! timestamps at the edge of their fields, binary resolutions, records
//! longer than the first buffer, lengths no file should claim, thousands of
//! interfaces, and one attempt of a hundred thousand FINs or RSTs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::net::IpAddr;

use synack_capture::Attempt;

use synack_capture::synth::pcapng::{epb, idb, shb};
use synack_wire::{IpHeader, OptionLayout, SeqNum, TcpFlags, TcpOptions, TcpRepr, emit_segment};

fn packet(flags: TcpFlags, seq: u32, ack: u32, from_client: bool, payload: &[u8]) -> Vec<u8> {
    let (c, s): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
    let (src, dst, sp, dp) = if from_client {
        (c, s, 40000, 80)
    } else {
        (s, c, 80, 40000)
    };
    let repr = TcpRepr {
        src_port: sp,
        dst_port: dp,
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags,
        window: 1000,
        urgent: 0,
        options: TcpOptions::default(),
        payload,
    };
    let mut buf = vec![0u8; 40 + payload.len()];
    let n = emit_segment(
        &mut buf,
        &IpHeader::new(src, dst),
        &repr,
        OptionLayout::Linux,
    )
    .unwrap();
    buf.truncate(n);
    buf
}

fn frame_times(file: &[u8]) -> Vec<f64> {
    let mut v = Vec::new();
    synack_capture::reader::read(file, "t", |f| v.push(f.ts)).unwrap();
    v
}

#[test]
fn a_binary_resolution_is_honoured() {
    // 0x89: 2^-9 s per tick, so 512 ticks are one second.
    let syn = packet(TcpFlags::SYN, 1, 0, true, b"");
    let mut f = shb();
    f.extend(idb(0x89, 0));
    f.extend(epb(0, 512 * 1000, &syn));
    f.extend(epb(0, 512 * 1001, &syn));
    let t = frame_times(&f);
    assert_eq!(t, vec![1000.0, 1001.0]);
}

#[test]
fn timestamps_at_the_edge_of_their_fields_do_not_overflow() {
    let syn = packet(TcpFlags::SYN, 1, 0, true, b"");
    let mut f = shb();
    f.extend(idb(9, i64::MAX));
    f.extend(idb(0x80 | 127, i64::MIN));
    f.extend(epb(0, u64::MAX, &syn));
    f.extend(epb(1, u64::MAX, &syn));
    let t = frame_times(&f);
    assert_eq!(t.len(), 2);
    // In nanoseconds, 2^64 − 1 ticks are 18446744073.7 s past the offset.
    assert!((t[0] - (i64::MAX as f64 + 18_446_744_073.709_553)).abs() < 1e6);
    assert!(t[1].is_finite());
}

#[test]
fn a_record_longer_than_the_first_buffer_is_read() {
    let big = packet(TcpFlags::ACK, 2, 2, true, &vec![0x55; 60_000]);
    let mut payload = big.clone();
    payload.resize(2 << 20, 0);
    let mut f = shb();
    f.extend(idb(6, 0));
    f.extend(epb(0, 1, &payload));
    f.extend(epb(0, 2, &big));
    let mut n = 0;
    let s = synack_capture::reader::read(&f[..], "t", |_| n += 1).unwrap();
    assert_eq!((n, s.damaged_at), (2, None));
}

#[test]
fn a_length_no_sound_file_has_is_damage_not_memory() {
    // A pcap header claiming a 4 GiB snap length, then a record claiming
    // 4 GiB: reported as damage at the record, with the limit named.
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&u32::MAX.to_le_bytes());
    f.extend_from_slice(&101u32.to_le_bytes());
    for w in [1u32, 0, u32::MAX, u32::MAX] {
        f.extend_from_slice(&w.to_le_bytes());
    }
    f.extend_from_slice(&[0x45; 64]);
    let s = synack_capture::reader::read(&f[..], "t", |_| {}).unwrap();
    let (at, why) = s.damaged_at.unwrap();
    assert_eq!(
        (at, &why),
        (24, &synack_capture::reader::Damage::RecordTooLong)
    );
    let words = synack_capture::narrate::damage(&why, synack_explain::Lang::En);
    assert!(words.contains("more than 16 MiB"), "{words}");
}

#[test]
fn thousands_of_interfaces_are_read() {
    let syn = packet(TcpFlags::SYN, 1, 0, true, b"");
    let mut f = shb();
    for _ in 0..5000 {
        f.extend(idb(6, 0));
    }
    f.extend(epb(4999, 7_000_000, &syn));
    assert_eq!(frame_times(&f), vec![7.0]);
}

#[test]
fn a_hundred_thousand_fins_keep_the_history_short() {
    let mut f = shb();
    f.extend(idb(6, 0));
    let mut t = 0u64;
    let mut add = |f: &mut Vec<u8>, p: Vec<u8>| {
        t += 10;
        f.extend(epb(0, t, &p));
    };
    add(&mut f, packet(TcpFlags::SYN, 100, 0, true, b""));
    add(&mut f, packet(TcpFlags::SYN_ACK, 500, 101, false, b""));
    add(&mut f, packet(TcpFlags::ACK, 101, 501, true, b""));
    for i in 0..100_000u32 {
        add(
            &mut f,
            packet(TcpFlags::FIN | TcpFlags::ACK, 101 + i, 501, true, b""),
        );
    }
    let a = synack_capture::analyze(&f[..], "t").unwrap();
    let h = &a.attempts[0].history;
    // ShA, then F for the first ten new sequence numbers and at 100, 1000,
    // 10000 and 100000.
    assert_eq!(h, &format!("ShA{}", "F".repeat(14)), "{h}");
}

/// An attempt of a SYN, `before` (the frames up to the SYN-ACK, if any),
/// then a hundred thousand of `flood`, then `last`: what analyze makes of it.
fn flooded(before: &[Vec<u8>], flood: &dyn Fn(u32) -> Vec<u8>, last: Vec<u8>) -> Attempt {
    let mut f = shb();
    f.extend(idb(6, 0));
    let mut t = 0u64;
    let mut add = |f: &mut Vec<u8>, p: &[u8]| {
        t += 10;
        f.extend(epb(0, t, p));
    };
    add(&mut f, &packet(TcpFlags::SYN, 100, 0, true, b""));
    for p in before {
        add(&mut f, p);
    }
    for i in 0..100_000u32 {
        add(&mut f, &flood(i));
    }
    add(&mut f, &last);
    let mut a = synack_capture::analyze(&f[..], "t").unwrap().attempts;
    assert_eq!(a.len(), 1);
    a.remove(0)
}

#[test]
fn a_hundred_thousand_rsts_keep_the_list_short_and_the_one_that_counts() {
    let rst_ack = TcpFlags::RST | TcpFlags::ACK;
    let last_frame = 100_000 + 2;
    // Before a SYN-ACK: RSTs the client ignores (ack not ISN + 1), then one
    // it takes.
    let a = flooded(
        &[],
        &|i| packet(rst_ack, 0, 200 + i, false, b""),
        packet(rst_ack, 0, 101, false, b""),
    );
    assert_eq!((a.rst_seen, a.rst.len()), (100_001, 17), "{:?}", a.rst);
    assert_eq!(a.outcome.name(), "refused");
    let d = a.diagnosis.unwrap();
    assert_eq!((d.reason, d.frames.to_vec()), ("reset", vec![last_frame]));
    // After the handshake: RSTs outside the server's window, then one with
    // its RCV.NXT.
    let handshake = [
        packet(TcpFlags::SYN_ACK, 500, 101, false, b""),
        packet(TcpFlags::ACK, 101, 501, true, b""),
    ];
    let a = flooded(
        &handshake,
        &|i| packet(TcpFlags::RST, 101 + 5000 + i, 0, true, b""),
        packet(TcpFlags::RST, 101, 0, true, b""),
    );
    assert_eq!((a.rst_seen, a.rst.len()), (100_001, 17));
    assert!(a.checks.len() <= 16, "{:?}", a.checks);
    assert_eq!(a.outcome.name(), "reset_after_establishment");
    let d = a.diagnosis.unwrap();
    assert_eq!(
        (d.reason, d.frames.to_vec()),
        ("reset", vec![last_frame + 2])
    );
}

#[test]
fn held_attempts_are_capped_and_the_oldest_are_evicted_once() {
    let mut f = shb();
    f.extend(idb(6, 0));
    for i in 0..1000u32 {
        let mut p = packet(TcpFlags::SYN, i, 0, true, b"");
        // A distinct client port per SYN: bytes 20..22 of the IPv4 packet;
        // the checksum is not verified by the tracker's grouping.
        p[20..22].copy_from_slice(&(10_000 + i as u16).to_be_bytes());
        f.extend(epb(0, u64::from(i) * 1000, &p));
    }
    let mut seen = Vec::new();
    let t = synack_capture::analyze_each_within(&f[..], "t", 100, |a| {
        seen.push((a.client, a.evicted));
    })
    .unwrap();
    assert!(t.peak_live <= 100, "{}", t.peak_live);
    assert_eq!(t.evicted, 900);
    assert_eq!(seen.len(), 1000, "every attempt reported");
    let mut clients: Vec<_> = seen.iter().map(|s| s.0).collect();
    clients.sort();
    clients.dedup();
    assert_eq!(clients.len(), 1000, "none twice");
    assert_eq!(seen.iter().filter(|s| s.1).count(), 900);
}

/// A router capturing on both its interfaces sees every segment twice,
/// microseconds apart and sometimes in the other order: copies, not
/// retransmissions.
#[test]
fn copies_on_another_interface_are_copies() {
    let mut f = shb();
    f.extend(idb(9, 0));
    f.extend(idb(9, 0));
    let base: u64 = 1_700_000_000_000_000_000;
    let segs = [
        (0u64, packet(TcpFlags::SYN, 1000, 0, true, &[])),
        (
            127_609_669,
            packet(TcpFlags::SYN_ACK, 5000, 1001, false, &[]),
        ),
        (255_219_338, packet(TcpFlags::ACK, 1001, 5001, true, &[])),
    ];
    for (t, p) in &segs {
        // The copy on interface 1: 2 µs later for the SYN, 2 µs earlier
        // (written after) for the others.
        f.extend(epb(0, base + t, p));
        let shift = if *t == 0 {
            base + t + 2_000
        } else {
            base + t - 2_000
        };
        f.extend(epb(1, shift, p));
    }
    let a = synack_capture::analyze(&f[..], "t").unwrap();
    assert_eq!(a.attempts.len(), 1);
    let x = &a.attempts[0];
    assert_eq!(x.copies, 3);
    assert_eq!((x.syn_retransmissions, x.synack_retransmissions), (0, 0));
    assert_eq!(x.syn_frames, vec![1]);
    assert_eq!(x.outcome.name(), "established");
    assert!(x.syn_retransmission_intervals_s.is_empty());
    // A copy stamped before its original is no step back in time.
    assert_eq!(x.clock_back, None);
    // Times are exact: nanosecond differences print as the capture wrote them.
    let v = serde_json::to_value(x).unwrap();
    assert_eq!(v["syn_to_synack_s"].to_string(), "0.127609669");
    assert_eq!(v["handshake_rtt_s"].to_string(), "0.255219338");
    assert_eq!(
        v["start_time_ns"],
        serde_json::json!(1_700_000_000_000_000_000i64)
    );
    // The same frames on one interface are duplicates, and counted as the
    // retransmissions tshark calls them.
    let mut g = shb();
    g.extend(idb(9, 0));
    for (t, p) in &segs[..1] {
        g.extend(epb(0, base + t, p));
        g.extend(epb(0, base + t + 2_000, p));
    }
    let a = synack_capture::analyze(&g[..], "t").unwrap();
    let x = &a.attempts[0];
    assert_eq!((x.copies, x.duplicates, x.syn_retransmissions), (0, 1, 1));
}

/// A SYN-ACK stamped before its SYN (captures of two hosts merged, their
/// clocks apart): the attempt says where its times go backward and gives
/// no RTT across that; times that went backward only after the handshake
/// leave its RTT alone.
#[test]
fn times_going_backward_give_no_rtt_across_them() {
    let base: u64 = 1_700_000_000_000_000_000;
    let hs = [
        packet(TcpFlags::SYN, 1000, 0, true, &[]),
        packet(TcpFlags::SYN_ACK, 5000, 1001, false, &[]),
        packet(TcpFlags::ACK, 1001, 5001, true, &[]),
        packet(TcpFlags::ACK | TcpFlags::PSH, 1001, 5001, true, b"GET /"),
    ];
    let file = |times: [u64; 4]| {
        let mut f = shb();
        f.extend(idb(9, 0));
        for (t, p) in times.iter().zip(&hs) {
            f.extend(epb(0, base + t, p));
        }
        synack_capture::analyze(&f[..], "t").unwrap()
    };
    let a = file([0, 10_000_000, 20_000_000, 30_000_000]);
    let x = &a.attempts[0];
    assert!(x.clock_back.is_none() && x.handshake_rtt_s.is_some());

    // The SYN-ACK 100 ms before the SYN, the ACK after both.
    let a = file([100_000_000, 0, 200_000_000, 300_000_000]);
    let x = &a.attempts[0];
    assert_eq!(
        x.clock_back,
        Some(synack_capture::ClockBack {
            frame: 2,
            latest_frame: 1,
            by_ns: 100_000_000
        })
    );
    assert_eq!(x.outcome.name(), "established");
    assert_eq!(
        (x.syn_to_synack_s, x.synack_to_ack_s, x.handshake_rtt_s),
        (None, None, None)
    );
    let mut s = synack_capture::Stats::default();
    s.add(x);
    assert_eq!((s.clock_back, s.rtt.len()), (1, 0));
    assert_eq!(s.to_json()["clock_back"], 1);

    // In order through the third ACK, the data 300 ns before it.
    let a = file([0, 10_000_000, 20_000_000, 19_999_700]);
    let x = &a.attempts[0];
    assert_eq!(
        x.clock_back,
        Some(synack_capture::ClockBack {
            frame: 4,
            latest_frame: 3,
            by_ns: 300
        })
    );
    assert_eq!(x.handshake_rtt_s, Some(0.02));
    assert_eq!(x.syn_to_synack_s, Some(0.01));
}

/// IPv4 and IPv6 attempts are held in tables of their own, and the cap
/// evicts the oldest of either: the order they are reported in is the
/// order they began in, families mixed.
#[test]
fn the_cap_evicts_the_oldest_of_either_family() {
    let syn = |i: u16, v6: bool| {
        let (c, s): (std::net::SocketAddr, std::net::SocketAddr) = if v6 {
            (
                format!("[2001:db8::1]:{}", 20_000 + i).parse().unwrap(),
                "[2001:db8::2]:80".parse().unwrap(),
            )
        } else {
            (
                format!("10.0.0.1:{}", 20_000 + i).parse().unwrap(),
                "10.0.0.2:80".parse().unwrap(),
            )
        };
        synack_capture::synth::ip_segment(c, s, TcpFlags::SYN, 1, 0, 0, TcpOptions::default())
            .unwrap()
    };
    let mut f = shb();
    f.extend(idb(6, 0));
    let families: Vec<bool> = (0..60u16).map(|i| i % 3 == 1).collect();
    for (i, v6) in families.iter().enumerate() {
        f.extend(epb(0, i as u64 * 1000, &syn(i as u16, *v6)));
    }
    let mut seen = Vec::new();
    let t = synack_capture::analyze_each_within(&f[..], "t", 7, |a| {
        seen.push((a.first_frame, a.client.is_ipv6(), a.evicted));
    })
    .unwrap();
    assert_eq!(t.evicted, 53);
    let frames: Vec<u64> = seen.iter().map(|s| s.0).collect();
    assert_eq!(frames, (1..=60).collect::<Vec<u64>>(), "oldest first");
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(s.1, families[i], "frame {} family", s.0);
        assert_eq!(s.2, i < 53, "frame {} evicted", s.0);
    }
}
