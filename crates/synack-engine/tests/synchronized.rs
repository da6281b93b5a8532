//! Synchronized states: acceptability, RST and SYN handling (RFC 5961),
//! ACK processing, options in use, and the close.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::*;
use core::time::Duration;
use synack_engine::{Config, Event, Profile, State};
use synack_wire::TcpOptions;

/// ACK from the engine at the given sequence numbers (window 64240 >> 7).
fn ack(seq: u32, ack: u32) -> Seg {
    Seg::new(F::ACK, seq, ack).win(501)
}

const P: u32 = PEER_ISS + 1; // the peer's next sequence number
const L: u32 = ISS + 1; // ours

// ---- Acceptability (Table 6) ----

#[test]
fn rule_29_in_window_data_is_accepted_and_acked() {
    let mut h = Harness::established(config());
    h.exchange(
        Seg::new(F::ACK | F::PSH, P, L).data(b"hello"),
        Some(ack(L, P + 5).win(501)),
    );
    let mut buf = [0u8; 16];
    let n = h.ep.recv(h.handle.unwrap(), &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert!(h.has_event(Event::Readable));
}

#[test]
fn rule_29_segment_straddling_rcv_nxt_is_trimmed() {
    let mut h = Harness::established(config());
    h.exchange(Seg::new(F::ACK, P, L).data(b"abc"), Some(ack(L, P + 3)));
    // "bcde": b, c already received; only d, e are new.
    h.exchange(
        Seg::new(F::ACK, P + 1, L).data(b"bcde"),
        Some(ack(L, P + 5)),
    );
    let mut buf = [0u8; 16];
    let n = h.ep.recv(h.handle.unwrap(), &mut buf).unwrap();
    assert_eq!(&buf[..n], b"abcde");
}

#[test]
fn rule_29_zero_window_accepts_only_seq_equal_rcv_nxt() {
    let mut cfg = config();
    cfg.recv_window = 4;
    cfg.window_scale = None;
    let mut h = Harness::listening(cfg);
    h.send(Seg::new(F::SYN, PEER_ISS, 0));
    h.recv();
    h.exchange(
        Seg::new(F::ACK, P, L).data(b"wxyz"),
        Some(Seg::new(F::ACK, L, P + 4).win(0)),
    );
    // Window closed: data is not acceptable, a pure ACK at RCV.NXT is.
    h.exchange(
        Seg::new(F::ACK, P + 4, L).data(b"!"),
        Some(Seg::new(F::ACK, L, P + 4).win(0)),
    );
    h.exchange(Seg::new(F::ACK, P + 4, L), None);
}

#[test]
fn rule_30_unacceptable_segment_gets_ack() {
    let mut h = Harness::established(config());
    // Far beyond the window.
    h.exchange(
        Seg::new(F::ACK, P + 10_000_000, L).data(b"x"),
        Some(ack(L, P)),
    );
    // Old duplicate entirely before RCV.NXT.
    h.exchange(Seg::new(F::ACK, P - 10, L).data(b"old"), Some(ack(L, P)));
    assert_eq!(h.state(), Some(State::Established));
}

#[test]
fn rule_30_linux_profile_rate_limits_pure_acks_not_data() {
    let mut cfg = config();
    cfg.profile = Profile::LinuxCompat;
    let mut h = Harness::established(cfg);
    h.exchange(Seg::new(F::ACK, P + 10_000_000, L), Some(ack(L, P)));
    h.exchange(Seg::new(F::ACK, P + 10_000_000, L), None);
    h.exchange(
        Seg::new(F::ACK, P + 10_000_000, L).data(b"d"),
        Some(ack(L, P)),
    );
    h.advance(Duration::from_millis(500));
    h.exchange(Seg::new(F::ACK, P + 10_000_000, L), Some(ack(L, P)));
}

// ---- RST (RFC 5961 §3) ----

#[test]
fn rule_31_exact_rst_resets_established() {
    let mut h = Harness::established(config());
    h.exchange(Seg::new(F::RST, P, 0), None);
    assert_eq!(h.state(), None);
    assert!(h.has_event(Event::Reset));
}

#[test]
fn rule_32_in_window_inexact_rst_gets_challenge_ack() {
    let mut h = Harness::established(config());
    h.exchange(Seg::new(F::RST, P + 100, 0), Some(ack(L, P)));
    assert_eq!(h.state(), Some(State::Established));
    // Rate limited: a second one within 500 ms gets nothing.
    h.exchange(Seg::new(F::RST, P + 200, 0), None);
    // The peer answers the challenge with the exact RST: reset.
    h.exchange(Seg::new(F::RST, P, 0), None);
    assert!(h.has_event(Event::Reset));
}

#[test]
fn rule_32_out_of_window_rst_is_dropped() {
    let mut h = Harness::established(config());
    h.exchange(Seg::new(F::RST, P + 10_000_000, 0), None);
    h.exchange(Seg::new(F::RST, P - 1, 0), None);
    assert_eq!(h.state(), Some(State::Established));
}

#[test]
fn rule_33_syn_in_established_gets_challenge_ack() {
    let mut h = Harness::established(config());
    // In window or not, the answer is a challenge ACK (RFC 5961 §4.2).
    h.exchange(Seg::new(F::SYN, P + 5, 0), Some(ack(L, P)));
    h.advance(Duration::from_secs(1));
    h.exchange(Seg::new(F::SYN, 99, 0), Some(ack(L, P)));
    assert_eq!(h.state(), Some(State::Established));
}

#[test]
fn rule_34_ack_of_unsent_data_is_acked_and_dropped() {
    let mut h = Harness::established(config());
    h.exchange(Seg::new(F::ACK, P, L + 50).data(b"zz"), Some(ack(L, P)));
    // The data of that segment was not taken.
    assert_eq!(h.ep.connection(h.handle.unwrap()).unwrap().readable(), 0);
}

#[test]
fn rule_34_segment_without_ack_bit_is_dropped() {
    let mut h = Harness::established(config());
    h.exchange(Seg::new(F::PSH, P, 0).data(b"zz"), None);
    assert_eq!(h.ep.connection(h.handle.unwrap()).unwrap().readable(), 0);
}

#[test]
fn rule_34_data_is_acked_and_window_updated() {
    let mut h = Harness::established(config());
    let c = h.handle.unwrap();
    assert_eq!(h.ep.send(h.now, c, b"ping").unwrap(), 4);
    assert_eq!(
        h.recv(),
        vec![Seg::new(F::ACK | F::PSH, L, P).win(501).data(b"ping")]
    );
    h.exchange(Seg::new(F::ACK, P, L + 4).win(10), None);
    let v = h.ep.connection(c).unwrap().vars();
    assert_eq!(v.snd_una.get(), L + 4);
    assert_eq!(v.snd_wnd, 10 << 7);
}

#[test]
fn data_is_retransmitted_until_acked() {
    let mut h = Harness::established(config());
    let c = h.handle.unwrap();
    h.ep.send(h.now, c, b"ping").unwrap();
    h.recv();
    assert_eq!(h.next_timer(), Some(Duration::from_secs(1)));
    assert_eq!(
        h.recv(),
        vec![Seg::new(F::ACK | F::PSH, L, P).win(501).data(b"ping")]
    );
    h.exchange(Seg::new(F::ACK, P, L + 4), None);
    assert_eq!(h.ep.poll_timeout(), None);
}

// ---- Options in use ----

#[test]
fn rule_35_timestamps_on_every_non_rst_segment() {
    let mut cfg = config();
    cfg.timestamps = true;
    let mut h = Harness::listening(cfg);
    let mut o = syn_opts();
    o.timestamps = Some((100, 0));
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(o));
    h.recv();
    let ts = |v| TcpOptions {
        timestamps: Some((v, 0)),
        ..TcpOptions::default()
    };
    h.exchange(Seg::new(F::ACK, P, L).opts(ts(101)), None);
    h.send(Seg::new(F::ACK, P, L).opts(ts(102)).data(b"x"));
    let out = h.recv();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].options.timestamps.map(|t| t.1), Some(102));
    // RFC profile: a non-RST segment without TS is dropped silently.
    h.exchange(Seg::new(F::ACK, P + 1, L).data(b"y"), None);
    assert_eq!(
        h.ep.connection(h.ep.find(&tuple()).unwrap().handle())
            .unwrap()
            .readable(),
        1
    );
    // Our RST carries no timestamp.
    let c = h.ep.find(&tuple()).unwrap().handle();
    let mut buf = [0u8; 4];
    h.ep.recv(c, &mut buf).unwrap();
    h.ep.abort(h.now, c).unwrap();
    assert_eq!(h.recv()[0].options.timestamps, None);
}

