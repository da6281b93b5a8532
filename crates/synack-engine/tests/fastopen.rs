//! TCP Fast Open (RFC 7413, rule 41), packet by packet, and two engines
//! doing it end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::*;
use core::time::Duration;
use synack_engine::sim::{Pair, Side, SimLink};
use synack_engine::{Config, Endpoint, Event, Instant, IsnMode, Note, State};
use synack_wire::{FastOpenCookie, TcpOptions};

fn tfo() -> Config {
    Config {
        fast_open: true,
        ..config()
    }
}

fn with_tfo(c: FastOpenCookie) -> TcpOptions {
    TcpOptions {
        fast_open: Some(c),
        ..syn_opts()
    }
}

fn notes(h: &Harness) -> Vec<Note> {
    h.steps
        .iter()
        .filter_map(|s| match s.action {
            synack_engine::Action::Note(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// The cookie the server under test issues to `remote()`.
fn issued() -> FastOpenCookie {
    let mut h = Harness::listening(tfo());
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(with_tfo(FastOpenCookie::new(&[]).unwrap())));
    let out = h.recv();
    assert_eq!(notes(&h), vec![Note::FastOpenCookieIssued]);
    out[0].options.fast_open.unwrap()
}

#[test]
fn rule_41_cookie_request_gets_a_cookie_in_the_synack() {
    let k = issued();
    assert_eq!(k.as_bytes().len(), 8);
    // Same client, same cookie; without Fast Open configured, none at all.
    assert_eq!(issued(), k);
    let mut h = Harness::listening(config());
    h.exchange(
        Seg::new(F::SYN, PEER_ISS, 0).opts(with_tfo(FastOpenCookie::new(&[]).unwrap())),
        Some(Seg::new(F::SYN_ACK, ISS, PEER_ISS + 1).opts(syn_opts())),
    );
}

#[test]
fn rule_41_valid_cookie_data_is_accepted_before_the_handshake_completes() {
    let k = issued();
    let mut h = Harness::listening(tfo());
    h.exchange(
        Seg::new(F::SYN, PEER_ISS, 0)
            .opts(with_tfo(k))
            .data(b"hello"),
        // The SYN-ACK acknowledges the SYN and the 5 bytes.
        Some(
            Seg::new(F::SYN_ACK, ISS, PEER_ISS + 6)
                .opts(syn_opts())
                .win(64235),
        ),
    );
    assert_eq!(h.state(), Some(State::SynReceived));
    assert!(h.has_event(Event::Readable));
    let c = h.ep.find(&tuple()).unwrap().handle();
    let mut buf = [0u8; 16];
    assert_eq!(h.ep.recv(c, &mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(notes(&h), vec![Note::FastOpenDataAccepted { bytes: 5 }]);
    assert!(h.rules().contains(&41));
}

#[test]
fn rule_41_bad_cookie_data_is_not_acknowledged_and_a_fresh_cookie_comes_back() {
    let k = issued();
    let bad = FastOpenCookie::new(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    let mut h = Harness::listening(tfo());
    h.exchange(
        Seg::new(F::SYN, PEER_ISS, 0)
            .opts(with_tfo(bad))
            .data(b"hello"),
        Some(Seg::new(F::SYN_ACK, ISS, PEER_ISS + 1).opts(with_tfo(k))),
    );
    assert!(!h.has_event(Event::Readable));
    assert_eq!(notes(&h), vec![Note::FastOpenDataRejected { bytes: 5 }]);
}

#[test]
fn rule_41_client_requests_a_cookie_and_sends_data_after_the_handshake() {
    let mut h = Harness::new(tfo());
    h.handle = Some(
        h.ep.connect_with_data(h.now, local(), remote(), b"GET")
            .unwrap(),
    );
    let request = FastOpenCookie::new(&[]).unwrap();
    assert_eq!(
        h.recv(),
        vec![Seg::new(F::SYN, ISS, 0).opts(with_tfo(request))]
    );
    let k = FastOpenCookie::new(&[9; 8]).unwrap();
    h.send(Seg::new(F::SYN_ACK, PEER_ISS, ISS + 1).opts(with_tfo(k)));
    let out = h.recv();
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[1].payload, b"GET");
    assert_eq!(out[1].seq, ISS + 1);
    assert!(notes(&h).contains(&Note::FastOpenCookieLearned));
}

#[test]
fn rule_41_syn_retransmission_carries_no_data() {
    // Learn a cookie, then open again with data on the SYN.
    let mut h = Harness::new(Config {
        isn: IsnMode::Fixed(ISS),
        ..tfo()
    });
    h.handle = Some(
        h.ep.connect_with_data(h.now, local(), remote(), b"x")
            .unwrap(),
    );
    h.recv();
    let k = FastOpenCookie::new(&[9; 8]).unwrap();
    h.send(Seg::new(F::SYN_ACK, PEER_ISS, ISS + 1).opts(with_tfo(k)));
    h.recv();
    let other: std::net::SocketAddr = "192.0.2.1:81".parse().unwrap();
    h.ep.connect_with_data(h.now, other, remote(), b"hello")
        .unwrap();
    let first = h.recv();
    assert_eq!(first[0].payload, b"hello");
    assert_eq!(first[0].options.fast_open, Some(k));
    h.advance(Duration::from_secs(1));
    // (The first connection's unacknowledged "x" goes again too.)
    let again: Vec<_> = h.recv().into_iter().filter(|s| s.flags == F::SYN).collect();
    assert_eq!(again.len(), 1);
    assert!(again[0].payload.is_empty() && again[0].options.fast_open.is_none());
}

#[test]
fn rule_41_two_engines_second_connection_delivers_data_on_the_syn() {
    let cfg = |isn| Config {
        fast_open: true,
        timestamps: false,
        isn: IsnMode::Fixed(isn),
        ..Config::rfc()
    };
    let mut p = Pair::new(
        Endpoint::new(cfg(100)),
        Endpoint::new(cfg(900)),
        SimLink::new(Duration::from_millis(10), 1),
    );
    let server: std::net::SocketAddr = "10.0.0.2:80".parse().unwrap();
    p.b.listen(server).unwrap();
    let limit = Instant::from_millis(10_000);
    p.a.connect_with_data(
        Instant::ZERO,
        "10.0.0.1:5000".parse().unwrap(),
        server,
        b"first",
    )
    .unwrap();
    p.run_until(limit, |p| p.has_event(Side::B, Event::Readable));
    let start = p.now;
    p.a.connect_with_data(start, "10.0.0.1:5001".parse().unwrap(), server, b"second")
        .unwrap();
    p.run_to_quiet(limit);
    p.collect();
    // The second server connection had its data one link delay after the
    // SYN left: before its handshake could complete (three delays).
    let readable: Vec<_> = p
        .events
        .iter()
        .filter(|e| e.side == Side::B && e.event == Event::Readable)
        .collect();
    assert_eq!(readable.len(), 2);
    let accepted = p
        .steps
        .iter()
        .find(|(s, st)| {
            *s == Side::B && st.tuple.remote.port() == 5001 && st.after.state == State::Established
        })
        .unwrap();
    let data_at = p
        .steps
        .iter()
        .find(|(s, st)| {
            *s == Side::B
                && matches!(
                    st.action,
                    synack_engine::Action::Note(Note::FastOpenDataAccepted { bytes: 6 })
                )
        })
        .unwrap();
    assert!(data_at.1.at < accepted.1.at);
    assert_eq!(data_at.1.at - start, Duration::from_millis(10));
}
