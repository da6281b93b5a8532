//! Attempts by 4-tuple, in one pass. An attempt leaves the table (and is
//! handed out) when it can no longer change: 2 s of capture time after it
//! closed or was reset, 300 s after its last segment otherwise (zeek's TCP
//! inactivity timeout), or when a new SYN reuses its ports. So memory
//! follows the connections alive at once, not the size of the file; and
//! past [`Tracker::max_live`] attempts at once the oldest is handed out
//! early, marked `evicted` (zeek does the same), so memory is bounded
//! whatever the capture. The table itself (compact keys per family, an
//! attempt of one SYN in 48 bytes) is in `table.rs`; the tables of
//! attempts in overlay networks in `overlay.rs`.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::attempt::{Attempt, IcmpSeen, Seg};
use crate::beneath::{Network, Zone};
use crate::first_syn::{LoneCounts, LoneSyn};
use crate::overlay::Overlays;
use crate::table::{Added, Held, Slot, Spares, Table, V4, V6, oldest_of, pop_older};

/// After a close or reset, late RSTs and retransmitted FINs (a lost last
/// ACK costs at least one RTO, 200 ms on Linux) still belong to the attempt
/// for this long.
pub const LINGER_S: f64 = 2.0;
/// An attempt silent for this long is over.
pub const IDLE_S: f64 = 300.0;
/// Attempts held at once by default (`synack analyze --max-attempts`).
pub const MAX_LIVE: usize = 100_000;

/// An attempt on its way out: made into an [`Attempt`] (and finished) only
/// when it is taken, one at a time, so a batch of a hundred thousand costs
/// its slots, not their full attempts.
struct Out {
    ends: (SocketAddr, SocketAddr),
    /// Its overlay network (0: none).
    zone: Zone,
    slot: Slot,
    evicted: bool,
    /// The capture's time when it was handed out.
    now: f64,
}

impl Out {
    fn held((ends, zone, slot): Held, now: f64) -> Out {
        Out {
            ends,
            zone,
            slot,
            evicted: false,
            now,
        }
    }

    fn attempt(self) -> Attempt {
        let mut a = self.slot.into_attempt(self.ends);
        a.evicted = self.evicted;
        a.network = Network::of_zone(self.zone);
        a.finish(self.now);
        a
    }

    /// The attempt made (in `spare`'s box when there is one) and finished,
    /// given to `hand`; `spare` gets the box `hand` gives back.
    fn give(self, spares: &mut Spares, hand: &mut impl Hand) {
        if let Slot::Syn(syn) = &self.slot {
            let mut lone = LoneSyn::new(syn, self.ends, (self.evicted, self.now), spares);
            if hand.lone(&mut lone, 1) {
                return;
            }
        }
        let mut a = self.slot.into_boxed(self.ends, spares);
        a.evicted = self.evicted;
        a.network = Network::of_zone(self.zone);
        a.finish(self.now);
        spares.put(hand.hand(a));
    }
}

/// Where finished attempts go. Each comes in a box; what `hand` returns is
/// the box the next one is made in (no allocation for an attempt of one SYN
/// once it is warm).
pub(crate) trait Hand {
    fn hand(&mut self, a: Box<Attempt>) -> Option<Box<Attempt>>;

    /// `n` attempts of one SYN of `syn`'s kind (`n` is 1 unless the hand
    /// [`counts_lone`](Hand::counts_lone)), taken as they are if the hand
    /// can (`true`; a hand that counts them must); otherwise it is made and
    /// given to [`Hand::hand`].
    fn lone(&mut self, _syn: &mut LoneSyn<'_>, _n: u64) -> bool {
        false
    }

    /// Whether the hand sums attempts up in any order and takes those of
    /// one SYN many of a kind at once: the tracker then counts them by kind
    /// itself ([`Tracker::count_lone_syns`]) and gives the counts at the
    /// end.
    fn counts_lone(&self) -> bool {
        false
    }

    /// No more attempts come: send on what is held.
    fn done(&mut self) {}
}

/// Attempts lent to a closure, their box kept for the next one.
pub(crate) struct Lend<F>(pub F);