#[test]
fn rule_36_window_scale_only_if_both_and_capped_at_14() {
    let mut h = Harness::listening(config());
    let mut o = syn_opts();
    o.window_scale = Some(20);
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(o));
    h.recv();
    h.send(Seg::new(F::ACK, P, L).win(1));
    let c = h.ep.find(&tuple()).unwrap();
    assert_eq!(c.negotiated().snd_shift, 14);
    assert_eq!(c.vars().snd_wnd, 1 << 14);
    assert!(h.steps.iter().any(|s| s.rule.id() == 36));

    // Peer without WS: neither side scales, the SYN-ACK carries no WS.
    let mut h = Harness::listening(config());
    let mut o = syn_opts();
    o.window_scale = None;
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(o));
    assert_eq!(h.recv()[0].options.window_scale, None);
    h.exchange(
        Seg::new(F::ACK, P, L).win(1000).data(b"x"),
        Some(Seg::new(F::ACK, L, P + 1).win(64239)),
    );
}

#[test]
fn rule_37_mss_defaults_when_absent() {
    let mut h = Harness::listening(config());
    h.send(Seg::new(F::SYN, PEER_ISS, 0));
    h.recv();
    assert_eq!(h.ep.find(&tuple()).unwrap().negotiated().send_mss, 536);
    // An MSS of 0 is ignored, as Linux does.
    let mut h = Harness::listening(config());
    h.send(Seg::new(F::SYN, PEER_ISS, 0).mss(0));
    h.recv();
    assert_eq!(h.ep.find(&tuple()).unwrap().negotiated().send_mss, 536);
    assert_eq!(
        synack_engine::default_mss("[2001:db8::1]:1".parse().unwrap()),
        1220
    );
}

