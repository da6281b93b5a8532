//! synack-trace: one model of what was observed in a run, whoever the peer
//! was (a second engine on the simulated link, the Linux kernel over TUN, a
//! device the user made), and the findings derived from it.
//!
//! - frames: every segment as it crossed the link, timestamped there, with
//!   its fate (delivered, or dropped by the lab);
//! - synack's steps and events, with rule ids;
//! - the kernel's socket states as observations: when they were observed
//!   and the frame or call right before them;
//! - the lab's settings (sysctls, backlog, the application's behaviour).
//!
//! Narration reads only this; [`findings`] derives the facts answers state.

#![forbid(unsafe_code)]

pub mod findings;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use synack_engine::sim::{LinkRecord, Side, SideEvent};
use synack_engine::{Instant, State, Step};

pub use findings::Findings;

/// Which profile synack's engine used.
pub use synack_engine::Profile;

/// Who the other end was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Two synack engines over the simulated link.
    Sim,
    /// The Linux kernel's TCP over TUN; synack is the other side.
    Linux { kernel_side: Side, release: String },
    /// Whatever is behind a TUN device the user named (`synack connect`).
    Device { side: Side, device: String },
    /// Frames read from a capture file: both ends are other machines, and
    /// only what crossed the wire is known (no states, no decisions).
    Capture { file: String },
}

/// What came right before a kernel observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObsCause {
    /// Taken right after this frame (index into [`Trace::link`]) was
    /// written to the kernel or read from it, nothing else in between.
    Frame(usize),
    /// Right after the lab's application made this call on the socket.
    Call(&'static str),
    /// Seen at a periodic look; the change happened after `since`.
    Poll { since: Instant },
}

/// A kernel socket's state as the kernel reported it (sock_diag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// When the kernel's answer was read.
    pub at: Instant,
    pub cause: ObsCause,
    /// The kernel's end and the far end of the socket (for a listener, the
    /// far end is unspecified).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Linux's name: `LISTEN`, `SYN_RECV`, `ESTABLISHED`, `TIME_WAIT`…;
    /// `CLOSED` when the kernel no longer has the socket.
    pub state: &'static str,
    /// Whether the lab's application had accept()ed it.
    pub accepted: bool,
    /// The socket's pending timer as the kernel reports it (TIME_WAIT's
    /// remaining time, a retransmission timer).
    pub timer: Option<Duration>,
    /// For a listener: (accept queue length, backlog), as `ss -lnt` shows
    /// them in Recv-Q and Send-Q.
    pub queue: Option<(u32, u32)>,
}

/// How one side's ISNs were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsnOrigin {
    /// Fixed with `--isn`.
    Fixed,
    /// synack's RFC 6528 generator: 4 µs clock plus SipHash under a key
    /// fresh for this run, or under a fixed key (`--seed`).
    Rfc6528 { fresh_key: bool },
    /// The Linux kernel's own generator.
    Linux,
    /// Nobody here knows (a device the user made).
    Unknown,
}

/// A setting the lab made for the run: a sysctl in the namespace, the
/// listener's backlog, what the application does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    pub value: String,
    /// The value before the lab changed it, when the lab changed one.
    pub default: Option<String>,
}

/// Everything observed in a run, for rendering.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The scenario's name (for headings and JSON).
    pub scenario: &'static str,
    pub profile: Profile,
    pub peer: Peer,
    /// Wall-clock time of the run's clock zero (for pcap timestamps).
    pub started_at: SystemTime,
    pub client: SocketAddr,
    /// Where the client connected (the server's port, or a closed one).
    pub server: SocketAddr,
    /// One-way delay of the simulated link (zero on a device).
    pub delay: Duration,
    pub steps: Vec<(Side, Step)>,
    /// Every frame on the link, both directions, in order.
    pub link: Vec<LinkRecord>,
    pub events: Vec<SideEvent>,
    /// The kernel's socket states, as it reported them (Linux peer).
    pub kernel: Vec<Observation>,
    pub settings: Vec<Setting>,
    /// Each side's state when the run began (client, server).
    pub initial: [State; 2],
    /// How each side's ISNs were made (client, server).
    pub isn: [IsnOrigin; 2],
    /// The SYN queue size of synack's listener when it is small enough to
    /// matter (shown next to its state changes).
    pub syn_backlog: Option<u32>,
    pub end: Instant,
}

impl Trace {
    /// The kernel's (or the device peer's) side, if synack is not both.
    pub fn kernel_side(&self) -> Option<Side> {
        match &self.peer {
            Peer::Linux { kernel_side, .. } => Some(*kernel_side),
            Peer::Device { side, .. } => Some(*side),
            Peer::Sim | Peer::Capture { .. } => None,
        }
    }

