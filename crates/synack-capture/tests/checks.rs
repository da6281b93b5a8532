//! Each step check on hand-made segments: the rule id, pass or fail, the
//! numbers, and the sentence in both languages.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use synack_capture::{Attempt, Seg, Tracker, What, narrate};
use synack_explain::Lang;
use synack_wire::{FastOpenCookie, SeqNum, TcpFlags, TcpOptions};

const C: &str = "10.0.0.1:40000";
const S: &str = "10.0.0.2:80";
const SYN: TcpFlags = TcpFlags::SYN;
const SA: TcpFlags = TcpFlags::SYN_ACK;
const A: TcpFlags = TcpFlags::ACK;

fn seg(from_client: bool, flags: TcpFlags, seq: u32, ack: u32) -> Seg {
    let (c, s) = (C.parse().unwrap(), S.parse().unwrap());
    Seg {
        frame: 0,
        ts: 0.0,
        ns: 0,
        iface: 0,
        src: if from_client { c } else { s },
        dst: if from_client { s } else { c },
        flags,
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        window: 1000,
        payload_len: 0,
        ip_len: 40,
        options: Some(TcpOptions::default()).into(),
        bad_checksum: false,
        checksum_offloaded: false,
        stacked: None,
    }
}

fn ts() -> TcpOptions {
    TcpOptions {
        timestamps: Some((1, 0)),
        ..TcpOptions::default()
    }
}

fn run(segs: Vec<Seg>) -> Attempt {
    let mut t = Tracker::default();
    for (i, mut s) in segs.into_iter().enumerate() {
        s.frame = i as u64 + 1;
        s.ts = i as f64 * 0.01;
        s.ns = i as i64 * 10_000_000;
        t.add(&s);
    }
    let mut v: Vec<Attempt> = t.finish().collect();
    assert_eq!(v.len(), 1);
    v.remove(0)
}

/// The one check of kind `w`, its sentence in English and Chinese.
fn check(a: &Attempt, w: What) -> (bool, String, String) {
    let c = a
        .checks
        .iter()
        .find(|c| c.what == w)
        .unwrap_or_else(|| panic!("no {w:?} in {:#?}", a.checks));
    assert_eq!(c.rule, w.rule().id());
    (
        c.ok,
        narrate::check(c, Lang::En),
        narrate::check(c, Lang::Zh),
    )
}

#[test]
fn synack_ack_is_isn_plus_one() {
    let a = run(vec![
        seg(true, SYN, 1000, 0),
        seg(false, SA, 5000, 1001),
        seg(true, A, 1001, 5001),
    ]);
    let (ok, en, zh) = check(&a, What::SynAckAck);
    assert!(ok);
    assert!(
        en.contains("acknowledges 1001") && en.contains("ISN was 1000") && en.contains("correct"),
        "{en}"
    );
    assert!(
        zh.contains("1001") && zh.contains("正确") && zh.contains("规则 4"),
        "{zh}"
    );
    assert!(check(&a, What::ThirdAckAck).0);
    assert!(check(&a, What::ThirdAckSeq).0);
    assert!(a.checks.iter().all(|c| c.ok));
}

#[test]
fn synack_with_a_wrong_ack_fails_and_the_rst_seq_is_checked() {
    let a = run(vec![
        seg(true, SYN, 1000, 0),
        seg(false, SA, 5000, 1002),
        seg(true, TcpFlags::RST, 1002, 0),
    ]);
    let (ok, en, _) = check(&a, What::SynAckAck);
    assert!(!ok);
    assert!(en.contains("must be 1001") && en.contains("wrong"), "{en}");
    let (ok, en, _) = check(&a, What::BadAckRst);
    assert!(ok, "{en}");
    assert_eq!(a.outcome.name(), "reset_during_handshake");
}

#[test]
fn third_ack_with_a_wrong_ack_is_named_with_the_expected_number() {
    let a = run(vec![
        seg(true, SYN, 1000, 0),
        seg(false, SA, 987_654, 1001),
        seg(true, A, 1001, 987_656),
    ]);
    let (ok, en, zh) = check(&a, What::ThirdAckAck);
    assert!(!ok);
    assert!(
        en.contains("carries ack 987656; expected 987655 = server ISN 987654 + 1"),
        "{en}"
    );
    assert!(zh.contains("987655") && zh.contains("错误"), "{zh}");
    // Not acknowledging the server's ISN, it does not complete the handshake.
    assert_eq!(a.ack_frame, None);
    let (ok, en, _) = check(&a, What::ThirdAckSeen);
    assert!(!ok && en.contains("half-open"), "{en}");
}

#[test]
fn third_ack_seq_must_be_what_the_synack_acknowledged() {
    let a = run(vec![
        seg(true, SYN, 1000, 0),
        seg(false, SA, 5000, 1001),
        seg(true, A, 1005, 5001),
    ]);
    let (ok, en, _) = check(&a, What::ThirdAckSeq);
    assert!(!ok && en.contains("1005") && en.contains("1001"), "{en}");
}

#[test]
fn timestamps_agreed_must_be_on_the_third_ack() {
    let mut syn = seg(true, SYN, 1, 0);
    syn.options = Some(ts()).into();
    let mut sa = seg(false, SA, 9, 2);
    sa.options = Some(ts()).into();
    let a = run(vec![syn, sa, seg(true, A, 2, 10)]);
    assert!(!check(&a, What::ThirdAckTimestamps).0);
    let mut third = seg(true, A, 2, 10);
    third.options = Some(ts()).into();
    let a = run(vec![syn, sa, third]);
    assert!(check(&a, What::ThirdAckTimestamps).0);
}

