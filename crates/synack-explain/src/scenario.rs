//! Scenarios: a handshake (or close, or exchange) run between two engines on
//! the simulated link, with the loss each one needs injected by the link.

use std::net::SocketAddr;
use std::time::Duration;

use synack_engine::sim::{Fault, LinkRecord, Pair, Side, SideEvent, SimLink};
use synack_engine::{Config, ConnHandle, Endpoint, Event, Instant, IsnMode, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Normal,
    SynLost,
    SynAckLost,
    AckLost,
    Refused,
    Filtered,
    Close,
    Data,
    /// SYN crosses SYN (RFC 9293 Fig. 7).
    SimultaneousOpen,
    /// An old duplicate SYN vetoed by the initiator (Fig. 8).
    OldDuplicate,
    /// A rebooted peer meets an ESTABLISHED connection (Fig. 9, RFC 5961).
    HalfOpen,
    /// Spoofed SYNs fill the SYN queue; a client gets in with a SYN cookie.
    SynFlood,
    /// ECN negotiated, then the fallback to a plain SYN.
    Ecn,
    /// TCP Fast Open: a cookie, then data on the SYN.
    FastOpen,
    /// Several connections' ISNs side by side (RFC 6528).
    Isn,
    /// FIN crosses FIN: CLOSING, then TIME-WAIT on both sides.
    SimultaneousClose,
    /// The last ACK of the close is lost: LAST-ACK re-sends its FIN.
    LastAckLost,
    /// ABORT: a RST ends an established connection at once.
    Abort,
    /// A RST reaches the side in TIME-WAIT (RFC 1337's hazard).
    TimeWaitRst,
}

impl Scenario {
    pub const ALL: [Scenario; 19] = [
        Scenario::Normal,
        Scenario::SynLost,
        Scenario::SynAckLost,
        Scenario::AckLost,
        Scenario::Refused,
        Scenario::Filtered,
        Scenario::Close,
        Scenario::Data,
        Scenario::SimultaneousOpen,
        Scenario::OldDuplicate,
        Scenario::HalfOpen,
        Scenario::SynFlood,
        Scenario::Ecn,
        Scenario::FastOpen,
        Scenario::Isn,
        Scenario::SimultaneousClose,
        Scenario::LastAckLost,
        Scenario::Abort,
        Scenario::TimeWaitRst,
    ];

    /// The textbook scenarios: one connection, driven here; the others are
    /// in `more`.
    pub fn is_textbook(self) -> bool {
        matches!(
            self,
            Scenario::Normal
                | Scenario::SynLost
                | Scenario::SynAckLost
                | Scenario::AckLost
                | Scenario::Refused
                | Scenario::Filtered
                | Scenario::Close
                | Scenario::Data
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Normal => "normal",
            Scenario::SynLost => "syn-lost",
            Scenario::SynAckLost => "synack-lost",
            Scenario::AckLost => "ack-lost",
            Scenario::Refused => "refused",
            Scenario::Filtered => "filtered",
            Scenario::Close => "close",
            Scenario::Data => "data",
            Scenario::SimultaneousOpen => "simultaneous-open",
            Scenario::OldDuplicate => "old-duplicate",
            Scenario::HalfOpen => "half-open",
            Scenario::SynFlood => "syn-flood",
            Scenario::Ecn => "ecn",
            Scenario::FastOpen => "fast-open",
            Scenario::Isn => "isn",
            Scenario::SimultaneousClose => "simultaneous-close",
            Scenario::LastAckLost => "last-ack-lost",
            Scenario::Abort => "abort",
            Scenario::TimeWaitRst => "time-wait-rst",
        }
    }