#[test]
fn rule_38_bad_option_length_is_dropped_unknown_ignored() {
    let mut h = Harness::listening(config());
    let mut bytes = encode(remote(), local(), &Seg::new(F::SYN, PEER_ISS, 0).mss(1460));
    // Corrupt the MSS option length (offset 20 IP + 20 TCP + 1), fix checksum.
    bytes[41] = 0;
    let n = bytes.len();
    let mut pkt = synack_wire::TcpPacket::new_checked(&mut bytes[20..n]).unwrap();
    pkt.fill_checksum(remote().ip(), local().ip());
    let err = h.ep.handle(h.now, &bytes).unwrap_err();
    assert_eq!(
        err,
        synack_wire::WireError::BadOptionLength { kind: 2, len: 0 }
    );
    assert_eq!(h.recv(), vec![]);
    // Unknown kinds are ignored and the SYN is answered.
    let mut o = TcpOptions::default();
    o.unknown.push(99, &[1, 2]);
    h.exchange(
        Seg::new(F::SYN, PEER_ISS, 0).opts(o),
        Some(Seg::new(F::SYN_ACK, ISS, P).mss(1460)),
    );
}

#[test]
fn rule_39_sack_permitted_only_if_both() {
    let mut cfg = config();
    cfg.sack_permitted = false;
    let mut h = Harness::listening(cfg);
    h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()));
    let out = h.recv();
    assert!(!out[0].options.sack_permitted);
    assert!(!h.ep.find(&tuple()).unwrap().negotiated().sack);
    // SACK-permitted on a non-SYN segment is ignored.
    h.send(Seg::new(F::ACK, P, L).opts(TcpOptions {
        sack_permitted: true,
        ..TcpOptions::default()
    }));
    assert!(h.rules().ends_with(&[39, 15]));
    assert_eq!(h.state(), Some(State::Established));
}

// ---- Close ----

#[test]
fn rule_46_active_close_fin_wait_to_time_wait() {
    let mut h = Harness::established(config());
    let c = h.handle.unwrap();
    h.ep.close(h.now, c).unwrap();
    assert_eq!(h.recv(), vec![Seg::new(F::FIN_ACK, L, P).win(501)]);
    assert_eq!(h.state(), Some(State::FinWait1));
    h.exchange(Seg::new(F::ACK, P, L + 1), None);
    assert_eq!(h.state(), Some(State::FinWait2));
    h.exchange(Seg::new(F::FIN_ACK, P, L + 1), Some(ack(L + 1, P + 1)));
    assert_eq!(h.state(), Some(State::TimeWait));
    assert!(h.has_event(Event::PeerClosed));
}

#[test]
fn rule_46_fin_rides_on_the_last_data_segment() {
    let mut h = Harness::established(config());
    let c = h.handle.unwrap();
    // The peer's window (1 × 128 with its shift of 7) takes 128 bytes.
    h.exchange(Seg::new(F::ACK, P, L).win(1), None);
    let data = [7u8; 200];
    h.ep.send(h.now, c, &data).unwrap();
    let first = h.recv();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].payload.len(), 128);
    // CLOSE while 72 bytes wait for window: nothing can go yet.
    h.ep.close(h.now, c).unwrap();
    assert_eq!(h.recv(), vec![]);
    assert_eq!(h.state(), Some(State::FinWait1));
    // The window opens: the rest of the data and the FIN in one segment.
    h.send(Seg::new(F::ACK, P, L + 128).win(502));
    let out = h.recv();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].flags, F(F::FIN.0 | F::PSH.0 | F::ACK.0));
    assert_eq!((out[0].seq, out[0].payload.len()), (L + 128, 72));
}

