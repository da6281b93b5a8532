//! Opening: SYN-SENT, LISTEN, SYN-RECEIVED and CLOSED, one test per
//! state × event, each named after the checklist rule it checks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::*;
use core::time::Duration;
use synack_engine::{Action, CloseReason, Event, Profile, Reply, Rule, State};

fn synack_from_peer(ack: u32) -> Seg {
    Seg::new(F::SYN_ACK, PEER_ISS, ack).opts(syn_opts())
}

// ---- Active open / SYN-SENT ----

#[test]
fn rule_01_connect_sends_syn_and_enters_syn_sent() {
    let mut h = Harness::new(config());
    h.handle = Some(h.ep.connect(h.now, local(), remote()).unwrap());
    // The SYN's window is unscaled; it offers MSS, WS and SACK-permitted.
    assert_eq!(h.recv(), vec![Seg::new(F::SYN, ISS, 0).opts(syn_opts())]);
    assert_eq!(h.state(), Some(State::SynSent));
    let c = h.ep.find(&tuple()).unwrap();
    assert_eq!(c.iss().get(), ISS);
    assert_eq!(h.rules(), vec![1]);
}

#[test]
fn rule_02_syn_sent_ack_at_iss_gets_rst() {
    let mut h = Harness::syn_sent(config());
    h.exchange(Seg::new(F::ACK, 77, ISS), Some(rst(ISS)));
    assert_eq!(h.state(), Some(State::SynSent));
}

#[test]
fn rule_02_syn_sent_ack_beyond_snd_nxt_gets_rst() {
    let mut h = Harness::syn_sent(config());
    h.exchange(synack_from_peer(ISS + 2), Some(rst(ISS + 2)));
    assert_eq!(h.state(), Some(State::SynSent));
    assert_eq!(h.rules(), vec![1, 2]);
}

#[test]
fn rule_03_syn_sent_rst_with_acceptable_ack_is_refused() {
    let mut h = Harness::syn_sent(config());
    h.exchange(Seg::new(F::RST_ACK, 0, ISS + 1).win(0), None);
    assert_eq!(h.state(), None);
    assert!(h.has_event(Event::Refused));
    assert!(h.ep.connection(h.handle.unwrap()).is_none());
}

#[test]
fn rule_03_syn_sent_rst_without_ack_is_dropped() {
    let mut h = Harness::syn_sent(config());
    h.exchange(Seg::new(F::RST, ISS + 1, 0), None);
    assert_eq!(h.state(), Some(State::SynSent));
    assert!(h.events.is_empty());
}

#[test]
fn rule_03_syn_sent_rst_with_bad_ack_is_dropped() {
    let mut h = Harness::syn_sent(config());
    h.exchange(Seg::new(F::RST_ACK, 0, ISS + 7), None);
    assert_eq!(h.state(), Some(State::SynSent));
}

#[test]
fn rule_04_syn_sent_synack_establishes_and_acks() {
    let mut h = Harness::syn_sent(config());
    // ACK: SEQ=ISS+1, ACK=PEER_ISS+1, window now scaled by our shift 7.
    h.exchange(
        synack_from_peer(ISS + 1),
        Some(Seg::new(F::ACK, ISS + 1, PEER_ISS + 1).win(501)),
    );
    assert_eq!(h.state(), Some(State::Established));
    assert!(h.has_event(Event::Connected));
    let c = h.ep.find(&tuple()).unwrap();
    assert_eq!(c.irs().get(), PEER_ISS);
    assert!(c.negotiated().window_scaling);
}

#[test]
fn rule_04_data_sent_in_syn_sent_rides_on_the_ack() {
    let mut h = Harness::syn_sent(config());
    let hd = h.handle.unwrap();
    // §3.10.2: queued, not sent, and not an error.
    assert_eq!(h.ep.send(h.now, hd, b"hello").unwrap(), 5);
    assert_eq!(h.recv(), vec![]);
    // The segment that completes the handshake carries it.
    h.exchange(
        synack_from_peer(ISS + 1),
        Some(
            Seg::new(F::PSH | F::ACK, ISS + 1, PEER_ISS + 1)
                .win(501)
                .data(b"hello"),
        ),
    );
    assert_eq!(h.state(), Some(State::Established));
    assert!(h.has_event(Event::Connected));
    // Once acknowledged, nothing is sent again.
    h.exchange(Seg::new(F::ACK, PEER_ISS + 1, ISS + 6).win(501), None);
    h.advance(Duration::from_secs(5));
    assert_eq!(h.recv(), vec![]);
}

