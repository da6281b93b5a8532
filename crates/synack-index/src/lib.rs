//! Slot numbers by hash. The engine's connections and the capture
//! tracker's attempts live in vectors of slots; this index finds a slot
//! from a 32-bit tag of its key's hash and holds nothing else. Each key is
//! compared where it lives (the caller's closure), so the index stays
//! small enough to sit in cache with 100,000 entries, and a lookup
//! usually reads one cache line of it before the slot it was going to
//! read anyway.
//!
//! Open addressing with linear probing over 8-byte buckets: the tag in the
//! upper half (the bucket comes from it, so growing reads no slot), the
//! slot number in the lower. Deletion shifts the probe run back, so there
//! are no tombstones and a table that churns does not fill up.

#![no_std]
extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

/// An empty bucket (no slot number is `u32::MAX`).
const EMPTY: u64 = u64::MAX;

/// The tag of a 64-bit hash: its upper half, where a good hash's bits are
/// best mixed.
#[inline]
pub fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// Slot numbers by tag.
#[derive(Debug, Clone, Default)]
pub struct SlotIndex {
    buckets: Vec<u64>,
    mask: usize,
    len: usize,
}

impl SlotIndex {
    pub fn new() -> SlotIndex {
        SlotIndex::default()
    }

    /// Slots indexed.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn home(&self, tag: u32) -> usize {
        tag as usize & self.mask
    }

    /// The slot under `tag` for which `is` holds.
    #[inline]
    pub fn get(&self, tag: u32, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let mut i = self.home(tag);
        loop {
            let e = *self.buckets.get(i)?;
            if e == EMPTY {
                return None;
            }
            let slot = e as u32;
            if (e >> 32) as u32 == tag && is(slot) {
                return Some(slot);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The bucket a lookup of `tag` starts at.
    #[inline]
    pub fn bucket_of(&self, tag: u32) -> usize {
        self.home(tag)
    }

    /// Where bucket `i` lives, for a cache hint ahead of a lookup or a
    /// removal (null when there are no buckets).
    #[inline]
    pub fn bucket_addr(&self, i: usize) -> *const u8 {
        self.buckets
            .get(i)
            .map_or(core::ptr::null(), |b| core::ptr::from_ref(b).cast())
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

    /// Record slot `slot` (never `u32::MAX`) under `tag`; the caller knows
    /// its key is not indexed yet.
    pub fn insert(&mut self, tag: u32, slot: u32) {
        if (self.len + 1) * 2 > self.buckets.len() {
            self.grow();
        }
        self.place((u64::from(tag) << 32) | u64::from(slot));
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
        let old = core::mem::replace(&mut self.buckets, vec![EMPTY; size]);
        self.mask = size - 1;
        for e in old.into_iter().filter(|&e| e != EMPTY) {
            self.place(e);
        }
    }

    /// Forget slot `slot`, indexed under `tag`: found by its number, so
    /// the slot is not read again. Nothing happens if it is not indexed.
    pub fn remove(&mut self, tag: u32, slot: u32) {
        if self.len == 0 {
            return;
        }
        let mut hole = self.home(tag);
        loop {
            match self.buckets.get(hole) {
                Some(&EMPTY) | None => return,
                Some(&e) if e as u32 == slot => break,
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
    extern crate std;
    use super::*;
    use std::collections::HashMap;

    /// A tag with few distinct values, so probe runs collide and wrap.
    fn tag_of(id: u32) -> u32 {
        id.wrapping_mul(0x9e37_79b9) & 0x8000_001f
    }

    /// Random inserts and removals against a HashMap: every lookup agrees,
    /// present or not. It fails if the backward shift is off by one.
    #[test]
    fn agrees_with_a_map() {
        let mut d = SlotIndex::new();
        let mut model: HashMap<u32, u32> = HashMap::new(); // slot -> id
        let mut slots: Vec<Option<u32>> = vec![None; 64];
        let mut rng = 12345u64;
        for step in 0..5_000u32 {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let slot = ((rng >> 33) % 64) as u32;
            match model.get(&slot).copied() {
                Some(id) => {
                    let holds = |i: u32| slots[i as usize] == Some(id);
                    assert_eq!(d.get(tag_of(id), holds), Some(slot));
                    d.remove(tag_of(id), slot);
                    model.remove(&slot);
                    slots[slot as usize] = None;
                }
                None => {
                    let id = step % 100;
                    if model.values().any(|&v| v == id) {
                        continue;
                    }
                    slots[slot as usize] = Some(id);
                    d.insert(tag_of(id), slot);
                    model.insert(slot, id);
                }
            }
            for id in 0..100 {
                let want = model.iter().find(|(_, v)| **v == id).map(|(k, _)| *k);
                let holds = |i: u32| slots[i as usize] == Some(id);
                assert_eq!(d.get(tag_of(id), holds), want, "step {step}, id {id}");
            }
            assert_eq!(d.len(), model.len());
        }
    }

    #[test]
    fn removing_what_is_not_there_changes_nothing() {
        let mut d = SlotIndex::new();
        d.remove(1, 1);
        d.insert(5, 0);
        d.remove(5, 9);
        d.remove(6, 0);
        assert_eq!(d.len(), 1);
        assert_eq!(d.get(5, |i| i == 0), Some(0));
        assert!(!d.bucket_addr(d.bucket_of(5)).is_null());
    }
}
