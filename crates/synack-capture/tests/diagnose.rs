//! Every diagnosis of the vocabulary, produced from a capture written here
//! with the wire codec (as a packet library would write it), and the
//! captures that must not produce it. Each goes through the bytes path
//! `synack analyze` uses, so the parsing of ICMP errors and stacked headers
//! is tested with the diagnosis.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::net::SocketAddr;

use synack_capture::synth::raw_pcap;
use synack_capture::{Attempt, Confidence, Id, analyze, narrate};
use synack_explain::Lang;
use synack_wire::{TcpFlags, TcpOptions, Unreachable, emit_unreachable};

const SYN: TcpFlags = TcpFlags::SYN;
const SA: TcpFlags = TcpFlags::SYN_ACK;
const A: TcpFlags = TcpFlags::ACK;

/// A capture being written: client and server addresses, frames.
struct Cap {
    c: SocketAddr,
    s: SocketAddr,
    frames: Vec<(f64, Vec<u8>)>,
}

fn packet(
    src: SocketAddr,
    dst: SocketAddr,
    flags: TcpFlags,
    seq: u32,
    ack: u32,
    options: TcpOptions,
    payload: &[u8],
) -> Vec<u8> {
    synack_capture::synth::ip_packet(src, dst, flags, seq, ack, options, payload).unwrap()
}

impl Cap {
    fn new() -> Cap {
        Cap::between("10.0.0.1:40000", "10.0.0.2:80")
    }

    fn between(c: &str, s: &str) -> Cap {
        Cap {
            c: c.parse().unwrap(),
            s: s.parse().unwrap(),
            frames: Vec::new(),
        }
    }

    /// A segment from the client (`true`) or the server at `t` seconds.
    fn seg(&mut self, t: f64, client: bool, flags: TcpFlags, seq: u32, ack: u32) -> &mut Cap {
        self.seg_with(t, client, flags, seq, ack, TcpOptions::default(), &[])
    }

    #[allow(clippy::too_many_arguments)]
    fn seg_with(
        &mut self,
        t: f64,
        client: bool,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        o: TcpOptions,
        payload: &[u8],
    ) -> &mut Cap {
        let (src, dst) = if client {
            (self.c, self.s)
        } else {
            (self.s, self.c)
        };
        self.frames
            .push((t, packet(src, dst, flags, seq, ack, o, payload)));
        self
    }

    /// An unrelated segment at `t`: the capture goes on until then.
    fn later(&mut self, t: f64) -> &mut Cap {
        let (a, b) = ("10.9.9.9:1".parse().unwrap(), "10.9.9.8:2".parse().unwrap());
        self.frames
            .push((t, packet(a, b, A, 1, 1, TcpOptions::default(), &[])));
        self
    }

    /// The attempts, and the first one's.
    fn all(&self) -> Vec<Attempt> {
        let bytes = raw_pcap(&self.frames);
        analyze(&bytes[..], "test").unwrap().attempts
    }

    fn attempt(&self) -> Attempt {
        self.all()
            .into_iter()
            .find(|a| a.client == self.c || a.server == self.c)
            .expect("an attempt")
    }
}

/// The diagnosis id and reason of the capture's attempt.
fn diag(c: &Cap) -> Option<(Id, &'static str)> {
    c.attempt().diagnosis.map(|d| (d.id, d.reason))
}

fn say(a: &Attempt, lang: Lang) -> String {
    narrate::diagnosis(a.diagnosis.as_ref().expect("a diagnosis"), lang)
}

fn handshake(c: &mut Cap) -> &mut Cap {
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, SA, 5000, 1001)
        .seg(0.02, true, A, 1001, 5001)
}

#[test]
fn a_plain_handshake_has_no_diagnosis() {
    let mut c = Cap::new();
    handshake(&mut c).later(5.0);
    assert_eq!(diag(&c), None);
    let mut c = Cap::new();
    handshake(&mut c)
        .seg(0.03, true, TcpFlags(TcpFlags::FIN.0 | A.0), 1001, 5001)
        .seg(0.04, false, TcpFlags(TcpFlags::FIN.0 | A.0), 5001, 1002)
        .seg(0.05, true, A, 1002, 5002);
    assert_eq!(diag(&c), None);
}