#[test]
fn rule_46_fin_is_retransmitted() {
    let mut h = Harness::established(config());
    h.ep.close(h.now, h.handle.unwrap()).unwrap();
    h.recv();
    assert_eq!(h.next_timer(), Some(Duration::from_secs(1)));
    assert_eq!(h.recv(), vec![Seg::new(F::FIN_ACK, L, P).win(501)]);
}

#[test]
fn rule_47_passive_close_close_wait_last_ack_closed() {
    let mut h = Harness::established(config());
    let c = h.handle.unwrap();
    h.exchange(Seg::new(F::FIN_ACK, P, L), Some(ack(L, P + 1)));
    assert_eq!(h.state(), Some(State::CloseWait));
    h.ep.close(h.now, c).unwrap();
    assert_eq!(h.recv(), vec![Seg::new(F::FIN_ACK, L, P + 1).win(501)]);
    assert_eq!(h.state(), Some(State::LastAck));
    h.exchange(Seg::new(F::ACK, P + 1, L + 1), None);
    assert_eq!(h.state(), None);
    assert!(h.has_event(Event::Closed));
    // Later segments meet CLOSED.
    h.exchange(Seg::new(F::ACK, P + 1, L + 1), Some(rst(L + 1)));
}

#[test]
fn rule_48_simultaneous_close_goes_through_closing() {
    let mut h = Harness::established(config());
    h.ep.close(h.now, h.handle.unwrap()).unwrap();
    h.recv();
    // The peer's FIN does not ack ours.
    h.exchange(Seg::new(F::FIN_ACK, P, L), Some(ack(L + 1, P + 1)));
    assert_eq!(h.state(), Some(State::Closing));
    h.exchange(Seg::new(F::ACK, P + 1, L + 1), None);
    assert_eq!(h.state(), Some(State::TimeWait));
}

#[test]
fn rule_48_fin_that_acks_ours_goes_straight_to_time_wait() {
    let mut h = Harness::established(config());
    h.ep.close(h.now, h.handle.unwrap()).unwrap();
    h.recv();
    h.exchange(Seg::new(F::FIN_ACK, P, L + 1), Some(ack(L + 1, P + 1)));
    assert_eq!(h.state(), Some(State::TimeWait));
}

#[test]
fn rule_49_time_wait_reacks_fin_and_expires_after_2msl() {
    let mut cfg = config();
    cfg.time_wait = Duration::from_secs(60);
    let mut h = Harness::established(cfg);
    h.ep.close(h.now, h.handle.unwrap()).unwrap();
    h.recv();
    h.exchange(Seg::new(F::FIN_ACK, P, L + 1), Some(ack(L + 1, P + 1)));
    h.advance(Duration::from_secs(30));
    // Retransmitted FIN: ACK again and restart the timer.
    h.exchange(Seg::new(F::FIN_ACK, P, L + 1), Some(ack(L + 1, P + 1)));
    h.advance(Duration::from_secs(59));
    assert_eq!(h.state(), Some(State::TimeWait));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.state(), None);
    assert!(h.has_event(Event::Closed));
}

#[test]
fn rule_50_rst_in_time_wait_closes() {
    let mut h = Harness::established(config());
    h.ep.close(h.now, h.handle.unwrap()).unwrap();
    h.recv();
    h.exchange(Seg::new(F::FIN_ACK, P, L + 1), Some(ack(L + 1, P + 1)));
    h.exchange(Seg::new(F::RST, P + 1, 0), None);
    assert_eq!(h.state(), None);
}

#[test]
fn rule_51_fin_after_a_hole_is_not_processed() {
    let mut h = Harness::established(config());
    h.exchange(Seg::new(F::FIN_ACK, P + 5, L), Some(ack(L, P)));
    assert_eq!(h.state(), Some(State::Established));
    // The hole filled by a segment with the FIN: now it counts.
    h.exchange(
        Seg::new(F::FIN_ACK, P, L).data(b"12345"),
        Some(ack(L, P + 6)),
    );
    assert_eq!(h.state(), Some(State::CloseWait));
}

#[test]
fn rule_52_close_with_unread_data_sends_rst() {
    let mut h = Harness::established(config());
    h.exchange(Seg::new(F::ACK, P, L).data(b"unread"), Some(ack(L, P + 6)));
    h.ep.close(h.now, h.handle.unwrap()).unwrap();
    assert_eq!(h.recv(), vec![Seg::new(F::RST, L, 0).win(0)]);
    assert_eq!(h.state(), None);
}

