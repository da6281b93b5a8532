//! Why an attempt failed, or what is odd about it: the most specific cause
//! the capture supports, from a fixed vocabulary (docs/analyze-json.md),
//! with the frames it rests on and how sure it is. The words are nmap's
//! reasons and zeek's states where those exist.
//!
//! Each cause has a function of its own; `diagnose` tries them from the
//! most specific to the least, and the first that fits is the answer.

use serde::Serialize;
use synack_wire::TcpFlags;

use crate::attempt::{Attempt, IcmpSeen, Outcome, Seg, Stacked};
use crate::check::What;

/// The vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Id {
    /// A mistake a hand-written handshake makes (wrong ack, missing SYN
    /// flag, two headers in one packet).
    CraftedMistake,
    /// An ICMP destination unreachable quoting the SYN.
    Icmp,
    /// A RST ended it.
    Reset,
    /// The SYN-ACK was sent again after the third ACK was seen.
    SynackLostOrAckDropped,
    /// A new ISN on ports that had a connection (and what that caused).
    PortReuse,
    /// A SYN-ACK from a server that keeps no state for the SYN.
    SynCookie,
    /// Only one direction was captured.
    OneSidedCapture,
    /// SYN-ACK seen, third ACK never.
    HalfOpen,
    /// SYNs and nothing back.
    NoResponse,
    /// Both sides sent a SYN.
    SimultaneousOpen,
}

impl Id {
    pub const ALL: [Id; 10] = [
        Id::CraftedMistake,
        Id::Icmp,
        Id::Reset,
        Id::SynackLostOrAckDropped,
        Id::PortReuse,
        Id::SynCookie,
        Id::OneSidedCapture,
        Id::HalfOpen,
        Id::NoResponse,
        Id::SimultaneousOpen,
    ];

    /// The name in JSON and in the text report.
    pub fn name(self) -> &'static str {
        match self {
            Id::CraftedMistake => "crafted-mistake",
            Id::Icmp => "icmp",
            Id::Reset => "reset",
            Id::SynackLostOrAckDropped => "synack-lost-or-ack-dropped",
            Id::PortReuse => "port-reuse",
            Id::SynCookie => "syn-cookie",
            Id::OneSidedCapture => "one-sided-capture",
            Id::HalfOpen => "half-open",
            Id::NoResponse => "no-response",
            Id::SimultaneousOpen => "simultaneous-open",
        }
    }
}

/// How far the capture supports the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Another explanation fits the same frames.
    Possible,
    /// The usual explanation of these frames; others are rare.
    Likely,
    /// The frames say so.
    Certain,
}

/// The ICMP error behind an `icmp` diagnosis.
#[derive(Debug, Clone, Serialize)]
pub struct IcmpDetail {
    /// 3 (ICMP) or 1 (ICMPv6): destination unreachable.
    #[serde(rename = "type")]
    pub kind: u8,
    pub code: u8,
    /// RFC 792 / RFC 4443's name for the code.
    pub name: &'static str,
    /// Who sent it.
    pub router: String,
    pub quoted_seq: u32,
    /// The SYN it quotes (the last one with that sequence number before it).
    pub quoted_frame: Option<u64>,
    /// SYNs the client sent after it: it took the error as soft.
    pub syns_after: Vec<u64>,
}

/// The SYNs of a `no-response` attempt, and what their spacing suggests.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub syns: usize,
    pub intervals_s: Vec<f64>,
    /// single-syn, rto-1s, linux, doubling-1s, windows, other.
    pub suggests: &'static str,
    /// How long the capture went on after the last SYN.
    pub watched_s: f64,
}

/// A diagnosis's frames.
pub type Frames = smallvec::SmallVec<[u64; 4]>;

/// One diagnosis. Fields other than the first four are there when the
/// cause has them.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub id: Id,
    /// The finer reason (nmap's word where it has one).
    pub reason: &'static str,
    pub confidence: Confidence,
    /// The frames it rests on (most diagnoses name a few: held inline, so
    /// an attempt of one SYN allocates nothing for them).
    pub frames: Frames,
    /// Who sent the RST or the segment at fault: client or server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<&'static str>,
    /// The handshake's state when it came: syn-sent, syn-received, established.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp: Option<IcmpDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// The number a crafted segment should have carried, what it carried,
    /// and the ISN the first derives from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub got: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<u32>,
    /// The header found inside a payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stacked: Option<Stacked>,
    /// The signs a SYN cookie was seen by.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signs: Vec<&'static str>,
    /// The SYN-ACK's TSval (syn-cookie).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tsval: Option<u32>,
    /// Seconds: a retransmission's delay, or how long the capture watched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_s: Option<f64>,
    /// A RST after the handshake whose seq was not RCV.NXT: the receiver's
    /// window in bytes, and where the seq fell (in-window, outside-window);
    /// `expected` is RCV.NXT, `got` the seq.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_test: Option<&'static str>,
}

