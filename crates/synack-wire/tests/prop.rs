//! Property tests: emit/parse round trips, differential parsing against
//! etherparse in both directions, and malformed input that must produce
//! errors, never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{PacketBuilder, SlicedPacket, TcpOptionElement, TransportSlice};
use proptest::prelude::*;
use synack_wire::{
    FastOpenCookie, IpHeader, OptionLayout, SackBlocks, SeqNum, TcpFlags, TcpOptions, TcpRepr,
    WireError, emit_segment, parse_segment,
};

fn addrs() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        (any::<u32>(), any::<u32>())
            .prop_map(|(a, b)| (IpAddr::V4(Ipv4Addr::from(a)), IpAddr::V4(Ipv4Addr::from(b)))),
        (any::<u128>(), any::<u128>())
            .prop_map(|(a, b)| (IpAddr::V6(Ipv6Addr::from(a)), IpAddr::V6(Ipv6Addr::from(b)))),
    ]
}

fn options() -> impl Strategy<Value = TcpOptions> {
    (
        proptest::option::of(any::<u16>()),
        proptest::option::of(0u8..=20),
        any::<bool>(),
        proptest::option::of((any::<u32>(), any::<u32>())),
        proptest::option::of(proptest::collection::vec(
            (any::<u32>(), any::<u32>()),
            1..=3,
        )),
        proptest::option::of(prop_oneof![Just(0usize), 4usize..=8]),
        proptest::option::of((2u8..=250, proptest::collection::vec(any::<u8>(), 0..4))),
    )
        .prop_map(|(mss, ws, sp, ts, sack, fo, unk)| {
            let mut o = TcpOptions {
                mss,
                window_scale: ws,
                sack_permitted: sp,
                timestamps: ts,
                sack: sack.and_then(|b| SackBlocks::new(&b)),
                fast_open: fo.and_then(|n| FastOpenCookie::new(&[0xab; 16][..n])),
                ..TcpOptions::default()
            };
            if let Some((kind, data)) = unk {
                // Kinds the parser knows would not come back as unknown.
                if ![2, 3, 4, 5, 8, 34, 254].contains(&kind) {
                    o.unknown.push(kind, &data);
                }
            }
            o
        })
}

