//! A simulated link between two endpoints on a virtual clock: fixed one-way
//! latency, and faults injected by rule (drop the Nth segment one way, drop
//! everything one way, random loss, duplication, reordering). Everything
//! that crosses it is logged with its fate, so an explanation can say what
//! was dropped and when.

use core::time::Duration;

use crate::endpoint::{Endpoint, MAX_PACKET};
use crate::out::Event;
use crate::step::{ConnHandle, Step};
use crate::time::Instant;

/// Which end of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Conventionally the client.
    A,
    /// Conventionally the server.
    B,
}

impl Side {
    /// The other end.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
    fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// A rule deciding what happens to segments sent by `from`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Drop the `n`th segment (1-based) that `from` sends.
    DropNth {
        /// The sending side.
        from: Side,
        /// Which of its segments, from 1.
        n: usize,
    },
    /// Drop every segment `from` sends (a filtered port, a dead path).
    DropAll {
        /// The sending side.
        from: Side,
    },
    /// Drop each segment with this probability.
    Loss {
        /// Only this side's segments, or both.
        from: Option<Side>,
        /// Probability, 0 to 1.
        prob: f64,
    },
    /// Deliver a second copy with this probability.
    Duplicate {
        /// Probability, 0 to 1.
        prob: f64,
    },
    /// Delay a segment by `extra` with this probability, so later ones pass it.
    Reorder {
        /// Probability, 0 to 1.
        prob: f64,
        /// The added delay.
        extra: Duration,
    },
    /// Delay the `n`th segment `from` sends by `extra`.
    DelayNth {
        /// The sending side.
        from: Side,
        /// Which of its segments, from 1.
        n: usize,
        /// The added delay.
        extra: Duration,
    },
    /// Drop every segment addressed to this IP (a spoofed source that does
    /// not exist, so nobody answers the replies).
    Blackhole {
        /// The address nothing answers for.
        ip: core::net::IpAddr,
    },
    /// `from`'s segments never arrive: a firewall at the far end rejects
    /// each with an ICMP destination unreachable, sent from the address the
    /// segment was for (as nftables' `reject` does), logged as the other
    /// side's.
    Reject {
        /// The side whose segments are rejected.
        from: Side,
        /// What the ICMP error says.
        reason: synack_wire::Unreachable,
    },
}