impl<F: FnMut(&Attempt)> Hand for Lend<F> {
    fn hand(&mut self, a: Box<Attempt>) -> Option<Box<Attempt>> {
        (self.0)(&a);
        Some(a)
    }
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
    /// A conversation's hash.
    fn key(&self, ends: (SocketAddr, SocketAddr)) -> u64 {
        crate::table::flow_hash(&self.hash, ends.0, ends.1)
    }

    /// The index tshark gives a new conversation; a SYN on a conversation
    /// seen before (mid-stream, or an attempt already handed out) starts a
    /// new one too, as a reused port does.
    fn new_stream(&mut self, ends: (SocketAddr, SocketAddr)) -> Option<u64> {
        if !self.others.is_empty() {
            let h = self.key(ends);
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
    fn other_conversation(&mut self, ends: (SocketAddr, SocketAddr)) {
        let h = self.key(ends);
        if self.lost || self.others.contains_key(&h) {
            return;
        }
        let n = self.next;
        self.next += 1;
        self.remember(ends, Some(n));
    }

    /// An attempt leaves the table: its conversation's later segments keep
    /// its index.
    fn remember(&mut self, ends: (SocketAddr, SocketAddr), stream: Option<u64>) {
        if let (Some(n), false) = (stream, self.lost) {
            if self.others.len() >= self.max {
                self.lost = true;
                self.others = HashMap::default();
                return;
            }
            let h = self.key(ends);
            self.others.insert(h, n);
        }
    }
}

/// A segment's key in its family's table, with its tag there: worked out
/// once a frame, for the cache hint and the lookup both.
pub(crate) enum Keyed {
    V4(V4, u32),
    V6(V6, u32),
    Neither,
}

/// Collects attempts; see the module comment for when they are handed out.
pub struct Tracker {
    v4: Table<V4>,
    v6: Table<V6>,
    /// Attempts in overlay networks, once a segment in one is seen.
    overlays: Option<Box<Overlays>>,
    /// The most attempts held at once; more evict the oldest.
    pub max_live: usize,
    /// Attempts handed out early because of `max_live`.
    pub evicted: u64,
    /// Seconds of silence after which an attempt is over ([`IDLE_S`] by
    /// default; a live watch may want less).
    pub idle_s: f64,
    ready: Vec<Out>,
    clock: f64,
    last_sweep: f64,
    /// TCP segments that belonged to no attempt (mid-stream traffic).
    pub unmatched: u64,
    /// The most attempts in the table at once.
    pub peak_live: usize,
    /// ICMP errors quoting a segment of no attempt held.
    pub unmatched_icmp: u64,
    streams: Streams,
    /// Attempts lent out and given back, whose buffers the next ones reuse.
    spares: Spares,
    /// Attempts of one SYN handed out so far, counted by kind, when the
    /// hand sums them up ([`Tracker::count_lone_syns`]).
    lone: Option<LoneCounts>,
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
            v4: Table::new(),
            v6: Table::new(),
            overlays: None,
            max_live: max.max(1),
            evicted: 0,
            idle_s: IDLE_S,
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
            spares: Spares::default(),
            lone: None,
        }
    }

    /// Count attempts of one SYN by kind as they leave, instead of handing
    /// each out, for a hand that [`counts_lone`](Hand::counts_lone) (one
    /// that does not is not changed): they reach it at
    /// [`Tracker::finish_hand`], a count of each kind.
    pub(crate) fn count_lone_syns(&mut self, hand: &impl Hand) {
        if hand.counts_lone() {
            self.lone.get_or_insert_default();
        }
    }

    /// An attempt on its way out now: counted when it is one SYN and the
    /// hand sums them by kind, ready otherwise. Kept out of line: inlined
    /// in `add_keyed`, it cost every segment of a data-heavy capture
    /// instructions (0.8 %) even though few segments hand anything out.
    #[inline(never)]
    fn send(&mut self, ends: (SocketAddr, SocketAddr), slot: Slot, evicted: bool, zone: Zone) {
        let now = self.clock;
        if let (Some(counts), Slot::Syn(syn)) = (&mut self.lone, &slot)
            && counts.count(syn, &ends, (evicted, now))
        {
            return;
        }
        self.ready.push(Out {
            ends,
            zone,
            slot,
            evicted,
            now,
        });
    }

