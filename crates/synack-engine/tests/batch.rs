//! `handle_batch` is `handle` on each packet in order: the same segments,
//! events, steps and counters, whatever the batch holds (new SYNs, their
//! retransmissions, segments for no connection, bytes that do not parse).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use core::net::SocketAddr;

use synack_engine::{Config, Endpoint, Instant, MAX_PACKET};

fn server_addr() -> SocketAddr {
    "10.0.0.2:80".parse().unwrap()
}

fn server() -> Endpoint {
    let mut s = Endpoint::new(Config::linux().with_secrets([3; 16], 3));
    s.listen(server_addr()).unwrap();
    s
}

/// Everything an endpoint has to say after being fed: its segments as
/// bytes, its events and step records (as text), its counters.
fn drain(e: &mut Endpoint, now: Instant) -> (Vec<Vec<u8>>, Vec<String>, String) {
    let mut buf = vec![0; MAX_PACKET];
    let mut segs = Vec::new();
    while let Some(t) = e.poll_transmit(now, &mut buf).unwrap() {
        segs.push(buf[..t.len].to_vec());
    }
    let mut said: Vec<String> = Vec::new();
    while let Some(ev) = e.poll_event() {
        said.push(format!("{ev:?}"));
    }
    while let Some(st) = e.poll_step() {
        said.push(format!("{st:?}"));
    }
    (segs, said, format!("{:?}", e.stats()))
}

/// SYNs from 40 clients (more than one read-ahead chunk), each client's SYN
/// twice (four of them to a closed port), and between them packets that
/// do not parse.
fn mixed_packets(now: Instant) -> (Vec<Vec<u8>>, usize) {
    let mut client = Endpoint::new(Config::linux().with_secrets([1; 16], 1));
    for i in 0..40u16 {
        let local = SocketAddr::from(([10, 0, 1, (i % 3) as u8 + 1], 40_000 + i));
        // Every 13th to a port nobody listens on: answered with a RST.
        let port = if i % 13 == 0 { 81 } else { 80 };
        let remote = SocketAddr::new(server_addr().ip(), port);
        client.connect(now, local, remote).unwrap();
    }
    let (syns, _, _) = drain(&mut client, now);
    let mut packets = Vec::new();
    let mut bad = 0;
    for (i, syn) in syns.iter().enumerate() {
        packets.push(syn.clone());
        if i % 7 == 3 {
            packets.push(vec![0x45, 0, 0]);
            bad += 1;
        }
        if i % 11 == 5 {
            // To port 81 with the checksum for port 80: it does not parse.
            let mut other = syn.clone();
            other[22..24].copy_from_slice(&81u16.to_be_bytes());
            packets.push(other);
            bad += 1;
        }
    }
    packets.extend(syns);
    (packets, bad)
}

#[test]
fn a_batch_does_what_handling_each_packet_does() {
    let now = Instant::from_millis(5);
    let (packets, bad) = mixed_packets(now);
    assert!(packets.len() > 2 * 16, "several read-ahead chunks");

    let mut one_by_one = server();
    let mut failed = 0;
    for p in &packets {
        failed += usize::from(one_by_one.handle(now, p).is_err());
    }
    let mut batched = server();
    let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
    assert_eq!(batched.handle_batch(now, &refs), failed);
    assert_eq!(
        failed, bad,
        "the short packets and the re-addressed ones fail"
    );
    assert_eq!(batched.stats().malformed, bad as u64);

    let (a, b) = (drain(&mut one_by_one, now), drain(&mut batched, now));
    assert_eq!(
        a.0.len(),
        80,
        "a SYN-ACK or a RST for each SYN and its copy"
    );
    assert_eq!(a, b);
    assert_eq!(one_by_one.len(), 36);
    assert_eq!(batched.len(), 36);
}

#[test]
fn an_empty_batch_and_a_batch_of_one_are_fine() {
    let now = Instant::from_millis(5);
    let (packets, _) = mixed_packets(now);
    let mut s = server();
    assert_eq!(s.handle_batch(now, &[]), 0);
    assert_eq!(s.handle_batch(now, &[&packets[1]]), 0);
    assert_eq!(s.handle_batch(now, &[&[0x45u8, 0, 0][..]]), 1);
    assert_eq!(s.stats().malformed, 1);
    assert_eq!(s.len(), 1);
}
