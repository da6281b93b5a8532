//! Step records: one per decision the engine makes. Explanations, JSON and
//! diagrams are rendered from these, so they carry the real numbers: the
//! segment, the TCB before and after, the check that was made, the rule.

use core::net::SocketAddr;
use core::time::Duration;

use synack_wire::{SeqNum, TcpFlags, TcpOptions, TcpRepr, WireError};

use crate::rules::Rule;
use crate::state::State;
use crate::time::Instant;

/// A connection: index into the endpoint's table plus a generation, so a
/// stale handle never reaches a newer connection in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnHandle {
    pub(crate) idx: u32,
    pub(crate) generation: u32,
}

impl ConnHandle {
    /// A small stable number for display.
    pub fn index(self) -> u32 {
        self.idx
    }
}

/// Local and remote address of a connection, as seen by this endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuple {
    /// This endpoint's address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
}

/// Hashes addresses and ports as a few machine words; the derived
/// `SocketAddr` hash walks enum tags and IPv6 flow/scope fields and showed
/// up in the demux profile.
impl core::hash::Hash for Tuple {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        use core::net::IpAddr;
        let ports = (u32::from(self.local.port()) << 16) | u32::from(self.remote.port());
        match (self.local.ip(), self.remote.ip()) {
            (IpAddr::V4(l), IpAddr::V4(r)) => {
                state.write_u64((u64::from(u32::from(l)) << 32) | u64::from(u32::from(r)));
            }
            (l, r) => {
                state.write_u128(ip_bits(l));
                state.write_u128(ip_bits(r));
            }
        }
        state.write_u32(ports);
    }
}

fn ip_bits(ip: core::net::IpAddr) -> u128 {
    match ip {
        core::net::IpAddr::V4(v) => u128::from(u32::from(v)),
        core::net::IpAddr::V6(v) => u128::from(v),
    }
}

/// A segment as it crossed the wire, addresses included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegInfo {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: SeqNum,
    /// Acknowledgment field (meaningful when ACK is set).
    pub ack: SeqNum,
    /// Flag bits.
    pub flags: TcpFlags,
    /// Window field, unscaled.
    pub window: u16,
    /// Payload bytes.
    pub payload_len: u32,
    /// Options.
    pub options: TcpOptions,
}

impl SegInfo {
    /// The summary of a parsed segment from `src` to `dst`.
    pub fn new(src: SocketAddr, dst: SocketAddr, t: &TcpRepr<'_>) -> SegInfo {
        SegInfo {
            src,
            dst,
            seq: t.seq,
            ack: t.ack,
            flags: t.flags,
            window: t.window,
            payload_len: t.payload.len() as u32,
            options: t.options,
        }
    }

    /// SEG.LEN: payload plus one each for SYN and FIN.
    pub fn seg_len(&self) -> u32 {
        self.payload_len + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }
}

/// The TCB variables a step shows before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcbVars {
    /// RFC 9293 state.
    pub state: State,
    /// Initial send sequence number.
    pub iss: SeqNum,
    /// Initial receive sequence number.
    pub irs: SeqNum,
    /// Oldest unacknowledged sequence number.
    pub snd_una: SeqNum,
    /// Next sequence number to send.
    pub snd_nxt: SeqNum,
    /// The peer's window, scaled.
    pub snd_wnd: u32,
    /// Next sequence number expected.
    pub rcv_nxt: SeqNum,
    /// Our receive window.
    pub rcv_wnd: u32,
}

