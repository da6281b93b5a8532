//! Attempts by 4-tuple, in one pass. An attempt leaves the table (and is
//! handed out) when it can no longer change: 2 s of capture time after it
//! closed or was reset, 300 s after its last segment otherwise (zeek's TCP
//! inactivity timeout), or when a new SYN reuses its ports. So memory
//! follows the connections alive at once, not the size of the file; and
//! past [`Tracker::max_live`] attempts at once the oldest is handed out
//! early, marked `evicted` (zeek does the same), so memory is bounded
//! whatever the capture.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use crate::attempt::{Attempt, IcmpSeen, Seg};

/// After a close or reset, late RSTs and retransmitted FINs (a lost last
/// ACK costs at least one RTO, 200 ms on Linux) still belong to the attempt
/// for this long.
pub const LINGER_S: f64 = 2.0;
/// An attempt silent for this long is over.
pub const IDLE_S: f64 = 300.0;
/// Attempts held at once by default (`synack analyze --max-attempts`).
pub const MAX_LIVE: usize = 100_000;

type Key = (SocketAddr, SocketAddr);

/// Collects attempts; see the module comment for when they are handed out.
pub struct Tracker {
    live: HashMap<Key, Attempt, foldhash::fast::RandomState>,
    /// Keys in the order their attempts began (with the first frame, to
    /// tell a later attempt on the same key apart): the eviction order.
    order: VecDeque<(Key, u64)>,
    /// The most attempts held at once; more evict the oldest.
    pub max_live: usize,
    /// Attempts handed out early because of `max_live`.
    pub evicted: u64,
    ready: Vec<Attempt>,
    clock: f64,
    last_sweep: f64,
    /// TCP segments that belonged to no attempt (mid-stream traffic).
    pub unmatched: u64,
    /// The most attempts in the table at once.
    pub peak_live: usize,
    /// ICMP errors quoting a segment of no attempt held.
    pub unmatched_icmp: u64,
    /// tshark's next `tcp.stream` index.
    next_stream: u64,
    /// Conversations not in `live` (seen mid-stream, or whose attempt was
    /// handed out) and their stream index, so that their later segments
    /// take no new index. Bounded: past [`Tracker::max_streams`] the
    /// numbering is no longer known and attempts get `None`.
    others: HashMap<Key, u64, foldhash::fast::RandomState>,
    /// The most conversations remembered in `others`.
    pub max_streams: usize,
    streams_lost: bool,
}

impl Default for Tracker {
    fn default() -> Tracker {
        Tracker::with_max_live(MAX_LIVE)
    }
}