/// The destination address of an IP packet.
fn destination(bytes: &[u8]) -> Option<core::net::IpAddr> {
    match bytes.first()? >> 4 {
        4 => {
            let b: [u8; 4] = bytes.get(16..20)?.try_into().ok()?;
            Some(core::net::IpAddr::from(b))
        }
        6 => {
            let b: [u8; 16] = bytes.get(24..40)?.try_into().ok()?;
            Some(core::net::IpAddr::from(b))
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What happened to a segment on the link.
pub enum Fate {
    /// Arrived after the link's latency.
    Delivered,
    /// Dropped by the fault at this index in the fault list.
    Dropped {
        /// The index of the fault.
        fault: usize,
    },
    /// A duplicate copy delivered as well.
    Duplicated,
    /// Delivered late.
    Delayed,
}

/// One segment on the link.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkRecord {
    /// When it was sent.
    pub sent_at: Instant,
    /// Who sent it.
    pub from: Side,
    /// 1-based count of segments `from` has sent, this one included.
    pub nth: usize,
    /// What the link did with it.
    pub fate: Fate,
    /// When it arrived, if it did.
    pub deliver_at: Option<Instant>,
    /// The IP packet.
    pub bytes: Vec<u8>,
}

struct InFlight {
    at: Instant,
    to: Side,
    bytes: Vec<u8>,
}

/// The link: a fixed one-way latency, faults, and a log of every segment.
pub struct SimLink {
    /// One-way delay.
    pub latency: Duration,
    /// What happens to segments, by rule.
    pub faults: Vec<Fault>,
    in_flight: Vec<InFlight>,
    sent: [usize; 2],
    rng: u64,
    /// Every segment sent, with its fate.
    pub log: Vec<LinkRecord>,
}

impl SimLink {
    /// A link with this latency; `seed` drives the random faults.
    pub fn new(latency: Duration, seed: u64) -> SimLink {
        SimLink {
            latency,
            faults: Vec::new(),
            in_flight: Vec::new(),
            sent: [0, 0],
            rng: seed | 1,
            log: Vec::new(),
        }
    }

    fn uniform(&mut self) -> f64 {
        // xorshift64*: deterministic per seed.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Put a segment on the link, applying the faults in order.
    pub fn send(&mut self, now: Instant, from: Side, bytes: &[u8]) {
        self.sent[from.index()] += 1;
        let nth = self.sent[from.index()];
        let mut fate = Fate::Delivered;
        let mut delay = self.latency;
        let mut copies = 1;
        for i in 0..self.faults.len() {
            let f = self.faults[i];
            match f {
                Fault::DropNth { from: s, n } if s == from && n == nth => {
                    fate = Fate::Dropped { fault: i };
                }
                Fault::DropAll { from: s } if s == from => fate = Fate::Dropped { fault: i },
                Fault::Loss { from: s, prob }
                    if s.is_none_or(|s| s == from) && self.uniform() < prob =>
                {
                    fate = Fate::Dropped { fault: i };
                }
                Fault::Duplicate { prob } if self.uniform() < prob => copies = 2,
                Fault::Reorder { prob, extra } if self.uniform() < prob => delay += extra,
                Fault::DelayNth { from: s, n, extra } if s == from && n == nth => delay += extra,
                Fault::Blackhole { ip } if destination(bytes) == Some(ip) => {
                    fate = Fate::Dropped { fault: i };
                }
                Fault::Reject { from: s, .. } if s == from => fate = Fate::Dropped { fault: i },
                _ => {}
            }
            if matches!(fate, Fate::Dropped { .. }) {
                break;
            }
        }
        let deliver_at = match fate {
            Fate::Dropped { .. } => None,
            _ => Some(now + delay),
        };
        if let Some(at) = deliver_at {
            if delay > self.latency {
                fate = Fate::Delayed;
            }
            for _ in 0..copies {
                self.in_flight.push(InFlight {
                    at,
                    to: from.other(),
                    bytes: bytes.to_vec(),
                });
            }
            if copies == 2 {
                fate = Fate::Duplicated;
            }
        }
        self.log.push(LinkRecord {
            sent_at: now,
            from,
            nth,
            fate,
            deliver_at,
            bytes: bytes.to_vec(),
        });
        if let Fate::Dropped { fault } = fate
            && let Some(Fault::Reject { reason, .. }) = self.faults.get(fault).copied()
            && let Some(to) = destination(bytes)
        {
            // The far end's firewall answers when the segment reaches it.
            let mut b = [0u8; 1280];
            if let Ok(n) = synack_wire::emit_unreachable(&mut b, to, reason, bytes) {
                let icmp = b.get(..n).unwrap_or(&[]).to_vec();
                self.send(now + self.latency, from.other(), &icmp);
            }
        }
    }

    /// When the next segment in flight arrives.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.iter().map(|p| p.at).min()
    }

    /// Take the earliest segment due by `now` (ties in send order).
    fn take_due(&mut self, now: Instant) -> Option<InFlight> {
        let (i, _) = self
            .in_flight
            .iter()
            .enumerate()
            .filter(|(_, p)| p.at <= now)
            .min_by_key(|(i, p)| (p.at, *i))?;
        Some(self.in_flight.remove(i))
    }
}

/// An event seen on one side, with its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SideEvent {
    /// When.
    pub at: Instant,
    /// Which endpoint.
    pub side: Side,
    /// Which connection.
    pub conn: ConnHandle,
    /// The event.
    pub event: Event,
}

/// Two endpoints joined by a [`SimLink`].
pub struct Pair {
    /// The endpoint on side A (conventionally the client).
    pub a: Endpoint,
    /// The endpoint on side B (conventionally the server).
    pub b: Endpoint,
    /// The link between them.
    pub link: SimLink,
    /// The virtual clock.
    pub now: Instant,
    /// Events of both sides in order.
    pub events: Vec<SideEvent>,
    /// Step records of both sides in the order they happened.
    pub steps: Vec<(Side, Step)>,
    buf: Vec<u8>,
}

impl Pair {
    /// Two endpoints on `link`, the clock at zero.
    pub fn new(a: Endpoint, b: Endpoint, link: SimLink) -> Pair {
        Pair {
            a,
            b,
            link,
            now: Instant::ZERO,
            events: Vec::new(),
            steps: Vec::new(),
            buf: vec![0; MAX_PACKET + 100],
        }
    }

    /// The endpoint on `side`.
    pub fn endpoint(&mut self, side: Side) -> &mut Endpoint {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Move steps and events produced so far into `self.steps`/`self.events`.
    pub fn collect(&mut self) {
        for side in [Side::A, Side::B] {
            let now = self.now;
            let ep = match side {
                Side::A => &mut self.a,
                Side::B => &mut self.b,
            };
            while let Some(s) = ep.poll_step() {
                self.steps.push((side, s));
            }
            while let Some((conn, event)) = ep.poll_event() {
                self.events.push(SideEvent {
                    at: now,
                    side,
                    conn,
                    event,
                });
            }
        }
    }

    /// One round: transmit, deliver what is due, otherwise advance the clock
    /// to the next delivery or timer. Returns `false` when nothing is left.
    pub fn step(&mut self) -> bool {
        self.collect();
        let mut progressed = false;
        for side in [Side::A, Side::B] {
            loop {
                let now = self.now;
                let ep = match side {
                    Side::A => &mut self.a,
                    Side::B => &mut self.b,
                };
                match ep.poll_transmit(now, &mut self.buf) {
                    Ok(Some(t)) => {
                        let bytes = self.buf.get(..t.len).unwrap_or(&[]);
                        self.link.send(now, side, bytes);
                        progressed = true;
                    }
                    Ok(None) => break,
                    // The buffer is MAX_PACKET + 100 bytes; a segment that
                    // cannot be emitted is skipped rather than looping.
                    Err(_) => continue,
                }
            }
        }
        self.collect();
        while let Some(p) = self.link.take_due(self.now) {
            let now = self.now;
            // Malformed input is recorded by the endpoint as a step.
            let _ = self.endpoint(p.to).handle(now, &p.bytes);
            progressed = true;
        }
        self.collect();
        if progressed {
            return true;
        }
        let next = [
            self.link.next_delivery(),
            self.a.poll_timeout(),
            self.b.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        let now = self.now;
        self.a.handle_timeout(now);
        self.b.handle_timeout(now);
        self.collect();
        true
    }

    /// Step until `done` holds, nothing is left, or the clock passes `limit`.
    /// Returns whether `done` held.
    pub fn run_until(&mut self, limit: Instant, mut done: impl FnMut(&Pair) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if self.now > limit || !self.step() {
                return done(self);
            }
        }
    }

    /// Step until nothing is left to do or the clock passes `limit`.
    pub fn run_to_quiet(&mut self, limit: Instant) {
        while self.now <= limit && self.step() {}
    }

    /// Whether `side` reported `event`.
    pub fn has_event(&self, side: Side, event: Event) -> bool {
        self.events
            .iter()
            .any(|e| e.side == side && e.event == event)
    }
}