#[test]
fn rule_15_data_sent_in_syn_received_goes_once_established() {
    let mut h = Harness::syn_sent(config());
    // Simultaneous open: our SYN crossed the peer's.
    h.exchange(
        Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()),
        Some(Seg::new(F::SYN_ACK, ISS, PEER_ISS + 1).opts(syn_opts())),
    );
    let hd = h.handle.unwrap();
    assert_eq!(h.ep.send(h.now, hd, b"hi").unwrap(), 2);
    assert_eq!(h.recv(), vec![]);
    h.send(Seg::new(F::ACK, PEER_ISS + 1, ISS + 1).win(501));
    let out = h.recv();
    assert_eq!(h.state(), Some(State::Established));
    assert!(
        out.iter().any(|s| s.payload == b"hi" && s.seq == ISS + 1),
        "{out:?}"
    );
}

#[test]
fn rule_05_syn_sent_acceptable_pure_ack_is_dropped() {
    let mut h = Harness::syn_sent(config());
    h.exchange(Seg::new(F::ACK, PEER_ISS, ISS + 1), None);
    assert_eq!(h.state(), Some(State::SynSent));
    assert_eq!(h.rules(), vec![1, 5]);
}

#[test]
fn rule_06_syn_sent_bare_syn_is_simultaneous_open() {
    let mut h = Harness::syn_sent(config());
    // Same ISS, SYN-ACK, options repeated.
    h.exchange(
        Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()),
        Some(Seg::new(F::SYN_ACK, ISS, PEER_ISS + 1).opts(syn_opts())),
    );
    assert_eq!(h.state(), Some(State::SynReceived));
    // The peer's SYN-ACK (Fig. 7 line 6) completes it; like Linux, we ACK it.
    h.exchange(
        Seg::new(F::SYN_ACK, PEER_ISS, ISS + 1).opts(syn_opts()),
        Some(Seg::new(F::ACK, ISS + 1, PEER_ISS + 1).win(501)),
    );
    assert_eq!(h.state(), Some(State::Established));
    assert!(h.has_event(Event::Connected));
}

#[test]
fn rule_07_syn_retransmitted_same_iss_with_backoff() {
    let mut h = Harness::syn_sent(config());
    let mut waits = Vec::new();
    for _ in 0..4 {
        waits.push(h.next_timer().unwrap().as_secs());
        assert_eq!(h.recv(), vec![Seg::new(F::SYN, ISS, 0).opts(syn_opts())]);
    }
    assert_eq!(waits, [1, 2, 4, 8]);
}

#[test]
fn rule_07_linux_profile_follows_kernel_syn_schedule() {
    let mut cfg = config();
    cfg.syn_schedule = synack_engine::Config::linux().syn_schedule;
    let mut h = Harness::syn_sent(cfg);
    let mut t = 0;
    let mut sent_at = vec![0];
    while let Some(d) = h.next_timer() {
        t += d.as_secs();
        if h.recv().is_empty() {
            break;
        }
        sent_at.push(t);
    }
    assert_eq!(sent_at, [0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67]);
    assert_eq!(t, 131);
    assert!(h.has_event(Event::TimedOut));
}

#[test]
fn rule_08_syn_gives_up_after_retries() {
    let mut h = Harness::syn_sent(config());
    let mut total = Duration::ZERO;
    let mut syns = 1;
    while let Some(d) = h.next_timer() {
        total += d;
        syns += h.recv().len();
    }
    // RFC profile: 7 retransmissions, RTO capped at 120 s, giving up after
    // 1+2+4+8+16+32+64+120 = 247 s (> 3 min, MUST-23).
    assert_eq!(syns, 8);
    assert_eq!(total.as_secs(), 247);
    assert_eq!(h.state(), None);
    assert!(h.has_event(Event::TimedOut));
    // Rule 8 gives up; rule 54 tells the user how it ended.
    assert_eq!(h.rules()[h.rules().len() - 2..], [8, 54]);
}

