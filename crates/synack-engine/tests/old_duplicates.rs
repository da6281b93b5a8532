//! Why three segments: old duplicate SYNs and half-open connections (RFC
//! 9293 Fig. 8–11 with RFC 5961; rules 22–25), each side played packet by
//! packet.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::*;
use synack_engine::{Event, State};

const P: u32 = PEER_ISS + 1;
const L: u32 = ISS + 1;
const OLD: u32 = 90;

#[test]
fn rule_22_responder_returns_to_listen_when_the_initiator_vetoes_an_old_syn() {
    let mut h = Harness::listening(config());
    // The old SYN makes a half-open connection acknowledging OLD + 1 ...
    h.exchange(
        Seg::new(F::SYN, OLD, 0).opts(syn_opts()),
        Some(Seg::new(F::SYN_ACK, ISS, OLD + 1).opts(syn_opts())),
    );
    assert_eq!(h.state(), Some(State::SynReceived));
    // ... the initiator, expecting its own ISN, answers <SEQ=OLD+1><CTL=RST>:
    // back to LISTEN, nobody is told (rule 19).
    h.exchange(Seg::new(F::RST, OLD + 1, 0), None);
    assert_eq!(h.state(), None);
    assert!(h.events.is_empty());
    // The real SYN then opens the connection.
    h.exchange(
        Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()),
        Some(Seg::new(F::SYN_ACK, ISS, P).opts(syn_opts())),
    );
    h.send(Seg::new(F::ACK, P, L).win(502));
    assert_eq!(h.state(), Some(State::Established));
}

#[test]
fn rule_22_initiator_vetoes_a_synack_for_someone_elses_isn() {
    let mut h = Harness::syn_sent(config());
    // A SYN-ACK acknowledging OLD + 1, not ISS + 1: RST with SEQ=SEG.ACK.
    h.exchange(
        Seg::new(F::SYN_ACK, PEER_ISS, OLD + 1).opts(syn_opts()),
        Some(rst(OLD + 1)),
    );
    assert_eq!(h.state(), Some(State::SynSent));
    // The SYN-ACK to its own SYN completes the handshake.
    h.exchange(
        Seg::new(F::SYN_ACK, PEER_ISS + 7, L).opts(syn_opts()),
        Some(Seg::new(F::ACK, L, PEER_ISS + 8).win(501)),
    );
    assert_eq!(h.state(), Some(State::Established));
}

#[test]
fn rule_23_synack_reaching_a_listener_is_reset_and_the_sender_returns_to_listen() {
    // A in LISTEN gets B's SYN-ACK to an old SYN: <SEQ=SEG.ACK><CTL=RST>.
    let mut a = Harness::listening(config());
    a.exchange(Seg::new(F::SYN_ACK, PEER_ISS, OLD + 1), Some(rst(OLD + 1)));
    assert_eq!(a.state(), None);
    // B, half-open from that old SYN, takes the RST back to LISTEN.
    let mut b = Harness::listening(config());
    b.send(Seg::new(F::SYN, OLD, 0).opts(syn_opts()));
    b.recv();
    b.exchange(Seg::new(F::RST, OLD + 1, 0), None);
    assert_eq!(b.state(), None);
    assert!(b.ep.is_listening(local()));
}

#[test]
fn rule_24_rebooted_peer_syn_challenge_ack_exact_rst_then_retry() {
    // B is ESTABLISHED; A rebooted and opens again from the same port.
    let mut b = Harness::established(config());
    b.exchange(
        Seg::new(F::SYN, 3000, 0).opts(syn_opts()),
        Some(Seg::new(F::ACK, L, P).win(501)),
    );
    assert_eq!(b.state(), Some(State::Established));
    // A (SYN-SENT, ISS 3000) finds ack P unacceptable: RST with SEQ=P, which
    // is B's RCV.NXT exactly (rule 31): B aborts.
    let mut a = Harness::syn_sent(synack_engine::Config {
        isn: synack_engine::IsnMode::Fixed(3000),
        ..config()
    });
    a.exchange(Seg::new(F::ACK, L, P).win(501), Some(rst(P)));
    b.exchange(Seg::new(F::RST, P, 0), None);
    assert_eq!(b.state(), None);
    assert!(b.has_event(Event::Reset));
    // A's retransmitted SYN now finds LISTEN.
    b.exchange(
        Seg::new(F::SYN, 3000, 0).opts(syn_opts()),
        Some(Seg::new(F::SYN_ACK, ISS, 3001).opts(syn_opts())),
    );
}

#[test]
fn rule_25_data_to_a_peer_without_a_tcb_gets_rst_and_the_sender_aborts() {
    // A has no TCB: B's data gets <SEQ=SEG.ACK><CTL=RST> (rule 27).
    let mut a = Harness::new(config());
    a.exchange(Seg::new(F::ACK, P, L).data(b"data"), Some(rst(L)));
    // B takes that RST (SEQ = its RCV.NXT) and aborts (rule 31).
    let mut b = Harness::established(config());
    b.exchange(Seg::new(F::RST, P, 0), None);
    assert_eq!(b.state(), None);
    assert!(b.has_event(Event::Reset));
}
