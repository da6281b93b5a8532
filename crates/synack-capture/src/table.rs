//! The tracker's table of attempts alive, one per address family: keys of
//! 12 bytes for IPv4 and 36 for IPv6 (both ends, lower first), kept in
//! slots beside their attempt (56 bytes), an index of slot numbers, and
//! the order they began in (the eviction order). An attempt
//! that is one SYN so far is a [`FirstSyn`]; it becomes a full [`Attempt`]
//! at its second segment or when it is handed out.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash};

use synack_index::SlotIndex;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::attempt::{Attempt, Seg};
use crate::first_syn::FirstSyn;

/// A 4-tuple of one family, either direction.
pub(crate) trait Tuple: Copy + Eq + Hash {
    /// The key of a segment between `a` and `b`; `None` for another family.
    fn of(a: SocketAddr, b: SocketAddr) -> Option<Self>;
    /// The two ends, the lower first.
    fn ends(&self) -> (SocketAddr, SocketAddr);
}

/// An IPv4 4-tuple: the addresses as numbers (their byte order's), so
/// that ordering and hashing them are a few integer operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct V4 {
    lo: u32,
    hi: u32,
    lo_port: u16,
    hi_port: u16,
}

/// An IPv6 4-tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct V6 {
    lo: [u8; 16],
    hi: [u8; 16],
    lo_port: u16,
    hi_port: u16,
}

impl Hash for V4 {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64((u64::from(self.lo) << 32) | u64::from(self.hi));
        h.write_u32((u32::from(self.lo_port) << 16) | u32::from(self.hi_port));
    }
}

impl Hash for V6 {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u128(u128::from_ne_bytes(self.lo));
        h.write_u128(u128::from_ne_bytes(self.hi));
        h.write_u32((u32::from(self.lo_port) << 16) | u32::from(self.hi_port));
    }
}

/// A conversation's hash under `hasher`, the same both ways: of its compact
/// key, cheaper to hash than two socket addresses.
pub(crate) fn flow_hash(hasher: &impl BuildHasher, a: SocketAddr, b: SocketAddr) -> u64 {
    match (V4::of(a, b), V6::of(a, b)) {
        (Some(k), _) => hasher.hash_one(k),
        (_, Some(k)) => hasher.hash_one(k),
        _ => hasher.hash_one(if a <= b { (a, b) } else { (b, a) }),
    }
}

impl Tuple for V4 {
    #[inline]
    fn of(a: SocketAddr, b: SocketAddr) -> Option<V4> {
        let (IpAddr::V4(x), IpAddr::V4(y)) = (a.ip(), b.ip()) else {
            return None;
        };
        // The address's number and the port, compared as one: the order of
        // the address bytes, then the port.
        let end = |ip: Ipv4Addr, port: u16| (u64::from(ip.to_bits()) << 16) | u64::from(port);
        let (p, q) = (end(x, a.port()), end(y, b.port()));
        let (lo, hi) = if p <= q { (p, q) } else { (q, p) };
        Some(V4 {
            lo: (lo >> 16) as u32,
            hi: (hi >> 16) as u32,
            lo_port: lo as u16,
            hi_port: hi as u16,
        })
    }

    fn ends(&self) -> (SocketAddr, SocketAddr) {
        (
            SocketAddr::new(Ipv4Addr::from_bits(self.lo).into(), self.lo_port),
            SocketAddr::new(Ipv4Addr::from_bits(self.hi).into(), self.hi_port),
        )
    }
}

impl Tuple for V6 {
    #[inline]
    fn of(a: SocketAddr, b: SocketAddr) -> Option<V6> {
        let (IpAddr::V6(x), IpAddr::V6(y)) = (a.ip(), b.ip()) else {
            return None;
        };
        let (p, q) = ((x.to_bits(), a.port()), (y.to_bits(), b.port()));
        let ((lo, lo_port), (hi, hi_port)) = if p <= q { (p, q) } else { (q, p) };
        Some(V6 {
            lo: lo.to_be_bytes(),
            hi: hi.to_be_bytes(),
            lo_port,
            hi_port,
        })
    }

    fn ends(&self) -> (SocketAddr, SocketAddr) {
        (
            SocketAddr::new(Ipv6Addr::from(self.lo).into(), self.lo_port),
            SocketAddr::new(Ipv6Addr::from(self.hi).into(), self.hi_port),
        )
    }
}