    /// Hand an attempt out; remember its stream for later segments of its
    /// conversation (by 4-tuple alone, as tshark numbers them).
    fn hand_out(&mut self, ends: (SocketAddr, SocketAddr), slot: Slot, evicted: bool, zone: Zone) {
        self.streams.remember(ends, slot.stream());
        self.send(ends, slot, evicted, zone);
    }

    /// Hand out the oldest attempt still held, of either family, marked
    /// evicted.
    #[inline(always)]
    fn evict_oldest(&mut self) {
        if self.overlays.is_some() {
            return self.evict_oldest_overlaid();
        }
        // With one family only (the usual case) there is nothing to compare.
        let out = if self.v6.len() == 0 {
            self.v4.pop_oldest()
        } else if self.v4.len() == 0 {
            self.v6.pop_oldest()
        } else {
            pop_older(&mut self.v4, &mut self.v6)
        };
        if let Some((ends, _, slot)) = out {
            self.hand_out(ends, slot, true, 0);
            self.evicted += 1;
        }
    }

    /// The same when some attempts are in overlays.
    #[cold]
    #[inline(never)]
    fn evict_oldest_overlaid(&mut self) {
        let out = pop_oldest_of(&mut self.v4, &mut self.v6, self.overlays.as_deref_mut());
        if let Some((ends, zone, slot)) = out {
            self.hand_out(ends, slot, true, zone);
            self.evicted += 1;
        }
    }

    /// The capture's time moves on to `ts` (a segment's, or, in a tracker
    /// that sees only some of the capture's segments, the capture's own):
    /// attempts over by then are handed out.
    pub fn advance(&mut self, ts: f64) {
        if ts > self.clock {
            self.clock = ts;
            if self.clock - self.last_sweep >= 1.0 {
                self.sweep();
            }
        }
    }

    /// Whether to number conversations as tshark's `tcp.stream` does (on
    /// by default; a tracker that sees only some conversations cannot).
    pub fn number_streams(&mut self, on: bool) {
        self.streams.lost = !on;
        self.streams.others = HashMap::default();
    }

    /// The key of a segment between `a` and `b` and its tag, out of line
    /// (most segments).
    #[inline(never)]
    fn key_of(&self, a: SocketAddr, b: SocketAddr) -> Keyed {
        self.key(a, b)
    }

    /// The same, inlined where a SYN's key is worked out early (a scan's
    /// every frame: 2.5 % of its instructions saved; inlined everywhere it
    /// cost the data capture 0.8 %).
    #[inline(always)]
    pub(crate) fn key(&self, a: SocketAddr, b: SocketAddr) -> Keyed {
        match (V4::of(a, b), V6::of(a, b)) {
            (Some(k), _) => Keyed::V4(k, self.v4.tag(k)),
            (_, Some(k)) => Keyed::V6(k, self.v6.tag(k)),
            _ => Keyed::Neither,
        }
    }

    /// Ask the cache for the bucket where `key`'s attempt will be looked
    /// up.
    pub(crate) fn prefetch(&self, key: &Keyed) {
        match *key {
            Keyed::V4(_, tag) => self.v4.prefetch(tag),
            Keyed::V6(_, tag) => self.v6.prefetch(tag),
            Keyed::Neither => {}
        }
    }

    pub fn add(&mut self, s: &Seg) {
        let key = self.key_of(s.src, s.dst);
        self.add_keyed(s, key);
    }

    /// A segment taken out of a tunnel, in overlay network `zone` (0:
    /// none, the same as [`Tracker::add`]).
    #[inline(never)]
    pub(crate) fn add_in(&mut self, s: &Seg, zone: Zone) {
        if zone == 0 {
            return self.add(s);
        }
        self.advance(s.ts);
        let streams = &mut self.streams;
        let ends = (s.src, s.dst);
        let overlays = self.overlays.get_or_insert_default();
        let added = overlays.add(s, zone, || streams.new_stream(ends), &mut self.spares);
        self.settle(added, ends, zone);
    }

