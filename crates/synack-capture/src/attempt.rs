//! One connection attempt: the three steps with their frames, ISNs,
//! options, retransmissions, RSTs and FINs, the checks of each step, and the
//! outcome, including zeek's conn_state and history for those who read them.

use std::net::SocketAddr;

use serde::Serialize;
use synack_wire::{SeqNum, TcpFlags, TcpOptions};

use crate::check::{self, Check, SynSeen, What};
use crate::diagnose::{Clues, Diagnosis};
use crate::window::{Judged, Spaces, Verdict};

/// A TCP segment as captured.
#[derive(Debug, Clone, Copy)]
pub struct Seg {
    pub frame: u64,
    pub ts: f64,
    /// The same time in nanoseconds since the epoch, exact.
    pub ns: i64,
    /// The pcapng interface it was captured on.
    pub iface: u32,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub flags: TcpFlags,
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub window: u16,
    pub payload_len: usize,
    /// The IP packet's length as sent (zeek's ip_bytes).
    pub ip_len: usize,
    /// Read with [`SegOptions::get`]: `None` when they were cut off by the
    /// snap length or malformed.
    pub options: SegOptions,
    /// The TCP checksum is wrong (often checksum offload on the capturing
    /// host, so counted, not fatal). False when it could not be checked.
    pub bad_checksum: bool,
    /// It is wrong the way checksum offload leaves it: the pseudo-header's
    /// sum alone, for the network card to finish after the capture.
    pub checksum_offloaded: bool,
    /// The payload is itself an IP + TCP packet (two packets stacked into
    /// one by a crafting tool).
    pub stacked: Option<Stacked>,
}

/// A segment's TCP options: the bytes as they came, read when asked (few
/// segments' are: the SYN, the SYN-ACK and the ACK after it; reading every
/// data segment's wrote 120 bytes of it per frame), or already read.
#[derive(Debug, Clone, Copy)]
pub enum SegOptions {
    Raw {
        len: u8,
        bytes: [u8; synack_wire::options::MAX_OPTIONS_LEN],
    },
    Read(Option<TcpOptions>),
}

impl SegOptions {
    /// The option bytes of a header (more than a header holds are
    /// malformed).
    #[inline]
    pub fn raw(b: &[u8]) -> SegOptions {
        let mut bytes = [0; synack_wire::options::MAX_OPTIONS_LEN];
        match (bytes.get_mut(..b.len()), u8::try_from(b.len())) {
            (Some(to), Ok(len)) => {
                to.copy_from_slice(b);
                SegOptions::Raw { len, bytes }
            }
            _ => SegOptions::Read(None),
        }
    }

    /// The options; `None` when malformed (or cut off).
    #[inline(always)]
    pub fn get(&self) -> Option<TcpOptions> {
        match self {
            SegOptions::Raw { len, bytes } => {
                TcpOptions::parse(bytes.get(..usize::from(*len))?).ok()
            }
            SegOptions::Read(o) => *o,
        }
    }
}

impl From<Option<TcpOptions>> for SegOptions {
    fn from(o: Option<TcpOptions>) -> SegOptions {
        SegOptions::Read(o)
    }
}

/// The IP + TCP header found inside a segment's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stacked {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// tcpdump's flag letters.
    #[serde(serialize_with = "tcpdump_letters")]
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
}

/// An ICMP or ICMPv6 destination unreachable quoting a TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct IcmpSeen {
    pub frame: u64,
    pub ts: f64,
    /// Who sent the error (a router, a firewall, the host itself).
    pub from: std::net::IpAddr,
    pub v6: bool,
    pub code: u8,
    pub reason: synack_wire::Unreachable,
    /// The quoted segment's source and destination.
    pub quoted_src: SocketAddr,
    pub quoted_dst: SocketAddr,
    pub quoted_seq: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Handshake complete (the third ACK was seen), not closed in the capture.
    Established,
    /// Closed with FINs both ways after the handshake.
    Closed,
    /// Reset after the handshake completed.
    ResetAfterEstablishment,
    /// A RST during the handshake (after the SYN-ACK, or from the client).
    ResetDuringHandshake,
    /// The SYN was answered by a RST: nothing listens.
    Refused,
    /// SYN(s) without any answer: filtered, or the host is down.
    NoAnswer,
    /// SYN-ACK seen but the third ACK never was.
    HalfOpen,
    /// Both sides sent SYNs (RFC 9293 Fig. 7).
    SimultaneousOpen,
    /// The SYN was answered by an ICMP destination unreachable.
    Unreachable,
    /// Only one direction was captured: the other side evidently answered.
    OneSided,
}

impl Outcome {
    pub const ALL: [Outcome; 10] = [
        Outcome::Established,
        Outcome::Closed,
        Outcome::ResetAfterEstablishment,
        Outcome::ResetDuringHandshake,
        Outcome::Refused,
        Outcome::NoAnswer,
        Outcome::HalfOpen,
        Outcome::SimultaneousOpen,
        Outcome::Unreachable,
        Outcome::OneSided,
    ];