/// An attempt in the table.
pub(crate) enum Slot {
    /// One SYN so far.
    Syn(FirstSyn),
    Full(Box<Attempt>),
}

impl Slot {
    pub(crate) fn first_frame(&self) -> u64 {
        match self {
            Slot::Syn(syn) => syn.frame(),
            Slot::Full(a) => a.first_frame,
        }
    }

    fn last_ts(&self) -> f64 {
        match self {
            Slot::Syn(syn) => syn.ts(),
            Slot::Full(a) => a.last_ts,
        }
    }

    fn is_done(&self) -> bool {
        match self {
            Slot::Syn(_) => false,
            Slot::Full(a) => a.is_done(),
        }
    }

    pub(crate) fn stream(&self) -> Option<u64> {
        match self {
            Slot::Syn(syn) => syn.stream(),
            Slot::Full(a) => a.tcp_stream,
        }
    }

    /// A SYN from the client with a new ISN begins a new attempt.
    fn reused_by(&self, ends: (SocketAddr, SocketAddr), s: &Seg) -> bool {
        let f = s.flags;
        if !f.syn() || f.ack() {
            return false;
        }
        match self {
            Slot::Syn(syn) => s.src == syn.client(ends) && syn.isn() != s.seq.get(),
            Slot::Full(a) => {
                s.src == a.client && a.client_isn.is_some_and(|isn| isn != s.seq.get())
            }
        }
    }

    /// A new attempt's slot: compact while it is one SYN.
    fn new(
        ends: (SocketAddr, SocketAddr),
        s: &Seg,
        stream: Option<u64>,
        reused: bool,
        spares: &mut Spares,
    ) -> Slot {
        let f = s.flags;
        if let Some(syn) = FirstSyn::of(s, ends, stream, reused).filter(|_| !f.ack()) {
            return Slot::Syn(syn);
        }
        let (c, srv) = if f.ack() {
            (s.dst, s.src)
        } else {
            (s.src, s.dst)
        };
        let mut fresh = spares.begun(c, srv, s);
        fresh.port_reuse = reused;
        fresh.tcp_stream = stream;
        fresh.add(s);
        Slot::Full(fresh)
    }

    /// The attempt, made full if it was not.
    pub(crate) fn full(
        &mut self,
        ends: (SocketAddr, SocketAddr),
        spares: &mut Spares,
    ) -> Option<&mut Attempt> {
        if let Slot::Syn(syn) = *self {
            *self = Slot::Full(spares.made(&syn, ends));
        }
        match self {
            Slot::Full(a) => Some(a),
            Slot::Syn(_) => None,
        }
    }

    pub(crate) fn into_attempt(self, ends: (SocketAddr, SocketAddr)) -> Attempt {
        match self {
            Slot::Syn(syn) => syn.attempt(ends),
            Slot::Full(a) => *a,
        }
    }

    /// The attempt in a box: its own, or, for one SYN, a spare one made
    /// again.
    pub(crate) fn into_boxed(
        self,
        ends: (SocketAddr, SocketAddr),
        spares: &mut Spares,
    ) -> Box<Attempt> {
        match self {
            Slot::Full(a) => a,
            Slot::Syn(syn) => spares.made(&syn, ends),
        }
    }
}

/// Boxes of attempts handed out and given back, their buffers grown: an
/// attempt made full (a second segment, a SYN-ACK first) or handed out is
/// made in one of them, without an allocation once they are warm. As
/// many come back as go out, but in bursts: the sweep hands out a second's
/// closed connections at once (thousands on a busy capture; with 1,024
/// kept, half of a data-heavy pass's attempts were allocated anew, their
/// buffers grown again). The boxes kept were attempts held a moment
/// before, so keeping them does not raise the peak.
#[derive(Default)]
#[allow(clippy::vec_box)] // the boxes are what is kept: slots and hands move them
pub(crate) struct Spares(Vec<Box<Attempt>>);

impl Spares {
    const MAX: usize = 1 << 16;

    /// Keep `a` for a later attempt (up to [`Spares::MAX`]).
    pub(crate) fn put(&mut self, a: Option<Box<Attempt>>) {
        if let Some(a) = a
            && self.0.len() < Spares::MAX
        {
            self.0.push(a);
        }
    }