impl Diagnosis {
    fn new(id: Id, reason: &'static str, confidence: Confidence, frames: Frames) -> Diagnosis {
        Diagnosis {
            id,
            reason,
            confidence,
            frames,
            from: None,
            state: None,
            icmp: None,
            schedule: None,
            expected: None,
            got: None,
            base: None,
            stacked: None,
            signs: Vec::new(),
            tsval: None,
            after_s: None,
            window: None,
            window_test: None,
        }
    }

    fn nums(mut self, expected: u32, got: u32, base: u32) -> Diagnosis {
        self.expected = Some(expected);
        self.got = Some(got);
        self.base = Some(base);
        self
    }
}

/// What the diagnosis needs beyond the attempt's own fields, gathered as
/// segments pass (constant work and size per attempt).
#[derive(Debug, Clone, Default)]
pub(crate) struct Clues {
    /// The server's first ACK without SYN before any SYN-ACK: frame, ack.
    pub bare_ack: Option<(u64, u32)>,
    /// The client's RST after it: frame, seq.
    pub rst_after_bare_ack: Option<(u64, u32)>,
    /// The first payload that held an IP + TCP header.
    pub stacked: Option<(u64, &'static str, Stacked)>,
    pub icmp: Option<IcmpSeen>,
    /// The client's first ACK while nothing from the server was seen.
    pub blind_ack: Option<u64>,
    /// Segments other than SYNs, SYN-ACKs and RSTs, per direction.
    pub other: [u32; 2],
    /// A client SYN after the first SYN-ACK.
    pub syn_after_synack: Option<u64>,
    /// The first SYN-ACK's TSval.
    pub synack_tsval: Option<u32>,
    /// Capture time when the attempt was handed out.
    pub end_ts: f64,
}

impl Clues {
    /// `seen`: which directions had a segment before this one.
    pub(crate) fn note(&mut self, s: &Seg, from_client: bool, seen: [bool; 2], no_synack: bool) {
        let f = s.flags;
        if let Some(st) = s.stacked
            && self.stacked.is_none()
        {
            let who = if from_client { "client" } else { "server" };
            self.stacked = Some((s.frame, who, st));
        }
        let plain_ack = f.ack() && !f.syn() && !f.rst();
        if !from_client && plain_ack && no_synack && self.bare_ack.is_none() {
            self.bare_ack = Some((s.frame, s.ack.get()));
        }
        if from_client && f.rst() && self.bare_ack.is_some() && self.rst_after_bare_ack.is_none() {
            self.rst_after_bare_ack = Some((s.frame, s.seq.get()));
        }
        if from_client && plain_ack && !seen[1] && self.blind_ack.is_none() {
            self.blind_ack = Some(s.frame);
        }
        if !f.syn()
            && !f.rst()
            && let Some(n) = self.other.get_mut(usize::from(!from_client))
        {
            *n = n.saturating_add(1);
        }
        if from_client && f.syn() && !f.ack() && !no_synack && self.syn_after_synack.is_none() {
            self.syn_after_synack = Some(s.frame);
        }
    }
}

/// The most specific cause the capture supports; `None` for a plain
/// success. An attempt handed out early (evicted) is at most `possible`.
pub(crate) fn diagnose(a: &Attempt) -> Option<Diagnosis> {
    let causes: [fn(&Attempt) -> Option<Diagnosis>; 11] = [
        stacked_headers,
        challenge_ack,
        ack_instead_of_synack,
        wrong_numbers,
        icmp,
        reset,
        synack_after_ack,
        syn_cookie,
        one_sided,
        half_open,
        no_response,
    ];
    let mut d = causes
        .iter()
        .find_map(|f| f(a))
        .or_else(|| simultaneous_open(a))
        .or_else(|| port_reuse(a))?;
    if a.evicted {
        d.confidence = d.confidence.min(Confidence::Possible);
    }
    Some(d)
}

fn stacked_headers(a: &Attempt) -> Option<Diagnosis> {
    let (frame, who, st) = a.clues.stacked?;
    let mut d = Diagnosis::new(
        Id::CraftedMistake,
        "stacked-headers",
        Confidence::Likely,
        smallvec::smallvec![frame],
    );
    d.from = Some(who);
    d.stacked = Some(st);
    Some(d)
}

/// A bare ACK answering the SYN, reset by the client with seq = its ack,
/// is RFC 5961's challenge ACK: the server still holds a connection on
/// these ports and asks the client to prove the new SYN.
fn challenge_ack(a: &Attempt) -> Option<Diagnosis> {
    let (ack_frame, ack) = a.clues.bare_ack?;
    let (rst_frame, seq) = a.clues.rst_after_bare_ack?;
    (seq == ack).then_some(())?;
    let confidence = if a.port_reuse {
        Confidence::Certain
    } else {
        Confidence::Likely
    };
    let mut d = Diagnosis::new(
        Id::PortReuse,
        "challenge-ack",
        confidence,
        smallvec::smallvec![ack_frame, rst_frame],
    );
    d.got = Some(ack);
    d.from = Some("server");
    Some(d)
}

fn ack_instead_of_synack(a: &Attempt) -> Option<Diagnosis> {
    let (frame, ack) = a.clues.bare_ack?;
    let isn = a.client_isn?;
    let d = Diagnosis::new(
        Id::CraftedMistake,
        "ack-instead-of-synack",
        if ack == isn.wrapping_add(1) {
            Confidence::Likely
        } else {
            Confidence::Possible
        },
        smallvec::smallvec![frame],
    );
    let mut d = d.nums(isn.wrapping_add(1), ack, isn);
    d.from = Some("server");
    Some(d)
}

/// A wrong ack or seq in the SYN-ACK or the third ACK (the checks have the
/// numbers).
fn wrong_numbers(a: &Attempt) -> Option<Diagnosis> {
    let c = a.checks.iter().find(|c| {
        !c.ok
            && matches!(
                c.what,
                What::SynAckAck | What::ThirdAckAck | What::ThirdAckSeq
            )
    })?;
    let (reason, from) = match c.what {
        What::SynAckAck => ("synack-wrong-ack", "server"),
        What::ThirdAckAck => ("third-ack-wrong-ack", "client"),
        _ => ("third-ack-wrong-seq", "client"),
    };
    let d = Diagnosis::new(
        Id::CraftedMistake,
        reason,
        Confidence::Likely,
        c.frame.into_iter().collect(),
    );
    let mut d = d.nums(c.want?, c.got?, c.base?);
    d.from = Some(from);
    Some(d)
}

/// nmap's reason for an unreachable code (portreasons.cc).
pub fn icmp_reason(r: synack_wire::Unreachable) -> &'static str {
    use synack_wire::Unreachable as U;
    match r {
        U::Net => "net-unreach",
        U::Host => "host-unreach",
        U::Protocol => "proto-unreach",
        U::Port => "port-unreach",
        U::FragmentationNeeded { .. } => "needfrag",
        U::NetProhibited => "net-prohibited",
        U::HostProhibited => "host-prohibited",
        U::AdminProhibited => "admin-prohibited",
        U::Other(_) => "unreach",
    }
}