    /// [`Tracker::add`], the segment's key (from [`Tracker::key`]) already
    /// worked out.
    pub(crate) fn add_keyed(&mut self, s: &Seg, key: Keyed) {
        self.advance(s.ts);
        let streams = &mut self.streams;
        let ends = (s.src, s.dst);
        let added = match key {
            Keyed::V4(k, tag) => {
                self.v4
                    .add(k, tag, s, || streams.new_stream(ends), &mut self.spares)
            }
            Keyed::V6(k, tag) => {
                self.v6
                    .add(k, tag, s, || streams.new_stream(ends), &mut self.spares)
            }
            Keyed::Neither => Added::Unmatched,
        };
        // Most segments continue an attempt: nothing more to do, and
        // nothing of the lookup's answer to move.
        if let Added::Continued = added {
            return;
        }
        self.settle(added, ends, 0);
    }

    /// What follows a segment's lookup (`zone` its network's, 0: none).
    #[inline(always)]
    fn settle(&mut self, added: Added, ends: (SocketAddr, SocketAddr), zone: Zone) {
        match added {
            Added::Continued => return,
            Added::Unmatched => {
                self.unmatched += 1;
                self.streams.other_conversation(ends);
                return;
            }
            Added::Began { replaced } => {
                // A reused port: the attempt before is over. Its stream is
                // not remembered, the new attempt holds the key.
                if let Some((ends, old)) = replaced {
                    self.send(ends, old, false, zone);
                }
            }
        }
        // Counted once: an eviction takes one out (there is one to take).
        let mut live = self.live();
        if live > self.max_live {
            self.evict_oldest();
            live -= 1;
        }
        self.peak_live = self.peak_live.max(live);
    }

    /// An ICMP error about a TCP segment: it belongs to the attempt whose
    /// 4-tuple it quotes.
    pub fn add_icmp(&mut self, e: &IcmpSeen) {
        self.add_icmp_in(e, 0);
    }

    /// The same, for an error taken out of a tunnel in overlay network
    /// `zone` (0: none): it is about a segment in that network.
    pub(crate) fn add_icmp_in(&mut self, e: &IcmpSeen, zone: Zone) {
        let (a, b) = (e.quoted_src, e.quoted_dst);
        let spares = &mut self.spares;
        let attempt = if zone != 0 {
            (self.overlays.as_deref_mut()).and_then(|o| o.attempt_mut((a, b), zone, spares))
        } else {
            match (V4::of(a, b), V6::of(a, b)) {
                (Some(k), _) => self.v4.attempt_mut(k, spares),
                (_, Some(k)) => self.v6.attempt_mut(k, spares),
                _ => None,
            }
        };
        match attempt {
            Some(x) => x.on_icmp(e),
            None => self.unmatched_icmp += 1,
        }
    }

    // Once a second of capture time: kept out of `advance`, which every
    // segment calls.
    #[cold]
    #[inline(never)]
    fn sweep(&mut self) {
        self.last_sweep = self.clock;
        let now = self.clock;
        let start = self.ready.len();
        let mut over = self.v4.expired(now, self.idle_s, LINGER_S);
        over.extend(self.v6.expired(now, self.idle_s, LINGER_S));
        if let Some(o) = &mut self.overlays {
            over.extend(o.expired(now, self.idle_s, LINGER_S));
        }
        for (ends, zone, slot) in over {
            self.hand_out(ends, slot, false, zone);
        }
        if let Some(batch) = self.ready.get_mut(start..) {
            batch.sort_by_key(|o| o.slot.first_frame());
        }
    }

