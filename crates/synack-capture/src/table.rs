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
use crate::beneath::Zone;
use crate::first_syn::FirstSyn;

/// A 4-tuple of one family, either direction (in an overlay network or
/// not).
pub(crate) trait Tuple: Copy + Eq + Hash {
    /// The two ends, the lower first.
    fn ends(&self) -> (SocketAddr, SocketAddr);
    /// Its overlay network (0: none).
    fn zone(&self) -> Zone {
        0
    }
}

/// An attempt out of a table: its ends, its overlay network, its slot.
pub(crate) type Held = ((SocketAddr, SocketAddr), Zone, Slot);

/// The first frame of the older of two tables' oldest attempts.
pub(crate) fn oldest_of<A: Tuple, B: Tuple>(a: &mut Table<A>, b: &mut Table<B>) -> Option<u64> {
    match (a.oldest(), b.oldest()) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// The older of two tables' oldest attempts (the two families'), taken out.
#[inline(always)]
pub(crate) fn pop_older<A: Tuple, B: Tuple>(a: &mut Table<A>, b: &mut Table<B>) -> Option<Held> {
    match (a.oldest(), b.oldest()) {
        (Some(x), Some(y)) if y < x => b.pop_oldest(),
        (Some(_), _) => a.pop_oldest(),
        (None, _) => b.pop_oldest(),
    }
}

/// A 4-tuple in an overlay network (`crate::beneath::Network`): only
/// segments taken out of a tunnel that names one are keyed so, in tables
/// of their own, so the plain ones' keys and their lookups stay as small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Zoned<K> {
    pub(crate) zone: Zone,
    pub(crate) key: K,
}

impl<K: Tuple> Tuple for Zoned<K> {
    fn ends(&self) -> (SocketAddr, SocketAddr) {
        self.key.ends()
    }