fn icmp(a: &Attempt) -> Option<Diagnosis> {
    let e = a.clues.icmp?;
    if !a.synack_frames.is_empty() {
        return None;
    }
    let quoted = (Some(e.quoted_seq) == a.client_isn)
        .then(|| a.syn_frames.iter().copied().filter(|f| *f < e.frame).max())
        .flatten();
    let mut frames = smallvec::smallvec![e.frame];
    frames.extend(quoted);
    let mut d = Diagnosis::new(Id::Icmp, icmp_reason(e.reason), Confidence::Certain, frames);
    d.icmp = Some(IcmpDetail {
        kind: if e.v6 { 1 } else { 3 },
        code: e.code,
        name: e.reason.name(),
        router: e.from.to_string(),
        quoted_seq: e.quoted_seq,
        quoted_frame: quoted,
        syns_after: a
            .syn_frames
            .iter()
            .copied()
            .filter(|f| *f > e.frame)
            .collect(),
    });
    Some(d)
}

/// The RST that ended the attempt. Once the handshake completed, only one
/// after its third ACK can have (one before it was ignored, or the
/// handshake could not have gone on); before, the first the client takes.
/// Failing that, a RST the client ignores is all there is (`ignored-reset`:
/// a closed port's stack that got the number wrong, or a forged RST).
fn reset(a: &Attempt) -> Option<Diagnosis> {
    if let Some(ack) = a.ack_frame {
        return reset_established(a, ack);
    }
    let (r, reason, sure) = match a.rst.iter().find(|r| !ignored(a, r.frame)) {
        Some(r) => (r, "reset", Confidence::Certain),
        None => (a.rst.first()?, "ignored-reset", Confidence::Possible),
    };
    let state = match (a.ack_frame, a.synack_frames.first()) {
        (Some(ack), _) if r.frame > ack => "established",
        (_, Some(&sa)) if r.frame > sa => "syn-received",
        _ => "syn-sent",
    };
    let mut d = Diagnosis::new(Id::Reset, reason, sure, smallvec::smallvec![r.frame]);
    d.from = Some(r.from);
    d.state = Some(state);
    Some(d)
}

