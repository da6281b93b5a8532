//! The scenarios beyond the textbook handshake: simultaneous open, old
//! duplicates, a rebooted peer, SYN floods, ECN, Fast Open, ISNs and the
//! close variants. Each sets up both engines and the link, then drives
//! them; the trace is gathered as for the others.

use std::net::SocketAddr;

use synack_engine::sim::{Fault, Pair, Side};
use synack_engine::{Config, Ecn, Endpoint, Event, Instant, IsnMode, SynCookies};
use synack_wire::{IpHeader, OptionLayout, SeqNum, TcpFlags, TcpRepr, emit_segment};

use crate::scenario::{Options, REQUEST, RESPONSE, Scenario, events_for};

/// Spoofed SYNs in `syn-flood` come from here; nothing answers there.
pub const SPOOFED: [u8; 4] = [198, 18, 0, 66];
/// The SYN queue of the `syn-flood` listener.
pub const FLOOD_BACKLOG: u32 = 4;
/// How far before the client's ISN the old duplicate SYN was sent.
pub const OLD_DISTANCE: u32 = 910;

/// Per-scenario engine settings.
pub fn tune(o: &Options, a: &mut Config, b: &mut Config) {
    match o.scenario {
        Scenario::SynFlood => {
            b.syn_backlog = FLOOD_BACKLOG;
            b.syn_cookies = SynCookies::WhenFull;
        }
        Scenario::Ecn => a.ecn = Ecn::Request,
        Scenario::FastOpen => {
            a.fast_open = true;
            b.fast_open = true;
        }
        // RFC 6528 ISNs whatever `--isn` says: they are the subject.
        Scenario::Isn => {
            a.isn = IsnMode::Rfc6528 {
                key: *b"synack-client-ky",
            };
            b.isn = IsnMode::Rfc6528 {
                key: *b"synack-server-ky",
            };
        }
        _ => {}
    }
}

fn spoofed_ip(o: &Options) -> std::net::IpAddr {
    if o.client.is_ipv6() {
        std::net::IpAddr::from([0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 0x66])
    } else {
        std::net::IpAddr::from(SPOOFED)
    }
}

/// Link faults beyond the textbook ones.
pub fn faults(o: &Options) -> Vec<Fault> {
    match o.scenario {
        // The old SYN goes first (A's 1st segment), A's real SYN (2nd) is slow.
        Scenario::OldDuplicate => vec![Fault::DelayNth {
            from: Side::A,
            n: 2,
            extra: o.delay * 5,
        }],
        Scenario::SynFlood => vec![Fault::Blackhole { ip: spoofed_ip(o) }],
        // The second connection's ECN-setup SYN (A's 3rd segment) is lost.
        Scenario::Ecn => vec![Fault::DropNth {
            from: Side::A,
            n: 3,
        }],
        // SYN, ACK, FIN, then the last ACK: lost.
        Scenario::LastAckLost => vec![Fault::DropNth {
            from: Side::A,
            n: 4,
        }],
        _ => vec![],
    }
}

/// A segment no engine made (an old duplicate SYN, a spoofed SYN, a stray
/// RST), as an IP packet: SYNs carry the options `cfg` would offer.
pub fn forge(
    cfg: &Config,
    from: SocketAddr,
    to: SocketAddr,
    flags: TcpFlags,
    seq: u32,
) -> Result<Vec<u8>, synack_wire::WireError> {
    let options = if flags.syn() {
        synack_engine::negotiate::syn_options(cfg).to_wire()
    } else {
        synack_wire::TcpOptions::default()
    };
    let repr = TcpRepr {
        src_port: from.port(),
        dst_port: to.port(),
        seq: SeqNum(seq),
        ack: SeqNum(0),
        flags,
        window: if flags.rst() { 0 } else { 64240 },
        urgent: 0,
        options,
        payload: &[],
    };
    let mut buf = vec![0u8; synack_engine::MAX_PACKET];
    let n = emit_segment(
        &mut buf,
        &IpHeader::new(from.ip(), to.ip()),
        &repr,
        OptionLayout::Linux,
    )?;
    buf.truncate(n);
    Ok(buf)
}

