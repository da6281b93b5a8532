//! IP fragments put back together, as the receiver would, so that a
//! segment sent in pieces (`nmap -f`, a crafting tool's `fragment()`, a
//! path with a small MTU) is analysed as the segment it was: at the frame
//! that completed it, as tshark shows it. Only frames that are neither a
//! segment nor an ICMP error are offered, so whole packets pay nothing.
//!
//! Like Linux: pieces that overlap with different bytes spoil the packet
//! (RFC 5722), and a packet still missing pieces 30 s after its first
//! (`ipfrag_time`) is given up. At most [`MAX_PENDING`] packets are held;
//! past that the oldest is given up.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use synack_wire::fragment::{self, Fragment, MAX_PACKET};

// A whole packet is handed on as raw IP.
use crate::beneath::Zone;
use crate::link::RAW;
use crate::reader::Frame;

/// Packets being put together at once (each at most 64 KB: 16 MB in all).
pub const MAX_PENDING: usize = 256;
/// How long a packet's pieces are waited for (Linux's `ipfrag_time`).
const TIMEOUT_NS: i64 = 30_000_000_000;

/// A packet's addresses, id and protocol, and the overlay network its
/// pieces came in (two tenants' packets may share all the rest).
type Key = (IpAddr, IpAddr, u32, u8, Zone);

/// One packet's pieces so far.
struct Pending {
    head: Vec<u8>,
    next_at: Option<usize>,
    payload: Vec<u8>,
    /// The byte ranges of `payload` that came, sorted and merged.
    have: Vec<(usize, usize)>,
    /// The payload's length, once the last piece came.
    total: Option<usize>,
    pieces: u64,
    /// Pieces overlapped with different bytes, or ran past 64 KB.
    spoiled: bool,
    first_ns: i64,
}

impl Pending {
    fn new(first_ns: i64) -> Pending {
        Pending {
            head: Vec::new(),
            next_at: None,
            payload: Vec::new(),
            have: Vec::new(),
            total: None,
            pieces: 0,
            spoiled: false,
            first_ns,
        }
    }

    fn add(&mut self, f: &Fragment<'_>) {
        self.pieces += 1;
        let (start, end) = (f.offset, f.offset + f.data.len());
        if end + f.head.len() > MAX_PACKET || (f.more && !f.data.len().is_multiple_of(8)) {
            self.spoiled = true;
            return;
        }
        if f.offset == 0 {
            self.head = f.head.to_vec();
            self.next_at = f.next_at;
        }
        if !f.more {
            match self.total {
                Some(t) if t != end => self.spoiled = true,
                _ => self.total = Some(end),
            }
        }
        if self.payload.len() < end {
            self.payload.resize(end, 0);
        }
        for &(s, e) in &self.have {
            let (a, b) = (s.max(start), e.min(end));
            if a < b && self.payload.get(a..b) != f.data.get(a - start..b - start) {
                self.spoiled = true;
            }
        }
        if let Some(dst) = self.payload.get_mut(start..end) {
            dst.copy_from_slice(f.data);
        }
        self.have.push((start, end));
        self.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.have.len());
        for &(s, e) in &self.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.have = merged;
    }

    fn whole(&self) -> bool {
        !self.spoiled
            && !self.head.is_empty()
            && self
                .total
                .is_some_and(|t| self.have == [(0, t)] && self.payload.len() == t)
    }
}

/// What became of a frame offered.
pub enum Offer {
    /// It is no fragment.
    NotFragment,
    /// A fragment, held (or a piece of a packet that cannot be whole).
    Held,
    /// The fragment completed this packet.
    Whole(Whole),
}

/// A packet made whole, numbered and timed as the piece that completed it.
pub struct Whole {
    packet: Vec<u8>,
    number: u64,
    ts: f64,
    ts_ns: i64,
    interface: u32,
    end: u64,
}

impl Whole {
    /// The packet as a frame of raw IP.
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            number: self.number,
            ts: self.ts,
            ts_ns: self.ts_ns,
            interface: self.interface,
            linktype: RAW,
            data: &self.packet,
            truncated: false,
            wire_len: u32::try_from(self.packet.len()).unwrap_or(u32::MAX),
            end: self.end,
        }
    }
}