/// A RST after the third ACK: the first that ended the connection
/// (`Attempt::ends`), certain when its seq was RCV.NXT, likely when it was
/// only in the window; failing that, the first, which its receiver ignored
/// (`ignored-reset`, with the numbers it was judged by).
fn reset_established(a: &Attempt, ack: u64) -> Option<Diagnosis> {
    let mut after = a.rst.iter().filter(|r| r.frame > ack);
    let (r, reason, sure) = match after.clone().find(|r| a.ends(r)) {
        Some(r) if r.verdict.is_none_or(|v| v.taken()) => (r, "reset", Confidence::Certain),
        Some(r) => (r, "reset", Confidence::Likely),
        None => (after.next()?, "ignored-reset", Confidence::Likely),
    };
    let mut frames = smallvec::smallvec![r.frame];
    frames.extend(a.spaces.went_on(r.frame));
    let mut d = Diagnosis::new(Id::Reset, reason, sure, frames);
    d.from = Some(r.from);
    d.state = Some("established");
    let judged =
        (a.checks.iter()).find(|c| c.what == What::EstablishedRst && c.frame == Some(r.frame));
    if let Some(c) = judged.filter(|c| !c.ok) {
        d.expected = c.want;
        d.got = c.got;
        d.window = c.window;
        d.window_test = c.detail;
    }
    Some(d)
}

/// Whether the client ignores the RST of `frame`: one answering its SYN
/// with the wrong ack or none (rule 28's check failed).
fn ignored(a: &Attempt, frame: u64) -> bool {
    a.rst_taken(frame) == Some(false)
}

fn synack_after_ack(a: &Attempt) -> Option<Diagnosis> {
    let ack = a.ack_frame?;
    let again = a.synack_frames.iter().copied().find(|f| *f > ack)?;
    let first = a.synack_frames.first().copied()?;
    let i = a.synack_frames.iter().position(|f| *f == again)?;
    let times = a.synack_times();
    let after = times.get(i).zip(times.first()).map(|(t, t0)| t - t0);
    let mut d = Diagnosis::new(
        Id::SynackLostOrAckDropped,
        "synack-after-ack",
        Confidence::Likely,
        smallvec::smallvec![first, ack, again],
    );
    d.after_s = after;
    Some(d)
}

/// Linux keeps a cookie's options in the low six bits of its TSval
/// (net/ipv4/syncookies.c): the client's window shift (15 for none),
/// SACK, ECN. A per-connection TS offset hides them (tcp_timestamps=1).
fn tsval_encodes_options(a: &Attempt) -> Option<bool> {
    let tsval = a.clues.synack_tsval?;
    let (c, s) = (a.client_options?, a.server_options?);
    let ws = match (c.window_scale, s.window_scale) {
        (Some(w), Some(_)) => u32::from(w.min(14)),
        _ => 0xf,
    };
    let sack = u32::from(c.sack_permitted && s.sack_permitted) << 4;
    let ecn = u32::from(s.ecn) << 5;
    Some(tsval & 0x3f == ws | sack | ecn)
}

/// A SYN cookie keeps no state, so nothing retransmits the SYN-ACK. Seen
/// by that (one SYN, one SYN-ACK, no third ACK, the capture watching on
/// past Linux's 1 s SYN-ACK timer) together with Linux's cookie encoding:
/// the options in the TSval, or, without timestamps, window scale and SACK
/// left out although the SYN offered them.
fn syn_cookie(a: &Attempt) -> Option<Diagnosis> {
    let (&syn, &synack) = (a.syn_frames.first()?, a.synack_frames.first()?);
    let quiet = a.syn_frames.len() == 1
        && a.synack_frames.len() == 1
        && a.ack_frame.is_none()
        && a.rst.is_empty();
    let watched = a.clues.end_ts - a.synack_times().first()?;
    if !quiet || watched < 1.5 {
        return None;
    }
    let (c, s) = (a.client_options?, a.server_options?);
    let mut signs = vec!["no-synack-retransmission"];
    if tsval_encodes_options(a) == Some(true) {
        signs.push("tsval-encodes-options");
    }
    if !c.timestamps
        && (c.window_scale.is_some() || c.sack_permitted)
        && s.window_scale.is_none()
        && !s.sack_permitted
    {
        signs.push("options-dropped");
    }
    let confidence = if signs.len() > 1 {
        Confidence::Likely
    } else {
        Confidence::Possible
    };
    let mut d = Diagnosis::new(
        Id::SynCookie,
        signs[signs.len() - 1],
        confidence,
        smallvec::smallvec![syn, synack],
    );
    d.tsval = a.clues.synack_tsval;
    d.signs = signs;
    d.after_s = Some(watched);
    Some(d)
}