/// Run everything due up to `at`, then set the clock to `at` (never past
/// it, unlike `run_until`, which jumps to the next timer).
pub fn advance_to(p: &mut Pair, at: Instant) {
    settle(p, at);
    p.now = p.now.max(at);
}

/// Run everything due up to `at`; the clock stays at the last event.
pub fn settle(p: &mut Pair, at: Instant) {
    loop {
        let next = [
            p.link.next_delivery(),
            p.a.poll_timeout(),
            p.b.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let busy = p.a.has_transmit() || p.b.has_transmit();
        if !busy && next.is_none_or(|n| n > at) {
            break;
        }
        if !p.step() {
            break;
        }
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn both_up(p: &Pair) -> bool {
    p.has_event(Side::A, Event::Connected) && p.has_event(Side::B, Event::Accepted)
}

fn count(p: &Pair, side: Side, ev: Event) -> usize {
    p.events
        .iter()
        .filter(|e| e.side == side && e.event == ev)
        .count()
}

fn next_port(a: SocketAddr, k: u16) -> SocketAddr {
    SocketAddr::new(a.ip(), a.port().wrapping_add(k))
}

pub fn drive(o: &Options, pair: &mut Pair, limit: Instant) -> Result<(), String> {
    let (c, s) = (o.client, o.server);
    match o.scenario {
        Scenario::SimultaneousOpen => {
            pair.a.connect(Instant::ZERO, c, s).map_err(err)?;
            pair.b.connect(Instant::ZERO, s, c).map_err(err)?;
            pair.run_until(limit, |p| {
                p.has_event(Side::A, Event::Connected) && p.has_event(Side::B, Event::Connected)
            });
        }
        Scenario::OldDuplicate => {
            let a_cfg = pair.a.config().clone();
            let iss = synack_engine::isn::generate(&a_cfg.isn, Instant::ZERO, c, s).get();
            let old =
                forge(&a_cfg, c, s, TcpFlags::SYN, iss.wrapping_sub(OLD_DISTANCE)).map_err(err)?;
            pair.link.send(Instant::ZERO, Side::A, &old);
            pair.a.connect(Instant::ZERO, c, s).map_err(err)?;
            pair.run_until(limit, both_up);
        }
        Scenario::HalfOpen => {
            pair.a.connect(Instant::ZERO, c, s).map_err(err)?;
            pair.run_until(limit, both_up);
            // A reboots: every TCB gone. It opens again from the same port.
            pair.collect();
            let mut cfg = pair.a.config().clone();
            if let IsnMode::Fixed(n) = cfg.isn {
                cfg.isn = IsnMode::Fixed(n.wrapping_add(1_000_000));
            }
            pair.a = Endpoint::new(cfg);
            let at = pair.now + o.delay * 10;
            advance_to(pair, at);
            pair.a.connect(pair.now, c, s).map_err(err)?;
            pair.run_until(limit, |p| count(p, Side::A, Event::Connected) >= 2);
        }
        Scenario::SynFlood => {
            let a_cfg = pair.a.config().clone();
            for i in 0..FLOOD_BACKLOG as u16 {
                let from = SocketAddr::new(spoofed_ip(o), 20_000 + i * 7);
                let syn = forge(
                    &a_cfg,
                    from,
                    s,
                    TcpFlags::SYN,
                    0x5eed_0000 + u32::from(i) * 977,
                )
                .map_err(err)?;
                pair.link.send(Instant::ZERO, Side::A, &syn);
            }
            advance_to(pair, Instant::ZERO + o.delay * 3);
            let at = pair.now;
            pair.a.connect(at, c, s).map_err(err)?;
            pair.run_until(limit, both_up);
        }
        Scenario::Ecn => {
            pair.a.connect(Instant::ZERO, c, s).map_err(err)?;
            pair.run_until(limit, both_up);
            let now = pair.now;
            pair.a.connect(now, next_port(c, 1), s).map_err(err)?;
            pair.run_until(limit, |p| count(p, Side::A, Event::Connected) >= 2);
        }
        Scenario::FastOpen => {
            pair.a
                .connect_with_data(Instant::ZERO, c, s, REQUEST)
                .map_err(err)?;
            pair.run_until(limit, |p| p.has_event(Side::B, Event::Readable));
            advance_to(pair, pair.now + o.delay * 4);
            let now = pair.now;
            pair.a
                .connect_with_data(now, next_port(c, 1), s, REQUEST)
                .map_err(err)?;
            pair.run_until(limit, |p| count(p, Side::B, Event::Readable) >= 2);
            // The server answers the request it got on the SYN.
            let h = pair
                .events
                .iter()
                .rev()
                .find(|e| e.side == Side::B && e.event == Event::Readable)
                .map(|e| e.conn)
                .ok_or("no server connection")?;
            let mut buf = [0u8; 256];
            pair.b.recv(h, &mut buf).map_err(err)?;
            pair.run_until(limit, |p| count(p, Side::B, Event::Accepted) >= 2);
            let now = pair.now;
            pair.b.send(now, h, RESPONSE).map_err(err)?;
            pair.run_until(limit, |p| count(p, Side::A, Event::Readable) >= 1);
        }
        Scenario::Isn => {
            // Two 4-tuples, three rounds one second apart; each connection
            // is aborted before the next round reuses its tuple.
            for round in 0..3u64 {
                advance_to(pair, Instant::from_millis(round * 1000));
                for k in 0..2 {
                    let h = pair.a.connect(pair.now, next_port(c, k), s).map_err(err)?;
                    pair.run_until(limit, |p| {
                        p.events.iter().any(|e| e.conn == h && e.side == Side::A)
                    });
                    let now = pair.now;
                    pair.a.abort(now, h).map_err(err)?;
                    advance_to(pair, pair.now + o.delay * 2);
                }
            }
        }
        Scenario::SimultaneousClose | Scenario::LastAckLost | Scenario::Abort => {
            let h = pair.a.connect(Instant::ZERO, c, s).map_err(err)?;
            pair.run_until(limit, both_up);
            let server =
                events_for(pair, Side::B, Event::Accepted).ok_or("no server connection")?;
            let now = pair.now;
            match o.scenario {
                Scenario::SimultaneousClose => {
                    pair.a.close(now, h).map_err(err)?;
                    pair.b.close(now, server).map_err(err)?;
                }
                Scenario::Abort => pair.a.abort(now, h).map_err(err)?,
                _ => {
                    pair.a.close(now, h).map_err(err)?;
                    pair.run_until(limit, |p| p.has_event(Side::B, Event::PeerClosed));
                    let now = pair.now;
                    pair.b.close(now, server).map_err(err)?;
                }
            }
            pair.run_until(limit, |p| {
                let a_done = p.has_event(Side::A, Event::Closed) || o.scenario == Scenario::Abort;
                let b_done =
                    p.has_event(Side::B, Event::Closed) || p.has_event(Side::B, Event::Reset);
                a_done && b_done
            });
        }
        Scenario::TimeWaitRst => {
            // The server closes first and so holds TIME-WAIT; then a RST
            // with its exact RCV.NXT arrives from the client's address.
            let h = pair.a.connect(Instant::ZERO, c, s).map_err(err)?;
            pair.run_until(limit, both_up);
            let server =
                events_for(pair, Side::B, Event::Accepted).ok_or("no server connection")?;
            let now = pair.now;
            pair.b.close(now, server).map_err(err)?;
            pair.run_until(limit, |p| p.has_event(Side::A, Event::PeerClosed));
            let now = pair.now;
            pair.a.close(now, h).map_err(err)?;
            pair.run_until(limit, |p| p.has_event(Side::A, Event::Closed));
            advance_to(pair, pair.now + o.delay * 10);
            let rcv_nxt = pair
                .b
                .connection(server)
                .map(|c| c.vars().rcv_nxt.get())
                .ok_or("the server left TIME-WAIT early")?;
            let rst = forge(pair.a.config(), c, s, TcpFlags::RST, rcv_nxt).map_err(err)?;
            pair.link.send(pair.now, Side::A, &rst);
            pair.run_until(limit, |p| p.has_event(Side::B, Event::Closed));
        }
        s => return Err(format!("{}: a textbook scenario", s.name())),
    }
    Ok(())
}