prop_compose! {
    fn segment()(
        ports in (any::<u16>(), any::<u16>()),
        seq in any::<u32>(),
        ack in any::<u32>(),
        flags in 0u16..0x1000,
        window in any::<u16>(),
        urgent in any::<u16>(),
        options in options(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) -> (TcpRepr<'static>, Vec<u8>) {
        let repr = TcpRepr {
            src_port: ports.0,
            dst_port: ports.1,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags: TcpFlags(flags),
            window,
            urgent,
            options,
            payload: &[],
        };
        (repr, payload)
    }
}

fn layout() -> impl Strategy<Value = OptionLayout> {
    prop_oneof![Just(OptionLayout::Linux), Just(OptionLayout::Compact)]
}

/// Emit, or `None` when the options do not fit in 40 bytes.
fn emit(ip: &IpHeader, repr: &TcpRepr<'_>, layout: OptionLayout) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 200];
    match emit_segment(&mut buf, ip, repr, layout) {
        Ok(n) => {
            buf.truncate(n);
            Some(buf)
        }
        Err(WireError::OptionsTooLong { .. }) => None,
        Err(e) => panic!("emit failed: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn round_trip((src, dst) in addrs(), (repr, payload) in segment(), layout in layout()) {
        let repr = TcpRepr { payload: &payload, ..repr };
        let ip = IpHeader { ttl: 61, tos: 0, ident: 7, ..IpHeader::new(src, dst) };
        let Some(bytes) = emit(&ip, &repr, layout) else { return Ok(()) };
        let parsed = parse_segment(&bytes, true).unwrap();
        prop_assert_eq!(parsed.tcp, repr);
        prop_assert_eq!(parsed.ip.src, src);
        prop_assert_eq!(parsed.ip.dst, dst);
    }

    #[test]
    fn etherparse_reads_what_we_write((src, dst) in addrs(), (repr, payload) in segment(), layout in layout()) {
        let repr = TcpRepr { payload: &payload, ..repr };
        let ip = IpHeader::new(src, dst);
        let Some(bytes) = emit(&ip, &repr, layout) else { return Ok(()) };
        let sliced = SlicedPacket::from_ip(&bytes).unwrap();
        let Some(TransportSlice::Tcp(t)) = sliced.transport else { panic!("not tcp") };
        prop_assert_eq!(t.source_port(), repr.src_port);
        prop_assert_eq!(t.destination_port(), repr.dst_port);
        prop_assert_eq!(t.sequence_number(), repr.seq.get());
        prop_assert_eq!(t.acknowledgment_number(), repr.ack.get());
        prop_assert_eq!(t.window_size(), repr.window);
        prop_assert_eq!(t.urgent_pointer(), repr.urgent);
        let f = repr.flags;
        prop_assert_eq!(
            [t.fin(), t.syn(), t.rst(), t.psh(), t.ack(), t.urg(), t.ece(), t.cwr(), t.ns()],
            [f.fin(), f.syn(), f.rst(), f.contains(TcpFlags::PSH), f.ack(), f.contains(TcpFlags::URG),
             f.contains(TcpFlags::ECE), f.contains(TcpFlags::CWR), f.contains(TcpFlags::AE)]
        );
        prop_assert_eq!(t.payload(), &payload[..]);
        // The checksum etherparse computes equals the one we wrote.
        let want = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => t.to_header().calc_checksum_ipv4_raw(s.octets(), d.octets(), t.payload()).unwrap(),
            (IpAddr::V6(s), IpAddr::V6(d)) => t.to_header().calc_checksum_ipv6_raw(s.octets(), d.octets(), t.payload()).unwrap(),
            _ => unreachable!(),
        };
        // etherparse drops the reserved bits when rebuilding the header.
        if !repr.flags.intersects(TcpFlags::RESERVED) {
            prop_assert_eq!(t.checksum(), want);
        }
        for opt in t.options_iterator() {
            match opt {
                Ok(TcpOptionElement::MaximumSegmentSize(m)) => prop_assert_eq!(Some(m), repr.options.mss),
                Ok(TcpOptionElement::WindowScale(s)) => prop_assert_eq!(Some(s), repr.options.window_scale),
                Ok(TcpOptionElement::SelectiveAcknowledgementPermitted) => prop_assert!(repr.options.sack_permitted),
                Ok(TcpOptionElement::Timestamp(v, e)) => prop_assert_eq!(Some((v, e)), repr.options.timestamps),
                Ok(TcpOptionElement::SelectiveAcknowledgement(first, _)) => {
                    prop_assert_eq!(Some(first), repr.options.sack.map(|s| s.as_slice()[0]));
                }
                _ => {}
            }
        }
    }

    #[test]
    fn we_read_what_etherparse_writes(
        v4 in any::<bool>(),
        ports in (any::<u16>(), any::<u16>()),
        seq in any::<u32>(),
        ack in proptest::option::of(any::<u32>()),
        bits in any::<[bool; 6]>(),
        window in any::<u16>(),
        mss in proptest::option::of(any::<u16>()),
        ws in proptest::option::of(0u8..15),
        ts in proptest::option::of((any::<u32>(), any::<u32>())),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let builder = if v4 {
            PacketBuilder::ipv4([192, 0, 2, 1], [198, 51, 100, 2], 64)
        } else {
            PacketBuilder::ipv6([0x20; 16], [0x21; 16], 64)
        };
        let mut b = builder.tcp(ports.0, ports.1, seq, window);
        if bits[0] { b = b.syn(); }
        if bits[1] { b = b.fin(); }
        if bits[2] { b = b.rst(); }
        if bits[3] { b = b.psh(); }
        if bits[4] { b = b.ece(); }
        if bits[5] { b = b.cwr(); }
        if let Some(a) = ack { b = b.ack(a); }
        let mut opts = Vec::new();
        if let Some(m) = mss { opts.push(TcpOptionElement::MaximumSegmentSize(m)); }
        if let Some(s) = ws { opts.push(TcpOptionElement::WindowScale(s)); }
        if let Some((v, e)) = ts { opts.push(TcpOptionElement::Timestamp(v, e)); }
        let b = b.options(&opts).unwrap();
        let mut bytes = Vec::new();
        b.write(&mut bytes, &payload).unwrap();
        let p = parse_segment(&bytes, true).unwrap();
        prop_assert_eq!((p.tcp.src_port, p.tcp.dst_port), ports);
        prop_assert_eq!(p.tcp.seq.get(), seq);
        prop_assert_eq!(p.tcp.flags.ack(), ack.is_some());
        if let Some(a) = ack { prop_assert_eq!(p.tcp.ack.get(), a); }
        prop_assert_eq!(
            [p.tcp.flags.syn(), p.tcp.flags.fin(), p.tcp.flags.rst(), p.tcp.flags.contains(TcpFlags::PSH),
             p.tcp.flags.contains(TcpFlags::ECE), p.tcp.flags.contains(TcpFlags::CWR)],
            bits
        );
        prop_assert_eq!(p.tcp.window, window);
        prop_assert_eq!(p.tcp.options.mss, mss);
        prop_assert_eq!(p.tcp.options.window_scale, ws);
        prop_assert_eq!(p.tcp.options.timestamps, ts);
        prop_assert_eq!(p.tcp.payload, &payload[..]);
    }

    /// Every prefix of a valid packet is rejected with an error, as
    /// etherparse rejects it too; nothing panics.
    #[test]
    fn truncation_is_an_error((src, dst) in addrs(), (repr, payload) in segment(), cut in any::<prop::sample::Index>()) {
        let repr = TcpRepr { payload: &payload, ..repr };
        let Some(bytes) = emit(&IpHeader::new(src, dst), &repr, OptionLayout::Linux) else { return Ok(()) };
        let n = cut.index(bytes.len());
        prop_assert!(parse_segment(&bytes[..n], true).is_err());
        let theirs = SlicedPacket::from_ip(&bytes[..n]);
        prop_assert!(theirs.is_err() || !matches!(theirs.map(|s| s.transport), Ok(Some(TransportSlice::Tcp(_)))));
    }

    /// Flipped bytes: an error or a parse, never a panic; with checksums on,
    /// any flip in the covered bytes is caught.
    #[test]
    fn flipped_bytes_never_panic((src, dst) in addrs(), (repr, payload) in segment(), at in any::<prop::sample::Index>(), x in 1u8..=255) {
        let repr = TcpRepr { payload: &payload, ..repr };
        let Some(mut bytes) = emit(&IpHeader::new(src, dst), &repr, OptionLayout::Linux) else { return Ok(()) };
        let i = at.index(bytes.len());
        bytes[i] ^= x;
        let _ = parse_segment(&bytes, false);
        // One flipped byte changes the one's-complement sum of what the
        // checksums cover, so the verified parse of a flipped packet must
        // fail or give back the original segment (a flip the checksums do
        // not cover: IPv6's traffic class, flow label or hop limit).
        if let Ok(p) = parse_segment(&bytes, true) {
            prop_assert_eq!((p.ip.src, p.ip.dst), (src, dst));
            prop_assert_eq!(p.tcp, repr);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let _ = parse_segment(&bytes, true);
        let _ = parse_segment(&bytes, false);
        let _ = TcpOptions::parse(&bytes);
        for o in synack_wire::options::OptionIter::new(&bytes) { let _ = o; }
    }
}

#[test]
fn every_malformed_length_is_reported() {
    let ip = IpHeader::new("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
    let repr = TcpRepr {
        src_port: 1,
        dst_port: 2,
        seq: SeqNum(1),
        ack: SeqNum(0),
        flags: TcpFlags::SYN,
        window: 1,
        urgent: 0,
        options: TcpOptions {
            mss: Some(1460),
            ..TcpOptions::default()
        },
        payload: b"",
    };
    let good = emit(&ip, &repr, OptionLayout::Linux).unwrap();
    // Data offset below 5 and beyond the segment.
    for (off, expect_offset) in [(0x40u8, 4u8), (0xf0, 15)] {
        let mut b = good.clone();
        b[32] = off;
        assert!(
            matches!(parse_segment(&b, false), Err(WireError::BadDataOffset { offset, .. }) if offset == expect_offset)
        );
    }
    // IPv4 header length below 5 and total length beyond the buffer.
    let mut b = good.clone();
    b[0] = 0x44;
    assert!(matches!(
        parse_segment(&b, false),
        Err(WireError::BadIhl { ihl: 4, .. })
    ));
    let mut b = good.clone();
    b[3] = 200;
    assert!(matches!(
        parse_segment(&b, false),
        Err(WireError::BadTotalLength { total: 200, .. })
    ));
    // Option length 1 and an option running past the header.
    for (len, err) in [
        (1u8, WireError::BadOptionLength { kind: 2, len: 1 }),
        (9, WireError::TruncatedOption { kind: 2, at: 0 }),
    ] {
        let mut b = good.clone();
        b[41] = len;
        assert_eq!(parse_segment(&b, false).unwrap_err(), err);
    }
    // Not TCP, not IP.
    let mut b = good.clone();
    b[9] = 17;
    assert_eq!(parse_segment(&b, false).unwrap_err(), WireError::NotTcp(17));
    assert_eq!(
        parse_segment(&[0x50; 40], false).unwrap_err(),
        WireError::BadIpVersion(5)
    );
    assert!(matches!(
        parse_segment(&[], false),
        Err(WireError::Truncated { .. })
    ));
}