fn one_sided(a: &Attempt) -> Option<Diagnosis> {
    if a.outcome != Outcome::OneSided {
        return None;
    }
    let (frame, from) = match a.clues.blind_ack {
        Some(f) => (f, "client"),
        None => (*a.synack_frames.first()?, "server"),
    };
    let mut d = Diagnosis::new(
        Id::OneSidedCapture,
        "one-direction",
        Confidence::Likely,
        smallvec::smallvec![frame],
    );
    d.from = Some(from);
    Some(d)
}

fn half_open(a: &Attempt) -> Option<Diagnosis> {
    if a.outcome != Outcome::HalfOpen {
        return None;
    }
    let synack = *a.synack_frames.first()?;
    let watched = a.clues.end_ts - a.synack_times().last()?;
    let (reason, frames) = if let Some(syn) = a.clues.syn_after_synack {
        ("synack-not-delivered", smallvec::smallvec![synack, syn])
    } else if a.synack_frames.len() > a.syn_frames.len() {
        ("client-silent", Frames::from_slice(&a.synack_frames))
    } else {
        ("no-third-ack", smallvec::smallvec![synack])
    };
    let mut d = Diagnosis::new(Id::HalfOpen, reason, Confidence::Certain, frames);
    d.after_s = Some(watched);
    Some(d)
}

/// Linux ≥ 6.5 spaces its first SYN retries 1 s apart
/// (tcp_syn_linear_timeouts), then doubles; older Linux and RFC 6298
/// stacks double from 1 s; Windows starts at 3 s.
fn schedule_shape(gaps: &[f64]) -> &'static str {
    let near = |x: f64, want: f64| (x - want).abs() <= want * 0.25;
    let Some(&first) = gaps.first() else {
        return "single-syn";
    };
    let doubling_from = |start: f64| {
        gaps.iter()
            .enumerate()
            .all(|(i, g)| near(*g, start * f64::from(1u32 << i.min(20))))
    };
    let linear_then_doubling = {
        let run = gaps.iter().take_while(|g| near(**g, 1.0)).count();
        run >= 2
            && gaps
                .iter()
                .skip(run)
                .enumerate()
                .all(|(i, g)| near(*g, f64::from(1u32 << (i + 1).min(20))))
    };
    if gaps.len() == 1 && near(first, 1.0) {
        "rto-1s"
    } else if linear_then_doubling {
        "linux"
    } else if near(first, 1.0) && doubling_from(1.0) {
        "doubling-1s"
    } else if near(first, 3.0) && doubling_from(3.0) {
        "windows"
    } else {
        "other"
    }
}

fn no_response(a: &Attempt) -> Option<Diagnosis> {
    if a.outcome != Outcome::NoAnswer || a.syn_frames.is_empty() {
        return None;
    }
    let gaps = a.syn_retransmission_intervals_s.clone();
    let last_syn = a.syn_times().last().unwrap_or(a.start_time);
    let mut d = Diagnosis::new(
        Id::NoResponse,
        "no-response",
        Confidence::Certain,
        Frames::from_slice(&a.syn_frames),
    );
    d.schedule = Some(Schedule {
        syns: a.syn_frames.len(),
        suggests: schedule_shape(&gaps),
        intervals_s: gaps,
        watched_s: (a.clues.end_ts - last_syn).max(0.0),
    });
    Some(d)
}

fn simultaneous_open(a: &Attempt) -> Option<Diagnosis> {
    a.simultaneous_open.then(|| {
        Diagnosis::new(
            Id::SimultaneousOpen,
            "syn-syn",
            Confidence::Certain,
            a.steps
                .iter()
                .filter(|s| s.flags.contains(TcpFlags::SYN) && !s.flags.contains(TcpFlags::ACK))
                .map(|s| s.frame)
                .take(4)
                .collect(),
        )
    })
}

fn port_reuse(a: &Attempt) -> Option<Diagnosis> {
    a.port_reuse.then(|| {
        Diagnosis::new(
            Id::PortReuse,
            "new-isn",
            Confidence::Certain,
            a.syn_frames.first().copied().into_iter().collect(),
        )
    })
}
