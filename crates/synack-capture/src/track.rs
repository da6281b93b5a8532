//! Attempts by 4-tuple, in one pass. An attempt leaves the table (and is
//! handed out) when it can no longer change: 2 s of capture time after it
//! closed or was reset, 300 s after its last segment otherwise (zeek's TCP
//! inactivity timeout), or when a new SYN reuses its ports. So memory
//! follows the connections alive at once, not the size of the file; and
//! past [`Tracker::max_live`] attempts at once the oldest is handed out
//! early, marked `evicted` (zeek does the same), so memory is bounded
//! whatever the capture.
//!
//! An attempt that is one SYN so far is held as a `FirstSyn` (56 bytes)
//! under a 37-byte key; the full [`Attempt`] is made at its second segment
//! or when it is handed out. A scan's attempts, which never get a second
//! segment, cost about 200 bytes each while held.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::attempt::{Attempt, IcmpSeen, Seg};
use crate::first_syn::FirstSyn;

/// After a close or reset, late RSTs and retransmitted FINs (a lost last
/// ACK costs at least one RTO, 200 ms on Linux) still belong to the attempt
/// for this long.
pub const LINGER_S: f64 = 2.0;
/// An attempt silent for this long is over.
pub const IDLE_S: f64 = 300.0;
/// Attempts held at once by default (`synack analyze --max-attempts`).
pub const MAX_LIVE: usize = 100_000;

/// A 4-tuple, either direction: the lower end first, addresses as 16
/// bytes (IPv4 mapped, with `v6` telling the families apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    lo: [u8; 16],
    hi: [u8; 16],
    lo_port: u16,
    hi_port: u16,
    v6: bool,
}

fn bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

impl Key {
    fn of(a: SocketAddr, b: SocketAddr) -> Key {
        let (x, y) = ((bytes(a.ip()), a.port()), (bytes(b.ip()), b.port()));
        let ((lo, lo_port), (hi, hi_port)) = if x <= y { (x, y) } else { (y, x) };
        Key {
            lo,
            hi,
            lo_port,
            hi_port,
            v6: a.is_ipv6(),
        }
    }

    fn addr(&self, b: [u8; 16], port: u16) -> SocketAddr {
        let v6 = Ipv6Addr::from(b);
        let ip = match (self.v6, v6.to_ipv4_mapped()) {
            (false, Some(v4)) => IpAddr::V4(v4),
            (false, None) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            (true, _) => IpAddr::V6(v6),
        };
        SocketAddr::new(ip, port)
    }

    /// Whether `a` is the lower end.
    fn is_lo(&self, a: SocketAddr) -> bool {
        (bytes(a.ip()), a.port()) == (self.lo, self.lo_port)
    }

    /// The two ends, the lower first.
    fn ends(&self) -> (SocketAddr, SocketAddr) {
        (
            self.addr(self.lo, self.lo_port),
            self.addr(self.hi, self.hi_port),
        )
    }
}

/// An attempt in the table.
enum Slot {
    /// One SYN so far, from `client_lo` (true: the key's lower end).
    Syn {
        syn: FirstSyn,
        client_lo: bool,
    },
    Full(Box<Attempt>),
}

impl Slot {
    fn first_frame(&self) -> u64 {
        match self {
            Slot::Syn { syn, .. } => syn.frame(),
            Slot::Full(a) => a.first_frame,
        }
    }

    fn last_ts(&self) -> f64 {
        match self {
            Slot::Syn { syn, .. } => syn.ts(),
            Slot::Full(a) => a.last_ts,
        }
    }

    fn is_done(&self) -> bool {
        match self {
            Slot::Syn { .. } => false,
            Slot::Full(a) => a.is_done(),
        }
    }

    fn stream(&self) -> Option<u64> {
        match self {
            Slot::Syn { syn, .. } => syn.stream(),
            Slot::Full(a) => a.tcp_stream,
        }
    }

    /// A SYN from the client with a new ISN begins a new attempt.
    fn reused_by(&self, key: &Key, s: &Seg) -> bool {
        let f = s.flags;
        if !f.syn() || f.ack() {
            return false;
        }
        match self {
            Slot::Syn { syn, client_lo } => {
                let (lo, hi) = key.ends();
                let client = if *client_lo { lo } else { hi };
                s.src == client && syn.isn() != s.seq.get()
            }
            Slot::Full(a) => {
                s.src == a.client && a.client_isn.is_some_and(|isn| isn != s.seq.get())
            }
        }
    }

    /// A new attempt's slot: compact while it is one SYN.
    fn new(key: &Key, s: &Seg, stream: Option<u64>, reused: bool) -> Slot {
        let f = s.flags;
        if let Some(syn) = FirstSyn::of(s, stream, reused).filter(|_| !f.ack()) {
            return Slot::Syn {
                syn,
                client_lo: key.is_lo(s.src),
            };
        }
        let (c, srv) = if f.ack() {
            (s.dst, s.src)
        } else {
            (s.src, s.dst)
        };
        let mut fresh = Attempt::new(c, srv, s);
        fresh.port_reuse = reused;
        fresh.tcp_stream = stream;
        fresh.add(s);
        Slot::Full(Box::new(fresh))
    }

