//! Data segments fit the packet buffer: cut at the effective send MSS (RFC
//! 9293 §3.7.1: options and the IP header counted), never lost when the
//! caller's buffer is too small, and never tiny because the peer said so.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use core::net::SocketAddr;
use core::time::Duration;

use synack_engine::sim::{Pair, Side, SimLink};
use synack_engine::{Config, Endpoint, Event, Instant, IsnMode, MAX_PACKET};
use synack_wire::{WireError, parse_segment};

fn pair(client: SocketAddr, server: SocketAddr, peer_mss: Option<u16>) -> Pair {
    let mut a = Config::rfc();
    a.isn = IsnMode::Fixed(1000);
    let mut b = Config::rfc();
    b.isn = IsnMode::Fixed(5000);
    if let Some(m) = peer_mss {
        b.mss = m;
    }
    let link = SimLink::new(Duration::from_millis(1), 1);
    let mut p = Pair::new(Endpoint::new(a), Endpoint::new(b), link);
    p.b.listen(server).unwrap();
    p.a.connect(Instant::ZERO, client, server).unwrap();
    assert!(p.run_until(Instant::from_millis(1000), |p| {
        p.has_event(Side::A, Event::Connected) && p.has_event(Side::B, Event::Accepted)
    }));
    p
}

/// Send `n` bytes from the client; the payload sizes of its data segments.
fn send(p: &mut Pair, n: usize) -> Vec<usize> {
    let c = p.a.connections().next().unwrap().handle();
    let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
    p.a.send(p.now, c, &data).unwrap();
    let s = p.b.connections().next().unwrap().handle();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let limit = Instant::from_millis(10_000);
    while got.len() < n && p.now < limit {
        p.run_until(limit, |p| p.has_event(Side::B, Event::Readable));
        while let Ok(k) = p.b.recv(s, &mut buf) {
            if k == 0 {
                break;
            }
            got.extend_from_slice(&buf[..k]);
        }
        p.events.clear();
    }
    assert_eq!(got, data, "every byte arrived, in order");
    p.link
        .log
        .iter()
        .filter(|r| r.from == Side::A)
        .inspect(|r| assert!(r.bytes.len() <= MAX_PACKET, "{} bytes", r.bytes.len()))
        .map(|r| parse_segment(&r.bytes, false).unwrap().tcp.payload.len())
        .filter(|&l| l > 0)
        .collect()
}

#[test]
fn data_with_timestamps_fits_a_1500_byte_packet() {
    let mut p = pair(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
        None,
    );
    let sizes = send(&mut p, 5000);
    // 1500 − 20 (IPv4) − 20 (TCP) − 12 (timestamps) = 1448.
    assert_eq!(sizes.iter().max(), Some(&1448), "{sizes:?}");
}

#[test]
fn over_ipv6_the_longer_header_is_counted() {
    let mut p = pair(
        "[2001:db8::1]:40000".parse().unwrap(),
        "[2001:db8::2]:80".parse().unwrap(),
        None,
    );
    let sizes = send(&mut p, 5000);
    // Peer MSS 1440; 1500 − 40 (IPv6) − 20 − 12 = 1428.
    assert_eq!(sizes.iter().max(), Some(&1428), "{sizes:?}");
}

#[test]
fn a_tiny_peer_mss_is_raised_to_linux_minimum() {
    let mut p = pair(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
        Some(1),
    );
    let sizes = send(&mut p, 400);
    // MSS 48 (TCP_MIN_SND_MSS) less 12 bytes of timestamps.
    assert_eq!(sizes.iter().max(), Some(&36), "{sizes:?}");
}

#[test]
fn a_segment_is_not_lost_when_the_buffer_is_too_small() {
    let mut p = pair(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
        None,
    );
    let c = p.a.connections().next().unwrap().handle();
    p.a.send(p.now, c, &[7u8; 1000]).unwrap();
    let mut small = [0u8; 100];
    match p.a.poll_transmit(p.now, &mut small) {
        Err(WireError::BufferTooSmall { need, .. }) => assert_eq!(need, 20 + 32 + 1000),
        other => panic!("{other:?}"),
    }
    let mut big = [0u8; MAX_PACKET];
    let t = p.a.poll_transmit(p.now, &mut big).unwrap().unwrap();
    let seg = parse_segment(&big[..t.len], false).unwrap();
    assert_eq!(
        seg.tcp.payload,
        &[7u8; 1000][..],
        "the same segment, still queued"
    );
}
