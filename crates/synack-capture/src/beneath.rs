//! What a frame that is neither a TCP segment nor an ICMP error may still
//! hold: a packet put together from fragments ([`crate::defrag`]), or one
//! inside a tunnel (`synack_wire::tunnel`), which may in turn be a
//! fragment or another tunnel. Every way of reading a capture (one thread,
//! dealt, split) looks beneath frames here, so all find the same.
//!
//! A packet taken out of a VXLAN or Geneve tunnel is in the overlay network
//! the tunnel names ([`Network`]): tenants reuse private addresses, so a
//! 4-tuple names a conversation only within its network. A tunnel without
//! an id (IP in IP, GRE) leaves the network as it was: with direct server
//! return a balancer sends the SYN in IP in IP and the server answers
//! plain, and that is one conversation.

use serde::Serialize;
use synack_wire::tunnel::{self, Carried, Tunnel};

use crate::defrag::{Defrag, Offer};
use crate::link;
use crate::reader::Frame;

/// Levels opened at most (a tunnel in a tunnel in a tunnel...): each one
/// costs a call, and crafted input could nest thousands.
pub const MAX_DEPTH: usize = 8;

/// What looking beneath a frame came to.
pub enum Found {
    /// A frame beneath it was taken.
    Taken,
    /// A fragment beneath it is held until its packet is whole.
    Held,
    /// Nothing beneath it.
    Nothing,
}

/// Fragments being put together, and the tunnel packets opened.
#[derive(Default)]
pub struct Beneath {
    pub defrag: Defrag,
    /// Tunnel packets that held a TCP segment, an ICMP error or a fragment,
    /// by [`Tunnel::ALL`]'s order, each counted once, as its outermost
    /// tunnel.
    pub tunnelled: [u64; Tunnel::ALL.len()],
    /// The networks the tunnels carry (VXLAN's and Geneve's ids), the
    /// first [`MAX_NETWORKS`] seen, in that order.
    pub networks: Vec<(Tunnel, u32)>,
    /// The outermost tunnel of the frame being opened.
    outermost: Option<Tunnel>,
}

/// Networks remembered at most: enough to say there are several.
pub const MAX_NETWORKS: usize = 64;

/// The overlay network a packet was carried in: the innermost tunnel
/// around it that names one, with its id (VXLAN's and Geneve's 24-bit
/// network identifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Network {
    #[serde(rename = "kind", serialize_with = "tunnel_key")]
    pub tunnel: Tunnel,
    pub id: u32,
}

fn tunnel_key<S: serde::Serializer>(t: &Tunnel, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.key())
}

/// A [`Network`] as the tracker keys it: 0 for none, else the tunnel's
/// place in [`Tunnel::ALL`] (plus one) above the 24-bit id.
pub(crate) type Zone = u32;

impl Network {
    pub(crate) fn zone(self) -> Zone {
        let kind = Tunnel::ALL.iter().position(|&t| t == self.tunnel);
        let kind = kind.and_then(|k| u32::try_from(k + 1).ok()).unwrap_or(0);
        (kind << 24) | (self.id & 0x00ff_ffff)
    }

    pub(crate) fn of_zone(zone: Zone) -> Option<Network> {
        let kind = usize::try_from(zone >> 24).ok()?.checked_sub(1)?;
        Some(Network {
            tunnel: *Tunnel::ALL.get(kind)?,
            id: zone & 0x00ff_ffff,
        })
    }
}

impl Beneath {
    /// The frames beneath `f`, each offered to `take` with the network it
    /// is in (0: none), which says whether it took it; one it did not is
    /// looked beneath in turn.
    pub fn open(
        &mut self,
        f: &Frame<'_>,
        take: &mut impl FnMut(&Frame<'_>, Zone) -> bool,
    ) -> Found {
        self.outermost = None;
        let found = self.open_at(f, take, (0, 0));
        if let (Found::Taken | Found::Held, Some(t)) = (&found, self.outermost) {
            let i = Tunnel::ALL.iter().position(|&k| k == t);
            if let Some(n) = i.and_then(|i| self.tunnelled.get_mut(i)) {
                *n += 1;
            }
        }
        found
    }

    /// `f`, `depth` levels in, in network `zone`.
    fn open_at(
        &mut self,
        f: &Frame<'_>,
        take: &mut impl FnMut(&Frame<'_>, Zone) -> bool,
        (depth, zone): (usize, Zone),
    ) -> Found {
        if depth >= MAX_DEPTH {
            return Found::Nothing;
        }
        let Some(ip) = link::ip_packet(f.linktype, f.data) else {
            return Found::Nothing;
        };
        match self.defrag.offer(f, ip, zone) {
            Offer::Whole(whole) => return self.inner(&whole.frame(), take, (depth, zone)),
            Offer::Held => return Found::Held,
            Offer::NotFragment => {}
        }
        let Some(t) = tunnel::open(ip, f.truncated) else {
            return Found::Nothing;
        };
        // The frame's length on the wire, less what came before the inside.
        let before = (t.inner.as_ptr() as usize).saturating_sub(f.data.as_ptr() as usize);
        let inner = Frame {
            linktype: match t.carries {
                Carried::Ip => link::RAW,
                Carried::Ethernet => link::ETHERNET,
                Carried::Ppp => link::PPP,
            },
            data: t.inner,
            wire_len: f
                .wire_len
                .saturating_sub(u32::try_from(before).unwrap_or(u32::MAX)),
            ..*f
        };
        self.outermost = self.outermost.or(Some(t.tunnel));
        let zone = match t.id {
            Some(id) => {
                if self.networks.len() < MAX_NETWORKS && !self.networks.contains(&(t.tunnel, id)) {
                    self.networks.push((t.tunnel, id));
                }
                Network {
                    tunnel: t.tunnel,
                    id,
                }
                .zone()
            }
            None => zone,
        };
        self.inner(&inner, take, (depth, zone))
    }

    fn inner(
        &mut self,
        g: &Frame<'_>,
        take: &mut impl FnMut(&Frame<'_>, Zone) -> bool,
        (depth, zone): (usize, Zone),
    ) -> Found {
        if take(g, zone) {
            return Found::Taken;
        }
        self.open_at(g, take, (depth + 1, zone))
    }

    /// No more frames come.
    pub fn finish(&mut self) {
        self.defrag.finish();
    }
}