    /// What the scenario shows, in a line (the CLI's help).
    pub fn about(self) -> &'static str {
        match self {
            Scenario::Normal => "SYN, SYN-ACK, ACK",
            Scenario::SynLost => "The first SYN is lost and retransmitted",
            Scenario::SynAckLost => "The SYN-ACK is lost; both sides retransmit",
            Scenario::AckLost => {
                "The third ACK is lost; the first data segment completes the handshake"
            }
            Scenario::Refused => "Nothing listens on the port: RST",
            Scenario::Filtered => "Nothing answers: retransmissions, then a timeout",
            Scenario::Close => "Handshake, then the four-way close and TIME-WAIT",
            Scenario::Data => "Handshake, then a request and a response",
            Scenario::SimultaneousOpen => {
                "SYN crosses SYN: both sides go through SYN-RECEIVED (RFC 9293 Fig. 7)"
            }
            Scenario::OldDuplicate => {
                "An old duplicate SYN, vetoed by the initiator's RST: why three, not two (Fig. 8)"
            }
            Scenario::HalfOpen => {
                "A rebooted peer opens again: challenge ACK, exact RST, retry (Fig. 9, RFC 5961)"
            }
            Scenario::SynFlood => {
                "Spoofed SYNs fill the SYN queue; a real client gets in with a SYN cookie"
            }
            Scenario::Ecn => "ECN negotiated (ECE+CWR, then ECE), and the fallback to a plain SYN",
            Scenario::FastOpen => {
                "TCP Fast Open: a cookie, then data on the SYN of the next connection"
            }
            Scenario::Isn => {
                "ISNs of several connections: unpredictable across tuples, clocked within one"
            }
            Scenario::SimultaneousClose => "FIN crosses FIN: CLOSING, then TIME-WAIT on both sides",
            Scenario::LastAckLost => {
                "The last ACK is lost: LAST-ACK re-sends its FIN, TIME-WAIT acknowledges again"
            }
            Scenario::Abort => "ABORT: a RST with SEQ=SND.NXT ends the connection at once",
            Scenario::TimeWaitRst => {
                "A RST cuts TIME-WAIT short (RFC 1337's hazard; RFC 9293 and Linux close)"
            }
        }
    }

    pub fn from_name(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|x| x.name() == s)
    }

    /// The handshake segment this scenario loses: the role that sends it
    /// (A client, B server) and its 1-based count from that side. Every
    /// driver (the simulated link, the TUN device) injects the same loss.
    pub fn lost_segment(self) -> Option<(Side, usize)> {
        match self {
            Scenario::SynLost => Some((Side::A, 1)),
            Scenario::SynAckLost => Some((Side::B, 1)),
            Scenario::AckLost => Some((Side::A, 2)),
            _ => None,
        }
    }

    /// Segments the simulated link drops.
    fn faults(self) -> Vec<Fault> {
        match (self, self.lost_segment()) {
            (Scenario::Filtered, _) => vec![Fault::DropAll { from: Side::A }],
            (_, Some((from, n))) => vec![Fault::DropNth { from, n }],
            _ => vec![],
        }
    }
}

/// Which retransmission profile the engines use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Rfc,
    Linux,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub scenario: Scenario,
    pub client_isn: Option<u32>,
    pub server_isn: Option<u32>,
    /// One-way delay of the simulated link.
    pub delay: Duration,
    pub profile: Profile,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Who closes first in the `close` scenario.
    pub closer: Side,
    /// Which side synack plays against the Linux kernel (the simulated peer
    /// runs synack on both).
    pub synack_side: Side,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            scenario: Scenario::Normal,
            client_isn: None,
            server_isn: None,
            delay: Duration::from_millis(10),
            profile: Profile::Rfc,
            client: SocketAddr::from(([192, 0, 2, 10], 40000)),
            server: SocketAddr::from(([198, 51, 100, 20], 80)),
            closer: Side::A,
            synack_side: Side::A,
        }
    }
}

/// Who the other end was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Two synack engines over the simulated link.
    Sim,
    /// The Linux kernel's TCP over TUN; synack is the other side.
    Linux { kernel_side: Side, release: String },
    /// Whatever is behind a TUN device the user named (`synack connect`).
    Device { side: Side, device: String },
}

/// The kernel's socket state as the kernel reported it (`/proc/net/tcp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSample {
    pub at: Instant,
    /// Linux's name: `SYN_RECV`, `ESTABLISHED`, `TIME_WAIT`…
    pub state: String,
    /// Whether the application had called accept() by then.
    pub accepted: bool,
}