#[test]
fn a_bare_ack_where_the_synack_belongs_is_named_with_its_numbers() {
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, A, 5000, 5001);
    assert_eq!(
        diag(&c),
        Some((Id::CraftedMistake, "ack-instead-of-synack"))
    );
    let a = c.attempt();
    let en = say(&a, Lang::En);
    assert!(en.contains("frame 2"), "{en}");
    assert!(en.contains("acknowledging 5001"), "{en}");
    assert!(en.contains("acknowledging 1001 = ISN 1000 + 1"), "{en}");
    assert!(say(&a, Lang::Zh).contains("确认号 1001 = ISN 1000 + 1"));
    let d = a.diagnosis.unwrap();
    assert_eq!(
        (d.expected, d.got, d.base),
        (Some(1001), Some(5001), Some(1000))
    );
}

#[test]
fn a_challenge_ack_is_port_reuse_not_a_mistake() {
    // The old connection, then a new SYN on the same ports: RFC 5961's
    // challenge ACK, the client's RST with seq = its ack, the SYN again.
    let mut c = Cap::new();
    handshake(&mut c)
        .seg(1.0, true, SYN, 777_000, 0)
        .seg(1.01, false, A, 5001, 1001)
        .seg(1.02, true, TcpFlags::RST, 1001, 0)
        .seg(2.0, true, SYN, 777_000, 0)
        .seg(2.01, false, SA, 9000, 777_001)
        .seg(2.02, true, A, 777_001, 9001);
    let all = c.all();
    assert_eq!(all.len(), 2);
    let d = all[1].diagnosis.as_ref().unwrap();
    assert_eq!((d.id, d.reason), (Id::PortReuse, "challenge-ack"));
    assert_eq!(d.frames.as_slice(), [5, 6]);
    assert_eq!(all[0].diagnosis.as_ref().map(|d| d.id), None);
    // Without the client's exact RST it is no challenge ACK.
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, A, 5001, 1001)
        .seg(0.02, true, TcpFlags::RST, 4242, 0);
    assert_eq!(
        diag(&c),
        Some((Id::CraftedMistake, "ack-instead-of-synack"))
    );
}

#[test]
fn two_packets_stacked_into_one_are_found_in_the_payload() {
    let mut c = Cap::new();
    let inner = packet(c.c, c.s, SYN, 1000, 0, TcpOptions::default(), &[]);
    c.seg_with(0.0, true, SYN, 1000, 0, TcpOptions::default(), &inner);
    assert_eq!(diag(&c), Some((Id::CraftedMistake, "stacked-headers")));
    let a = c.attempt();
    let en = say(&a, Lang::En);
    assert!(
        en.contains("10.0.0.1:40000 → 10.0.0.2:80 [S] seq 1000"),
        "{en}"
    );
    // Data that merely starts with 0x45 is data.
    let mut c = Cap::new();
    handshake(&mut c).seg_with(
        0.03,
        true,
        A,
        1001,
        5001,
        TcpOptions::default(),
        b"E is for everything else, not a header",
    );
    assert_eq!(diag(&c), None);
}

#[test]
fn a_third_ack_of_isn_plus_two_is_named() {
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, SA, 5000, 1001)
        .seg(0.02, true, A, 1001, 5002);
    assert_eq!(diag(&c), Some((Id::CraftedMistake, "third-ack-wrong-ack")));
    let en = say(&c.attempt(), Lang::En);
    assert!(
        en.contains(
            "must acknowledge 5001 = server ISN 5000 + 1; frame 3 acknowledges 5002 (ISN + 2)"
        ),
        "{en}"
    );
}

#[test]
fn a_synack_with_the_wrong_ack_is_named() {
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, SA, 5000, 1000)
        .seg(0.02, true, TcpFlags::RST, 1000, 0);
    assert_eq!(diag(&c), Some((Id::CraftedMistake, "synack-wrong-ack")));
    let en = say(&c.attempt(), Lang::En);
    assert!(
        en.contains("must acknowledge 1001 = ISN 1000 + 1; frame 2 acknowledges 1000 (ISN + 0)"),
        "{en}"
    );
}