    /// The name used in JSON and in `--filter outcome=`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Established => "established",
            Outcome::Closed => "closed",
            Outcome::ResetAfterEstablishment => "reset_after_establishment",
            Outcome::ResetDuringHandshake => "reset_during_handshake",
            Outcome::Refused => "refused",
            Outcome::NoAnswer => "no_answer",
            Outcome::HalfOpen => "half_open",
            Outcome::SimultaneousOpen => "simultaneous_open",
            Outcome::Unreachable => "unreachable",
            Outcome::OneSided => "one_sided",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Rst {
    pub frame: u64,
    pub from: &'static str,
    /// After the handshake: how its receiver treats it (see
    /// [`crate::window`]); `None` before, or while the numbers are unknown.
    #[serde(skip)]
    pub(crate) verdict: Option<Verdict>,
}

/// The options of a SYN or SYN-ACK.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct SideOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub window_multiplier: Option<u32>,
    pub sack_permitted: bool,
    pub timestamps: bool,
    /// A Fast Open option (a cookie request or a cookie).
    pub fast_open: bool,
    pub fast_open_request: bool,
    pub fast_open_cookie: bool,
    /// ECE and CWR on the SYN, ECE on the SYN-ACK.
    pub ecn: bool,
    /// The AE bit of Accurate ECN.
    pub accecn: bool,
    pub window: u16,
    /// Bytes of data on the SYN or SYN-ACK.
    pub data: usize,
}

/// What the two SYNs agreed on.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Negotiated {
    /// The smaller of the two MSS values (536 stands in for a missing one).
    pub mss: u16,
    pub window_scaling: bool,
    /// Shifts applied to each side's window once scaling is on.
    pub client_window_shift: Option<u8>,
    pub server_window_shift: Option<u8>,
    pub sack: bool,
    pub timestamps: bool,
    pub ecn: bool,
    /// none, cookie_requested, cookie_issued, data_accepted, data_not_accepted.
    pub fast_open: &'static str,
}

/// One step of the handshake as seen (SYN, SYN-ACK, third ACK, RST, their
/// repeats), kept for the verbose report.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub frame: u64,
    /// Seconds since the attempt's first frame.
    pub t: f64,
    pub from: &'static str,
    /// tcpdump's flag letters.
    #[serde(serialize_with = "tcpdump_letters")]
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    pub len: usize,
    pub window: u16,
}

/// A difference of exact times, in seconds: an f64 made from whole
/// nanoseconds prints as the capture's decimal (0.127609669), where a
/// difference of f64 epoch seconds would not.
pub(crate) fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// An address as text in JSON (`10.0.0.1:80`, `[2001:db8::1]:80`).
pub fn display<S: serde::Serializer>(a: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(a)
}

fn tcpdump_letters<S: serde::Serializer>(f: &TcpFlags, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&f.tcpdump())
}

/// What makes two segments copies: seq, ack, flags, length; and the time
/// (ns) and interface they were captured at.
type SegSig = (u32, u32, u16, usize, i64, u32);

/// A segment stamped before one the attempt saw earlier in the file: the
/// capture's times go backward there (captures merged from hosts whose
/// clocks differ, a clock stepped while capturing, frames stamped on other
/// CPUs or interfaces), so a time across it is no duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClockBack {
    /// The first frame of the attempt stamped early.
    pub frame: u64,
    /// The attempt's frame with the latest time before it.
    pub latest_frame: u64,
    /// How much earlier than that one it is stamped, in nanoseconds.
    pub by_ns: i64,
}

/// Steps kept per attempt; a flood on one 4-tuple must not grow memory.
const MAX_STEPS: usize = 16;

/// Checks of RSTs after the handshake kept per attempt, for the same reason.
const MAX_RST_CHECKS: usize = 8;

/// RSTs listed per attempt, besides the few that could change what the
/// list says (see `Attempt::lists`).
const MAX_RSTS: usize = 16;

