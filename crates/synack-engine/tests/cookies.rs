//! The SYN queue, the accept queue and SYN cookies (RFC 4987 §3.6, rules
//! 43–45), packet by packet.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::*;
use core::net::SocketAddr;
use core::time::Duration;
use synack_engine::{Action, Config, Event, Note, Profile, State, SynCookies};
use synack_wire::TcpOptions;

fn spoofed(i: u16) -> SocketAddr {
    SocketAddr::new([198, 18, 0, (i % 250) as u8].into(), 1000 + i)
}

fn small(cookies: SynCookies) -> Config {
    Config {
        syn_backlog: 4,
        syn_cookies: cookies,
        ..config()
    }
}

fn notes(h: &Harness) -> Vec<Note> {
    h.steps
        .iter()
        .filter_map(|s| match s.action {
            Action::Note(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// Fill the SYN queue with SYNs from addresses that never answer.
fn flood(h: &mut Harness, n: u16) {
    for i in 0..n {
        h.send_from(spoofed(i), Seg::new(F::SYN, 7, 0).opts(syn_opts()));
        assert_eq!(h.recv().len(), 1);
    }
}

#[test]
fn rule_43_full_syn_queue_answers_with_a_cookie_and_keeps_nothing() {
    let mut h = Harness::listening(small(SynCookies::WhenFull));
    flood(&mut h, 4);
    assert_eq!(h.ep.listen_queues(80), Some((4, 0)));
    let before = h.ep.len();
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()));
    let out = h.recv();
    assert_eq!(out.len(), 1);
    let synack = &out[0];
    assert_eq!((synack.flags, synack.ack), (F::SYN_ACK, PEER_ISS + 1));
    assert_ne!(synack.seq, ISS, "the ISS is the cookie");
    // No state: no connection, no timer, so never retransmitted.
    assert_eq!(h.ep.len(), before);
    assert_eq!(h.state(), None);
    assert!(matches!(
        notes(&h).last(),
        Some(Note::SynCookieSent {
            mss: 1460,
            syn_queue: 4,
            backlog: 4
        })
    ));
    h.advance(Duration::from_secs(3));
    assert!(h.recv().iter().all(|s| s.seq != synack.seq));
    // The ACK returning cookie + 1 rebuilds the connection, established.
    h.send(Seg::new(F::ACK, PEER_ISS + 1, synack.seq.wrapping_add(1)).win(502));
    assert_eq!(h.recv(), vec![]);
    assert_eq!(h.state(), Some(State::Established));
    assert!(h.has_event(Event::Accepted));
    let c = h.ep.find(&tuple()).unwrap();
    assert_eq!(c.iss().get(), synack.seq);
    assert_eq!(c.negotiated().send_mss, 1460);
    assert!(notes(&h).contains(&Note::SynCookieAccepted { mss: 1460 }));
    assert!(h.rules().contains(&43));
}

#[test]
fn rule_43_forged_and_stale_cookies_are_rejected() {
    let mut h = Harness::listening(small(SynCookies::Always));
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()));
    let cookie = h.recv()[0].seq;
    // Wrong by one: a RST, no connection.
    h.exchange(
        Seg::new(F::ACK, PEER_ISS + 1, cookie.wrapping_add(2)),
        Some(rst(cookie.wrapping_add(2))),
    );
    assert_eq!(h.state(), None);
    assert!(notes(&h).contains(&Note::SynCookieRejected));
    // Three minutes later the right one is stale.
    h.advance(Duration::from_secs(190));
    h.exchange(
        Seg::new(F::ACK, PEER_ISS + 1, cookie.wrapping_add(1)),
        Some(rst(cookie.wrapping_add(1))),
    );
    assert_eq!(h.state(), None);
}

#[test]
fn rule_43_cookies_off_drop_the_syn_when_the_queue_is_full() {
    let mut h = Harness::listening(small(SynCookies::Off));
    flood(&mut h, 4);
    h.exchange(Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()), None);
    assert_eq!(
        notes(&h).last(),
        Some(&Note::SynQueueFull {
            syn_queue: 4,
            backlog: 4
        })
    );
    // The queue drains as half-open connections time out; then SYNs get in.
    while h.next_timer().is_some() {
        h.recv();
    }
    assert_eq!(h.ep.listen_queues(80), Some((0, 0)));
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()));
    assert_eq!(h.recv()[0].seq, ISS);
}