fn icmp_about(syn: &[u8], from: &str, reason: Unreachable) -> Vec<u8> {
    let mut buf = vec![0u8; 1500];
    let n = emit_unreachable(&mut buf, from.parse().unwrap(), reason, syn).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn an_icmp_error_quoting_the_syn_is_the_answer_v4_and_v6() {
    for (c, s, router) in [
        ("10.0.0.1:40000", "10.0.0.2:80", "192.0.2.254"),
        ("[2001:db8::1]:40000", "[2001:db8::2]:80", "2001:db8::fe"),
    ] {
        let mut cap = Cap::between(c, s);
        cap.seg(0.0, true, SYN, 1000, 0);
        let syn = cap.frames[0].1.clone();
        cap.frames.push((
            0.005,
            icmp_about(&syn, router, Unreachable::AdminProhibited),
        ));
        let a = cap.attempt();
        assert_eq!(a.outcome.name(), "unreachable");
        let d = a.diagnosis.clone().unwrap();
        assert_eq!((d.id, d.reason), (Id::Icmp, "admin-prohibited"));
        let i = d.icmp.unwrap();
        assert_eq!(
            i.router,
            router.parse::<std::net::IpAddr>().unwrap().to_string()
        );
        assert_eq!((i.quoted_frame, i.quoted_seq), (Some(1), 1000));
        assert_eq!(i.kind, if router.contains(':') { 1 } else { 3 });
        let en = say(&a, Lang::En);
        assert!(en.contains("quoting the SYN of frame 1"), "{en}");
        assert!(en.contains("the client sent no SYN after it"), "{en}");
        assert!(say(&a, Lang::Zh).contains("通信被管理性禁止"));
    }
    // Port unreachable, and a client that retries after it.
    let mut cap = Cap::new();
    cap.seg(0.0, true, SYN, 1000, 0);
    let syn = cap.frames[0].1.clone();
    cap.frames
        .push((0.005, icmp_about(&syn, "10.0.0.2", Unreachable::Port)));
    cap.seg(1.0, true, SYN, 1000, 0);
    let a = cap.attempt();
    assert_eq!(a.diagnosis.as_ref().unwrap().reason, "port-unreach");
    assert!(say(&a, Lang::En).contains("still sent its SYN again after it (frames 3)"));
}

#[test]
fn an_icmp_error_about_other_ports_is_not_this_attempts() {
    let mut cap = Cap::new();
    cap.seg(0.0, true, SYN, 1000, 0);
    let other = packet(
        "10.0.0.1:40001".parse().unwrap(),
        cap.s,
        SYN,
        1000,
        0,
        TcpOptions::default(),
        &[],
    );
    cap.frames
        .push((0.005, icmp_about(&other, "192.0.2.254", Unreachable::Host)));
    assert_eq!(diag(&cap), Some((Id::NoResponse, "no-response")));
}

#[test]
fn a_capture_of_one_direction_is_called_one() {
    // Only the client's side: its ACK acknowledges a SYN-ACK never captured.
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.02, true, A, 1001, 5001)
        .seg_with(
            0.03,
            true,
            A,
            1001,
            5001,
            TcpOptions::default(),
            b"GET / HTTP/1.0\r\n\r\n",
        )
        .seg(0.04, true, TcpFlags(TcpFlags::FIN.0 | A.0), 1019, 5001);
    let a = c.attempt();
    assert_eq!(a.outcome.name(), "one_sided");
    assert_eq!(
        a.diagnosis.as_ref().map(|d| (d.id, d.frames.to_vec())),
        Some((Id::OneSidedCapture, vec![2]))
    );
    // The server's side only.
    let mut c = Cap::new();
    c.seg(0.01, false, SA, 5000, 1001).seg_with(
        0.03,
        false,
        A,
        5001,
        1019,
        TcpOptions::default(),
        b"HTTP/1.0 200 OK\r\n\r\n",
    );
    assert_eq!(diag(&c), Some((Id::OneSidedCapture, "one-direction")));
    // A SYN alone is not one-sided.
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0);
    assert_eq!(diag(&c).map(|d| d.0), Some(Id::NoResponse));
}