/// One connection attempt (a SYN, or a SYN-ACK whose SYN was not captured).
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    #[serde(serialize_with = "display")]
    pub client: SocketAddr,
    #[serde(serialize_with = "display")]
    pub server: SocketAddr,
    pub ip_version: u8,
    pub first_frame: u64,
    /// tshark's `tcp.stream` index of this conversation (`None` once the
    /// capture had more conversations than synack remembers; see
    /// docs/analyze-json.md).
    pub tcp_stream: Option<u64>,
    /// The overlay network its segments were carried in (the innermost
    /// VXLAN or Geneve tunnel around them, with its id); `None` for
    /// segments in no such tunnel.
    pub network: Option<crate::beneath::Network>,
    /// Seconds since the Unix epoch of the first frame.
    pub start_time: f64,
    /// The same, exact: nanoseconds since the Unix epoch.
    pub start_time_ns: i64,
    /// The last frame's time, in nanoseconds since the Unix epoch.
    pub end_time_ns: i64,
    /// Where its times first go backward; once they have, no RTT ending
    /// at or after that frame is given.
    pub clock_back: Option<ClockBack>,
    /// The frame stamped `end_time_ns`.
    #[serde(skip)]
    latest_frame: u64,
    pub outcome: Outcome,
    pub syn_frames: Vec<u64>,
    pub synack_frames: Vec<u64>,
    pub ack_frame: Option<u64>,
    pub client_isn: Option<u32>,
    pub server_isn: Option<u32>,
    pub syn_retransmissions: usize,
    pub synack_retransmissions: usize,
    /// Seconds between consecutive SYNs, then SYN-ACKs, with the same ISN.
    pub syn_retransmission_intervals_s: Vec<f64>,
    pub synack_retransmission_intervals_s: Vec<f64>,
    /// The most recent SYN → the third ACK (tshark's iRTT, except that
    /// tshark ends it at the first pure ACK in either direction).
    pub handshake_rtt_s: Option<f64>,
    /// Last SYN before the first SYN-ACK → that SYN-ACK (client side).
    pub syn_to_synack_s: Option<f64>,
    /// First SYN-ACK → third ACK (server side).
    pub synack_to_ack_s: Option<f64>,
    /// Last SYN → the server's RST refusing it.
    pub syn_to_rst_s: Option<f64>,
    /// The first `MAX_RSTS` (16) RSTs, and after them any that could
    /// change what they say (docs/analyze-json.md).
    pub rst: Vec<Rst>,
    /// Every RST seen, listed or not.
    pub rst_seen: u64,
    pub client_options: Option<SideOptions>,
    pub server_options: Option<SideOptions>,
    pub negotiated: Option<Negotiated>,
    pub simultaneous_open: bool,
    /// A SYN with a new ISN on a 4-tuple that had an attempt before.
    pub port_reuse: bool,
    /// Segments with a wrong TCP checksum.
    pub bad_checksums: u64,
    /// Of those, the ones whose checksum is the pseudo-header's sum alone:
    /// checksum offload on the capturing host, not damage on the wire.
    pub offloaded_checksums: u64,
    /// Segments seen twice within a millisecond on the same interface.
    pub duplicates: u64,
    /// Segments seen again on another interface within a millisecond (a
    /// router capturing both sides): copies, left out of everything else.
    pub copies: u64,
    /// Per direction (client, server): segments, payload bytes, IP bytes
    /// (zeek's orig_pkts/resp_pkts, the bytes seen, orig_ip_bytes/resp_ip_bytes).
    pub packets: [u64; 2],
    pub payload_bytes: [u64; 2],
    pub ip_bytes: [u64; 2],
    pub conn_state: &'static str,
    pub history: String,
    /// Handed out before it was over, because more attempts were held at
    /// once than the tracker's limit (zeek's "evicted").
    pub evicted: bool,
    pub checks: Vec<Check>,
    /// Why it failed, or what is odd about it; `None` for a plain success.
    pub diagnosis: Option<Box<Diagnosis>>,
    pub steps: Vec<Step>,
    /// What the diagnosis is made from (see [`crate::diagnose`]).
    #[serde(skip)]
    pub(crate) clues: Clues,
    #[serde(skip)]
    pub(crate) last_ts: f64,
    #[serde(skip)]
    syn: Option<SynSeen>,
    #[serde(skip)]
    synack_ack: Option<u32>,
    #[serde(skip)]
    syn_times: Vec<i64>,
    #[serde(skip)]
    synack_times: Vec<i64>,
    #[serde(skip)]
    last_syn_ts: Option<i64>,
    #[serde(skip)]
    first_synack_ts: Option<i64>,
    /// The most recent SYN: the handshake that completed started there.
    #[serde(skip)]
    mru_syn_ts: Option<i64>,
    #[serde(skip)]
    third_checked: bool,
    #[serde(skip)]
    pub(crate) fin: [bool; 2],
    /// Each side's sequence space, for judging RSTs after the handshake.
    #[serde(skip)]
    pub(crate) spaces: Spaces,
    #[serde(skip)]
    seen: [bool; 2],
    /// Per direction: (seq, ack, flags, len, time) of the last segment.
    #[serde(skip)]
    last_seg: [[Option<SegSig>; 2]; 2],
    #[serde(skip)]
    letters: Vec<Letter>,
    /// Letters without a sequence number logged already (see `letter`).
    #[serde(skip)]
    once: u8,
    /// The box of an earlier attempt's diagnosis, for this one's (see
    /// [`Attempt::reset`]).
    #[serde(skip)]
    spare_diagnosis: Spare,
}

/// A box kept for reuse: a clone of the attempt does not carry it, and
/// it is no part of what the attempt says (its `Debug` shows nothing).
#[derive(Default)]
struct Spare(Option<Box<Diagnosis>>);

impl std::fmt::Debug for Spare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spare")
    }
}

impl Clone for Spare {
    fn clone(&self) -> Spare {
        Spare(None)
    }
}

/// One history letter so far: its last sequence number and how many times
/// it came with a new one.
#[derive(Debug, Clone, Copy)]
struct Letter {
    c: char,
    seq: Option<u32>,
    count: u64,
}

/// Repeats of a letter logged one by one, then only at 100, 1000, …: the
/// history stays short whatever the capture holds.
const LINEAR_REPEATS: u64 = 10;

fn logged(count: u64) -> bool {
    let mut n = count;
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    count <= LINEAR_REPEATS || n == 1
}

