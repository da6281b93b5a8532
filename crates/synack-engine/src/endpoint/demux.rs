//! The demux: 4-tuple → slot index. The index holds only tags and slot
//! numbers and each key is read from its connection, so with 100,000
//! connections it still fits in cache and a lookup touches no memory but
//! the slot it was going to use anyway.

use core::hash::BuildHasher;
use core::net::IpAddr;

use foldhash::fast::FixedState;
use synack_index::SlotIndex;

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

/// The index of slot numbers (`synack_index`), under the upper half of
/// each key's hash.
pub(super) struct Demux {
    index: SlotIndex,
    hasher: FixedState,
}

impl Demux {
    pub fn new(seed: u64) -> Demux {
        Demux {
            index: SlotIndex::new(),
            hasher: FixedState::with_seed(seed),
        }
    }

    #[inline]
    fn tag(&self, tuple: Tuple) -> u32 {
        synack_index::tag(self.hasher.hash_one(Key::from(tuple)))
    }

    /// The slot holding `tuple`; `tuple_at` gives the tuple a slot holds.
    #[inline]
    pub fn get(&self, tuple: Tuple, tuple_at: impl Fn(u32) -> Option<Tuple>) -> Option<u32> {
        if self.index.is_empty() {
            return None;
        }
        let key = Key::from(tuple);
        self.index.get(self.tag(tuple), |i| {
            tuple_at(i).is_some_and(|t| Key::from(t) == key)
        })
    }

    /// The bucket a lookup of `tuple` starts at.
    #[inline]
    pub fn bucket_of(&self, tuple: Tuple) -> usize {
        self.index.bucket_of(self.tag(tuple))
    }

    /// Read `buckets` (from [`bucket_of`](Self::bucket_of)) so that the
    /// lookups that follow find them in cache.
    #[inline]
    pub fn read_ahead(&self, buckets: &[usize]) {
        self.index.read_ahead(buckets);
    }

    /// Record that slot `idx` (never `u32::MAX`) holds `tuple`, which is
    /// not in the table yet.
    pub fn insert(&mut self, tuple: Tuple, idx: u32) {
        let tag = self.tag(tuple);
        self.index.insert(tag, idx);
    }

    /// Forget slot `idx`, which held `tuple`: found by index, so the slot
    /// is not read again.
    pub fn remove(&mut self, tuple: Tuple, idx: u32) {
        let tag = self.tag(tuple);
        self.index.remove(tag, idx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::SocketAddr;

    fn tuple(n: u32) -> Tuple {
        Tuple {
            local: SocketAddr::from(([10, 0, 0, 2], 80)),
            remote: SocketAddr::from((n.to_be_bytes(), (n % 7) as u16)),
        }
    }

    /// The probing itself is tested in `synack_index`; here, that a tuple
    /// is found by its key (addresses and ports), and only it: the same
    /// ports on another address, or the ends swapped, are other tuples.
    #[test]
    fn finds_each_tuple_by_its_key() {
        let mut d = Demux::new(7);
        let mut slots: Vec<Option<Tuple>> = (0..300).map(|n| Some(tuple(n))).collect();
        for n in 0..300u32 {
            d.insert(tuple(n), n);
        }
        for n in (0..300u32).step_by(2) {
            d.remove(tuple(n), n);
            slots[n as usize] = None;
        }
        let at = |i: u32| slots.get(i as usize).copied().flatten();
        for n in 0..300u32 {
            let want = (n % 2 == 1).then_some(n);
            assert_eq!(d.get(tuple(n), at), want, "{n}");
            let t = tuple(n);
            let swapped = Tuple {
                local: t.remote,
                remote: t.local,
            };
            assert_eq!(d.get(swapped, at), None);
        }
        assert_eq!(d.index.len(), 150);
    }
}