    fn zone(&self) -> Zone {
        self.zone
    }
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

impl V4 {
    /// The key of a segment between `a` and `b`; `None` for another family.
    #[inline]
    pub(crate) fn of(a: SocketAddr, b: SocketAddr) -> Option<V4> {
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
}

impl Tuple for V4 {
    fn ends(&self) -> (SocketAddr, SocketAddr) {
        (
            SocketAddr::new(Ipv4Addr::from_bits(self.lo).into(), self.lo_port),
            SocketAddr::new(Ipv4Addr::from_bits(self.hi).into(), self.hi_port),
        )
    }
}

impl V6 {
    /// The key of a segment between `a` and `b`; `None` for another family.
    #[inline]
    pub(crate) fn of(a: SocketAddr, b: SocketAddr) -> Option<V6> {
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
}

impl Tuple for V6 {
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
    /// The attempts that are over (closed or reset), as slot and first
    /// frame (an entry whose attempt has left is stale, dropped by the
    /// next sweep or when they are twice as many as the attempts held):
    /// the only ones the sweep can hand out while none may have been idle
    /// for the idle timeout (see `low`).
    done: Vec<(u32, u64)>,
    /// No later than the last time of any attempt held (an attempt's last
    /// time only rises, and one that leaves can only raise the least):
    /// while the capture's time is within the idle timeout of it, no
    /// attempt can have been idle that long, and the sweep reads `done`
    /// instead of every slot (a slow scan holding 100,000 attempts had
    /// each read every second: 0.45 s for 978,214 SYNs at 1,000 a second,
    /// 0.18 s at full rate).
    low: f64,
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
            done: Vec::new(),
            low: f64::INFINITY,
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
    fn take(&mut self, i: u32, tag: Option<u32>) -> Option<Held> {
        let (key, s) = at_mut(&mut self.slots, i)?.take()?;
        let tag = tag.unwrap_or_else(|| self.tag(key));
        self.index.remove(tag, i);
        self.free.push(i);
        Some((key.ends(), key.zone(), s))
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
                    let was = place.is_done();
                    if let Some(a) = place.full(ends, spares) {
                        a.add(s);
                    }
                    if !was && place.is_done() {
                        let first = place.first_frame();
                        self.over_at(i, first);
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
        self.low = self.low.min(s.ts);
        self.watch(i);
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

    /// The attempt that began at frame `first`, in slot `i`, is over:
    /// into `done`, whose stale entries go when they could outnumber the
    /// attempts held (the sweep may be far off: the capture's time need
    /// not move).
    fn over_at(&mut self, i: u32, first: u64) {
        self.done.push((i, first));
        if self.done.len() > 2 * self.index.len() + 1024 {
            let slots = &self.slots;
            self.done.retain(|&(i, first)| holds(slots, i, first));
        }
    }

    /// Slot `i`'s attempt, if it is over, into `done` (called when it may
    /// have just become so).
    fn watch(&mut self, i: u32) {
        if let Some((_, slot)) = at(&self.slots, i).and_then(Option::as_ref)
            && slot.is_done()
        {
            let first = slot.first_frame();
            self.over_at(i, first);
        }
    }

    /// The attempt an ICMP error between these ends is about, made full.
    pub(crate) fn attempt_mut(&mut self, key: K, spares: &mut Spares) -> Option<&mut Attempt> {
        let ends = key.ends();
        let i = self.find(key, self.tag(key))?;
        let (_, slot) = at_mut(&mut self.slots, i)?.as_mut()?;
        let was = slot.is_done();
        slot.full(ends, spares)?;
        // Made full, one SYN with RST in it is over (an ICMP error ends
        // nothing itself).
        if !was {
            self.watch(i);
        }
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
    pub(crate) fn pop_oldest(&mut self) -> Option<Held> {
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

    /// Every attempt held, in no order (for a hand that sums them up).
    pub(crate) fn into_slots(self) -> impl Iterator<Item = Held> {
        (self.slots.into_iter().flatten()).map(|(key, slot)| (key.ends(), key.zone(), slot))
    }

    /// Attempts idle for `idle_s`, or over and idle for `linger_s`, taken
    /// out (the caller sorts them). Every slot is read only when one may
    /// have been idle for `idle_s` (see `low`); otherwise only those over.
    pub(crate) fn expired(&mut self, now: f64, idle_s: f64, linger_s: f64) -> Vec<Held> {
        let over = |s: &Slot| {
            let idle = now - s.last_ts();
            idle > idle_s || (idle > linger_s && s.is_done())
        };
        let slots = &self.slots;
        let held = |i: u32| at(slots, i).and_then(Option::as_ref).map(|(_, s)| s);
        let gone: Vec<u32> = if now - self.low > idle_s {
            // Every slot, and the least last time of those that stay.
            let mut low = f64::INFINITY;
            let mut gone = Vec::new();
            for i in (0..slots.len()).filter_map(|i| u32::try_from(i).ok()) {
                match held(i) {
                    Some(s) if over(s) => gone.push(i),
                    Some(s) => low = low.min(s.last_ts()),
                    None => {}
                }
            }
            self.low = low;
            gone
        } else {
            // Sorted by first frame here, as numbers: the caller sorts the
            // attempts by it too, and then finds them in order instead of
            // moving them about.
            let mut over_now: Vec<(u64, u32)> = self
                .done
                .iter()
                .filter(|&&(i, first)| holds(slots, i, first) && held(i).is_some_and(over))
                .map(|&(i, first)| (first, i))
                .collect();
            over_now.sort_unstable();
            over_now.dedup();
            over_now.into_iter().map(|(_, i)| i).collect()
        };
        let out: Vec<_> = gone
            .into_iter()
            .filter_map(|i| self.take(i, None))
            .collect();
        let slots = &self.slots;
        self.done.retain(|&(i, first)| holds(slots, i, first));
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use synack_wire::{SeqNum, TcpFlags};

    /// A segment without payload or options; its ack field 1 when the
    /// ACK flag is on.
    pub(crate) fn seg(
        frame: u64,
        ts: f64,
        (src, dst): (SocketAddr, SocketAddr),
        flags: TcpFlags,
        seq: u32,
    ) -> Seg {
        Seg {
            frame,
            ts,
            ns: (ts * 1e9) as i64,
            iface: 0,
            src,
            dst,
            flags,
            seq: SeqNum(seq),
            ack: SeqNum(u32::from(flags.ack())),
            window: 1000,
            payload_len: 0,
            ip_len: 40,
            options: None.into(),
            bad_checksum: false,
            checksum_offloaded: false,
            stacked: None,
        }
    }

    /// `s` added to `t`; its key.
    fn add(t: &mut Table<V4>, spares: &mut Spares, s: &Seg) -> Option<V4> {
        let key = V4::of(s.src, s.dst)?;
        let tag = t.tag(key);
        let _ = t.add(key, tag, s, || None, spares);
        Some(key)
    }

    /// What the sweep hands out, found by reading every slot: the first
    /// frames of the attempts idle for `idle_s`, or over and idle for
    /// `linger_s`.
    fn over_reading_all(t: &Table<V4>, now: f64, idle_s: f64, linger_s: f64) -> Vec<u64> {
        let mut v: Vec<u64> = t
            .slots
            .iter()
            .flatten()
            .filter(|(_, s)| {
                let idle = now - s.last_ts();
                idle > idle_s || (idle > linger_s && s.is_done())
            })
            .map(|(_, s)| s.first_frame())
            .collect();
        v.sort_unstable();
        v
    }

    /// Random segments between 40 clients and a server (SYNs, SYN-ACKs,
    /// ACKs, FINs, RSTs, and SYNs and SYN-ACKs with RST in them), the
    /// capture's time mostly rising, now and then stepping back or jumping
    /// past the idle timeout, evictions and ICMP errors between: each
    /// sweep hands out what reading every slot would.
    #[test]
    fn the_sweep_hands_out_what_reading_every_slot_would() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let flags = [
            TcpFlags::SYN.0,
            TcpFlags::SYN.0 | TcpFlags::ACK.0,
            TcpFlags::ACK.0,
            TcpFlags::FIN.0 | TcpFlags::ACK.0,
            TcpFlags::RST.0,
            TcpFlags::RST.0 | TcpFlags::ACK.0,
            TcpFlags::SYN.0 | TcpFlags::RST.0,
            TcpFlags::SYN.0 | TcpFlags::ACK.0 | TcpFlags::RST.0,
        ];
        let (mut sweeps, mut handed) = (0, 0);
        for _ in 0..40 {
            let mut t = Table::<V4>::new();
            let mut spares = Spares::default();
            let mut now = 1_000.0;
            for frame in 0..3_000u64 {
                let r = rand();
                now += match r % 64 {
                    0 => -5.0,
                    1 => 301.0,
                    2..=9 => 1.5,
                    _ => 0.01,
                };
                let client = SocketAddr::from(([10, 0, 0, 1], 40_000 + (r >> 8) as u16 % 40));
                let server = SocketAddr::from(([10, 0, 0, 2], 80));
                let f = TcpFlags(flags[(r >> 16) as usize % flags.len()]);
                let from_server = f.ack() && (r >> 24) % 2 == 0;
                let (src, dst) = if from_server {
                    (server, client)
                } else {
                    (client, server)
                };
                let s = seg(frame, now, (src, dst), f, (r >> 32) as u32 % 3 * 1000);
                let Some(key) = add(&mut t, &mut spares, &s) else {
                    continue;
                };
                match (r >> 40) % 16 {
                    0 => {
                        let _ = t.attempt_mut(key, &mut spares);
                    }
                    1 => {
                        let _ = t.pop_oldest();
                    }
                    2..=5 => {
                        let want = over_reading_all(&t, now, IDLE, LINGER);
                        let mut got: Vec<u64> = t
                            .expired(now, IDLE, LINGER)
                            .iter()
                            .map(|(_, _, s)| s.first_frame())
                            .collect();
                        got.sort_unstable();
                        assert_eq!(got, want, "sweep at {now} after frame {frame}");
                        sweeps += 1;
                        handed += got.len();
                    }
                    _ => {}
                }
            }
        }
        // Enough of both kinds of sweep to mean something.
        assert!(
            sweeps > 10_000 && handed > 2_000,
            "{sweeps} sweeps, {handed} out"
        );
    }

    /// Attempts over at once and evicted, the capture's time standing
    /// still (no sweep ever comes): what is kept of them stays bounded by
    /// the attempts held.
    #[test]
    fn attempts_over_are_remembered_within_bounds_when_no_sweep_comes() {
        let mut t = Table::<V4>::new();
        let mut spares = Spares::default();
        let server = SocketAddr::from(([10, 0, 0, 2], 80));
        for n in 0..50_000u32 {
            let client = SocketAddr::from((Ipv4Addr::from_bits(0x0a00_0000 + n), 40_000));
            let flags = TcpFlags(TcpFlags::SYN.0 | TcpFlags::ACK.0 | TcpFlags::RST.0);
            let s = seg(u64::from(n), 1_000.0, (server, client), flags, 0);
            add(&mut t, &mut spares, &s);
            if t.len() > 100 {
                let _ = t.pop_oldest();
            }
            // An eviction may follow the push that did not compact.
            assert!(
                t.done.len() <= 2 * (t.len() + 1) + 1025,
                "{} kept",
                t.done.len()
            );
        }
        assert!(t.done.len() >= t.len(), "every attempt here is over");
    }

    const IDLE: f64 = crate::track::IDLE_S;
    const LINGER: f64 = crate::track::LINGER_S;
}