/// The bit of `Attempt::once` that says a letter without a sequence number
/// was written (0 for the letters that repeat).
#[inline(always)]
fn once_bit(c: char) -> u8 {
    match c {
        'D' => 1,
        'd' => 2,
        'A' => 4,
        'a' => 8,
        'C' => 16,
        'c' => 32,
        _ => 0,
    }
}

fn side_options(s: &Seg) -> Option<SideOptions> {
    let o = s.options.get()?;
    let tfo = o.fast_open;
    Some(SideOptions {
        mss: o.mss,
        window_scale: o.window_scale,
        window_multiplier: o.window_scale.map(|w| 1u32 << w.min(14)),
        sack_permitted: o.sack_permitted,
        timestamps: o.timestamps.is_some(),
        fast_open: tfo.is_some(),
        fast_open_request: tfo.is_some_and(|c| c.is_request()),
        fast_open_cookie: tfo.is_some_and(|c| !c.is_request()),
        ecn: if s.flags.contains(TcpFlags::ACK) {
            s.flags.contains(TcpFlags::ECE)
        } else {
            s.flags.contains(TcpFlags::ECE | TcpFlags::CWR)
        },
        accecn: s.flags.contains(TcpFlags::AE),
        window: s.window,
        data: s.payload_len,
    })
}

impl Attempt {
    pub(crate) fn new(client: SocketAddr, server: SocketAddr, s: &Seg) -> Attempt {
        Attempt {
            client,
            server,
            ip_version: if client.is_ipv4() { 4 } else { 6 },
            first_frame: s.frame,
            tcp_stream: None,
            network: None,
            start_time: s.ts,
            start_time_ns: s.ns,
            end_time_ns: s.ns,
            clock_back: None,
            latest_frame: s.frame,
            outcome: Outcome::NoAnswer,
            syn_frames: Vec::new(),
            synack_frames: Vec::new(),
            ack_frame: None,
            client_isn: None,
            server_isn: None,
            syn_retransmissions: 0,
            synack_retransmissions: 0,
            syn_retransmission_intervals_s: Vec::new(),
            synack_retransmission_intervals_s: Vec::new(),
            handshake_rtt_s: None,
            syn_to_synack_s: None,
            synack_to_ack_s: None,
            syn_to_rst_s: None,
            rst: Vec::new(),
            rst_seen: 0,
            client_options: None,
            server_options: None,
            negotiated: None,
            simultaneous_open: false,
            port_reuse: false,
            bad_checksums: 0,
            offloaded_checksums: 0,
            duplicates: 0,
            copies: 0,
            packets: [0, 0],
            payload_bytes: [0, 0],
            ip_bytes: [0, 0],
            conn_state: "",
            history: String::new(),
            evicted: false,
            checks: Vec::new(),
            diagnosis: None,
            steps: Vec::new(),
            clues: Clues::default(),
            last_ts: s.ts,
            syn: None,
            synack_ack: None,
            syn_times: Vec::new(),
            synack_times: Vec::new(),
            last_syn_ts: None,
            first_synack_ts: None,
            mru_syn_ts: None,
            third_checked: false,
            fin: [false, false],
            spaces: Spaces::default(),
            seen: [false, false],
            last_seg: [[None, None], [None, None]],
            letters: Vec::new(),
            once: 0,
            spare_diagnosis: Spare::default(),
        }
    }

    /// Begin again as [`Attempt::new`] would, keeping the buffers this one
    /// grew: an attempt handed out and forgotten is made again in place,
    /// with no allocation once the buffers are warm. Field by field, not by
    /// building a new one and moving it over this one (1.3 KB copied for
    /// every attempt of a scan); the pattern names every field, so one
    /// added to [`Attempt`] does not compile until it is reset here too,
    /// and `reset_is_new` checks the values agree with `new`'s.
    pub(crate) fn reset(&mut self, client: SocketAddr, server: SocketAddr, s: &Seg) {
        let Attempt {
            client: c,
            server: srv,
            ip_version,
            first_frame,
            tcp_stream,
            network,
            start_time,
            start_time_ns,
            end_time_ns,
            clock_back,
            latest_frame,
            outcome,
            syn_frames,
            synack_frames,
            ack_frame,
            client_isn,
            server_isn,
            syn_retransmissions,
            synack_retransmissions,
            syn_retransmission_intervals_s,
            synack_retransmission_intervals_s,
            handshake_rtt_s,
            syn_to_synack_s,
            synack_to_ack_s,
            syn_to_rst_s,
            rst,
            rst_seen,
            client_options,
            server_options,
            negotiated,
            simultaneous_open,
            port_reuse,
            bad_checksums,
            offloaded_checksums,
            duplicates,
            copies,
            packets,
            payload_bytes,
            ip_bytes,
            conn_state,
            history,
            evicted,
            checks,
            diagnosis,
            steps,
            clues,
            last_ts,
            syn,
            synack_ack,
            syn_times,
            synack_times,
            last_syn_ts,
            first_synack_ts,
            mru_syn_ts,
            third_checked,
            fin,
            spaces,
            seen,
            last_seg,
            letters,
            once,
            spare_diagnosis,
        } = self;
        *c = client;
        *srv = server;
        *ip_version = if client.is_ipv4() { 4 } else { 6 };
        *first_frame = s.frame;
        *tcp_stream = None;
        *network = None;
        *start_time = s.ts;
        *start_time_ns = s.ns;
        *end_time_ns = s.ns;
        *clock_back = None;
        *latest_frame = s.frame;
        *outcome = Outcome::NoAnswer;
        syn_frames.clear();
        synack_frames.clear();
        *ack_frame = None;
        *client_isn = None;
        *server_isn = None;
        *syn_retransmissions = 0;
        *synack_retransmissions = 0;
        syn_retransmission_intervals_s.clear();
        synack_retransmission_intervals_s.clear();
        *handshake_rtt_s = None;
        *syn_to_synack_s = None;
        *synack_to_ack_s = None;
        *syn_to_rst_s = None;
        rst.clear();
        *rst_seen = 0;
        *client_options = None;
        *server_options = None;
        *negotiated = None;
        *simultaneous_open = false;
        *port_reuse = false;
        *bad_checksums = 0;
        *offloaded_checksums = 0;
        *duplicates = 0;
        *copies = 0;
        *packets = [0, 0];
        *payload_bytes = [0, 0];
        *ip_bytes = [0, 0];
        *conn_state = "";
        history.clear();
        *evicted = false;
        checks.clear();
        if let Some(d) = diagnosis.take() {
            spare_diagnosis.0 = Some(d);
        }
        steps.clear();
        *clues = Clues::default();
        *last_ts = s.ts;
        *syn = None;
        *synack_ack = None;
        syn_times.clear();
        synack_times.clear();
        *last_syn_ts = None;
        *first_synack_ts = None;
        *mru_syn_ts = None;
        *third_checked = false;
        *fin = [false, false];
        *spaces = Spaces::default();
        *seen = [false, false];
        *last_seg = [[None, None], [None, None]];
        letters.clear();
        *once = 0;
    }