    /// The attempt, made full if it was not.
    fn full(&mut self, key: &Key) -> Option<&mut Attempt> {
        if let Slot::Syn { syn, client_lo } = *self {
            *self = Slot::Full(Box::new(attempt_of(key, &syn, client_lo)));
        }
        match self {
            Slot::Full(a) => Some(a),
            Slot::Syn { .. } => None,
        }
    }

    fn into_attempt(self, key: &Key) -> Attempt {
        match self {
            Slot::Syn { syn, client_lo } => attempt_of(key, &syn, client_lo),
            Slot::Full(a) => *a,
        }
    }
}

/// An attempt on its way out: made into an [`Attempt`] (and finished) only
/// when it is taken, one at a time, so a batch of a hundred thousand costs
/// its slots, not their full attempts.
struct Out {
    key: Key,
    slot: Slot,
    evicted: bool,
    /// The capture's time when it was handed out.
    now: f64,
}

impl Out {
    fn attempt(self) -> Attempt {
        let mut a = self.slot.into_attempt(&self.key);
        a.evicted = self.evicted;
        a.finish(self.now);
        a
    }
}

fn attempt_of(key: &Key, syn: &FirstSyn, client_lo: bool) -> Attempt {
    let (lo, hi) = key.ends();
    let (c, s) = if client_lo { (lo, hi) } else { (hi, lo) };
    syn.attempt(c, s)
}

/// Collects attempts; see the module comment for when they are handed out.
pub struct Tracker {
    live: HashMap<Key, Slot, foldhash::fast::RandomState>,
    /// Keys in the order their attempts began (with the first frame, to
    /// tell a later attempt on the same key apart): the eviction order.
    order: VecDeque<(Key, u64)>,
    /// The most attempts held at once; more evict the oldest.
    pub max_live: usize,
    /// Attempts handed out early because of `max_live`.
    pub evicted: u64,
    ready: Vec<Out>,
    clock: f64,
    last_sweep: f64,
    /// TCP segments that belonged to no attempt (mid-stream traffic).
    pub unmatched: u64,
    /// The most attempts in the table at once.
    pub peak_live: usize,
    /// ICMP errors quoting a segment of no attempt held.
    pub unmatched_icmp: u64,
    /// tshark's `tcp.stream` numbering.
    streams: Streams,
}

/// tshark's `tcp.stream` numbering: the next index, and the conversations
/// not in the table (seen mid-stream, or whose attempt was handed out), by
/// a 64-bit hash of their key, with their index, so that their later
/// segments take no new one. Bounded: past `max` conversations the
/// numbering is no longer known and attempts get `None`.
struct Streams {
    next: u64,
    others: HashMap<u64, u64, foldhash::fast::RandomState>,
    hash: foldhash::fast::FixedState,
    max: usize,
    lost: bool,
}

impl Streams {
    fn other_key(&self, key: &Key) -> u64 {
        self.hash.hash_one(key)
    }

    /// The index tshark gives a new conversation; a SYN on a conversation
    /// seen before (mid-stream, or an attempt already handed out) starts a
    /// new one too, as a reused port does.
    fn new_stream(&mut self, key: &Key) -> Option<u64> {
        if !self.others.is_empty() {
            let h = self.other_key(key);
            self.others.remove(&h);
        }
        if self.lost {
            return None;
        }
        let n = self.next;
        self.next += 1;
        Some(n)
    }

    /// A segment of a conversation that is not an attempt: it takes an
    /// index the first time only.
    fn other_conversation(&mut self, key: &Key) {
        let h = self.other_key(key);
        if self.lost || self.others.contains_key(&h) {
            return;
        }
        let n = self.next;
        self.next += 1;
        self.remember(key, Some(n));
    }

    /// An attempt leaves the table: its conversation's later segments keep
    /// its index.
    fn remember(&mut self, key: &Key, stream: Option<u64>) {
        if let (Some(n), false) = (stream, self.lost) {
            if self.others.len() >= self.max {
                self.lost = true;
                self.others = HashMap::default();
                return;
            }
            let h = self.other_key(key);
            self.others.insert(h, n);
        }
    }
}

impl Default for Tracker {
    fn default() -> Tracker {
        Tracker::with_max_live(MAX_LIVE)
    }
}

