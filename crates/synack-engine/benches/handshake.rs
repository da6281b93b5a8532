//! Full handshakes per second, synack engine vs smoltcp, side by side in one
//! process. Same shape for both: a fresh client port each time, SYN,
//! SYN-ACK, ACK, then the client aborts with a RST; four segments, every
//! checksum computed on emit and verified on receive, no delayed ACK.
//! Each run checks its own work: segment counts and ESTABLISHED on both ends.
//!
//! Then a SYN flood against a listener answering with cookies: SYN-ACKs
//! per second, and what it cost in memory (nothing may be kept per SYN).
//!
//! `SYNACK_BENCH_N` (handshakes per round, default 1,000,000) and
//! `SYNACK_BENCH_ROUNDS` (default 5) tune it; medians are reported.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

#[path = "../tests/smol/mod.rs"]
mod smol;

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant as Clock;

use smoltcp::socket::tcp::State as SmolState;
use synack_engine::{Config, ConnHandle, Endpoint, Event, Instant, MAX_PACKET, SynCookies};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn engine_config(seed: u64) -> Config {
    Config {
        // The same segments smoltcp sends: MSS, WS, SACK-permitted; no TS.
        timestamps: false,
        record_steps: false,
        // Many handshakes in flight are the point here, not a SYN flood:
        // keep them all in the SYN queue rather than switch to cookies.
        syn_backlog: u32::MAX,
        ..Config::rfc().with_secrets([seed as u8; 16], seed)
    }
}

/// Segments moved from one end to the other in one go: each poll of the
/// sender writes into its own buffer, and the receiver takes them together
/// (`handle_batch`), as a driver reading several packets per system call would.
const BATCH: usize = 16;

struct Engines {
    client: Endpoint,
    server: Endpoint,
    server_addr: SocketAddr,
    buf: Vec<u8>,
    segments: u64,
}

impl Engines {
    fn new() -> Engines {
        let server_addr: SocketAddr = "10.0.0.2:80".parse().unwrap_or_else(|_| unreachable!());
        let mut server = Endpoint::new(engine_config(2));
        server
            .listen(server_addr)
            .unwrap_or_else(|e| panic!("listen: {e}"));
        Engines {
            client: Endpoint::new(engine_config(1)),
            server,
            server_addr,
            buf: vec![0; BATCH * MAX_PACKET],
            segments: 0,
        }
    }

    /// Move every queued segment from `from` to `to`, up to `BATCH` at a
    /// time (one alone goes through `handle`).
    fn pump(from: &mut Endpoint, to: &mut Endpoint, buf: &mut [u8], now: Instant) -> u64 {
        let mut n = 0;
        loop {
            let mut lens = [0usize; BATCH];
            let mut k = 0;
            while let Some(chunk) = buf.get_mut(k * MAX_PACKET..(k + 1) * MAX_PACKET) {
                match from.poll_transmit(now, chunk) {
                    Ok(Some(t)) => lens[k] = t.len,
                    Ok(None) => break,
                    Err(e) => panic!("emit: {e}"),
                }
                k += 1;
            }
            n += k as u64;
            match k {
                0 => return n,
                1 => to
                    .handle(now, &buf[..lens[0]])
                    .unwrap_or_else(|e| panic!("parse: {e}")),
                _ => {
                    let mut packets: [&[u8]; BATCH] = [&[]; BATCH];
                    for (i, p) in packets.iter_mut().enumerate().take(k) {
                        *p = &buf[i * MAX_PACKET..i * MAX_PACKET + lens[i]];
                    }
                    let bad = to.handle_batch(now, &packets[..k]);
                    assert_eq!(bad, 0, "every packet parses");
                }
            }
        }
    }

    /// Fresh 4-tuples: 64,512 ports per client address, then the next address.
    fn client_addr(i: usize) -> SocketAddr {
        let host = (i / 64512) % 250;
        SocketAddr::from(([10, 1, host as u8, 1], 1024 + (i % 64512) as u16))
    }