    /// A letter without a sequence number (`a`, `d`, `c`): it appears once,
    /// and after that a bit says so, checked here, inlined, since every data
    /// segment asks for `d` or `a`.
    #[inline(always)]
    fn letter_once(&mut self, from_client: bool, l: char) {
        let c = if from_client {
            l.to_ascii_uppercase()
        } else {
            l
        };
        if self.once & once_bit(c) == 0 {
            self.letter(from_client, l, None);
        }
    }

    /// zeek's history letters: upper case from the originator; s, h, f, r
    /// repeat only with a new sequence number (one by one up to ten
    /// repeats, then at 100, 1000, …), a and d appear once a side. Constant
    /// work per segment: at most a dozen letters exist.
    fn letter(&mut self, from_client: bool, l: char, seq: Option<u32>) {
        let c = if from_client {
            l.to_ascii_uppercase()
        } else {
            l
        };
        // A letter without a sequence number comes through `letter_once`,
        // which has checked its bit.
        let bit = once_bit(c);
        match self.letters.iter_mut().find(|x| x.c == c) {
            None => {
                self.letters.push(Letter { c, seq, count: 1 });
                if seq.is_none() {
                    self.once |= bit;
                }
            }
            Some(x) if seq.is_some() && x.seq != seq => {
                x.seq = seq;
                x.count += 1;
                if !logged(x.count) {
                    return;
                }
            }
            Some(_) => return,
        }
        self.history.push(c);
    }

    fn step(&mut self, s: &Seg, from_client: bool) {
        if self.steps.len() < MAX_STEPS {
            self.steps.push(Step {
                frame: s.frame,
                t: secs(s.ns.saturating_sub(self.start_time_ns)),
                from: if from_client { "client" } else { "server" },
                flags: s.flags,
                seq: s.seq.get(),
                ack: s.ack.get(),
                len: s.payload_len,
                window: s.window,
            });
        }
    }

    /// Whether the segment repeats one of the last two in its direction
    /// within 1 ms: `Some(true)` when that one was captured on another
    /// interface (a router or a bridge seeing each segment twice: a copy,
    /// pure ACKs too, in either order), `Some(false)` on the same one (a
    /// duplicate; pure ACKs left out, duplicate ACKs are the receiver's
    /// doing).
    fn repeats(&mut self, s: &Seg, dir: usize) -> Option<bool> {
        let sig = (s.seq.get(), s.ack.get(), s.flags.0, s.payload_len);
        let slots = self.last_seg.get_mut(dir)?;
        let near = |p: &SegSig| (p.0, p.1, p.2, p.3) == sig && s.ns.abs_diff(p.4) < 1_000_000;
        let found = slots
            .iter()
            .flatten()
            .find(|p| near(p))
            .map(|p| p.5 != s.iface);
        slots[1] = slots[0];
        slots[0] = Some((sig.0, sig.1, sig.2, sig.3, s.ns, s.iface));
        let pure_ack = s.payload_len == 0 && s.flags.0 & 0x7 == 0;
        match found {
            Some(true) => Some(true),
            Some(false) if !pure_ack => Some(false),
            _ => None,
        }
    }

    /// Seconds from `from` to `to` (ns), unless the attempt's times went
    /// backward by then: a difference across that is no duration.
    fn interval(&self, from: Option<i64>, to: i64) -> Option<f64> {
        from.filter(|_| self.clock_back.is_none())
            .map(|t| secs(to.saturating_sub(t)))
    }