#[test]
fn half_open_says_which_side_is_silent() {
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, SA, 5000, 1001)
        .seg(1.0, true, SYN, 1000, 0)
        .seg(1.01, false, SA, 5000, 1001);
    assert_eq!(diag(&c), Some((Id::HalfOpen, "synack-not-delivered")));
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, SA, 5000, 1001)
        .seg(1.01, false, SA, 5000, 1001)
        .seg(3.01, false, SA, 5000, 1001);
    assert_eq!(diag(&c), Some((Id::HalfOpen, "client-silent")));
    assert!(say(&c.attempt(), Lang::En).contains("3 times (frames 2, 3, 4)"));
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, SA, 5000, 1001);
    assert_eq!(diag(&c), Some((Id::HalfOpen, "no-third-ack")));
    assert!(say(&c.attempt(), Lang::En).contains("before a retransmission was due"));
}

fn syns_at(times: &[f64]) -> Cap {
    let mut c = Cap::new();
    for t in times {
        c.seg(*t, true, SYN, 1000, 0);
    }
    c
}

fn suggests(c: &Cap) -> &'static str {
    let a = c.attempt();
    let d = a.diagnosis.unwrap();
    assert_eq!(d.id, Id::NoResponse);
    d.schedule.unwrap().suggests
}

#[test]
fn no_response_reads_the_syn_schedule() {
    assert_eq!(
        suggests(&syns_at(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0])),
        "linux"
    );
    assert_eq!(
        suggests(&syns_at(&[0.0, 1.0, 3.0, 7.0, 15.0])),
        "doubling-1s"
    );
    assert_eq!(suggests(&syns_at(&[0.0, 3.0, 9.0])), "windows");
    assert_eq!(suggests(&syns_at(&[0.0, 1.0])), "rto-1s");
    assert_eq!(suggests(&syns_at(&[0.0, 0.2, 0.3])), "other");
    let mut one = syns_at(&[0.0]);
    assert_eq!(suggests(&one), "single-syn");
    let a = one.attempt();
    assert!(say(&a, Lang::En).contains("the capture ended 0 µs after it"));
    one.later(30.0);
    let a = one.attempt();
    assert!(
        say(&a, Lang::En).contains("a scanner's single probe"),
        "{}",
        say(&a, Lang::En)
    );
    assert!(say(&a, Lang::Zh).contains("扫描器"));
    // An answered SYN is not no-response, even after retries.
    let mut c = syns_at(&[0.0, 1.0]);
    c.seg(1.01, false, SA, 5000, 1001)
        .seg(1.02, true, A, 1001, 5001);
    assert_eq!(diag(&c), None);
}

#[test]
fn a_synack_sent_again_after_the_ack_is_the_accept_queue_signature() {
    let mut c = Cap::new();
    handshake(&mut c).seg(1.01, false, SA, 5000, 1001);
    let a = c.attempt();
    let d = a.diagnosis.clone().unwrap();
    assert_eq!(
        (d.id, d.frames.to_vec()),
        (Id::SynackLostOrAckDropped, vec![2, 3, 4])
    );
    assert!(say(&a, Lang::En).contains("accept queue is full"));
    // Before the ACK it is a lost SYN-ACK recovered, nothing odd.
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, SA, 5000, 1001)
        .seg(1.01, false, SA, 5000, 1001)
        .seg(1.02, true, A, 1001, 5001);
    assert_eq!(diag(&c), None);
}

fn offer(ws: u8, ts: Option<(u32, u32)>) -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(ws),
        sack_permitted: true,
        timestamps: ts,
        ..TcpOptions::default()
    }
}