impl Tracker {
    /// A tracker holding at most `max` attempts at once (at least one).
    pub fn with_max_live(max: usize) -> Tracker {
        Tracker {
            live: HashMap::default(),
            order: VecDeque::new(),
            max_live: max.max(1),
            evicted: 0,
            ready: Vec::new(),
            clock: 0.0,
            last_sweep: 0.0,
            unmatched: 0,
            peak_live: 0,
            unmatched_icmp: 0,
            streams: Streams {
                next: 0,
                others: HashMap::default(),
                hash: foldhash::fast::FixedState::with_seed(0x5eed),
                max: max.max(1),
                lost: false,
            },
        }
    }

    /// Hand an attempt out; `remember` its stream for later segments of
    /// its conversation.
    fn hand_out(&mut self, key: Key, slot: Slot, evicted: bool) {
        self.streams.remember(&key, slot.stream());
        self.ready.push(Out {
            key,
            slot,
            evicted,
            now: self.clock,
        });
    }

    /// Hand out the oldest attempt still held, marked evicted. Entries of
    /// attempts already gone are skipped; the queue is compacted when they
    /// outnumber the live ones.
    fn evict_oldest(&mut self) {
        while let Some((key, first)) = self.order.pop_front() {
            if let Entry::Occupied(o) = self.live.entry(key)
                && o.get().first_frame() == first
            {
                let slot = o.remove();
                self.hand_out(key, slot, true);
                self.evicted += 1;
                return;
            }
        }
    }

    pub fn add(&mut self, s: &Seg) {
        if s.ts > self.clock {
            self.clock = s.ts;
            if self.clock - self.last_sweep >= 1.0 {
                self.sweep();
            }
        }
        let key = Key::of(s.src, s.dst);
        let now = self.clock;
        // One lookup: the segment continues an attempt, or begins one.
        match self.live.entry(key) {
            Entry::Occupied(mut o) => {
                if !o.get().reused_by(&key, s) {
                    if let Some(a) = o.get_mut().full(&key) {
                        a.add(s);
                    }
                    return;
                }
                // The port was reused: the attempt before is over. Its
                // stream is not remembered, the new attempt holds the key.
                let stream = self.streams.new_stream(&key);
                let old = o.insert(Slot::new(&key, s, stream, true));
                self.ready.push(Out {
                    key,
                    slot: old,
                    evicted: false,
                    now,
                });
            }
            Entry::Vacant(v) => {
                if !s.flags.syn() {
                    self.unmatched += 1;
                    self.streams.other_conversation(&key);
                    return;
                }
                let stream = self.streams.new_stream(&key);
                v.insert(Slot::new(&key, s, stream, false));
            }
        }
        self.order.push_back((key, s.frame));
        if self.live.len() > self.max_live {
            self.evict_oldest();
        }
        if self.order.len() > 2 * self.live.len() + 1024 {
            let live = &self.live;
            self.order
                .retain(|(k, f)| live.get(k).is_some_and(|a| a.first_frame() == *f));
        }
        self.peak_live = self.peak_live.max(self.live.len());
    }

    /// An ICMP error about a TCP segment: it belongs to the attempt whose
    /// 4-tuple it quotes.
    pub fn add_icmp(&mut self, e: &IcmpSeen) {
        let key = Key::of(e.quoted_src, e.quoted_dst);
        match self.live.get_mut(&key) {
            Some(slot) => {
                if let Some(a) = slot.full(&key) {
                    a.on_icmp(e);
                }
            }
            None => self.unmatched_icmp += 1,
        }
    }

    fn sweep(&mut self) {
        self.last_sweep = self.clock;
        let now = self.clock;
        let start = self.ready.len();
        let over: Vec<(Key, Slot)> = self
            .live
            .extract_if(|_, a| {
                let idle = now - a.last_ts();
                idle > IDLE_S || (idle > LINGER_S && a.is_done())
            })
            .collect();
        for (key, slot) in over {
            self.hand_out(key, slot, false);
        }
        if let Some(batch) = self.ready.get_mut(start..) {
            batch.sort_by_key(|o| o.slot.first_frame());
        }
    }

    /// Attempts that are over, in order of their first frame per batch.
    pub fn take_ready(&mut self) -> impl Iterator<Item = Attempt> + '_ {
        self.ready.drain(..).map(Out::attempt)
    }

    /// Attempts in the table now.
    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// Everything still held, finished, in order of first frame (made one
    /// at a time as the iterator is read, taken from the table in the
    /// eviction order, which is that order).
    pub fn finish(mut self) -> impl Iterator<Item = Attempt> {
        let now = self.clock;
        let ready: Vec<Out> = self.ready.drain(..).collect();
        let mut order = std::mem::take(&mut self.order);
        let mut live = std::mem::take(&mut self.live);
        let rest = std::iter::from_fn(move || {
            while let Some((key, first)) = order.pop_front() {
                if live.get(&key).is_some_and(|a| a.first_frame() == first)
                    && let Some(slot) = live.remove(&key)
                {
                    return Some(Out {
                        key,
                        slot,
                        evicted: false,
                        now,
                    });
                }
            }
            None
        });
        ready.into_iter().chain(rest).map(Out::attempt)
    }
}