/// The packets being put together, and what became of the pieces.
#[derive(Default)]
pub struct Defrag {
    pending: HashMap<Key, Pending>,
    /// Keys in the order their first piece came, with that time.
    order: VecDeque<(Key, i64)>,
    /// Packets made whole.
    pub reassembled: u64,
    /// Pieces of packets given up (spoiled, timed out, crowded out, or
    /// still missing pieces at the end).
    pub lost: u64,
}

impl Defrag {
    /// `f`, whose IP packet is `ip` (in overlay network `zone`, 0: none),
    /// taken in if it is a fragment; the whole packet as a frame (of raw
    /// IP, numbered and timed as `f`) when `f` completed one.
    pub fn offer(&mut self, f: &Frame<'_>, ip: &[u8], zone: Zone) -> Offer {
        let Some(piece) = fragment::fragment(ip) else {
            return Offer::NotFragment;
        };
        match self.take(f, &piece, zone) {
            Some(whole) => Offer::Whole(whole),
            None => Offer::Held,
        }
    }

    fn take(&mut self, f: &Frame<'_>, piece: &Fragment<'_>, zone: Zone) -> Option<Whole> {
        self.expire(f.ts_ns);
        let key = (piece.src, piece.dst, piece.id, piece.protocol, zone);
        if !self.pending.contains_key(&key) {
            if self.pending.len() >= MAX_PENDING {
                self.give_up_oldest();
            }
            self.order.push_back((key, f.ts_ns));
            self.pending.insert(key, Pending::new(f.ts_ns));
        }
        let p = self.pending.get_mut(&key)?;
        if f.truncated {
            // Bytes the capture did not keep: the packet cannot be whole.
            p.pieces += 1;
            p.spoiled = true;
            return None;
        }
        p.add(piece);
        if !p.whole() {
            return None;
        }
        let p = self.pending.remove(&key)?;
        let Some(packet) = fragment::whole(&p.head, p.next_at, piece.protocol, &p.payload) else {
            self.lost += p.pieces;
            return None;
        };
        self.reassembled += 1;
        Some(Whole {
            packet,
            number: f.number,
            ts: f.ts,
            ts_ns: f.ts_ns,
            interface: f.interface,
            end: f.end,
        })
    }

    /// Packets whose first piece came more than the timeout before `now`.
    fn expire(&mut self, now: i64) {
        while let Some(&(key, at)) = self.order.front() {
            if now.saturating_sub(at) <= TIMEOUT_NS {
                break;
            }
            self.order.pop_front();
            self.drop_if_same(key, at);
        }
    }

    fn give_up_oldest(&mut self) {
        while let Some((key, at)) = self.order.pop_front() {
            if self.drop_if_same(key, at) {
                return;
            }
        }
    }

    /// The packet `key` begun at `at` given up, if it is still held (a key
    /// completed and begun again is a newer packet).
    fn drop_if_same(&mut self, key: Key, at: i64) -> bool {
        match self.pending.get(&key) {
            Some(p) if p.first_ns == at => {
                self.lost += p.pieces;
                self.pending.remove(&key);
                true
            }
            _ => false,
        }
    }

    /// The end of the capture: what is still held never became whole.
    pub fn finish(&mut self) {
        self.lost += self.pending.values().map(|p| p.pieces).sum::<u64>();
        self.pending.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 fragment (raw IP) of packet `id`: `data` at `offset`.
    fn piece(id: u16, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
        let mut h = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        h[2..4].copy_from_slice(&((20 + data.len()) as u16).to_be_bytes());
        h[4..6].copy_from_slice(&id.to_be_bytes());
        let word = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&word.to_be_bytes());
        h.extend_from_slice(data);
        h
    }

