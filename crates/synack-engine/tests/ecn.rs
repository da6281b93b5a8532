//! ECN negotiation (RFC 3168 §6.1.1): rules 9 and 40, packet by packet.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::*;
use core::time::Duration;
use synack_engine::{Config, Ecn, State};

fn with(ecn: Ecn) -> Config {
    Config { ecn, ..config() }
}

const SEC: F = F(F::SYN.0 | F::ECE.0 | F::CWR.0);

#[test]
fn rule_09_ecn_setup_syn_carries_ece_and_cwr_then_falls_back() {
    let mut h = Harness::new(with(Ecn::Request));
    h.handle = Some(h.ep.connect(h.now, local(), remote()).unwrap());
    assert_eq!(h.recv(), vec![Seg::new(SEC, ISS, 0).opts(syn_opts())]);
    assert_eq!(h.rules(), vec![1, 9]);
    // No answer: the retransmission is a plain SYN (Linux, RFC 3168 §6.1.1.1).
    h.advance(Duration::from_secs(1));
    assert_eq!(h.recv(), vec![Seg::new(F::SYN, ISS, 0).opts(syn_opts())]);
    // A SYN-ACK with ECE now does not turn ECN on: the SYN it answers was plain.
    h.exchange(
        Seg::new(F(F::SYN_ACK.0 | F::ECE.0), PEER_ISS, ISS + 1).opts(syn_opts()),
        Some(Seg::new(F::ACK, ISS + 1, PEER_ISS + 1).win(501)),
    );
    assert!(!h.ep.find(&tuple()).unwrap().negotiated().ecn);
}

#[test]
fn rule_09_ecn_is_on_when_the_synack_answers_with_ece_only() {
    let mut h = Harness::syn_sent(with(Ecn::Request));
    h.send(Seg::new(F(F::SYN_ACK.0 | F::ECE.0), PEER_ISS, ISS + 1).opts(syn_opts()));
    assert_eq!(h.state(), Some(State::Established));
    assert!(h.ep.find(&tuple()).unwrap().negotiated().ecn);
    // ECE together with CWR is not an ECN-setup SYN-ACK.
    let mut h = Harness::syn_sent(with(Ecn::Request));
    h.send(Seg::new(F(F::SYN_ACK.0 | F::ECE.0 | F::CWR.0), PEER_ISS, ISS + 1).opts(syn_opts()));
    assert!(!h.ep.find(&tuple()).unwrap().negotiated().ecn);
}

#[test]
fn rule_09_default_profile_does_not_ask() {
    let mut h = Harness::new(config());
    h.handle = Some(h.ep.connect(h.now, local(), remote()).unwrap());
    assert_eq!(h.recv(), vec![Seg::new(F::SYN, ISS, 0).opts(syn_opts())]);
}

#[test]
fn rule_40_ecn_setup_synack_answers_an_ecn_setup_syn() {
    for ecn in [Ecn::Accept, Ecn::Request] {
        let mut h = Harness::listening(with(ecn));
        h.exchange(
            Seg::new(SEC, PEER_ISS, 0).opts(syn_opts()),
            Some(Seg::new(F(F::SYN_ACK.0 | F::ECE.0), ISS, PEER_ISS + 1).opts(syn_opts())),
        );
        assert!(h.ep.find(&tuple()).unwrap().negotiated().ecn);
        assert_eq!(h.rules(), vec![13, 14, 40]);
    }
}

#[test]
fn rule_40_plain_synack_when_off_or_not_asked() {
    let mut h = Harness::listening(with(Ecn::Off));
    h.exchange(
        Seg::new(SEC, PEER_ISS, 0).opts(syn_opts()),
        Some(Seg::new(F::SYN_ACK, ISS, PEER_ISS + 1).opts(syn_opts())),
    );
    assert!(!h.ep.find(&tuple()).unwrap().negotiated().ecn);
    // ECE alone is not a setup request.
    let mut h = Harness::listening(with(Ecn::Accept));
    h.exchange(
        Seg::new(F(F::SYN.0 | F::ECE.0), PEER_ISS, 0).opts(syn_opts()),
        Some(Seg::new(F::SYN_ACK, ISS, PEER_ISS + 1).opts(syn_opts())),
    );
}