    /// An attempt begun at `s`, in a spare box when there is one.
    fn begun(&mut self, client: SocketAddr, server: SocketAddr, s: &Seg) -> Box<Attempt> {
        match self.0.pop() {
            Some(mut a) => {
                a.reset(client, server, s);
                a
            }
            None => Box::new(Attempt::new(client, server, s)),
        }
    }

    /// The attempt of `syn`, in a spare box when there is one.
    pub(crate) fn made(&mut self, syn: &FirstSyn, ends: (SocketAddr, SocketAddr)) -> Box<Attempt> {
        match self.0.pop() {
            Some(mut a) => {
                syn.refill(ends, &mut a);
                a
            }
            None => Box::new(syn.attempt(ends)),
        }
    }
}

/// What [`Table::add`] did with a segment.
pub(crate) enum Added {
    /// It continued an attempt.
    Continued,
    /// It began one (a SYN or SYN-ACK); `replaced` is the attempt its SYN
    /// ended (a reused port), with the key's ends.
    Began {
        replaced: Option<((SocketAddr, SocketAddr), Slot)>,
    },
    /// It belongs to no attempt.
    Unmatched,
}

/// The attempts of one family: an index of slot numbers (`synack_index`,
/// 8 bytes a bucket, the key is the slot's: 100,000 attempts index in two
/// megabytes), the slots with their keys in a vector with a free list, and
/// the order they began in. Eviction and the sweep read the vector; an
/// attempt that leaves is found in the index by its slot number, without
/// comparing keys.
pub(crate) struct Table<K> {
    index: SlotIndex,
    hasher: foldhash::fast::RandomState,
    slots: Vec<Option<(K, Slot)>>,
    free: Vec<u32>,
    order: VecDeque<Began>,
}

/// An attempt in the order they began: its slot, its key's tag (to find
/// its bucket before the slot is read) and its first frame (to tell a
/// later attempt in the same slot apart).
#[derive(Clone, Copy)]
struct Began {
    slot: u32,
    tag: u32,
    first: u64,
}

fn at<T>(v: &[T], i: u32) -> Option<&T> {
    v.get(usize::try_from(i).ok()?)
}

fn at_mut<T>(v: &mut [T], i: u32) -> Option<&mut T> {
    v.get_mut(usize::try_from(i).ok()?)
}

/// Whether slot `i` still holds the attempt that began at `first`.
fn holds<K>(slots: &[Option<(K, Slot)>], i: u32, first: u64) -> bool {
    at(slots, i)
        .and_then(Option::as_ref)
        .is_some_and(|(_, s)| s.first_frame() == first)
}