#[test]
fn synack_options_only_those_offered() {
    let syn = seg(true, SYN, 1, 0);
    let mut sa = seg(false, SA, 9, 2);
    sa.options = Some(TcpOptions {
        window_scale: Some(7),
        ..TcpOptions::default()
    })
    .into();
    let a = run(vec![syn, sa]);
    let (ok, en, _) = check(&a, What::SynAckOptions);
    assert!(!ok && en.contains("wscale"), "{en}");
}

#[test]
fn syn_with_fin_is_an_illegal_mix() {
    let a = run(vec![seg(true, SYN | TcpFlags::FIN, 1, 0)]);
    let (ok, en, zh) = check(&a, What::SynFlags);
    assert!(!ok && en.contains("FIN"), "{en}");
    assert!(zh.contains("非法"), "{zh}");
    assert_eq!(a.outcome.name(), "no_answer");
}

#[test]
fn ecn_setup_needs_ece_and_cwr_and_the_synack_answers_with_ece_only() {
    let a = run(vec![seg(true, SYN | TcpFlags::ECE, 1, 0)]);
    assert!(!check(&a, What::SynEcn).0);
    let syn = seg(true, SYN | TcpFlags::ECE | TcpFlags::CWR, 1, 0);
    let a = run(vec![syn, seg(false, SA | TcpFlags::ECE, 9, 2)]);
    assert!(check(&a, What::SynEcn).0);
    assert!(check(&a, What::SynAckEcn).0);
    assert!(a.negotiated.unwrap().ecn);
    let a = run(vec![
        seg(true, SYN, 1, 0),
        seg(false, SA | TcpFlags::ECE, 9, 2),
    ]);
    assert!(!check(&a, What::SynAckEcn).0);
}

#[test]
fn window_scale_above_14() {
    let mut syn = seg(true, SYN, 1, 0);
    syn.options = Some(TcpOptions {
        window_scale: Some(15),
        ..TcpOptions::default()
    })
    .into();
    let a = run(vec![syn]);
    let (ok, en, _) = check(&a, What::WindowScale);
    assert!(!ok && en.contains("15") && en.contains("14"), "{en}");
}

#[test]
fn refused_rst_acknowledges_the_syn() {
    let a = run(vec![
        seg(true, SYN, 1000, 0),
        seg(false, TcpFlags::RST_ACK, 0, 1001),
    ]);
    let (ok, en, zh) = check(&a, What::RefusedRst);
    assert!(ok && en.contains("refused"), "{en}");
    assert!(zh.contains("拒绝"), "{zh}");
    assert_eq!(a.outcome.name(), "refused");
    assert_eq!(a.conn_state, "REJ");
    let a = run(vec![
        seg(true, SYN, 1000, 0),
        seg(false, TcpFlags::RST, 0, 0),
    ]);
    let (ok, en, _) = check(&a, What::RefusedRst);
    assert!(!ok && en.contains("without the ACK bit"), "{en}");
}

#[test]
fn syn_data_without_fast_open_must_not_be_acknowledged() {
    let mut syn = seg(true, SYN, 10, 0);
    syn.payload_len = 100;
    let a = run(vec![syn, seg(false, SA, 50, 111)]);
    let (ok, en, _) = check(&a, What::SynDataAcked);
    assert!(!ok && en.contains("ack 11"), "{en}");
}

#[test]
fn fast_open_data_may_be_acknowledged() {
    let mut syn = seg(true, SYN, 10, 0);
    syn.payload_len = 4;
    syn.options = Some(TcpOptions {
        fast_open: FastOpenCookie::new(&[1, 2, 3, 4, 5, 6, 7, 8]),
        ..TcpOptions::default()
    })
    .into();
    let a = run(vec![syn, seg(false, SA, 50, 15), seg(true, A, 15, 51)]);
    let (ok, en, _) = check(&a, What::SynAckAck);
    assert!(ok && en.contains("Fast Open"), "{en}");
    assert_eq!(a.negotiated.unwrap().fast_open, "data_accepted");
    assert!(check(&a, What::ThirdAckSeq).0);
}

#[test]
fn an_ignored_rst_before_the_handshake_does_not_reset_the_connection() {
    // An injected RST whose ack the client cannot accept, then the real
    // handshake and an orderly close.
    let a = run(vec![
        seg(true, SYN, 1000, 0),
        seg(false, TcpFlags::RST_ACK, 0, 1000),
        seg(false, SA, 5000, 1001),
        seg(true, A, 1001, 5001),
        seg(true, TcpFlags::FIN_ACK, 1001, 5001),
        seg(false, TcpFlags::FIN_ACK, 5001, 1002),
        seg(true, A, 1002, 5002),
    ]);
    assert_eq!(a.outcome.name(), "closed");
    assert!(
        !check(&a, What::RefusedRst).0,
        "the RST's ack was not ISN + 1"
    );
}

/// A SYN whose ack field is not zero (a crafted one) keeps that number in
/// its step, whether or not anything followed it.
#[test]
fn a_syns_ack_field_is_kept_in_its_step() {
    let mut syn = seg(true, SYN, 1000, 0);
    syn.ack = SeqNum(4242);
    let a = run(vec![syn]);
    assert_eq!(a.steps[0].ack, 4242);
    let a = run(vec![syn, seg(false, SA, 5000, 1001)]);
    assert_eq!(a.steps[0].ack, 4242);
}