#[test]
fn rule_10_close_in_syn_sent_sends_nothing() {
    let mut h = Harness::syn_sent(config());
    h.ep.close(h.now, h.handle.unwrap()).unwrap();
    assert_eq!(h.recv(), vec![]);
    assert_eq!(h.state(), None);
    // A late SYN-ACK now meets CLOSED: RST with SEQ=SEG.ACK (rule 27).
    h.exchange(synack_from_peer(ISS + 1), Some(rst(ISS + 1)));
}

#[test]
fn rule_10_abort_in_syn_sent_sends_nothing() {
    let mut h = Harness::syn_sent(config());
    h.ep.abort(h.now, h.handle.unwrap()).unwrap();
    assert_eq!(h.recv(), vec![]);
    assert_eq!(h.rules(), vec![1, 10]);
}

// ---- LISTEN ----

#[test]
fn rule_11_listen_ignores_rst() {
    let mut h = Harness::listening(config());
    h.exchange(Seg::new(F::RST, 1, 0), None);
    h.exchange(Seg::new(F::RST_ACK, 1, 2), None);
    h.exchange(Seg::new(F::SYN | F::RST, 1, 0), None);
    assert!(h.ep.is_empty());
    assert_eq!(h.rules(), vec![11, 11, 11]);
}

#[test]
fn rule_11_listen_drops_segment_without_control_bits() {
    let mut h = Harness::listening(config());
    h.exchange(Seg::new(F::NONE, 1, 0), None);
    h.exchange(Seg::new(F::PSH, 1, 0).data(b"x"), None);
    assert!(h.ep.is_empty());
}

#[test]
fn rule_12_listen_answers_ack_with_rst() {
    let mut h = Harness::listening(config());
    h.exchange(Seg::new(F::ACK, 1, 4242), Some(rst(4242)));
    // A SYN-ACK is ACK-bearing too (Fig. 11 starts here).
    h.exchange(Seg::new(F::SYN_ACK, 1, 999), Some(rst(999)));
    assert!(h.ep.is_empty());
}

#[test]
fn rule_13_listen_syn_gets_synack_and_syn_received() {
    let mut h = Harness::listening(config());
    h.exchange(
        Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()),
        Some(Seg::new(F::SYN_ACK, ISS, PEER_ISS + 1).opts(syn_opts())),
    );
    assert_eq!(h.state(), Some(State::SynReceived));
    // The listener keeps listening: a second peer gets its own connection.
    let other = "192.0.2.3:5555".parse().unwrap();
    h.send_from(other, Seg::new(F::SYN, 7, 0));
    assert_eq!(h.recv().len(), 1);
    assert_eq!(h.ep.len(), 2);
    assert!(h.ep.is_listening(local()));
}

#[test]
fn rule_14_synack_echoes_only_offered_options() {
    let mut h = Harness::listening(config());
    // A SYN with MSS only gets a SYN-ACK with MSS only (MSS is always allowed).
    h.exchange(
        Seg::new(F::SYN, PEER_ISS, 0).mss(1200),
        Some(Seg::new(F::SYN_ACK, ISS, PEER_ISS + 1).mss(1460)),
    );
    let c = h.ep.find(&tuple()).unwrap();
    assert!(!c.negotiated().window_scaling && !c.negotiated().sack && !c.negotiated().timestamps);
    assert_eq!(c.negotiated().send_mss, 1200);
}

#[test]
fn rule_14_synack_echoes_timestamps_with_tsecr() {
    let mut cfg = config();
    cfg.timestamps = true;
    let mut h = Harness::listening(cfg);
    let mut o = syn_opts();
    o.timestamps = Some((777, 0));
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(o));
    let out = h.recv();
    assert_eq!(out.len(), 1);
    let (_, ecr) = out[0].options.timestamps.unwrap();
    assert_eq!(ecr, 777);
}

// ---- SYN-RECEIVED ----

#[test]
fn rule_15_syn_received_acceptable_ack_establishes() {
    let mut h = Harness::syn_received(config());
    h.exchange(Seg::new(F::ACK, PEER_ISS + 1, ISS + 1).win(100), None);
    assert_eq!(h.state(), Some(State::Established));
    assert!(h.has_event(Event::Accepted));
    // Window scaling starts with this segment: 100 << 7.
    let c = h.ep.find(&tuple()).unwrap();
    assert_eq!(c.vars().snd_wnd, 100 << 7);
}