impl TcbVars {
    /// The variables of a connection that does not exist (CLOSED/LISTEN).
    pub const fn none(state: State) -> TcbVars {
        TcbVars {
            state,
            iss: SeqNum(0),
            irs: SeqNum(0),
            snd_una: SeqNum(0),
            snd_nxt: SeqNum(0),
            snd_wnd: 0,
            rcv_nxt: SeqNum(0),
            rcv_wnd: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Which timer fired.
pub enum TimerKind {
    /// The retransmission timer.
    Retransmit,
    /// The TIME-WAIT (2·MSL) timer.
    TimeWait,
    /// The delayed ACK of a peer's FIN ([`Config::fin_ack_delay`](crate::Config)).
    DelayedAck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// A call the application made.
pub enum UserCall {
    /// connect(): an active open.
    Connect,
    /// listen(): a passive open.
    Listen,
    /// close(): no more data from us.
    Close,
    /// abort(): drop the connection at once.
    Abort,
    /// send(): data queued.
    Send {
        /// How many bytes.
        bytes: u32,
    },
}

/// What made the engine act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A segment arrived.
    Received(SegInfo),
    /// A segment left (recorded by `poll_transmit`).
    Sent(SegInfo),
    /// A timer fired.
    Timer(TimerKind),
    /// The application called.
    User(UserCall),
    /// Bytes that did not parse.
    Malformed(WireError),
    /// An ICMP destination-unreachable error about a segment we sent.
    Icmp(IcmpInfo),
}

/// An ICMP or ICMPv6 error as the engine saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpInfo {
    /// Who sent it: the peer itself, or a router or firewall on the way.
    pub from: core::net::IpAddr,
    /// ICMPv6 rather than ICMP.
    pub v6: bool,
    /// The code as sent.
    pub code: u8,
    /// What the code means.
    pub reason: synack_wire::Unreachable,
    /// The segment it quotes: ours, so its source is our address.
    pub quoted: Tuple,
    /// The quoted segment's sequence number.
    pub quoted_seq: SeqNum,
}

/// Kinds of segment the engine sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A SYN (active open).
    Syn,
    /// A SYN-ACK.
    SynAck,
    /// A pure ACK.
    Ack,
    /// An ACK sent to make a possibly spoofed peer prove itself (RFC 5961).
    ChallengeAck,
    /// RST without ACK: <SEQ=SEG.ACK><CTL=RST> or <SEQ=SND.NXT><CTL=RST>.
    Rst,
    /// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    RstAck,
    /// A FIN.
    Fin,
    /// A data segment.
    Data,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Why a segment was dropped or ignored.
pub enum DropReason {
    /// It did not parse.
    Malformed,
    /// RST in LISTEN, or a RST that would need a RST in reply.
    RstIgnored,
    /// RST whose ACK (SYN-SENT) or sequence number is not acceptable.
    BadRst,
    /// SYN-SENT: neither SYN nor RST.
    NoSynNoRst,
    /// LISTEN: no SYN, ACK or RST.
    NoControl,
    /// A segment without ACK in a synchronized state.
    NoAckBit,
    /// Outside the receive window (RFC 9293 Table 6).
    OutOfWindow,
    /// A reply was due but the rate limit held it back.
    RateLimited,
    /// A flag combination no TCP sends (SYN+FIN, SYN+RST …).
    IllegalFlags,
    /// SYN payload without Fast Open: not acknowledged.
    SynData,
    /// Data beyond RCV.NXT: no out-of-order queue here.
    OutOfOrder,
    /// Data after our side had no room or no longer reads.
    DataIgnored,
    /// An ACK that acknowledges nothing new.
    DuplicateAck,
    /// Timestamps were agreed but the segment has none (RFC 7323 §3.2).
    MissingTimestamp,
    /// An ICMP error quoting a sequence number not in flight (RFC 5927 §4.1).
    IcmpNotInFlight,
    /// An ICMP error this TCP does not act on (fragmentation needed).
    IcmpIgnored,
}

/// Why a TCB was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// RST in answer to our SYN (ECONNREFUSED).
    Refused,
    /// RST in a synchronized state (ECONNRESET).
    Reset,
    /// Retransmissions exhausted (ETIMEDOUT).
    TimedOut,
    /// Orderly close finished.
    Closed,
    /// The user aborted.
    Aborted,
    /// A passive half-open connection dropped; the listener stays (MUST-11).
    BackToListen,
    /// An ICMP destination unreachable ended the open (ECONNREFUSED,
    /// EHOSTUNREACH or ENETUNREACH on Linux).
    Unreachable(synack_wire::Unreachable),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What the engine did.
pub enum Action {
    /// Queued a segment of this kind.
    Send(Reply),
    /// The segment in `Cause::Sent` went out.
    Transmitted,
    /// Sent again after the timer expired.
    Retransmit {
        /// Which segment.
        reply: Reply,
        /// Transmissions so far, this one included.
        attempt: u32,
        /// The timer now waits this long.
        next_timeout: Duration,
    },
    /// Dropped the input, for this reason.
    Drop(DropReason),
    /// A state change with nothing to send.
    Enter,
    /// Payload bytes accepted in order.
    Deliver {
        /// How many.
        bytes: u32,
    },
    /// Bytes of ours the peer acknowledged.
    Acked {
        /// How many.
        bytes: u32,
    },
    /// Window scale shift above 14 was capped (RFC 7323 §2.3).
    ClampShift {
        /// The shift the peer offered.
        from: u8,
    },
    /// Deleted the TCB.
    Delete(CloseReason),
    /// Started listening.
    Listen,
    /// The options both SYNs agreed on.
    Negotiated(crate::conn::Negotiated),
    /// The user was told how the connection ended (MUST-12).
    Report(crate::out::Event),
    /// Nothing to do (e.g. a duplicate ACK).
    Ignore,
    /// A decision of ECN, Fast Open, SYN cookies or the listen queues.
    Note(Note),
}

/// What the extensions to the handshake decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// Our SYN asks for ECN: ECE and CWR set.
    EcnRequested,
    /// The SYN is retransmitted without ECE and CWR.
    EcnFallback,
    /// The SYN-ACK answered with ECE and no CWR: ECN is on.
    EcnAgreed,
    /// The peer asked for ECN; ours is off, so the SYN-ACK is plain.
    EcnDeclined,
    /// Our SYN carries an empty Fast Open option: a cookie request.
    FastOpenCookieRequested,
    /// Our SYN-ACK carries a Fast Open cookie for this client.
    FastOpenCookieIssued,
    /// The peer's SYN-ACK gave us a cookie; kept for the next connect.
    FastOpenCookieLearned,
    /// Data went out on our SYN with a cookie.
    FastOpenDataSent {
        /// Bytes on the SYN.
        bytes: u32,
    },
    /// The SYN's cookie is valid: its data is accepted before the handshake.
    FastOpenDataAccepted {
        /// Bytes accepted.
        bytes: u32,
    },
    /// The SYN's data is not accepted (no or a bad cookie); the client
    /// sends it again after the handshake.
    FastOpenDataRejected {
        /// Bytes not accepted.
        bytes: u32,
    },
    /// The SYN-ACK acknowledged only the SYN: our SYN data goes again.
    FastOpenDataResent {
        /// Bytes to send again.
        bytes: u32,
    },
    /// The SYN queue is full (or cookies are forced): a stateless SYN-ACK
    /// whose ISS is a cookie; nothing is kept and nothing retransmitted.
    SynCookieSent {
        /// The MSS coded in the cookie.
        mss: u16,
        /// Half-open connections held.
        syn_queue: u32,
        /// The SYN queue's size.
        backlog: u32,
    },
    /// An ACK carried a valid cookie: the connection is rebuilt from it.
    SynCookieAccepted {
        /// The MSS decoded from the cookie.
        mss: u16,
    },
    /// An ACK to the listener whose cookie does not validate.
    SynCookieRejected,
    /// An ICMP error that does not end the connection (a soft error): kept,
    /// and reported if the connection times out.
    IcmpSoftError {
        /// What the message said.
        reason: synack_wire::Unreachable,
    },
    /// The ACK of the peer's FIN waits, so that our FIN can carry it.
    FinAckDelayed {
        /// For at most this many milliseconds.
        ms: u32,
    },
    /// The SYN queue is full and cookies are off: the SYN is dropped.
    SynQueueFull {
        /// Half-open connections held.
        syn_queue: u32,
        /// The SYN queue's size.
        backlog: u32,
    },
    /// The accept queue is full: the third ACK is dropped, the SYN-ACK
    /// will be retransmitted (Linux, `tcp_abort_on_overflow=0`).
    AcceptQueueFull {
        /// Connections waiting for accept().
        accepted: u32,
        /// The accept queue's size.
        backlog: u32,
    },
}

/// The test behind a decision, with its operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// `lo < SEG.ACK <= hi`: SND.UNA (or ISS) < SEG.ACK ≤ SND.NXT.
    AckAcceptable {
        /// SND.UNA (or ISS in SYN-SENT).
        lo: SeqNum,
        /// SEG.ACK.
        ack: SeqNum,
        /// SND.NXT.
        hi: SeqNum,
        /// Whether it passed.
        ok: bool,
    },
    /// RFC 9293 Table 6 with these operands.
    SeqAcceptable {
        /// RCV.NXT.
        rcv_nxt: SeqNum,
        /// RCV.WND.
        rcv_wnd: u32,
        /// SEG.SEQ.
        seq: SeqNum,
        /// SEG.LEN.
        len: u32,
        /// Whether it passed.
        ok: bool,
    },
    /// RFC 5961 §3.2: a RST resets only when SEG.SEQ = RCV.NXT.
    RstExact {
        /// RCV.NXT.
        rcv_nxt: SeqNum,
        /// SEG.SEQ.
        seq: SeqNum,
        /// Whether it passed.
        ok: bool,
    },
    /// RFC 5927 §4.1: an ICMP error is believed only if the sequence number
    /// it quotes is in flight: SND.UNA ≤ seq < SND.NXT.
    IcmpInFlight {
        /// SND.UNA.
        una: SeqNum,
        /// The quoted sequence number.
        seq: SeqNum,
        /// SND.NXT.
        nxt: SeqNum,
        /// Whether it passed.
        ok: bool,
    },
    /// A FIN is taken only at RCV.NXT.
    FinInOrder {
        /// RCV.NXT.
        rcv_nxt: SeqNum,
        /// The FIN's sequence number.
        fin_seq: SeqNum,
        /// Whether it passed.
        ok: bool,
    },
}

/// One decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// When (the caller's clock).
    pub at: Instant,
    /// The connection, none for stateless replies.
    pub conn: Option<ConnHandle>,
    /// The 4-tuple from this endpoint's view.
    pub tuple: Tuple,
    /// What made the engine act.
    pub cause: Cause,
    /// What it did.
    pub action: Action,
    /// The checklist rule that applied.
    pub rule: Rule,
    /// The TCB before.
    pub before: TcbVars,
    /// The TCB after.
    pub after: TcbVars,
    /// The test made, with its operands.
    pub check: Option<Check>,
}