    /// Attempts that are over, in order of their first frame per batch.
    pub fn take_ready(&mut self) -> impl Iterator<Item = Attempt> + '_ {
        self.ready.drain(..).map(Out::attempt)
    }

    /// The same, lent to `each` one at a time: what a caller that only
    /// reads them wants, since their buffers are reused.
    pub fn each_ready(&mut self, each: &mut impl FnMut(&Attempt)) {
        self.hand_ready(&mut Lend(each));
    }

    /// The same, given to `hand`.
    pub(crate) fn hand_ready(&mut self, hand: &mut impl Hand) {
        for o in self.ready.drain(..) {
            o.give(&mut self.spares, hand);
        }
    }

    /// Attempts in the table now.
    pub fn live(&self) -> usize {
        self.v4.len() + self.v6.len() + self.overlays.as_ref().map_or(0, |o| o.len())
    }

    /// Everything still held, ready ones first, then the oldest first.
    fn outs(mut self) -> impl Iterator<Item = Out> {
        let now = self.clock;
        let ready: Vec<Out> = self.ready.drain(..).collect();
        let (mut v4, mut v6, mut overlays) = (self.v4, self.v6, self.overlays);
        let rest = std::iter::from_fn(move || {
            pop_oldest_of(&mut v4, &mut v6, overlays.as_deref_mut()).map(|h| Out::held(h, now))
        });
        ready.into_iter().chain(rest)
    }

    /// Everything still held, finished, in order of first frame (made one
    /// at a time as the iterator is read, oldest first).
    pub fn finish(self) -> impl Iterator<Item = Attempt> {
        self.outs().map(Out::attempt)
    }

    /// The same, lent to `each` one at a time.
    pub fn finish_each(self, each: &mut impl FnMut(&Attempt)) {
        self.finish_hand(&mut Lend(each));
    }

    /// The same, given to `hand`; when attempts of one SYN are counted by
    /// kind, in any order (the hand sums them up), those still held counted
    /// too and the counts given last.
    pub(crate) fn finish_hand(mut self, hand: &mut impl Hand) {
        let mut spares = std::mem::take(&mut self.spares);
        let Some(mut counts) = self.lone.take() else {
            for o in self.outs() {
                o.give(&mut spares, hand);
            }
            return;
        };
        let now = self.clock;
        let held = (self.v4.into_slots().chain(self.v6.into_slots())).map(|h| Out::held(h, now));
        for o in self.ready.into_iter().chain(held) {
            count_or_give(o, &mut counts, &mut spares, hand);
        }
        if let Some(o) = self.overlays {
            for h in o.into_slots() {
                count_or_give(Out::held(h, now), &mut counts, &mut spares, hand);
            }
        }
        counts.each(&mut spares, |syn, n| {
            let taken = hand.lone(syn, n);
            debug_assert!(taken, "a hand that counts attempts of one SYN takes them");
        });
    }
}

/// `o` counted by kind when it is one SYN and `counts` takes it, else
/// given to `hand`.
#[inline(always)]
fn count_or_give(o: Out, counts: &mut LoneCounts, spares: &mut Spares, hand: &mut impl Hand) {
    if let Slot::Syn(syn) = &o.slot
        && counts.count(syn, &o.ends, (o.evicted, o.now))
    {
        return;
    }
    o.give(spares, hand);
}

/// The oldest attempt of all the tables, taken out.
fn pop_oldest_of(
    v4: &mut Table<V4>,
    v6: &mut Table<V6>,
    overlays: Option<&mut Overlays>,
) -> Option<Held> {
    let Some(o) = overlays else {
        return pop_older(v4, v6);
    };
    match (oldest_of(v4, v6), o.oldest()) {
        (Some(p), Some(z)) if z < p => o.pop_oldest(),
        (Some(_), _) => pop_older(v4, v6),
        (None, _) => o.pop_oldest(),
    }
}