#[test]
fn a_syn_cookie_is_seen_by_its_silence_and_its_tsval() {
    // Linux's cookie TSval: the client's shift 7, SACK (bit 4): 0b010111.
    let tsval = (215_296 & !0x3f) | 0b01_0111;
    let mut c = Cap::new();
    c.seg_with(0.0, true, SYN, 1000, 0, offer(7, Some((99, 0))), &[])
        .seg_with(
            0.01,
            false,
            SA,
            5000,
            1001,
            offer(10, Some((tsval, 99))),
            &[],
        )
        .later(2.5);
    let a = c.attempt();
    let d = a.diagnosis.clone().unwrap();
    assert_eq!(d.id, Id::SynCookie);
    assert_eq!(
        d.signs,
        vec!["no-synack-retransmission", "tsval-encodes-options"]
    );
    assert_eq!(d.confidence, synack_capture::Confidence::Likely);
    assert!(say(&a, Lang::En).contains("(010111)"));
    // Without timestamps: the options a cookie cannot keep are missing.
    let mut c = Cap::new();
    c.seg_with(0.0, true, SYN, 1000, 0, offer(7, None), &[])
        .seg_with(
            0.01,
            false,
            SA,
            5000,
            1001,
            TcpOptions {
                mss: Some(1460),
                ..TcpOptions::default()
            },
            &[],
        )
        .later(2.5);
    let d = c.attempt().diagnosis.unwrap();
    assert_eq!((d.id, d.reason), (Id::SynCookie, "options-dropped"));
    // A stateful server retransmits: half-open, not a cookie.
    let mut c = Cap::new();
    c.seg_with(0.0, true, SYN, 1000, 0, offer(7, Some((99, 0))), &[])
        .seg_with(
            0.01,
            false,
            SA,
            5000,
            1001,
            offer(10, Some((tsval, 99))),
            &[],
        )
        .seg_with(
            1.01,
            false,
            SA,
            5000,
            1001,
            offer(10, Some((tsval + 1000, 99))),
            &[],
        )
        .later(2.5);
    assert_eq!(diag(&c), Some((Id::HalfOpen, "client-silent")));
    // Watched for less than the timer: nothing can be said.
    let mut c = Cap::new();
    c.seg_with(0.0, true, SYN, 1000, 0, offer(7, Some((99, 0))), &[])
        .seg_with(
            0.01,
            false,
            SA,
            5000,
            1001,
            offer(10, Some((tsval, 99))),
            &[],
        )
        .later(0.5);
    assert_eq!(diag(&c).map(|d| d.0), Some(Id::HalfOpen));
}

#[test]
fn resets_say_who_and_when() {
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, TcpFlags(TcpFlags::RST.0 | A.0), 0, 1001);
    let d = c.attempt().diagnosis.unwrap();
    assert_eq!(
        (d.id, d.from, d.state),
        (Id::Reset, Some("server"), Some("syn-sent"))
    );
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, SA, 5000, 1001)
        .seg(0.02, true, TcpFlags::RST, 1001, 0);
    let a = c.attempt();
    let d = a.diagnosis.clone().unwrap();
    assert_eq!((d.from, d.state), (Some("client"), Some("syn-received")));
    assert!(say(&a, Lang::En).contains("nmap -sS"));
    let mut c = Cap::new();
    handshake(&mut c).seg(0.03, false, TcpFlags::RST, 5001, 0);
    let d = c.attempt().diagnosis.unwrap();
    assert_eq!((d.from, d.state), (Some("server"), Some("established")));
}