    pub(crate) fn add(&mut self, s: &Seg) {
        let from_client = s.src == self.client;
        let dir = usize::from(!from_client);
        self.last_ts = self.last_ts.max(s.ts);
        let latest = (self.end_time_ns, self.latest_frame);
        if s.ns >= latest.0 {
            (self.end_time_ns, self.latest_frame) = (s.ns, s.frame);
        }
        match self.repeats(s, dir) {
            // The same segment seen again elsewhere: nothing new happened
            // (a copy may be stamped a little before the original).
            Some(true) => {
                self.copies += 1;
                return;
            }
            Some(false) => self.duplicates += 1,
            None => {}
        }
        if s.ns < latest.0 && self.clock_back.is_none() {
            self.clock_back = Some(ClockBack {
                frame: s.frame,
                latest_frame: latest.1,
                by_ns: latest.0.saturating_sub(s.ns),
            });
        }
        if let (Some(p), Some(b), Some(i)) = (
            self.packets.get_mut(dir),
            self.payload_bytes.get_mut(dir),
            self.ip_bytes.get_mut(dir),
        ) {
            *p += 1;
            *b += s.payload_len as u64;
            *i += s.ip_len as u64;
        }
        self.clues
            .note(s, from_client, self.seen, self.synack_frames.is_empty());
        self.seen[dir] = true;
        let f = s.flags;
        let seq = s.seq.get();
        if s.bad_checksum {
            self.bad_checksums += 1;
            self.offloaded_checksums += u64::from(s.checksum_offloaded);
            self.letter_once(from_client, 'c');
        }
        if f.syn() && !f.ack() {
            self.on_syn(s, from_client);
        } else if f.syn() && f.ack() {
            self.on_synack(s, from_client);
        }
        if f.rst() {
            self.on_rst(s, from_client);
        }
        self.spaces.note(dir, s);
        if f.fin() {
            self.fin[dir] = true;
            self.letter(from_client, 'f', Some(seq));
        }
        if s.payload_len > 0 {
            self.letter_once(from_client, 'd');
        } else if f.ack() && !f.syn() && !f.rst() && !f.fin() {
            self.letter_once(from_client, 'a');
        }
        if from_client && f.ack() && !f.syn() && !f.rst() {
            self.on_client_ack(s);
        }
    }

    fn on_syn(&mut self, s: &Seg, from_client: bool) {
        let seq = s.seq.get();
        if from_client {
            self.syn_frames.push(s.frame);
            if self.client_isn.is_none() {
                self.client_isn = Some(seq);
                self.client_options = side_options(s);
                self.syn = Some(SynSeen {
                    isn: seq,
                    len: s.payload_len as u32,
                    flags: s.flags,
                    opts: self.client_options,
                });
                check::syn(
                    s.frame,
                    s.flags,
                    self.client_options.as_ref(),
                    &mut self.checks,
                );
            } else if self.client_isn == Some(seq) {
                // Also after a SYN-ACK: that one may have been lost.
                self.syn_retransmissions += 1;
                if let Some(&prev) = self.syn_times.last() {
                    self.syn_retransmission_intervals_s
                        .push(secs(s.ns.saturating_sub(prev)));
                }
            }
            self.syn_times.push(s.ns);
            if self.first_synack_ts.is_none() {
                self.last_syn_ts = Some(s.ns);
            }
            if self.ack_frame.is_none() {
                self.mru_syn_ts = Some(s.ns);
                self.step(s, true);
            }
        } else {
            self.simultaneous_open = true;
            self.step(s, false);
        }
        self.letter(from_client, 's', Some(seq));
    }

    fn on_synack(&mut self, s: &Seg, from_client: bool) {
        let seq = s.seq.get();
        if from_client {
            self.simultaneous_open = true;
        } else {
            self.synack_frames.push(s.frame);
            match self.server_isn {
                None => {
                    self.server_isn = Some(seq);
                    self.server_options = side_options(s);
                    self.first_synack_ts = Some(s.ns);
                    self.syn_to_synack_s = self.interval(self.last_syn_ts, s.ns);
                    self.synack_ack = Some(s.ack.get());
                    self.clues.synack_tsval =
                        s.options.get().and_then(|o| o.timestamps).map(|t| t.0);
                    if let Some(syn) = self.syn {
                        check::synack(
                            s.frame,
                            s.flags,
                            s.ack.get(),
                            self.server_options.as_ref(),
                            &syn,
                            &mut self.checks,
                        );
                    }
                }
                Some(isn) if isn == seq => {
                    self.synack_retransmissions += 1;
                    if let Some(&prev) = self.synack_times.last() {
                        self.synack_retransmission_intervals_s
                            .push(secs(s.ns.saturating_sub(prev)));
                    }
                }
                Some(_) => {}
            }
            self.synack_times.push(s.ns);
        }
        if self.ack_frame.is_none() {
            self.step(s, from_client);
        }
        self.letter(from_client, 'h', Some(seq));
    }