/// The hash of anything hashable, for tests of the key types.
#[cfg(test)]
fn hash_of(x: impl std::hash::Hash) -> u64 {
    std::hash::BuildHasher::hash_one(&foldhash::fast::FixedState::with_seed(1), x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Tuple;

    /// A SYN of frame `frame` from port `port` to 10.0.0.2:80.
    fn syn(frame: u64, port: u16) -> Seg {
        let ends = (
            SocketAddr::from(([10, 0, 0, 1], port)),
            SocketAddr::from(([10, 0, 0, 2], 80)),
        );
        let at = 1.0 + frame as f64 * 0.001;
        let flags = synack_wire::TcpFlags::SYN;
        crate::table::tests::seg(frame, at, ends, flags, frame as u32 * 1000)
    }

    /// Attempts plain and in an overlay (the same 4-tuples in both) are
    /// held under one limit, evicted oldest first whichever table holds
    /// them, and come out with their network.
    #[test]
    fn attempts_in_overlays_share_the_limit_and_leave_oldest_first() {
        let vxlan = Network {
            tunnel: synack_wire::tunnel::Tunnel::Vxlan,
            id: 7,
        };
        let mut t = Tracker::with_max_live(3);
        for frame in 1..=8u64 {
            let s = syn(frame, 40_000 + (frame / 2) as u16);
            match frame % 2 {
                0 => t.add(&s),
                _ => t.add_in(&s, vxlan.zone()),
            }
            assert_eq!(t.live(), frame.min(3) as usize);
        }
        let evicted: Vec<(u64, Option<Network>)> =
            t.take_ready().map(|a| (a.first_frame, a.network)).collect();
        let net = |f: u64| (f % 2 == 1).then_some(vxlan);
        assert_eq!(evicted, (1..=5).map(|f| (f, net(f))).collect::<Vec<_>>());
        assert_eq!((t.evicted, t.peak_live), (5, 3));
        let rest: Vec<(u64, Option<Network>, bool)> = t
            .finish()
            .map(|a| (a.first_frame, a.network, a.port_reuse))
            .collect();
        assert_eq!(
            rest,
            (6..=8).map(|f| (f, net(f), false)).collect::<Vec<_>>()
        );
        // Idle past the timeout, both tables' attempts go at one sweep, in
        // order of first frame.
        let mut t = Tracker::default();
        for frame in 1..=4u64 {
            let s = syn(frame, 40_000 + (frame / 2) as u16);
            match frame % 2 {
                0 => t.add(&s),
                _ => t.add_in(&s, vxlan.zone()),
            }
        }
        t.advance(1.0 + IDLE_S + 2.0);
        let swept: Vec<(u64, Option<Network>)> =
            t.take_ready().map(|a| (a.first_frame, a.network)).collect();
        assert_eq!(swept, (1..=4).map(|f| (f, net(f))).collect::<Vec<_>>());
        assert_eq!(t.live(), 0);
    }

    #[test]
    fn a_key_is_the_same_both_ways_and_gives_its_ends_back() {
        let (a, b): (SocketAddr, SocketAddr) = (
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        );
        let (k1, k2) = (V4::of(a, b).unwrap(), V4::of(b, a).unwrap());
        assert_eq!(k1, k2);
        assert_eq!(hash_of(k1), hash_of(k2));
        assert_eq!(k1.ends(), (a, b));
        assert!(V6::of(a, b).is_none());
        let (c, d): (SocketAddr, SocketAddr) = (
            "[2001:db8::2]:80".parse().unwrap(),
            "[2001:db8::1]:9".parse().unwrap(),
        );
        assert_eq!(V6::of(c, d).unwrap().ends(), (d, c));
        assert!(std::mem::size_of::<V4>() <= 12);
        // The lower end is by address bytes first, then port, either way.
        let pairs = [
            ("10.0.0.2:1", "10.0.0.1:65535"),
            ("10.0.0.1:2", "10.0.0.1:1"),
            ("192.168.0.1:80", "10.255.255.255:80"),
            ("[2001:db8::2]:1", "[2001:db8::1]:65535"),
            ("[fe80::1]:9", "[2001:db8::1]:9"),
        ];
        for (x, y) in pairs {
            let (x, y): (SocketAddr, SocketAddr) = (x.parse().unwrap(), y.parse().unwrap());
            let ends = V4::of(x, y)
                .map(|k| k.ends())
                .or(V6::of(x, y).map(|k| k.ends()));
            assert_eq!(ends, Some((y, x)), "{x} {y}");
            let back = V4::of(y, x)
                .map(|k| k.ends())
                .or(V6::of(y, x).map(|k| k.ends()));
            assert_eq!(back, Some((y, x)));
        }
        assert!(std::mem::size_of::<Slot>() <= 56);
    }
}