/// A RST the client ignores (rule 28: its ack is not ISN + 1, or it has
/// no ACK bit) is not the RST that ended the attempt: not a closed port
/// when a SYN-ACK and the third ACK followed it, and said to be only
/// possible when nothing else answered.
#[test]
fn a_reset_the_client_ignores_did_not_end_the_attempt() {
    let rst_ack = TcpFlags(TcpFlags::RST.0 | A.0);
    // Injected before the handshake, as in zeek's rst-inject capture; the
    // connection is reset later.
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.005, false, rst_ack, 0, 1000)
        .seg(0.01, false, SA, 5000, 1001)
        .seg(0.02, true, A, 1001, 5001)
        .seg(0.03, false, rst_ack, 5001, 1001);
    let a = c.attempt();
    let d = a.diagnosis.clone().unwrap();
    assert_eq!(
        (d.id, d.reason, d.from, d.state, d.frames.to_vec()),
        (
            Id::Reset,
            "reset",
            Some("server"),
            Some("established"),
            vec![5]
        )
    );
    assert_eq!(a.syn_to_rst_s, None, "no RST refused the SYN");
    assert!(!say(&a, Lang::En).contains("nothing listens"));
    // The same with no RST after the handshake: nothing reset it.
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.005, false, rst_ack, 0, 1000)
        .seg(0.01, false, SA, 5000, 1001)
        .seg(0.02, true, A, 1001, 5001);
    assert_eq!(diag(&c), None);
    // Before a RST the client takes: that one refused the SYN.
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.005, false, TcpFlags::RST, 0, 0)
        .seg(0.25, false, rst_ack, 0, 1001);
    let a = c.attempt();
    let d = a.diagnosis.clone().unwrap();
    assert_eq!(
        (d.reason, d.state, d.frames.to_vec(), d.confidence),
        ("reset", Some("syn-sent"), vec![3], Confidence::Certain)
    );
    assert_eq!(a.syn_to_rst_s, Some(0.25));
    // Only RSTs the client ignores: the port may be closed, or the RSTs
    // forged.
    for (flags, ack) in [(rst_ack, 1000), (TcpFlags::RST, 0)] {
        let mut c = Cap::new();
        c.seg(0.0, true, SYN, 1000, 0)
            .seg(0.005, false, flags, 0, ack);
        let a = c.attempt();
        let d = a.diagnosis.clone().unwrap();
        assert_eq!(
            (d.id, d.reason, d.from, d.state, d.confidence),
            (
                Id::Reset,
                "ignored-reset",
                Some("server"),
                Some("syn-sent"),
                Confidence::Possible
            )
        );
        // Refused by it all the same, as far as the capture tells.
        assert_eq!(a.syn_to_rst_s, Some(0.005));
        let (en, zh) = (say(&a, Lang::En), say(&a, Lang::Zh));
        assert!(
            en.starts_with("frame 2: ") && en.contains("the client ignores"),
            "{en}"
        );
        assert!(
            zh.starts_with("第 2 帧：") && zh.contains("客户端会忽略"),
            "{zh}"
        );
    }
}

#[test]
fn simultaneous_open_and_plain_port_reuse() {
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.0, false, SYN, 5000, 0)
        .seg(0.01, true, SA, 1000, 5001)
        .seg(0.01, false, SA, 5000, 1001);
    assert_eq!(diag(&c), Some((Id::SimultaneousOpen, "syn-syn")));
    let mut c = Cap::new();
    handshake(&mut c);
    c.seg(5.0, true, SYN, 9000, 0)
        .seg(5.01, false, SA, 3000, 9001)
        .seg(5.02, true, A, 9001, 3001);
    let all = c.all();
    assert_eq!(
        all[1].diagnosis.as_ref().map(|d| (d.id, d.reason)),
        Some((Id::PortReuse, "new-isn"))
    );
}

/// Every id of the vocabulary (each produced by a test above) is
/// documented and has a title in both languages.
#[test]
fn the_vocabulary_is_documented() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/analyze-json.md"),
    )
    .unwrap();
    for id in Id::ALL {
        assert!(
            doc.contains(&format!("`{}`", id.name())),
            "docs/analyze-json.md does not document {}",
            id.name()
        );
        assert_ne!(
            narrate::id_title(id, Lang::Zh),
            narrate::id_title(id, Lang::En).replace("SYN cookie", "x"),
        );
    }
}

#[test]
fn the_diagnosis_is_in_the_json_record() {
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, A, 5000, 5001);
    let v = serde_json::to_value(c.attempt()).unwrap();
    let d = &v["diagnosis"];
    assert_eq!(d["id"], "crafted-mistake");
    assert_eq!(d["reason"], "ack-instead-of-synack");
    assert_eq!(d["confidence"], "possible");
    assert_eq!(d["expected"], 1001);
    assert_eq!(d["frames"], serde_json::json!([2]));
    let mut c = Cap::new();
    handshake(&mut c);
    let v = serde_json::to_value(c.attempt()).unwrap();
    assert!(v["diagnosis"].is_null());
}

