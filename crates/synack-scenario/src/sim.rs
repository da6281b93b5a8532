//! The simulated peer: two engines over the simulated link on a virtual
//! clock. A scenario's `sim` drives a [`SimRun`]; the trace is gathered
//! here for all of them.

use std::net::SocketAddr;

use synack_engine::sim::{Pair, Side, SimLink};
use synack_engine::{Config, ConnHandle, Endpoint, Event, Instant, IsnMode, State};
use synack_trace::{IsnOrigin, Peer, Trace};

use crate::Options;

pub struct SimRun<'a> {
    pub o: &'a Options,
    pub pair: Pair,
    /// Where the scenario's run stops at the latest.
    pub limit: Instant,
    /// Where the client connected (the server's port, or a closed one).
    pub target: SocketAddr,
    listening: Vec<SocketAddr>,
}

/// The ISN key and RNG seed of one side: a base key per side perturbed by
/// `--seed` (seed 0 gives the base keys themselves), or by a fresh random
/// number when there is no seed, so ISNs differ from run to run.
pub(crate) fn secrets(seed: Option<u64>, side: Side) -> ([u8; 16], u64) {
    let s = seed.unwrap_or_else(fresh);
    let (mut key, base) = match side {
        Side::A => (*b"synack-client-ky", 1u64),
        Side::B => (*b"synack-server-ky", 2u64),
    };
    for (k, b) in key.iter_mut().zip(s.to_le_bytes()) {
        *k ^= b;
    }
    (
        key,
        base.wrapping_add(s.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
    )
}

/// A random number from the standard library's per-process hash keys.
fn fresh() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

/// A profile's config with `side`'s secrets and a fixed ISN if asked.
pub(crate) fn config(o: &Options, side: Side, isn: Option<u32>) -> Config {
    let (key, seed) = secrets(o.seed, side);
    let mut c = match o.profile {
        synack_trace::Profile::Rfc => Config::rfc(),
        synack_trace::Profile::LinuxCompat => Config::linux(),
    }
    .with_secrets(key, seed);
    if let Some(n) = isn {
        c.isn = IsnMode::Fixed(n);
    }
    c
}

pub(crate) fn origin(cfg: &Config, o: &Options) -> IsnOrigin {
    match cfg.isn {
        IsnMode::Fixed(_) => IsnOrigin::Fixed,
        _ => IsnOrigin::Rfc6528 {
            fresh_key: o.seed.is_none(),
        },
    }
}

impl SimRun<'_> {
    pub fn listen(&mut self, at: SocketAddr) -> Result<(), String> {
        self.pair.b.listen(at).map_err(err)?;
        self.listening.push(at);
        Ok(())
    }

    pub fn connect(&mut self, from: SocketAddr, to: SocketAddr) -> Result<ConnHandle, String> {
        let now = self.pair.now;
        self.pair.a.connect(now, from, to).map_err(err)
    }

    pub fn run_until(&mut self, done: impl FnMut(&Pair) -> bool) {
        self.pair.run_until(self.limit, done);
    }

    /// The server listens, the client connects, both reach ESTABLISHED:
    /// the client's connection and the server's.
    pub fn handshake(&mut self) -> Result<(ConnHandle, ConnHandle), String> {
        let (c, s) = (self.o.client, self.o.server);
        self.listen(s)?;
        let client = self.connect(c, s)?;
        self.run_until(SimRun::both_up);
        Ok((client, self.conn_of(Side::B, Event::Accepted)?))
    }

    /// Both the client's connect() and the server's accept queue have it.
    pub fn both_up(p: &Pair) -> bool {
        p.has_event(Side::A, Event::Connected) && p.has_event(Side::B, Event::Accepted)
    }

    pub fn count(p: &Pair, side: Side, ev: Event) -> usize {
        p.events
            .iter()
            .filter(|e| e.side == side && e.event == ev)
            .count()
    }

    /// The connection `side` first reported `ev` on.
    pub fn conn_of(&self, side: Side, ev: Event) -> Result<ConnHandle, String> {
        self.pair
            .events
            .iter()
            .find(|e| e.side == side && e.event == ev)
            .map(|e| e.conn)
            .ok_or_else(|| format!("no {ev:?} on the {side:?} side"))
    }

    /// Run everything due up to `at`, then set the clock to `at`.
    pub fn advance_to(&mut self, at: Instant) {
        settle(&mut self.pair, at);
        self.pair.now = self.pair.now.max(at);
    }

    /// The server reads the request and answers; the client reads it.
    pub fn exchange(&mut self) -> Result<(), String> {
        let server = self.conn_of(Side::B, Event::Accepted)?;
        let mut buf = [0u8; 256];
        self.pair.b.recv(server, &mut buf).map_err(err)?;
        let now = self.pair.now;
        self.pair
            .b
            .send(now, server, crate::RESPONSE)
            .map_err(err)?;
        self.run_until(|p| p.has_event(Side::A, Event::Readable));
        Ok(())
    }
}

pub fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Run everything due up to `at`; the clock stays at the last event.
fn settle(p: &mut Pair, at: Instant) {
    loop {
        let next = [
            p.link.next_delivery(),
            p.a.poll_timeout(),
            p.b.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let busy = p.a.has_transmit() || p.b.has_transmit();
        if !busy && next.is_none_or(|n| n > at) {
            break;
        }
        if !p.step() {
            break;
        }
    }
}

/// Run `o.scenario` between two engines to its end. The clock starts at 0.
pub fn run_sim(o: &Options) -> Result<Trace, String> {
    let mut a = config(o, Side::A, o.client_isn);
    let mut b = config(o, Side::B, o.server_isn);
    (o.scenario.tune)(o, &mut a, &mut b);
    let isn = [origin(&a, o), origin(&b, o)];
    let small_backlog = (b.syn_backlog < Config::rfc().syn_backlog).then_some(b.syn_backlog);
    let mut link = SimLink::new(o.delay, 7);
    link.faults = (o.scenario.faults)(o);
    let mut run = SimRun {
        o,
        pair: Pair::new(Endpoint::new(a), Endpoint::new(b), link),
        limit: Instant::from_millis(600_000),
        target: o.server,
        listening: Vec::new(),
    };
    (o.scenario.sim)(&mut run)?;
    // Let the last segments land (e.g. the final ACK).
    let end = run.pair.now + o.delay * 2;
    settle(&mut run.pair, end);
    run.pair.collect();
    let server_listened = run.listening.contains(&run.target);
    let SimRun { pair, target, .. } = run;
    Ok(Trace {
        scenario: o.scenario.name,
        profile: o.profile,
        peer: Peer::Sim,
        started_at: std::time::SystemTime::now(),
        client: o.client,
        server: target,
        delay: o.delay,
        end: pair.now,
        steps: pair.steps,
        link: pair.link.log,
        events: pair.events,
        kernel: Vec::new(),
        settings: Vec::new(),
        initial: [
            State::Closed,
            if server_listened {
                State::Listen
            } else {
                State::Closed
            },
        ],
        isn,
        syn_backlog: small_backlog,
    })
}