#[test]
fn rule_16_syn_received_bad_ack_gets_rst() {
    let mut h = Harness::syn_received(config());
    h.exchange(Seg::new(F::ACK, PEER_ISS + 1, ISS + 9), Some(rst(ISS + 9)));
    assert_eq!(h.state(), Some(State::SynReceived));
}

#[test]
fn rule_16_syn_received_segment_without_ack_is_dropped() {
    let mut h = Harness::syn_received(config());
    h.exchange(Seg::new(F::PSH, PEER_ISS + 1, 0).data(b"hi"), None);
    assert_eq!(h.state(), Some(State::SynReceived));
}

#[test]
fn rule_16_syn_received_fin_after_valid_ack_enters_close_wait() {
    let mut h = Harness::syn_received(config());
    h.exchange(
        Seg::new(F::FIN_ACK, PEER_ISS + 1, ISS + 1),
        Some(Seg::new(F::ACK, ISS + 1, PEER_ISS + 2).win(501)),
    );
    assert_eq!(h.state(), Some(State::CloseWait));
}

#[test]
fn rule_17_duplicate_syn_in_syn_received() {
    // RFC: an ACK. Linux: the SYN-ACK again.
    let mut h = Harness::syn_received(config());
    h.exchange(
        Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()),
        Some(Seg::new(F::ACK, ISS + 1, PEER_ISS + 1).win(501)),
    );
    let mut cfg = config();
    cfg.profile = Profile::LinuxCompat;
    let mut h = Harness::syn_received(cfg);
    h.exchange(
        Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()),
        Some(Seg::new(F::SYN_ACK, ISS, PEER_ISS + 1).opts(syn_opts())),
    );
    assert_eq!(h.state(), Some(State::SynReceived));
}

#[test]
fn rule_18_new_syn_in_passive_syn_received_returns_to_listen() {
    let mut h = Harness::syn_received(config());
    h.exchange(Seg::new(F::SYN, PEER_ISS + 100, 0), None);
    assert_eq!(h.state(), None);
    assert!(h.ep.is_listening(local()));
}

/// Linux resets the new SYN as it drops the half-open connection (seen
/// by packetdrill/passive/new-syn-in-syn-recv.pkt against the kernel).
#[test]
fn rule_18_linux_resets_the_new_syn() {
    let cfg = synack_engine::Config {
        profile: synack_engine::Profile::LinuxCompat,
        ..config()
    };
    let mut h = Harness::syn_received(cfg);
    h.exchange(
        Seg::new(F::SYN, PEER_ISS + 100, 0),
        Some(Seg::new(F::RST_ACK, 0, PEER_ISS + 101).win(0)),
    );
    assert_eq!(h.state(), None);
    assert!(h.ep.is_listening(local()));
}

#[test]
fn rule_19_rst_in_passive_syn_received_returns_to_listen() {
    let mut h = Harness::syn_received(config());
    h.exchange(Seg::new(F::RST, PEER_ISS + 1, 0), None);
    assert_eq!(h.state(), None);
    assert!(h.ep.is_listening(local()));
    // The user is not told (MUST-11): it never saw this connection.
    assert!(h.events.is_empty());
    let last = h.steps.last().unwrap();
    assert_eq!(last.action, Action::Delete(CloseReason::BackToListen));
    assert_eq!(last.rule, Rule::SynRcvdRst);
}

#[test]
fn rule_19_rst_in_active_syn_received_is_refused() {
    let mut h = Harness::syn_sent(config());
    h.send(Seg::new(F::SYN, PEER_ISS, 0));
    h.recv();
    assert_eq!(h.state(), Some(State::SynReceived));
    h.exchange(Seg::new(F::RST, PEER_ISS + 1, 0), None);
    assert_eq!(h.state(), None);
    assert!(h.has_event(Event::Refused));
}