/// Everything that happened, for rendering.
#[derive(Debug, Clone)]
pub struct Trace {
    pub scenario: Scenario,
    pub profile: Profile,
    pub peer: Peer,
    /// Changes of the kernel socket's state (Linux peer only).
    pub kernel_states: Vec<KernelSample>,
    /// Who closed first (`close` scenario).
    pub closer: Side,
    /// Wall-clock time of the run's clock zero (for pcap timestamps).
    pub started_at: std::time::SystemTime,
    pub client: SocketAddr,
    /// Where the client connected (the server's port, or a closed one).
    pub server: SocketAddr,
    pub delay: Duration,
    pub steps: Vec<(Side, Step)>,
    pub link: Vec<LinkRecord>,
    pub events: Vec<SideEvent>,
    pub client_isn: u32,
    pub server_isn: Option<u32>,
    /// Whether each side's ISN was fixed (client, server).
    pub isn_fixed: [bool; 2],
    pub end: Instant,
    /// The request and response of the `data` and `ack-lost` scenarios.
    pub request: &'static [u8],
    pub response: &'static [u8],
    /// Distinct connections (4-tuples) in the trace; relative sequence
    /// numbers are shown only when there is one.
    pub connections: usize,
}

pub const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
pub const RESPONSE: &[u8] = b"HTTP/1.0 200 OK\r\n\r\nhello\n";

pub(crate) fn config(profile: Profile, isn: Option<u32>, key: &[u8; 16], seed: u64) -> Config {
    let mut c = match profile {
        Profile::Rfc => Config::rfc(),
        Profile::Linux => Config::linux(),
    }
    .with_secrets(*key, seed);
    if let Some(n) = isn {
        c.isn = IsnMode::Fixed(n);
    }
    c
}

pub(crate) fn events_for(pair: &Pair, side: Side, ev: Event) -> Option<ConnHandle> {
    pair.events
        .iter()
        .find(|e| e.side == side && e.event == ev)
        .map(|e| e.conn)
}

/// Run a scenario to its end. The clock starts at 0; ISNs default to RFC
/// 6528 values under fixed keys, so runs are reproducible.
pub fn run(opts: &Options) -> Result<Trace, String> {
    let mut a = config(opts.profile, opts.client_isn, b"synack-client-ky", 1);
    let mut b = config(opts.profile, opts.server_isn, b"synack-server-ky", 2);
    crate::more::tune(opts, &mut a, &mut b);
    let mut link = SimLink::new(opts.delay, 7);
    link.faults = opts.scenario.faults();
    link.faults.extend(crate::more::faults(opts));
    let mut pair = Pair::new(Endpoint::new(a), Endpoint::new(b), link);
    if opts.scenario != Scenario::SimultaneousOpen {
        pair.b.listen(opts.server).map_err(|e| e.to_string())?;
    }
    let limit = Instant::from_millis(600_000);
    if !opts.scenario.is_textbook() {
        crate::more::drive(opts, &mut pair, limit)?;
        return Ok(finish(opts, pair, opts.server));
    }
    let target = match opts.scenario {
        // Nothing listens on the port next to the server's.
        Scenario::Refused => {
            SocketAddr::new(opts.server.ip(), opts.server.port().wrapping_add(1).max(1))
        }
        _ => opts.server,
    };
    let client = pair
        .a
        .connect(Instant::ZERO, opts.client, target)
        .map_err(|e| e.to_string())?;
    let established =
        |p: &Pair| p.has_event(Side::A, Event::Connected) && p.has_event(Side::B, Event::Accepted);
    match opts.scenario {
        Scenario::Normal | Scenario::SynLost | Scenario::SynAckLost => {
            pair.run_until(limit, established);
        }
        Scenario::Refused => {
            pair.run_until(limit, |p| p.has_event(Side::A, Event::Refused));
        }
        Scenario::Filtered => {
            pair.run_until(limit, |p| p.has_event(Side::A, Event::TimedOut));
        }
        Scenario::AckLost => {
            // The client, ESTABLISHED, sends its request at once: that data
            // segment also carries the ACK the server is waiting for.
            pair.run_until(limit, |p| p.has_event(Side::A, Event::Connected));
            let now = pair.now;
            pair.a
                .send(now, client, REQUEST)
                .map_err(|e| e.to_string())?;
            pair.run_until(limit, established);
            pair.run_until(limit, |p| p.has_event(Side::B, Event::Readable));
            finish_exchange(&mut pair, limit)?;
        }
        Scenario::Data => {
            pair.run_until(limit, established);
            let now = pair.now;
            pair.a
                .send(now, client, REQUEST)
                .map_err(|e| e.to_string())?;
            pair.run_until(limit, |p| p.has_event(Side::B, Event::Readable));
            finish_exchange(&mut pair, limit)?;
        }
        Scenario::Close => {
            pair.run_until(limit, established);
            let server =
                events_for(&pair, Side::B, Event::Accepted).ok_or("no server connection")?;
            let (first, second) = match opts.closer {
                Side::A => ((Side::A, client), (Side::B, server)),
                Side::B => ((Side::B, server), (Side::A, client)),
            };
            let now = pair.now;
            pair.endpoint(first.0)
                .close(now, first.1)
                .map_err(|e| e.to_string())?;
            pair.run_until(limit, |p| p.has_event(second.0, Event::PeerClosed));
            let now = pair.now;
            pair.endpoint(second.0)
                .close(now, second.1)
                .map_err(|e| e.to_string())?;
            pair.run_until(limit, |p| {
                p.has_event(Side::A, Event::Closed) && p.has_event(Side::B, Event::Closed)
            });
        }
        _ => return Err(format!("{}: not a textbook scenario", opts.scenario.name())),
    }
    Ok(finish(opts, pair, target))
}