    /// How far side `client`'s windows are shifted: scaling holds once both
    /// SYNs offered it (RFC 7323; never on a SYN, which `Spaces` knows).
    fn shift(&self, client: bool) -> u8 {
        let ws = |o: Option<SideOptions>| o.and_then(|o| o.window_scale);
        match (ws(self.client_options), ws(self.server_options)) {
            (Some(c), Some(s)) => {
                if client {
                    c
                } else {
                    s
                }
            }
            _ => 0,
        }
    }

    fn on_rst(&mut self, s: &Seg, from_client: bool) {
        self.rst_seen += 1;
        self.letter(from_client, 'r', Some(s.seq.get()));
        let judged = self.ack_frame.and_then(|_| self.judge_rst(s, from_client));
        let rst = Rst {
            frame: s.frame,
            from: if from_client { "client" } else { "server" },
            verdict: judged.map(|j| j.verdict),
        };
        if !self.lists(&rst, s) {
            return;
        }
        self.rst.push(rst);
        if let Some(j) = judged {
            let checked = || {
                self.checks
                    .iter()
                    .filter(|c| c.what == What::EstablishedRst)
            };
            if checked().count() < MAX_RST_CHECKS && !checked().any(|c| c.ok) {
                check::established_rst(s.frame, &j, &mut self.checks);
            }
        }
        if self.ack_frame.is_none() {
            self.step(s, from_client);
            match (from_client, self.server_isn, self.syn) {
                (false, None, Some(syn)) => {
                    check::refused(s.frame, s.flags, s.ack.get(), &syn, &mut self.checks);
                    // The first RST the client takes refused the SYN; one
                    // it ignores stands in until then (and goes if the
                    // attempt was not refused after all: `finish`).
                    let taken = |c: &Check| c.rst_taken() == Some(true);
                    let first_taken = self.checks.last().is_some_and(taken)
                        && self.checks.iter().filter(|c| taken(c)).count() == 1;
                    if first_taken || self.syn_to_rst_s.is_none() {
                        self.syn_to_rst_s = self.interval(self.syn_times.last().copied(), s.ns);
                    }
                }
                (true, Some(_), Some(_)) if !self.third_checked => {
                    let bad = self
                        .checks
                        .iter()
                        .any(|c| matches!(c.what, What::SynAckAck | What::SynDataAcked) && !c.ok);
                    if let Some(a) = self.synack_ack.filter(|_| bad) {
                        check::bad_ack_rst(s.frame, s.seq.get(), a, &mut self.checks);
                        self.third_checked = true;
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether a RST goes on the list (and is checked): the first
    /// `MAX_RSTS`, and after them one that could change what the RSTs
    /// say: the first from its side; before a SYN-ACK, the first the
    /// client takes; after the handshake, the first, the first its
    /// receiver takes, and (a few more at most) one in the window while
    /// no listed one ends it. So a flood on one 4-tuple keeps the list,
    /// and the work each RST does, short.
    fn lists(&self, new: &Rst, s: &Seg) -> bool {
        if self.rst.len() < MAX_RSTS {
            return true;
        }
        let listed = |f: &dyn Fn(&Rst) -> bool| self.rst.iter().any(f);
        if !listed(&|r| r.from == new.from) {
            return true;
        }
        if let Some(ack) = self.ack_frame {
            let after = |r: &Rst| r.frame > ack;
            let taken = |r: &Rst| after(r) && r.verdict.is_some_and(Verdict::taken);
            return !listed(&after)
                || (new.verdict.is_some_and(Verdict::taken) && !listed(&taken))
                || (new.verdict == Some(Verdict::InWindow)
                    && self.rst.len() < MAX_RSTS + 4
                    && !listed(&|r| after(r) && self.ends(r)));
        }
        let refusal = |r: &Rst| self.rst_taken(r.frame) == Some(true);
        match (new.from, self.server_isn, self.syn) {
            ("server", None, Some(syn)) => {
                check::refusal_taken(s.flags, s.ack.get(), &syn) && !listed(&refusal)
            }
            _ => false,
        }
    }

    /// Whether the RST of `frame` is taken by its receiver, as its check
    /// (rule 28 or 31) says; `None` for a RST not checked.
    pub(crate) fn rst_taken(&self, frame: u64) -> Option<bool> {
        (self.checks.iter())
            .filter(|c| c.frame == Some(frame))
            .find_map(Check::rst_taken)
    }

    /// A RST after the handshake, judged as its receiver would (rule 31).
    fn judge_rst(&mut self, s: &Seg, from_client: bool) -> Option<Judged> {
        let dir = usize::from(!from_client);
        // The receiver's window is what the seq is judged against.
        let j = self.spaces.judge(dir, s.seq, self.shift(!from_client))?;
        if !j.verdict.taken() {
            self.spaces.not_taken(dir, s.frame);
        }
        Some(j)
    }

    /// Whether a RST after the handshake ended the connection: its receiver
    /// takes it, or it was in the window and the receiver was not seen to
    /// go on after it (a challenge ACK, or anything but a RST or SYN), as
    /// a stack older than RFC 5961 takes it. Unjudged, it counts.
    pub(crate) fn ends(&self, r: &Rst) -> bool {
        let receiver = usize::from(r.from == "client");
        match r.verdict {
            None | Some(Verdict::Exact | Verdict::FinSeq) => true,
            Some(Verdict::InWindow) => !self.spaces.went_on_after(receiver, r.frame),
            Some(Verdict::Outside) => false,
        }
    }

    /// The third step: the client's first ACK after the SYN-ACK is checked;
    /// the first one acknowledging the server's ISN completes the handshake.
    fn on_client_ack(&mut self, s: &Seg) {
        let Some(isn) = self.server_isn else { return };
        if !self.third_checked {
            self.third_checked = true;
            let both_ts = self.client_options.is_some_and(|o| o.timestamps)
                && self.server_options.is_some_and(|o| o.timestamps);
            let good_synack = self.synack_ack.filter(|_| {
                self.checks
                    .iter()
                    .all(|c| c.what != What::SynAckAck || c.ok)
            });
            check::third_ack(
                s.frame,
                s.seq.get(),
                s.ack.get(),
                s.options.get().map(|o| o.timestamps.is_some()),
                isn,
                good_synack,
                both_ts,
                &mut self.checks,
            );
        }
        if self.ack_frame.is_none() && s.ack.get() == isn.wrapping_add(1) {
            self.ack_frame = Some(s.frame);
            self.synack_to_ack_s = self.interval(self.first_synack_ts, s.ns);
            self.handshake_rtt_s = self.interval(self.mru_syn_ts, s.ns);
            self.step(s, true);
        }
    }

    /// True once little more is expected: closed both ways, or reset (a
    /// client may still repeat a refused SYN; the linger covers that). A
    /// RST outside the receiver's window changes nothing.
    pub(crate) fn is_done(&self) -> bool {
        let over = |r: &Rst| r.verdict != Some(Verdict::Outside);
        self.rst.iter().any(over) || (self.ack_frame.is_some() && self.fin == [true, true])
    }

    /// An ICMP error quoting one of this attempt's segments.
    pub(crate) fn on_icmp(&mut self, e: &IcmpSeen) {
        self.last_ts = self.last_ts.max(e.ts);
        if self.clues.icmp.is_none() {
            self.clues.icmp = Some(*e);
        }
    }

    /// Over: the outcome, zeek's state, what was negotiated, the diagnosis.
    /// `now` is the capture's time when it was handed out (how long the
    /// capture went on watching).
    pub(crate) fn finish(&mut self, now: f64) {
        self.clues.end_ts = now.max(self.last_ts);
        self.outcome = crate::outcome::outcome(self);
        if self.outcome != Outcome::Refused {
            // A RST the client ignored refused nothing: the server went on.
            self.syn_to_rst_s = None;
        }
        self.conn_state = crate::outcome::conn_state(self, self.seen[1]);
        self.negotiated = crate::outcome::negotiated(self);
        if self.outcome == Outcome::HalfOpen {
            let mut c = Check::new(What::ThirdAckSeen, None, false);
            c.base = self.server_isn;
            self.checks.push(c);
        }
        let found = crate::diagnose::diagnose(self);
        self.diagnosis = found.map(|d| match self.spare_diagnosis.0.take() {
            Some(mut b) => {
                *b = d;
                b
            }
            None => Box::new(d),
        });
    }

    /// Whether a segment was seen from the client (`0`) or the server (`1`).
    pub(crate) fn seen(&self, dir: usize) -> bool {
        self.seen.get(dir).copied().unwrap_or(false)
    }

    /// The times of the client's SYNs, in order.
    pub(crate) fn syn_times(&self) -> impl Iterator<Item = f64> + '_ {
        self.syn_times
            .iter()
            .map(|t| self.start_time + secs(t.saturating_sub(self.start_time_ns)))
    }

    /// The times of the SYN-ACKs, in order.
    pub(crate) fn synack_times(&self) -> Vec<f64> {
        self.synack_times
            .iter()
            .map(|t| self.start_time + secs(t.saturating_sub(self.start_time_ns)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options kept as bytes read as the same options parsed at once; bytes
    /// no header could hold, or that do not parse, read as none.
    #[test]
    fn raw_options_read_as_parsed_ones() {
        let layouts: [&[u8]; 5] = [
            &[],
            &[1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9],
            &[
                2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 1, 0, 0, 0, 0, 0, 1, 3, 3, 7,
            ],
            &[2, 4, 5],
            &[3, 3, 14, 0, 1, 1, 30, 3, 9],
        ];
        for b in layouts {
            let raw = SegOptions::raw(b).get();
            let parsed = TcpOptions::parse(b).ok();
            assert_eq!(
                raw.map(|o| (o.mss, o.window_scale, o.sack_permitted, o.timestamps)),
                parsed.map(|o| (o.mss, o.window_scale, o.sack_permitted, o.timestamps)),
                "{b:?}"
            );
            assert_eq!(raw.is_some(), parsed.is_some(), "{b:?}");
        }
        assert!(SegOptions::raw(&[2, 4, 5]).get().is_none(), "cut MSS");
        assert!(SegOptions::raw(&[1; 41]).get().is_none(), "41 bytes");
        assert!(SegOptions::raw(&[1; 40]).get().is_some(), "40 NOPs");
    }
}