impl<K: Tuple> Table<K> {
    pub(crate) fn new() -> Table<K> {
        Table {
            index: SlotIndex::new(),
            hasher: foldhash::fast::RandomState::default(),
            slots: Vec::new(),
            free: Vec::new(),
            order: VecDeque::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// `key`'s tag in the index.
    pub(crate) fn tag(&self, key: K) -> u32 {
        synack_index::tag(self.hasher.hash_one(key))
    }

    /// Ask the cache for the bucket of `tag`.
    pub(crate) fn prefetch(&self, tag: u32) {
        let b = self.index.bucket_of(tag);
        crate::prefetch::line(self.index.bucket_addr(b));
    }

    /// Empty slot `i` and drop it from the index (under `tag`, its key's,
    /// when the caller knows it: a hash less).
    fn take(&mut self, i: u32, tag: Option<u32>) -> Option<((SocketAddr, SocketAddr), Slot)> {
        let (key, s) = at_mut(&mut self.slots, i)?.take()?;
        let tag = tag.unwrap_or_else(|| self.tag(key));
        self.index.remove(tag, i);
        self.free.push(i);
        Some((key.ends(), s))
    }

    /// The slot number of `key`'s attempt, under `tag`.
    fn find(&self, key: K, tag: u32) -> Option<u32> {
        let slots = &self.slots;
        let is = |j: u32| {
            at(slots, j)
                .and_then(Option::as_ref)
                .is_some_and(|(k, _)| *k == key)
        };
        self.index.get(tag, is)
    }

    /// A new slot for `fresh` under `key`: its number.
    fn place(&mut self, key: K, fresh: Slot) -> Option<u32> {
        match self.free.pop() {
            Some(i) => {
                *at_mut(&mut self.slots, i)? = Some((key, fresh));
                Some(i)
            }
            None => {
                let i = u32::try_from(self.slots.len()).ok()?;
                self.slots.push(Some((key, fresh)));
                Some(i)
            }
        }
    }

    /// One lookup (`tag` is `key`'s): the segment continues an attempt,
    /// or begins one with the stream index `stream()` gives (called only
    /// then).
    pub(crate) fn add(
        &mut self,
        key: K,
        tag: u32,
        s: &Seg,
        mut stream: impl FnMut() -> Option<u64>,
        spares: &mut Spares,
    ) -> Added {
        let ends = key.ends();
        let (i, added) = match self.find(key, tag) {
            Some(i) => {
                let Some((_, place)) = at_mut(&mut self.slots, i).and_then(Option::as_mut) else {
                    return Added::Unmatched;
                };
                if !place.reused_by(ends, s) {
                    if let Some(a) = place.full(ends, spares) {
                        a.add(s);
                    }
                    return Added::Continued;
                }
                let old = std::mem::replace(place, Slot::new(ends, s, stream(), true, spares));
                (
                    i,
                    Added::Began {
                        replaced: Some((ends, old)),
                    },
                )
            }
            None => {
                if !s.flags.syn() {
                    return Added::Unmatched;
                }
                let Some(i) = self.place(key, Slot::new(ends, s, stream(), false, spares)) else {
                    return Added::Unmatched;
                };
                self.index.insert(tag, i);
                (i, Added::Began { replaced: None })
            }
        };
        self.order.push_back(Began {
            slot: i,
            tag,
            first: s.frame,
        });
        if self.order.len() > 2 * self.index.len() + 1024 {
            let slots = &self.slots;
            self.order.retain(|b| holds(slots, b.slot, b.first));
        }
        added
    }

    /// The attempt an ICMP error between these ends is about, made full.
    pub(crate) fn attempt_mut(&mut self, key: K, spares: &mut Spares) -> Option<&mut Attempt> {
        let ends = key.ends();
        let i = self.find(key, self.tag(key))?;
        at_mut(&mut self.slots, i)?.as_mut()?.1.full(ends, spares)
    }

    /// The first frame of the oldest attempt held (stale queue entries
    /// dropped on the way).
    pub(crate) fn oldest(&mut self) -> Option<u64> {
        while let Some(&b) = self.order.front() {
            if holds(&self.slots, b.slot, b.first) {
                return Some(b.first);
            }
            self.order.pop_front();
        }
        None
    }

    /// Take the oldest attempt out, skipping stale queue entries (their
    /// attempt gone, or its slot taken by a later one).
    pub(crate) fn pop_oldest(&mut self) -> Option<((SocketAddr, SocketAddr), Slot)> {
        while let Some(b) = self.order.pop_front() {
            if holds(&self.slots, b.slot, b.first) {
                // The next one out is cold by now, its slot and its bucket:
                // have them come in while this one is finished and handed
                // out.
                if let Some(&next) = self.order.front() {
                    crate::prefetch::prefetch(
                        &self.slots,
                        usize::try_from(next.slot).unwrap_or(usize::MAX),
                    );
                    crate::prefetch::line(self.index.bucket_addr(self.index.bucket_of(next.tag)));
                }
                return self.take(b.slot, Some(b.tag));
            }
        }
        None
    }

    /// Attempts idle for `idle_s`, or over and idle for `linger_s`, taken
    /// out, in slot order (the caller sorts them).
    pub(crate) fn expired(
        &mut self,
        now: f64,
        idle_s: f64,
        linger_s: f64,
    ) -> Vec<((SocketAddr, SocketAddr), Slot)> {
        let over = |s: &Slot| {
            let idle = now - s.last_ts();
            idle > idle_s || (idle > linger_s && s.is_done())
        };
        let gone: Vec<u32> = (0..self.slots.len())
            .filter_map(|i| u32::try_from(i).ok())
            .filter(|&i| {
                at(&self.slots, i)
                    .and_then(Option::as_ref)
                    .is_some_and(|(_, s)| over(s))
            })
            .collect();
        gone.into_iter()
            .filter_map(|i| self.take(i, None))
            .collect()
    }
}