/// Let the last segments land and gather the trace.
fn finish(opts: &Options, mut pair: Pair, target: SocketAddr) -> Trace {
    // Let the last segments land (e.g. the final ACK).
    let end = pair.now + opts.delay * 2;
    crate::more::settle(&mut pair, end);
    pair.collect();
    let server_isn = pair
        .steps
        .iter()
        .find(|(s, st)| *s == Side::B && st.after.iss != st.before.iss)
        .map(|(_, st)| st.after.iss.get());
    let client_isn = pair
        .steps
        .iter()
        .find(|(s, _)| *s == Side::A)
        .map(|(_, st)| st.after.iss.get())
        .unwrap_or(0);
    // Connections (TCBs) on the busier side: a connection gone and opened
    // again on the same 4-tuple counts twice.
    let connections = [Side::A, Side::B]
        .into_iter()
        .map(|side| {
            let mut handles: Vec<_> = pair
                .steps
                .iter()
                .filter(|(s, st)| *s == side && st.conn.is_some())
                .map(|(_, st)| (st.conn, st.tuple))
                .collect();
            handles.sort_by_key(|(c, t)| (*c, t.local, t.remote));
            handles.dedup();
            handles.len()
        })
        .max()
        .unwrap_or(1)
        .max(1);
    Trace {
        scenario: opts.scenario,
        profile: opts.profile,
        peer: Peer::Sim,
        kernel_states: Vec::new(),
        started_at: std::time::SystemTime::now(),
        closer: opts.closer,
        client: opts.client,
        server: target,
        delay: opts.delay,
        end: pair.now,
        steps: pair.steps,
        link: pair.link.log,
        events: pair.events,
        client_isn,
        server_isn,
        isn_fixed: [opts.client_isn.is_some(), opts.server_isn.is_some()],
        request: REQUEST,
        response: RESPONSE,
        connections,
    }
}

/// The server reads the request and answers; the client reads the answer.
fn finish_exchange(pair: &mut Pair, limit: Instant) -> Result<(), String> {
    let server = events_for(pair, Side::B, Event::Accepted).ok_or("no server connection")?;
    let mut buf = [0u8; 256];
    pair.b.recv(server, &mut buf).map_err(|e| e.to_string())?;
    let now = pair.now;
    pair.b
        .send(now, server, RESPONSE)
        .map_err(|e| e.to_string())?;
    pair.run_until(limit, |p| p.has_event(Side::A, Event::Readable));
    Ok(())
}
