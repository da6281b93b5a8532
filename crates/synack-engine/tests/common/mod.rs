//! Packet-level harness in the smoltcp style: the test plays the peer, feeds
//! one segment, and asserts the exact reply and state.
#![allow(dead_code)]

use core::net::SocketAddr;
use core::time::Duration;

use synack_engine::{Config, ConnHandle, Endpoint, Event, Instant, IsnMode, State, Step, Tuple};
use synack_wire::{
    IpHeader, OptionLayout, SeqNum, TcpFlags, TcpOptions, TcpRepr, emit_segment, parse_segment,
};

/// The engine under test.
pub fn local() -> SocketAddr {
    "192.0.2.1:80".parse().unwrap()
}
/// The peer the test plays.
pub fn remote() -> SocketAddr {
    "192.0.2.2:40000".parse().unwrap()
}

pub const ISS: u32 = 5000;
pub const PEER_ISS: u32 = 1000;

pub use synack_wire::TcpFlags as F;

/// A segment as the test writes or reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
}

impl Seg {
    pub fn new(flags: TcpFlags, seq: u32, ack: u32) -> Seg {
        Seg {
            flags,
            seq,
            ack,
            window: 64240,
            options: TcpOptions::default(),
            payload: Vec::new(),
        }
    }
    pub fn win(mut self, w: u16) -> Seg {
        self.window = w;
        self
    }
    pub fn opts(mut self, o: TcpOptions) -> Seg {
        self.options = o;
        self
    }
    pub fn data(mut self, d: &[u8]) -> Seg {
        self.payload = d.to_vec();
        self
    }
    pub fn mss(mut self, m: u16) -> Seg {
        self.options.mss = Some(m);
        self
    }
}

/// <CTL=RST>, the form of replies to ACK-bearing segments.
pub fn rst(seq: u32) -> Seg {
    Seg::new(F::RST, seq, 0).win(0)
}

/// Options of the harness config's SYN / SYN-ACK.
pub fn syn_opts() -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        ..TcpOptions::default()
    }
}

/// RFC profile, fixed ISS, no timestamps so replies are exact.
pub fn config() -> Config {
    Config {
        isn: IsnMode::Fixed(ISS),
        timestamps: false,
        ..Config::rfc()
    }
}

pub struct Harness {
    pub ep: Endpoint,
    pub now: Instant,
    pub handle: Option<ConnHandle>,
    pub events: Vec<(ConnHandle, Event)>,
    pub steps: Vec<Step>,
    buf: Vec<u8>,
}

impl Harness {
    pub fn new(cfg: Config) -> Harness {
        Harness {
            ep: Endpoint::new(cfg),
            now: Instant::from_millis(1000),
            handle: None,
            events: Vec::new(),
            steps: Vec::new(),
            buf: vec![0; 2000],
        }
    }

    /// An engine listening on `local()`.
    pub fn listening(cfg: Config) -> Harness {
        let mut h = Harness::new(cfg);
        h.ep.listen(local()).unwrap();
        h
    }

    /// An engine that sent its SYN to `remote()` (reply drained).
    pub fn syn_sent(cfg: Config) -> Harness {
        let mut h = Harness::new(cfg);
        h.handle = Some(h.ep.connect(h.now, local(), remote()).unwrap());
        let out = h.recv();
        assert_eq!(out.len(), 1);
        h
    }

    /// A passive connection in SYN-RECEIVED (SYN from the peer, SYN-ACK drained).
    pub fn syn_received(cfg: Config) -> Harness {
        let mut h = Harness::listening(cfg);
        h.send(Seg::new(F::SYN, PEER_ISS, 0).opts(syn_opts()));
        assert_eq!(h.recv().len(), 1);
        h
    }

    /// A passive connection in ESTABLISHED, window scaling on both sides.
    pub fn established(cfg: Config) -> Harness {
        let mut h = Harness::syn_received(cfg);
        h.send(Seg::new(F::ACK, PEER_ISS + 1, ISS + 1).win(502));
        assert_eq!(h.recv(), vec![]);
        assert_eq!(h.state(), Some(State::Established));
        h.handle = h.ep.find(&tuple()).map(|c| c.handle());
        h
    }

    /// Send a segment from the peer.
    pub fn send(&mut self, seg: Seg) {
        self.send_from(remote(), seg);
    }

    pub fn send_from(&mut self, from: SocketAddr, seg: Seg) {
        let bytes = encode(from, local(), &seg);
        self.ep.handle(self.now, &bytes).unwrap();
        self.drain();
    }

    /// Raw bytes in (an ICMP error, say), then what it caused.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.ep.handle(self.now, bytes).unwrap();
        self.drain();
    }

    /// Everything the engine transmitted since the last call.
    pub fn recv(&mut self) -> Vec<Seg> {
        let mut out = Vec::new();
        while let Some(t) = self.ep.poll_transmit(self.now, &mut self.buf).unwrap() {
            let p = parse_segment(&self.buf[..t.len], true).unwrap();
            assert_eq!(SocketAddr::new(p.ip.src, p.tcp.src_port), t.src);
            out.push(Seg {
                flags: p.tcp.flags,
                seq: p.tcp.seq.get(),
                ack: p.tcp.ack.get(),
                window: p.tcp.window,
                options: p.tcp.options,
                payload: p.tcp.payload.to_vec(),
            });
        }
        self.drain();
        out
    }

    /// Send `seg` and assert the engine answers with exactly `reply`.
    pub fn exchange(&mut self, seg: Seg, reply: Option<Seg>) {
        self.send(seg);
        assert_eq!(self.recv(), reply.into_iter().collect::<Vec<_>>());
    }

    /// Let `d` pass, firing due timers.
    pub fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
        self.ep.handle_timeout(self.now);
        self.drain();
    }

    /// Advance to the next timer deadline; returns how long that was.
    pub fn next_timer(&mut self) -> Option<Duration> {
        let at = self.ep.poll_timeout()?;
        let d = at - self.now;
        self.now = at;
        self.ep.handle_timeout(at);
        self.drain();
        Some(d)
    }

    pub fn state(&self) -> Option<State> {
        self.ep.find(&tuple()).map(|c| c.state())
    }

    pub fn has_event(&self, ev: Event) -> bool {
        self.events.iter().any(|(_, e)| *e == ev)
    }

    /// Rules cited by decisions (not transmissions) since the start.
    pub fn rules(&self) -> Vec<u8> {
        self.steps
            .iter()
            .filter(|s| !matches!(s.action, synack_engine::Action::Transmitted))
            .map(|s| s.rule.id())
            .collect()
    }

    fn drain(&mut self) {
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
        while let Some(s) = self.ep.poll_step() {
            self.steps.push(s);
        }
    }
}

pub fn tuple() -> Tuple {
    Tuple {
        local: local(),
        remote: remote(),
    }
}

pub fn encode(from: SocketAddr, to: SocketAddr, seg: &Seg) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: from.port(),
        dst_port: to.port(),
        seq: SeqNum(seg.seq),
        ack: SeqNum(seg.ack),
        flags: seg.flags,
        window: seg.window,
        urgent: 0,
        options: seg.options,
        payload: &seg.payload,
    };
    let mut buf = vec![0u8; 2000];
    let n = emit_segment(
        &mut buf,
        &IpHeader::new(from.ip(), to.ip()),
        &repr,
        OptionLayout::Linux,
    )
    .unwrap();
    buf.truncate(n);
    buf
}