    fn frame(number: u64, secs: i64, data: &[u8]) -> Frame<'_> {
        Frame {
            number,
            ts: secs as f64,
            ts_ns: secs * 1_000_000_000,
            interface: 0,
            linktype: RAW,
            data,
            truncated: false,
            wire_len: data.len() as u32,
            end: 0,
        }
    }

    /// `f`, a frame of raw IP, offered.
    fn offer(d: &mut Defrag, f: &Frame<'_>) -> Offer {
        d.offer(f, f.data, 0)
    }

    /// The payload of the packet `pieces` (at time 0) make, if they make one.
    fn offer_all(d: &mut Defrag, pieces: &[Vec<u8>]) -> Option<Vec<u8>> {
        let mut out = None;
        for (i, p) in pieces.iter().enumerate() {
            if let Offer::Whole(w) = offer(d, &frame(i as u64 + 1, 0, p)) {
                let w = w.frame();
                assert_eq!(w.number, i as u64 + 1, "at the piece that completed it");
                out = Some(w.data.get(20..).unwrap().to_vec());
            }
        }
        out
    }

    #[test]
    fn pieces_in_any_order_make_the_packet() {
        let data: Vec<u8> = (0..24).collect();
        let (a, b, c) = (
            piece(1, 0, true, &data[..8]),
            piece(1, 8, true, &data[8..16]),
            piece(1, 16, false, &data[16..]),
        );
        for order in [[&a, &b, &c], [&c, &a, &b], [&b, &c, &a]] {
            let mut d = Defrag::default();
            let pieces: Vec<Vec<u8>> = order.iter().map(|p| p.to_vec()).collect();
            assert_eq!(offer_all(&mut d, &pieces), Some(data.clone()));
            d.finish();
            assert_eq!((d.reassembled, d.lost), (1, 0));
        }
        let mut d = Defrag::default();
        assert!(matches!(
            offer(&mut d, &frame(1, 0, &piece(1, 0, false, &data))),
            Offer::NotFragment
        ));
    }

    #[test]
    fn a_repeated_piece_is_harmless_and_a_different_overlap_spoils() {
        let data = [7u8; 16];
        let mut d = Defrag::default();
        let same = [
            piece(2, 0, true, &data[..8]),
            piece(2, 0, true, &data[..8]),
            piece(2, 8, false, &data[8..]),
        ];
        assert_eq!(offer_all(&mut d, &same), Some(data.to_vec()));
        let other = [
            piece(3, 0, true, &data[..8]),
            piece(3, 0, true, &[9; 8]),
            piece(3, 8, false, &data[8..]),
        ];
        assert_eq!(offer_all(&mut d, &other), None, "RFC 5722: given up");
        d.finish();
        assert_eq!((d.reassembled, d.lost), (1, 3));
    }

    #[test]
    fn a_packet_missing_pieces_is_given_up_after_30_s_or_when_crowded() {
        let mut d = Defrag::default();
        let first = piece(4, 0, true, &[1; 8]);
        assert!(matches!(offer(&mut d, &frame(1, 0, &first)), Offer::Held));
        // 31 s later its last piece finds nothing to complete.
        let last = piece(4, 8, false, &[1; 8]);
        assert!(matches!(offer(&mut d, &frame(2, 31, &last)), Offer::Held));
        assert_eq!(d.lost, 1);
        // Past MAX_PENDING packets the oldest goes.
        let mut d = Defrag::default();
        for id in 0..=MAX_PENDING as u16 {
            let _ = offer(&mut d, &frame(1, 0, &piece(id, 0, true, &[0; 8])));
        }
        assert_eq!((d.pending.len(), d.lost), (MAX_PENDING, 1));
        let done = offer(&mut d, &frame(2, 0, &piece(0, 8, false, &[0; 8])));
        assert!(matches!(done, Offer::Held), "packet 0 was given up");
    }

    #[test]
    fn a_piece_cut_by_the_snap_length_spoils_its_packet() {
        let mut d = Defrag::default();
        let p = piece(5, 0, true, &[0; 8]);
        let mut f = frame(1, 0, &p);
        f.truncated = true;
        assert!(matches!(offer(&mut d, &f), Offer::Held));
        let last = piece(5, 8, false, &[0; 8]);
        assert!(matches!(offer(&mut d, &frame(2, 0, &last)), Offer::Held));
        d.finish();
        assert_eq!((d.reassembled, d.lost), (0, 2));
    }
}