#[test]
fn rule_53_abort_sends_rst_in_synchronized_states() {
    let mut h = Harness::established(config());
    h.ep.abort(h.now, h.handle.unwrap()).unwrap();
    assert_eq!(h.recv(), vec![Seg::new(F::RST, L, 0).win(0)]);
    // Linux profile: RST|ACK, as the kernel's active reset.
    let mut cfg = config();
    cfg.profile = Profile::LinuxCompat;
    let mut h = Harness::established(cfg);
    h.ep.abort(h.now, h.handle.unwrap()).unwrap();
    assert_eq!(h.recv(), vec![Seg::new(F::RST_ACK, L, P).win(0)]);
}

#[test]
fn rule_53_abort_in_syn_received_sends_rst_in_time_wait_does_not() {
    let mut h = Harness::syn_received(config());
    let c = h.ep.find(&tuple()).unwrap().handle();
    h.ep.abort(h.now, c).unwrap();
    assert_eq!(h.recv(), vec![Seg::new(F::RST, L, 0).win(0)]);

    let mut h = Harness::established(config());
    h.ep.close(h.now, h.handle.unwrap()).unwrap();
    h.recv();
    h.exchange(Seg::new(F::FIN_ACK, P, L + 1), Some(ack(L + 1, P + 1)));
    h.ep.abort(h.now, h.handle.unwrap()).unwrap();
    assert_eq!(h.recv(), vec![]);
}

#[test]
fn rule_54_user_is_told_reset_or_closed() {
    let mut h = Harness::established(config());
    h.exchange(Seg::new(F::RST, P, 0), None);
    assert_eq!(h.events.last().map(|e| e.1), Some(Event::Reset));
    let last = h.steps.last().unwrap();
    assert_eq!(
        (last.action, last.rule.id()),
        (synack_engine::Action::Report(Event::Reset), 54)
    );

    let mut h = Harness::established(config());
    h.exchange(Seg::new(F::FIN_ACK, P, L), Some(ack(L, P + 1)));
    h.ep.close(h.now, h.handle.unwrap()).unwrap();
    h.recv();
    h.exchange(Seg::new(F::ACK, P + 1, L + 1), None);
    assert_eq!(h.events.last().map(|e| e.1), Some(Event::Closed));
    assert!(Event::Closed.is_final() && Event::Reset.is_final());
}

#[test]
fn calls_on_a_dead_handle_fail_cleanly() {
    let mut h = Harness::established(config());
    let c = h.handle.unwrap();
    h.ep.abort(h.now, c).unwrap();
    assert_eq!(
        h.ep.abort(h.now, c),
        Err(synack_engine::CallError::UnknownConnection)
    );
    assert_eq!(
        h.ep.send(h.now, c, b"x"),
        Err(synack_engine::CallError::UnknownConnection)
    );
    let _ = Config::linux();
}

// ---- The delayed ACK of a FIN (three-segment close) ----

fn delaying() -> Config {
    Config {
        fin_ack_delay: Some(Duration::from_millis(40)),
        ..config()
    }
}

#[test]
fn rule_47_a_delayed_fin_ack_rides_on_our_fin() {
    let mut h = Harness::established(delaying());
    h.exchange(Seg::new(F::FIN_ACK, P, L), None);
    assert_eq!(h.state(), Some(State::CloseWait));
    assert!(h.has_event(Event::PeerClosed));
    // Closing within the delay: one FIN+ACK acknowledges the peer's FIN.
    h.advance(Duration::from_millis(10));
    h.ep.close(h.now, h.handle.unwrap()).unwrap();
    assert_eq!(h.recv(), vec![Seg::new(F::FIN_ACK, L, P + 1).win(501)]);
    assert_eq!(h.state(), Some(State::LastAck));
    // The delay's timer is gone: nothing else goes before the FIN's RTO.
    h.advance(Duration::from_millis(100));
    assert_eq!(h.recv(), vec![]);
}

#[test]
fn rule_47_a_delayed_fin_ack_goes_alone_when_nothing_comes() {
    let mut h = Harness::established(delaying());
    h.exchange(Seg::new(F::FIN_ACK, P, L), None);
    h.advance(Duration::from_millis(39));
    assert_eq!(h.recv(), vec![]);
    h.advance(Duration::from_millis(1));
    assert_eq!(h.recv(), vec![ack(L, P + 1)]);
    assert_eq!(h.state(), Some(State::CloseWait));
}