/// The check of the RST at `frame` after the handshake: taken, and how.
fn rst_check(a: &Attempt, frame: u64) -> Option<(bool, Option<&'static str>, Option<u32>)> {
    a.checks
        .iter()
        .find(|c| c.what == synack_capture::What::EstablishedRst && c.frame == Some(frame))
        .map(|c| (c.ok, c.detail, c.want))
}

/// 100 bytes from the client at `t`, acknowledged by the server.
fn data(c: &mut Cap, t: f64) {
    c.seg_with(t, true, A, 1001, 5001, TcpOptions::default(), &[7; 100])
        .seg(t + 0.01, false, A, 5001, 1101);
}

#[test]
fn a_reset_outside_the_receivers_window_did_not_end_it() {
    let rst = TcpFlags::RST;
    // Outside the server's window (64240 bytes, no scaling), then data
    // goes on: injected, ignored.
    let mut c = Cap::new();
    handshake(&mut c);
    data(&mut c, 0.03);
    c.seg(0.05, true, rst, 1101 + 70_000, 0);
    data(&mut c, 0.06);
    let a = c.attempt();
    assert_eq!(a.outcome.name(), "established");
    assert_eq!(
        rst_check(&a, 6),
        Some((false, Some("outside-window"), Some(1101)))
    );
    let d = a.diagnosis.clone().unwrap();
    assert_eq!(
        (d.id, d.reason, d.confidence, d.from, d.frames.to_vec()),
        (
            Id::Reset,
            "ignored-reset",
            Confidence::Likely,
            Some("client"),
            vec![6, 8]
        )
    );
    assert_eq!(
        (d.got, d.expected, d.window),
        (Some(71_101), Some(1101), Some(64240))
    );
    let (en, zh) = (say(&a, Lang::En), say(&a, Lang::Zh));
    for s in [
        "frame 6: ",
        "seq 71101",
        "RCV.NXT is 1101",
        "64240 bytes",
        "outside the window",
        "frame 8",
    ] {
        assert!(en.contains(s), "{s}: {en}");
    }
    assert!(
        zh.starts_with("第 6 帧：") && zh.contains("在窗口之外") && zh.contains("第 8 帧"),
        "{zh}"
    );
    assert_eq!(a.conn_state, "RSTO", "zeek's state counts every RST");
}

#[test]
fn a_reset_in_the_window_ends_it_unless_its_receiver_goes_on() {
    let rst = TcpFlags::RST;
    // In the window but not RCV.NXT: a challenge ACK, then the client
    // resets with the number it asks for.
    let mut c = Cap::new();
    handshake(&mut c);
    data(&mut c, 0.03);
    c.seg(0.05, true, rst, 1500, 0)
        .seg(0.051, false, A, 5001, 1101)
        .seg(0.06, true, rst, 1101, 0);
    let a = c.attempt();
    assert_eq!(a.outcome.name(), "reset_after_establishment");
    assert_eq!(
        rst_check(&a, 6),
        Some((false, Some("in-window"), Some(1101)))
    );
    assert_eq!(rst_check(&a, 8), Some((true, Some("exact"), Some(1101))));
    let d = a.diagnosis.clone().unwrap();
    assert_eq!(
        (d.reason, d.confidence, d.frames.to_vec(), d.window_test),
        ("reset", Confidence::Certain, vec![8], None)
    );
    // Without that later RST, the challenge ACK shows the server went on.
    let mut c = Cap::new();
    handshake(&mut c);
    data(&mut c, 0.03);
    c.seg(0.05, true, rst, 1500, 0)
        .seg(0.051, false, A, 5001, 1101);
    let a = c.attempt();
    assert_eq!(a.outcome.name(), "established");
    let d = a.diagnosis.clone().unwrap();
    assert_eq!(
        (d.reason, d.window_test, d.frames.to_vec()),
        ("ignored-reset", Some("in-window"), vec![6, 7])
    );
    let en = say(&a, Lang::En);
    assert!(
        en.contains("seq 1500, in the server's window (64240 bytes) but not its RCV.NXT 1101")
            && en.contains("the server went on at frame 7"),
        "{en}"
    );
    assert!(say(&a, Lang::Zh).contains("服务器在第 7 帧继续通信"));
    // The same RST in the window with nothing after it: a stack before
    // RFC 5961 takes it, and nothing says this one did not.
    let mut c = Cap::new();
    handshake(&mut c);
    data(&mut c, 0.03);
    c.seg(0.05, true, rst, 1500, 0);
    let a = c.attempt();
    assert_eq!(a.outcome.name(), "reset_after_establishment");
    let d = a.diagnosis.clone().unwrap();
    assert_eq!(
        (d.reason, d.confidence, d.window_test),
        ("reset", Confidence::Likely, Some("in-window"))
    );
    assert!(
        say(&a, Lang::En).contains("challenge ACK"),
        "{}",
        say(&a, Lang::En)
    );
    assert!(
        say(&a, Lang::Zh).contains("挑战 ACK"),
        "{}",
        say(&a, Lang::Zh)
    );
}

