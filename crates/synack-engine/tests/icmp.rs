//! Rule 55: ICMP destination-unreachable errors about our segments, fed
//! as bytes (RFC 1122 §4.2.3.9, RFC 5927 §4.1).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::*;
use core::time::Duration;
use synack_engine::{Config, Event, State};
use synack_wire::Unreachable;

/// The error `remote()` (the peer's host, or its firewall) sends about a
/// SYN of ours with sequence number `seq`.
fn icmp_about_syn(reason: Unreachable, seq: u32) -> Vec<u8> {
    let syn = encode(
        local(),
        remote(),
        &Seg::new(F::SYN, seq, 0).opts(syn_opts()),
    );
    let mut b = [0u8; 700];
    let n = synack_wire::emit_unreachable(&mut b, remote().ip(), reason, &syn).unwrap();
    b[..n].to_vec()
}

fn linux() -> Config {
    Config {
        profile: synack_engine::Profile::LinuxCompat,
        ..config()
    }
}

#[test]
fn rule_55_port_unreachable_ends_the_open() {
    let mut h = Harness::syn_sent(config());
    h.feed(&icmp_about_syn(Unreachable::Port, ISS));
    assert_eq!(h.state(), None);
    assert!(h.has_event(Event::Unreachable));
    assert_eq!(h.recv(), vec![], "no RST, nothing else");
    assert_eq!(
        synack_engine::icmp::linux_errno(Unreachable::Port),
        "ECONNREFUSED"
    );
}

#[test]
fn rule_55_admin_prohibited_is_soft_for_the_rfc_and_hard_for_linux() {
    // RFC 1122: only protocol and port unreachable are hard; the SYN is
    // retransmitted and the error kept.
    let mut h = Harness::syn_sent(config());
    h.feed(&icmp_about_syn(Unreachable::AdminProhibited, ISS));
    assert_eq!(h.state(), Some(State::SynSent));
    let c = h.ep.connection(h.handle.unwrap()).unwrap();
    assert_eq!(c.soft_error(), Some(Unreachable::AdminProhibited));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.recv().len(), 1, "the SYN again");
    // Linux ends the open (tcp_v4_err): connect() → EHOSTUNREACH.
    let mut h = Harness::syn_sent(linux());
    h.feed(&icmp_about_syn(Unreachable::AdminProhibited, ISS));
    assert_eq!(h.state(), None);
    assert!(h.has_event(Event::Unreachable));
}

#[test]
fn rule_55_an_error_quoting_a_sequence_number_not_in_flight_is_ignored() {
    let mut h = Harness::syn_sent(linux());
    h.feed(&icmp_about_syn(Unreachable::Port, ISS + 1));
    assert_eq!(h.state(), Some(State::SynSent));
    assert!(h.events.is_empty());
    assert_eq!(h.rules(), vec![1, 55]);
}

#[test]
fn rule_55_established_connections_keep_going() {
    let mut h = Harness::established(linux());
    let c = h.handle.unwrap();
    h.ep.send(h.now, c, b"hi").unwrap();
    let _ = h.recv();
    // The peer's host says the port is gone: soft in ESTABLISHED.
    let data = encode(
        local(),
        remote(),
        &Seg::new(F::ACK, ISS + 1, PEER_ISS + 1).data(b"hi"),
    );
    let mut b = [0u8; 700];
    let n = synack_wire::emit_unreachable(&mut b, remote().ip(), Unreachable::Port, &data).unwrap();
    h.feed(&b[..n]);
    assert_eq!(h.state(), Some(State::Established));
    assert_eq!(
        h.ep.connection(c).unwrap().soft_error(),
        Some(Unreachable::Port)
    );
}

#[test]
fn an_icmp_echo_is_none_of_tcps_business() {
    let mut h = Harness::syn_sent(config());
    let mut e = icmp_about_syn(Unreachable::Port, ISS);
    // An echo request, its checksum made right.
    e[20] = 8;
    e[22..24].copy_from_slice(&[0, 0]);
    let c = synack_wire::checksum::checksum(&e[20..]);
    e[22..24].copy_from_slice(&c.to_be_bytes());
    h.feed(&e);
    assert!(h.steps.is_empty() || h.rules() == vec![1]);
    assert_eq!(h.state(), Some(State::SynSent));
}
