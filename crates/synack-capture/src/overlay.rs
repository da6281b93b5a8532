//! The tracker's attempts in overlay networks (segments taken out of a
//! VXLAN or Geneve tunnel): keyed by network and 4-tuple, so two tenants'
//! conversations on one 4-tuple stay two. Tables of their own, made at the
//! first such segment, so a capture without overlays pays nothing for them
//! and the plain tables keep their small keys.

use std::net::SocketAddr;

use crate::attempt::{Attempt, Seg};
use crate::beneath::Zone;
use crate::table::{Added, Held, Spares, Table, V4, V6, Zoned, oldest_of, pop_older};

pub(crate) struct Overlays {
    v4: Table<Zoned<V4>>,
    v6: Table<Zoned<V6>>,
}

impl Default for Overlays {
    fn default() -> Overlays {
        Overlays {
            v4: Table::new(),
            v6: Table::new(),
        }
    }
}

impl Overlays {
    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// [`Table::add`] for a segment in network `zone`.
    pub(crate) fn add(
        &mut self,
        s: &Seg,
        zone: Zone,
        stream: impl FnMut() -> Option<u64>,
        spares: &mut Spares,
    ) -> Added {
        let (a, b) = (s.src, s.dst);
        if let Some(key) = V4::of(a, b).map(|key| Zoned { zone, key }) {
            let tag = self.v4.tag(key);
            return self.v4.add(key, tag, s, stream, spares);
        }
        match V6::of(a, b).map(|key| Zoned { zone, key }) {
            Some(key) => {
                let tag = self.v6.tag(key);
                self.v6.add(key, tag, s, stream, spares)
            }
            None => Added::Unmatched,
        }
    }

    /// The attempt in network `zone` between `a` and `b`, made full.
    pub(crate) fn attempt_mut(
        &mut self,
        (a, b): (SocketAddr, SocketAddr),
        zone: Zone,
        spares: &mut Spares,
    ) -> Option<&mut Attempt> {
        if let Some(key) = V4::of(a, b) {
            return self.v4.attempt_mut(Zoned { zone, key }, spares);
        }
        let key = V6::of(a, b)?;
        self.v6.attempt_mut(Zoned { zone, key }, spares)
    }

    /// The first frame of the oldest attempt held.
    pub(crate) fn oldest(&mut self) -> Option<u64> {
        oldest_of(&mut self.v4, &mut self.v6)
    }

    /// Take the oldest attempt out.
    pub(crate) fn pop_oldest(&mut self) -> Option<Held> {
        pop_older(&mut self.v4, &mut self.v6)
    }

    /// [`Table::expired`] of both families.
    pub(crate) fn expired(&mut self, now: f64, idle_s: f64, linger_s: f64) -> Vec<Held> {
        let mut out = self.v4.expired(now, idle_s, linger_s);
        out.extend(self.v6.expired(now, idle_s, linger_s));
        out
    }

    /// Every attempt held, in no order.
    pub(crate) fn into_slots(self) -> impl Iterator<Item = Held> {
        self.v4.into_slots().chain(self.v6.into_slots())
    }
}
