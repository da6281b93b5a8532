//! The demux: 4-tuple → slot index. The table holds only slot indices
//! (4 bytes a bucket) and each key is read from its connection, so with
//! 100,000 connections the table still fits in cache and a lookup touches
//! no memory but the slot it was going to use anyway.

use core::hash::BuildHasher;
use core::net::IpAddr;

use foldhash::fast::FixedState;

use crate::step::Tuple;

/// Addresses as 128-bit numbers (IPv4 mapped) and both ports: what is
/// hashed and compared.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key {
    local: u128,
    remote: u128,
    ports: u32,
}

impl From<Tuple> for Key {
    #[inline]
    fn from(t: Tuple) -> Key {
        let bits = |ip: IpAddr| match ip {
            IpAddr::V4(v) => u128::from(v.to_ipv6_mapped()),
            IpAddr::V6(v) => u128::from(v),
        };
        Key {
            local: bits(t.local.ip()),
            remote: bits(t.remote.ip()),
            ports: (u32::from(t.local.port()) << 16) | u32::from(t.remote.port()),
        }
    }
}

/// An empty bucket.
const EMPTY: u64 = u64::MAX;

/// Open addressing with linear probing over 8-byte buckets, each holding
/// the upper half of the key's hash (where the bucket index comes from, so
/// growing needs no slot) and the slot index. A lookup usually reads one
/// cache line of the table, then the slot it was going to use anyway.
/// Deletion shifts the probe run back, so there are no tombstones.
pub(super) struct Demux {
    buckets: Vec<u64>,
    mask: usize,
    len: usize,
    hasher: FixedState,
}

impl Demux {
    pub fn new(seed: u64) -> Demux {
        Demux {
            buckets: Vec::new(),
            mask: 0,
            len: 0,
            hasher: FixedState::with_seed(seed),
        }
    }

    #[inline]
    fn tag(&self, tuple: Tuple) -> u32 {
        (self.hasher.hash_one(Key::from(tuple)) >> 32) as u32
    }

    #[inline]
    fn home(&self, tag: u32) -> usize {
        tag as usize & self.mask
    }

    /// The slot holding `tuple`; `tuple_at` gives the tuple a slot holds.
    #[inline]
    pub fn get(&self, tuple: Tuple, tuple_at: impl Fn(u32) -> Option<Tuple>) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let tag = self.tag(tuple);
        let key = Key::from(tuple);
        let mut i = self.home(tag);
        loop {
            let e = *self.buckets.get(i)?;
            if e == EMPTY {
                return None;
            }
            let idx = e as u32;
            if (e >> 32) as u32 == tag && tuple_at(idx).is_some_and(|t| Key::from(t) == key) {
                return Some(idx);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The bucket a lookup of `tuple` starts at.
    #[inline]
    pub fn bucket_of(&self, tuple: Tuple) -> usize {
        self.home(self.tag(tuple))
    }

    /// Read `buckets` (from [`bucket_of`](Self::bucket_of)) so the lookups
    /// that follow find them in cache. The loads are independent and issued
    /// back to back, so their cache misses overlap instead of following one
    /// another.
    #[inline]
    pub fn read_ahead(&self, buckets: &[usize]) {
        let mut acc = 0u64;
        for &i in buckets {
            acc ^= self.buckets.get(i).copied().unwrap_or(0);
        }
        core::hint::black_box(acc);
    }

    /// Record that slot `idx` (never `u32::MAX`) holds `tuple`, which is
    /// not in the table yet.
    pub fn insert(&mut self, tuple: Tuple, idx: u32) {
        if (self.len + 1) * 2 > self.buckets.len() {
            self.grow();
        }
        let tag = self.tag(tuple);
        self.place((u64::from(tag) << 32) | u64::from(idx));
        self.len += 1;
    }

    fn place(&mut self, entry: u64) {
        let mut i = self.home((entry >> 32) as u32);
        while let Some(b) = self.buckets.get_mut(i) {
            if *b == EMPTY {
                *b = entry;
                return;
            }
            i = (i + 1) & self.mask;
        }
    }

    fn grow(&mut self) {
        let size = (self.buckets.len() * 2).max(16);
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; size]);
        self.mask = size - 1;
        for e in old.into_iter().filter(|&e| e != EMPTY) {
            self.place(e);
        }
    }

    /// Forget slot `idx`, which held `tuple`: found by index, so the slot
    /// is not read again.
    pub fn remove(&mut self, tuple: Tuple, idx: u32) {
        if self.len == 0 {
            return;
        }
        let mut hole = self.home(self.tag(tuple));
        loop {
            match self.buckets.get(hole) {
                Some(&EMPTY) | None => return,
                Some(&e) if e as u32 == idx => break,
                Some(_) => hole = (hole + 1) & self.mask,
            }
        }
        self.len -= 1;
        // Move back every later entry of the run whose probe path passes
        // the hole, so lookups never meet a gap before their key.
        let mut j = hole;
        loop {
            j = (j + 1) & self.mask;
            let Some(&e) = self.buckets.get(j) else {
                return;
            };
            if e == EMPTY {
                break;
            }
            let home = self.home((e >> 32) as u32);
            if j.wrapping_sub(home) & self.mask >= j.wrapping_sub(hole) & self.mask {
                if let Some(b) = self.buckets.get_mut(hole) {
                    *b = e;
                }
                hole = j;
            }
        }
        if let Some(b) = self.buckets.get_mut(hole) {
            *b = EMPTY;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::SocketAddr;
    use std::collections::HashMap;

    fn tuple(n: u32) -> Tuple {
        Tuple {
            local: SocketAddr::from(([10, 0, 0, 2], 80)),
            remote: SocketAddr::from((n.to_be_bytes(), (n % 7) as u16)),
        }
    }

    /// Random inserts and removals against a HashMap, with a tiny table
    /// so runs collide and wrap: every lookup agrees, present or not.
    #[test]
    fn agrees_with_a_map() {
        let mut d = Demux::new(7);
        let mut model: HashMap<u32, u32> = HashMap::new(); // slot -> tuple id
        let mut slots: Vec<Option<u32>> = vec![None; 64];
        let mut rng = 12345u64;
        for step in 0..5_000u32 {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let slot = ((rng >> 33) % 64) as u32;
            let at = |i: u32| slots.get(i as usize).copied().flatten().map(tuple);
            match model.get(&slot).copied() {
                Some(id) => {
                    assert_eq!(d.get(tuple(id), at), Some(slot));
                    d.remove(tuple(id), slot);
                    model.remove(&slot);
                    slots[slot as usize] = None;
                    assert_eq!(
                        d.get(tuple(id), |i| slots
                            .get(i as usize)
                            .copied()
                            .flatten()
                            .map(tuple)),
                        None
                    );
                }
                None => {
                    let id = step % 100;
                    if model.values().any(|&v| v == id) {
                        continue;
                    }
                    slots[slot as usize] = Some(id);
                    d.insert(tuple(id), slot);
                    model.insert(slot, id);
                }
            }
            let at = |i: u32| slots.get(i as usize).copied().flatten().map(tuple);
            for id in 0..100 {
                let want = model.iter().find(|(_, v)| **v == id).map(|(k, _)| *k);
                assert_eq!(d.get(tuple(id), at), want, "step {step}, id {id}");
            }
            assert_eq!(d.len, model.len());
        }
    }
}