#[test]
fn rule_44_djb_cookie_keeps_mss_and_timestamps_keep_the_options() {
    let cfg = Config {
        timestamps: true,
        ..small(SynCookies::Always)
    };
    let mut h = Harness::listening(cfg);
    let opts = TcpOptions {
        mss: Some(1400),
        timestamps: Some((777, 0)),
        ..syn_opts()
    };
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(opts));
    let synack = h.recv().remove(0);
    let (tsval, tsecr) = synack.options.timestamps.unwrap();
    assert_eq!(tsecr, 777);
    // Window scale 7 and SACK in the low six bits of TSval.
    assert_eq!(tsval & 0x3f, 7 | 0x10);
    let ack_opts = TcpOptions {
        timestamps: Some((778, tsval)),
        ..TcpOptions::default()
    };
    h.send(
        Seg::new(F::ACK, PEER_ISS + 1, synack.seq.wrapping_add(1))
            .opts(ack_opts)
            .win(502),
    );
    let n = h.ep.find(&tuple()).unwrap().negotiated();
    // 1400 is remembered as the table's 1300 (rule 45's msstab).
    assert_eq!(n.send_mss, 1300);
    assert!(n.window_scaling && n.sack && n.timestamps);
    assert!(h.rules().contains(&44));
}

#[test]
fn rule_44_without_timestamps_the_options_are_lost() {
    let mut h = Harness::listening(small(SynCookies::Always));
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()));
    let synack = h.recv().remove(0);
    h.send(Seg::new(F::ACK, PEER_ISS + 1, synack.seq.wrapping_add(1)).win(502));
    let n = h.ep.find(&tuple()).unwrap().negotiated();
    assert!(!n.window_scaling && !n.sack);
}

#[test]
fn rule_45_linux_profile_uses_the_linux_layout() {
    let cfg = Config {
        profile: Profile::LinuxCompat,
        ..small(SynCookies::Always)
    };
    let mut h = Harness::listening(cfg.clone());
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()));
    let c = h.recv()[0].seq;
    // The same cookie checks out under Linux's layout and not under DJB's.
    let (l, r) = (local(), remote());
    let now = h.now;
    use synack_engine::cookie::{Layout, check};
    assert_eq!(
        check(Layout::Linux, &cfg.secret, now, l, r, PEER_ISS, c),
        Some(3)
    );
    assert_eq!(
        check(Layout::Djb, &cfg.secret, now, l, r, PEER_ISS, c),
        None
    );
    assert!(h.rules().contains(&45));
    h.send(Seg::new(F::ACK, PEER_ISS + 1, c.wrapping_add(1)).win(502));
    assert_eq!(h.state(), Some(State::Established));
}

#[test]
fn accept_queue_full_drops_the_third_ack_until_accept() {
    let cfg = Config {
        accept_backlog: Some(1),
        ..config()
    };
    let mut h = Harness::listening(cfg);
    // One connection fills the accept queue.
    let first = spoofed(1);
    h.send_from(first, Seg::new(F::SYN, 7, 0).opts(syn_opts()));
    h.recv();
    h.send_from(first, Seg::new(F::ACK, 8, ISS + 1).win(502));
    assert_eq!(h.ep.listen_queues(80), Some((0, 1)));
    // The next third ACK is dropped; the connection stays half-open.
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()));
    h.recv();
    h.exchange(Seg::new(F::ACK, PEER_ISS + 1, ISS + 1).win(502), None);
    assert_eq!(h.state(), Some(State::SynReceived));
    assert!(notes(&h).contains(&Note::AcceptQueueFull {
        accepted: 1,
        backlog: 1
    }));
    // accept() makes room; the retransmitted SYN-ACK's ACK now gets in.
    let (handle, _) = *h
        .events
        .iter()
        .find(|(_, e)| *e == Event::Accepted)
        .unwrap();
    h.ep.accept(handle).unwrap();
    assert_eq!(h.ep.listen_queues(80), Some((1, 0)));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.recv()[0].flags, F::SYN_ACK);
    h.send(Seg::new(F::ACK, PEER_ISS + 1, ISS + 1).win(502));
    assert_eq!(h.state(), Some(State::Established));
    assert_eq!(h.ep.listen_queues(80), Some((0, 1)));
}