fn pair(a: SocketAddr, b: SocketAddr) -> Key {
    if a <= b { (a, b) } else { (b, a) }
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
            next_stream: 0,
            others: HashMap::default(),
            max_streams: max.max(1).saturating_mul(4),
            streams_lost: false,
        }
    }

    /// The index tshark gives a new conversation; a SYN on a conversation
    /// seen before (mid-stream, or an attempt already handed out) starts a
    /// new one too, as a reused port does.
    fn new_stream(&mut self, key: Key) -> Option<u64> {
        self.others.remove(&key);
        if self.streams_lost {
            return None;
        }
        let n = self.next_stream;
        self.next_stream += 1;
        Some(n)
    }

    /// A segment of a conversation that is not an attempt: it takes an
    /// index the first time only.
    fn other_conversation(&mut self, key: Key) {
        if self.streams_lost || self.others.contains_key(&key) {
            return;
        }
        if self.others.len() >= self.max_streams {
            self.streams_lost = true;
            self.others = HashMap::default();
            return;
        }
        self.others.insert(key, self.next_stream);
        self.next_stream += 1;
    }

    /// An attempt leaves the table: its conversation's later segments keep
    /// its index.
    fn remember(&mut self, key: Key, a: &Attempt) {
        self.remember_stream(key, a.tcp_stream);
    }

    fn remember_stream(&mut self, key: Key, stream: Option<u64>) {
        if let (Some(n), false) = (stream, self.streams_lost) {
            if self.others.len() >= self.max_streams {
                self.streams_lost = true;
                self.others = HashMap::default();
                return;
            }
            self.others.insert(key, n);
        }
    }

    /// Hand out the oldest attempt still held, marked evicted. Entries of
    /// attempts already gone are skipped; the queue is compacted when they
    /// outnumber the live ones.
    fn evict_oldest(&mut self) {
        while let Some((key, first)) = self.order.pop_front() {
            if self.live.get(&key).is_some_and(|a| a.first_frame == first)
                && let Some(mut a) = self.live.remove(&key)
            {
                a.evicted = true;
                a.finish(self.clock);
                self.remember(key, &a);
                self.ready.push(a);
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
        let key = pair(s.src, s.dst);
        let f = s.flags;
        // A SYN with a new ISN from the client is a new attempt (port reuse).
        let reuse = |a: &Attempt| {
            f.syn()
                && !f.ack()
                && s.src == a.c
                && a.client_isn.is_some_and(|isn| isn != s.seq.get())
        };
        // The common case, one lookup: the segment continues an attempt.
        let reused = match self.live.get_mut(&key) {
            Some(a) if !reuse(a) => {
                a.add(s);
                return;
            }
            Some(_) => true,
            None if f.syn() => false,
            None => {
                self.unmatched += 1;
                self.other_conversation(key);
                return;
            }
        };
        let (c, srv) = if f.ack() {
            (s.dst, s.src)
        } else {
            (s.src, s.dst)
        };
        let mut fresh = Attempt::new(c, srv, s);
        fresh.port_reuse = reused;
        fresh.tcp_stream = self.new_stream(key);
        fresh.add(s);
        self.order.push_back((key, fresh.first_frame));
        if let Some(mut old) = self.live.insert(key, fresh) {
            old.finish(self.clock);
            self.ready.push(old);
        }
        if self.live.len() > self.max_live {
            self.evict_oldest();
        }
        if self.order.len() > 2 * self.live.len() + 1024 {
            let live = &self.live;
            self.order
                .retain(|(k, f)| live.get(k).is_some_and(|a| a.first_frame == *f));
        }
        self.peak_live = self.peak_live.max(self.live.len());
    }

    /// An ICMP error about a TCP segment: it belongs to the attempt whose
    /// 4-tuple it quotes.
    pub fn add_icmp(&mut self, e: &IcmpSeen) {
        match self.live.get_mut(&pair(e.quoted_src, e.quoted_dst)) {
            Some(a) => a.on_icmp(e),
            None => self.unmatched_icmp += 1,
        }
    }

    fn sweep(&mut self) {
        self.last_sweep = self.clock;
        let now = self.clock;
        let start = self.ready.len();
        self.ready.extend(
            self.live
                .extract_if(|_, a| {
                    let idle = now - a.last_ts;
                    idle > IDLE_S || (idle > LINGER_S && a.is_done())
                })
                .map(|(_, mut a)| {
                    a.finish(now);
                    a
                }),
        );
        if let Some(batch) = self.ready.get_mut(start..) {
            batch.sort_by_key(|a| a.first_frame);
        }
        let gone: Vec<(Key, Option<u64>)> = self
            .ready
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .map(|a| (a.key(), a.tcp_stream))
            .collect();
        for (key, n) in gone {
            self.remember_stream(key, n);
        }
    }

    /// Attempts that are over, in order of their first frame per batch.
    pub fn take_ready(&mut self) -> std::vec::Drain<'_, Attempt> {
        self.ready.drain(..)
    }

    /// Attempts in the table now.
    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// Everything still held, finished, in order of first frame.
    pub fn finish(mut self) -> Vec<Attempt> {
        let mut rest: Vec<Attempt> = self.ready.drain(..).collect();
        let start = rest.len();
        let now = self.clock;
        rest.extend(self.live.into_values().map(|mut a| {
            a.finish(now);
            a
        }));
        if let Some(tail) = rest.get_mut(start..) {
            tail.sort_by_key(|a| a.first_frame);
        }
        rest
    }
}