    /// Run handshakes in batches of `in_flight`: all SYNs, all SYN-ACKs, all
    /// ACKs, all RSTs. Returns (handshakes, seconds).
    fn run(&mut self, total: usize, in_flight: usize) -> (usize, f64) {
        let mut handles: Vec<ConnHandle> = Vec::with_capacity(in_flight);
        let mut done = 0;
        let mut t_us = 0u64;
        let start = Clock::now();
        while done < total {
            let batch = in_flight.min(total - done);
            let now = Instant::from_micros(t_us);
            t_us += 1;
            handles.clear();
            for i in 0..batch {
                let local = Self::client_addr(done + i);
                let h = self
                    .client
                    .connect(now, local, self.server_addr)
                    .unwrap_or_else(|e| panic!("connect: {e}"));
                handles.push(h);
            }
            let (c, s, b) = (&mut self.client, &mut self.server, &mut self.buf);
            self.segments += Self::pump(c, s, b, now); // SYN
            self.segments += Self::pump(s, c, b, now); // SYN-ACK
            self.segments += Self::pump(c, s, b, now); // ACK
            let mut established = 0;
            while let Some((_, e)) = c.poll_event() {
                established += usize::from(e == Event::Connected);
            }
            while let Some((_, e)) = s.poll_event() {
                established += usize::from(e == Event::Accepted);
            }
            assert_eq!(established, 2 * batch, "both ends must reach ESTABLISHED");
            for &h in &handles {
                c.abort(now, h).unwrap_or_else(|e| panic!("abort: {e}"));
            }
            self.segments += Self::pump(c, s, b, now); // RST
            while let Some((_, e)) = s.poll_event() {
                assert_eq!(e, Event::Reset);
            }
            c.handle_timeout(now);
            s.handle_timeout(now);
            assert!(
                c.is_empty() && s.is_empty(),
                "both tables empty after the RSTs"
            );
            done += batch;
        }
        (done, start.elapsed().as_secs_f64())
    }
}

fn smoltcp_run(total: usize) -> (usize, f64, u64) {
    let mut client = smol::Host::new([10, 0, 0, 1], 1, false);
    let mut server = smol::Host::new([10, 0, 0, 2], 2, false);
    let mut t_us = 0u64;
    let mut segments = 0u64;
    let start = Clock::now();
    for i in 0..total {
        server
            .tcp()
            .listen(80)
            .unwrap_or_else(|e| panic!("listen: {e:?}"));
        client.connect(([10, 0, 0, 2], 80), 1024 + (i % 64512) as u16);
        let mut rounds = 0;
        loop {
            t_us += 1;
            client.poll(t_us);
            while let Some(p) = client.dev.tx.pop_front() {
                server.dev.rx.push_back(p);
                segments += 1;
            }
            server.poll(t_us);
            while let Some(p) = server.dev.tx.pop_front() {
                client.dev.rx.push_back(p);
                segments += 1;
            }
            if client.tcp().state() == SmolState::Established
                && server.tcp().state() == SmolState::Established
            {
                break;
            }
            rounds += 1;
            assert!(rounds < 10, "smoltcp handshake stuck");
        }
        client.tcp().abort();
        loop {
            t_us += 1;
            client.poll(t_us);
            while let Some(p) = client.dev.tx.pop_front() {
                server.dev.rx.push_back(p);
                segments += 1;
            }
            server.poll(t_us);
            if !client.tcp().is_open() && server.tcp().state() == SmolState::Closed {
                break;
            }
        }
    }
    (total, start.elapsed().as_secs_f64(), segments)
}

/// The process's resident memory in KB (Linux), for the flood's cost.
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