#[test]
fn what_a_rst_after_the_handshake_is_judged_against() {
    let rst = TcpFlags::RST;
    // With window scaling (shift 7 both ways) the server's window after
    // its SYN-ACK (whose own window is never scaled) is 64240 << 7 bytes:
    // 1 MB past RCV.NXT is inside it.
    let mut c = Cap::new();
    c.seg_with(0.0, true, SYN, 1000, 0, offer(7, None), &[])
        .seg_with(0.01, false, SA, 5000, 1001, offer(7, None), &[])
        .seg(0.02, true, A, 1001, 5001)
        .seg(0.025, false, A, 5001, 1001)
        .seg(0.03, true, rst, 1001 + 1_000_000, 0);
    let j = rst_check(&c.attempt(), 5);
    assert_eq!(j, Some((false, Some("in-window"), Some(1001))));
    // Without it, or before the server's first scaled window, the same RST
    // is outside.
    let mut c = Cap::new();
    handshake(&mut c)
        .seg(0.025, false, A, 5001, 1001)
        .seg(0.03, true, rst, 1001 + 1_000_000, 0);
    assert_eq!(
        rst_check(&c.attempt(), 5).map(|j| j.1),
        Some(Some("outside-window"))
    );
    let mut c = Cap::new();
    c.seg_with(0.0, true, SYN, 1000, 0, offer(7, None), &[])
        .seg_with(0.01, false, SA, 5000, 1001, offer(7, None), &[])
        .seg(0.02, true, A, 1001, 5001)
        .seg(0.03, true, rst, 1001 + 1_000_000, 0);
    assert_eq!(
        rst_check(&c.attempt(), 4).map(|j| j.1),
        Some(Some("outside-window"))
    );
    // The server acknowledged client data the capture missed: RCV.NXT is
    // its ack.
    let mut c = Cap::new();
    handshake(&mut c)
        .seg(0.03, false, A, 5001, 4001)
        .seg(0.04, true, rst, 4001, 0);
    let a = c.attempt();
    assert_eq!(rst_check(&a, 5), Some((true, Some("exact"), Some(4001))));
    assert_eq!(a.outcome.name(), "reset_after_establishment");
    // After the server's FIN, a RST with the FIN's seq (Linux takes it),
    // across the wrap of the sequence space.
    let fin = TcpFlags(TcpFlags::FIN.0 | A.0);
    let mut c = Cap::new();
    c.seg(0.0, true, SYN, 1000, 0)
        .seg(0.01, false, SA, u32::MAX, 1001)
        .seg(0.02, true, A, 1001, 0)
        .seg(0.03, false, fin, 0, 1001)
        .seg(0.04, false, TcpFlags(rst.0 | A.0), 0, 1001);
    let a = c.attempt();
    assert_eq!(rst_check(&a, 5), Some((true, Some("fin-seq"), Some(1))));
    assert_eq!(
        a.diagnosis.map(|d| (d.reason, d.confidence)),
        Some(("reset", Confidence::Certain))
    );
}