#[test]
fn rule_20_synack_retransmitted_with_same_iss_then_dropped_silently() {
    let mut h = Harness::syn_received(config());
    let mut waits = Vec::new();
    while let Some(d) = h.next_timer() {
        waits.push(d.as_secs());
        for s in h.recv() {
            assert_eq!(s, Seg::new(F::SYN_ACK, ISS, PEER_ISS + 1).opts(syn_opts()));
        }
    }
    // Linux's tcp_synack_retries=5 schedule: 1,3,7,15,31 s, dropped at 63 s.
    assert_eq!(waits, [1, 2, 4, 8, 16, 32]);
    assert_eq!(h.state(), None);
    assert!(h.events.is_empty());
}

#[test]
fn rule_21_data_on_syn_is_not_acknowledged() {
    let mut h = Harness::listening(config());
    h.exchange(
        Seg::new(F::SYN, PEER_ISS, 0).data(b"GET /"),
        Some(Seg::new(F::SYN_ACK, ISS, PEER_ISS + 1).mss(1460)),
    );
    assert_eq!(h.rules(), vec![13, 14, 21]);
}

// ---- CLOSED ----

#[test]
fn rule_26_rst_to_closed_port_is_not_answered() {
    let mut h = Harness::new(config());
    h.exchange(Seg::new(F::RST, 1, 0), None);
    h.exchange(Seg::new(F::RST_ACK, 1, 2), None);
    assert_eq!(h.rules(), vec![26, 26]);
}

#[test]
fn rule_27_closed_port_ack_gets_rst_seq_ack() {
    let mut h = Harness::new(config());
    h.exchange(
        Seg::new(F::ACK, 10, 3_000_000_000),
        Some(rst(3_000_000_000)),
    );
    h.exchange(
        Seg::new(F::ACK | F::PSH, 10, 20).data(b"data"),
        Some(rst(20)),
    );
}

#[test]
fn rule_28_closed_port_syn_gets_rst_ack() {
    let mut h = Harness::new(config());
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; the SYN counts one.
    h.exchange(
        Seg::new(F::SYN, u32::MAX, 0),
        Some(Seg::new(F::RST_ACK, 0, 0).win(0)),
    );
    h.exchange(
        Seg::new(F::SYN, 100, 0).data(b"abc"),
        Some(Seg::new(F::RST_ACK, 0, 104).win(0)),
    );
    h.exchange(
        Seg::new(F::FIN, 100, 0),
        Some(Seg::new(F::RST_ACK, 0, 101).win(0)),
    );
}

#[test]
fn steps_chain_states_and_name_reply_kinds() {
    let mut h = Harness::syn_received(config());
    h.send(Seg::new(F::ACK, PEER_ISS + 1, ISS + 1));
    let decisions: Vec<_> = h
        .steps
        .iter()
        .filter(|s| s.action != Action::Transmitted)
        .map(|s| (s.before.state, s.after.state, s.action))
        .collect();
    assert_eq!(
        decisions,
        vec![
            (
                State::Listen,
                State::SynReceived,
                Action::Send(Reply::SynAck)
            ),
            (
                State::SynReceived,
                State::SynReceived,
                Action::Negotiated(h.ep.find(&tuple()).unwrap().negotiated())
            ),
            (State::SynReceived, State::Established, Action::Enter),
        ]
    );
}

#[test]
fn rule_42_isn_follows_the_clock_and_differs_per_tuple() {
    use synack_engine::Instant;
    use synack_engine::isn::{IsnMode, generate};
    let mode = IsnMode::Rfc6528 { key: [7; 16] };
    let (l, r) = (local(), remote());
    let t0 = generate(&mode, Instant::from_micros(0), l, r);
    // M ticks every 4 µs: 1 ms later the same tuple is 250 further on.
    let t1 = generate(&mode, Instant::from_micros(1000), l, r);
    assert_eq!(t1.diff(t0), 250);
    // Another tuple (or another key) lands somewhere unrelated.
    let other = generate(
        &mode,
        Instant::from_micros(0),
        l,
        "192.0.2.2:40001".parse().unwrap(),
    );
    assert_ne!(other, t0);
    assert!(other.diff(t0).unsigned_abs() > 1000);
    let rekeyed = generate(
        &IsnMode::Rfc6528 { key: [8; 16] },
        Instant::from_micros(0),
        l,
        r,
    );
    assert_ne!(rekeyed, t0);
    assert_eq!(
        generate(&IsnMode::Fixed(9), Instant::from_micros(5), l, r).get(),
        9
    );
}