    /// Whether `side`'s decisions are synack's own (it has steps).
    pub fn is_synack(&self, side: Side) -> bool {
        self.kernel_side() != Some(side)
    }

    /// Frames `side` sent, parsed, with their index in `link`.
    pub fn frames(&self, side: Side) -> impl Iterator<Item = Frame<'_>> {
        self.all_frames().filter(move |f| f.from == side)
    }

    /// Every frame, parsed (frames that do not parse as TCP are skipped).
    pub fn all_frames(&self) -> impl Iterator<Item = Frame<'_>> {
        self.link.iter().enumerate().filter_map(|(i, r)| {
            let seg = synack_wire::parse_segment(&r.bytes, false).ok()?;
            Some(Frame {
                index: i,
                at: r.sent_at,
                from: r.from,
                lost: matches!(r.fate, synack_engine::sim::Fate::Dropped { .. }),
                seg,
            })
        })
    }

    /// A setting's value, if the lab made it.
    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.name == name)
    }

    /// `side`'s ISN of the first connection: the seq of the first SYN its
    /// engine sent (synack), else of the first SYN it put on the link (a
    /// forged old SYN is not synack's ISN).
    pub fn first_isn(&self, side: Side) -> Option<u32> {
        if self.is_synack(side) {
            let sent = self.steps.iter().find_map(|(s, st)| match &st.cause {
                synack_engine::Cause::Sent(g) if *s == side && g.flags.syn() => Some(g.seq.get()),
                _ => None,
            });
            if sent.is_some() {
                return sent;
            }
        }
        self.frames(side)
            .find(|f| f.seg.tcp.flags.syn())
            .map(|f| f.seg.tcp.seq.get())
    }

    /// Distinct connections: address pairs on the link, or synack's TCBs on
    /// the busier side when more (a 4-tuple opened again counts twice).
    pub fn connections(&self) -> usize {
        let mut pairs: Vec<(SocketAddr, SocketAddr)> = self
            .all_frames()
            .map(|f| {
                let (a, b) = (f.src(), f.dst());
                if a <= b { (a, b) } else { (b, a) }
            })
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let tcbs = [Side::A, Side::B]
            .into_iter()
            .map(|side| {
                let mut h: Vec<_> = self
                    .steps
                    .iter()
                    .filter(|(s, st)| *s == side && st.conn.is_some())
                    .map(|(_, st)| (st.conn, st.tuple.local, st.tuple.remote))
                    .collect();
                h.sort_by_key(|(c, l, r)| (*c, *l, *r));
                h.dedup();
                h.len()
            })
            .max()
            .unwrap_or(0);
        pairs.len().max(tcbs).max(1)
    }
}

/// One frame of the link, parsed.
pub struct Frame<'a> {
    pub index: usize,
    pub at: Instant,
    pub from: Side,
    /// Dropped by the lab (injected loss) rather than delivered.
    pub lost: bool,
    pub seg: synack_wire::Segment<'a>,
}

impl Frame<'_> {
    pub fn src(&self) -> SocketAddr {
        SocketAddr::new(self.seg.ip.src, self.seg.tcp.src_port)
    }
    pub fn dst(&self) -> SocketAddr {
        SocketAddr::new(self.seg.ip.dst, self.seg.tcp.dst_port)
    }
    pub fn flags(&self) -> synack_wire::TcpFlags {
        self.seg.tcp.flags
    }
    pub fn seq(&self) -> u32 {
        self.seg.tcp.seq.get()
    }
    pub fn ack(&self) -> u32 {
        self.seg.tcp.ack.get()
    }
    pub fn len(&self) -> u32 {
        self.seg.tcp.payload.len() as u32
    }
    pub fn is_empty(&self) -> bool {
        self.seg.tcp.payload.is_empty()
    }
}

/// Map Linux's state names onto RFC 9293's.
pub fn rfc_state(linux: &str) -> State {
    match linux {
        "LISTEN" => State::Listen,
        "SYN_SENT" => State::SynSent,
        "SYN_RECV" | "NEW_SYN_RECV" => State::SynReceived,
        "ESTABLISHED" => State::Established,
        "FIN_WAIT1" => State::FinWait1,
        "FIN_WAIT2" => State::FinWait2,
        "CLOSE_WAIT" => State::CloseWait,
        "CLOSING" => State::Closing,
        "LAST_ACK" => State::LastAck,
        "TIME_WAIT" => State::TimeWait,
        _ => State::Closed,
    }
}