/// `n` SYNs from distinct spoofed sources (forged before the clock starts)
/// at a listener that always answers with a cookie. Returns (SYN-ACKs per
/// second, KB of resident memory gained while answering them).
fn cookie_flood(n: usize) -> (f64, i64) {
    let mut cfg = Config::linux().with_secrets([5; 16], 5);
    cfg.syn_cookies = SynCookies::Always;
    cfg.record_steps = false;
    let server_addr: SocketAddr = "10.0.0.2:80".parse().unwrap_or_else(|_| unreachable!());
    let mut server = Endpoint::new(cfg.clone());
    server.listen(server_addr).unwrap();
    let syns: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let from = Engines::client_addr(i);
            let seq = (i as u32).wrapping_mul(2_654_435_761);
            synack_engine::forge(&cfg, from, server_addr, synack_wire::TcpFlags::SYN, seq).unwrap()
        })
        .collect();
    let mut buf = vec![0u8; MAX_PACKET];
    let before = rss_kb();
    let now = Instant::from_micros(1);
    let start = Clock::now();
    let mut answered = 0usize;
    for syn in &syns {
        server.handle(now, syn).unwrap();
        while let Some(t) = server.poll_transmit(now, &mut buf).unwrap() {
            answered += 1;
            black_box(&buf[..t.len]);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let grown = rss_kb() as i64 - before as i64;
    assert_eq!(answered, n, "one SYN-ACK per SYN");
    assert!(server.is_empty(), "cookies keep no connection");
    (n as f64 / secs, grown)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep it short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = env("SYNACK_BENCH_N", if quick { 2_000 } else { 1_000_000 });
    let rounds = env("SYNACK_BENCH_ROUNDS", if quick { 1 } else { 5 });

    // Profiling aid: SYNACK_BENCH_ONLY=engine runs the one-at-a-time engine loop alone.
    // SYNACK_BENCH_ONLY=flight does the same with SYNACK_BENCH_FLIGHT (default 100,000) in flight.
    if let Ok(only) = std::env::var("SYNACK_BENCH_ONLY") {
        let in_flight = match only.as_str() {
            "engine" => 1,
            _ => env("SYNACK_BENCH_FLIGHT", 100_000),
        };
        let mut e = Engines::new();
        let (done, secs) = e.run(n, in_flight);
        println!(
            "synack engine, {in_flight} in flight: {:.0} handshakes/s",
            done as f64 / secs
        );
        return;
    }
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..rounds {
        let mut e = Engines::new();
        let (done, secs) = e.run(n, 1);
        assert_eq!(e.segments, 4 * done as u64, "4 segments per handshake");
        ours.push(done as f64 / secs);
        let (done, secs, segs) = smoltcp_run(n);
        assert_eq!(segs, 4 * done as u64, "smoltcp: 4 segments per handshake");
        theirs.push(done as f64 / secs);
        black_box(&e.client);
    }
    let ours_m = median(ours);
    let theirs_m = median(theirs);
    println!("handshakes per round: {n}, rounds: {rounds} (medians)");
    println!("synack engine: {:>12.0} handshakes/s", ours_m);
    println!("smoltcp 0.14:  {:>12.0} handshakes/s", theirs_m);
    for in_flight in [10_000usize, 100_000] {
        let total = if quick {
            in_flight
        } else {
            (n / in_flight).max(1) * in_flight
        };
        let mut rates = Vec::new();
        for _ in 0..rounds {
            let mut e = Engines::new();
            let (done, secs) = e.run(total, in_flight);
            assert_eq!(e.segments, 4 * done as u64);
            rates.push(done as f64 / secs);
        }
        let r = median(rates);
        println!(
            "synack engine, {in_flight:>6} in flight: {r:>12.0} handshakes/s ({:.2} of one-at-a-time)",
            r / ours_m
        );
    }
    let mut floods = Vec::new();
    let mut grown = 0;
    for _ in 0..rounds {
        let (rate, kb) = cookie_flood(n);
        floods.push(rate);
        grown = grown.max(kb);
    }
    println!(
        "synack engine, SYN flood answered with cookies: {:>12.0} SYN-ACKs/s, no connection held, resident memory +{grown} KB over {n} SYNs",
        median(floods)
    );
    println!("engine/smoltcp ratio: {:.2}", ours_m / theirs_m);
}
