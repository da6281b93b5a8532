//! SYN cookies (RFC 4987 §3.6, rules 43–45): when the SYN queue is full the
//! listener answers with a SYN-ACK whose ISS encodes what it needs, keeps no
//! state, and rebuilds the connection from the ACK that returns ISS + 1.
//!
//! Two layouts. `Djb` (rule 44, the RFC profile): ISS − client ISN =
//! [t mod 32 : 5][MSS index : 3][hash(4-tuple, t) : 24], t ticking every 64 s.
//! `Linux` (rule 45): H0(4-tuple) + client ISN + (minute << 24) +
//! ((H1(4-tuple, minute) + MSS index) mod 2^24), valid for 2 minutes.
//! With timestamps on both sides, the low 6 bits of our TSval carry the
//! window scale (4 bits, 15 = none), SACK and ECN, as Linux does; without
//! them those options are lost.

use core::hash::Hasher;
use core::net::SocketAddr;

use siphasher::sip::SipHasher24;

use crate::time::Instant;

/// Linux's `msstab`: the MSS a cookie can remember.
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// How a cookie ISS is laid out.
pub enum Layout {
    /// D. J. Bernstein's: 5-bit time counter, 3-bit MSS index, 24-bit hash.
    Djb,
    /// Linux's (net/ipv4/syncookies.c): a keyed hash plus a minute counter, the MSS index in the low bits.
    Linux,
}

/// The index of the largest table MSS not above `mss`.
pub fn mss_index(mss: u16) -> u32 {
    MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0) as u32
}

fn hash(secret: &[u8; 16], local: SocketAddr, remote: SocketAddr, salt: u32) -> u32 {
    let mut h = SipHasher24::new_with_key(secret);
    h.write(b"syncookie");
    h.write(&crate::isn::hash_component(secret, local, remote).to_be_bytes());
    h.write(&salt.to_be_bytes());
    h.finish() as u32
}

fn djb_tick(now: Instant) -> u32 {
    (now.as_millis() / 64_000) as u32
}

fn minute(now: Instant) -> u32 {
    (now.as_millis() / 60_000) as u32
}

/// The ISS for a SYN with `client_isn` from `remote` to our `local`.
pub fn make(
    layout: Layout,
    secret: &[u8; 16],
    now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    client_isn: u32,
    mss_idx: u32,
) -> u32 {
    match layout {
        Layout::Djb => {
            let t = djb_tick(now);
            let v = ((t % 32) << 27)
                | ((mss_idx & 7) << 24)
                | (hash(secret, local, remote, t) & 0x00ff_ffff);
            client_isn.wrapping_add(v)
        }
        Layout::Linux => {
            let m = minute(now);
            hash(secret, local, remote, u32::MAX)
                .wrapping_add(client_isn)
                .wrapping_add(m << 24)
                .wrapping_add(hash(secret, local, remote, m).wrapping_add(mss_idx) & 0x00ff_ffff)
        }
    }
}

/// The MSS index if `cookie` (the ACK's ack − 1) is one we made recently
/// for this 4-tuple and `client_isn` (the ACK's seq − 1).
pub fn check(
    layout: Layout,
    secret: &[u8; 16],
    now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    client_isn: u32,
    cookie: u32,
) -> Option<u32> {
    match layout {
        Layout::Djb => {
            let v = cookie.wrapping_sub(client_isn);
            let (t5, idx, h) = (v >> 27, (v >> 24) & 7, v & 0x00ff_ffff);
            let now_t = djb_tick(now);
            (0..2)
                .filter_map(|age| now_t.checked_sub(age))
                .find(|&t| t % 32 == t5 && hash(secret, local, remote, t) & 0x00ff_ffff == h)
                .and((idx < MSS_TABLE.len() as u32).then_some(idx))
        }
        Layout::Linux => {
            let v = cookie
                .wrapping_sub(hash(secret, local, remote, u32::MAX))
                .wrapping_sub(client_isn);
            let m = minute(now);
            let age = m.wrapping_sub(v >> 24) & 0xff;
            if age >= 2 {
                return None;
            }
            let idx =
                v.wrapping_sub(hash(secret, local, remote, m.wrapping_sub(age))) & 0x00ff_ffff;
            (idx < MSS_TABLE.len() as u32).then_some(idx)
        }
    }
}

/// Options packed into the low 6 bits of TSval.
pub fn pack_options(window_scale: Option<u8>, sack: bool, ecn: bool) -> u32 {
    u32::from(window_scale.map_or(0xf, |w| w.min(14)))
        | (u32::from(sack) << 4)
        | (u32::from(ecn) << 5)
}

/// (window scale, SACK, ECN) from an echoed TSval.
pub fn unpack_options(tsecr: u32) -> (Option<u8>, bool, bool) {
    let ws = (tsecr & 0xf) as u8;
    (
        (ws != 0xf).then_some(ws),
        tsecr & 0x10 != 0,
        tsecr & 0x20 != 0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends() -> (SocketAddr, SocketAddr) {
        (
            "10.0.0.1:80".parse().unwrap(),
            "10.0.0.2:40000".parse().unwrap(),
        )
    }

    #[test]
    fn cookies_round_trip_and_expire() {
        let (l, r) = ends();
        let key = [7u8; 16];
        for layout in [Layout::Djb, Layout::Linux] {
            for idx in 0..4 {
                let t0 = Instant::from_millis(1_000_000);
                let c = make(layout, &key, t0, l, r, 12345, idx);
                assert_eq!(check(layout, &key, t0, l, r, 12345, c), Some(idx));
                // Still valid a minute later, not after three.
                let later = Instant::from_millis(1_000_000 + 60_000);
                assert_eq!(check(layout, &key, later, l, r, 12345, c), Some(idx));
                let stale = Instant::from_millis(1_000_000 + 190_000);
                assert_eq!(check(layout, &key, stale, l, r, 12345, c), None);
                // Another client ISN, another key, another port: rejected.
                // (Linux's layout protects the MSS index only by its range:
                // an ISN off by a few shifts the index and may pass, which is
                // harmless since the ISN comes from the same ACK as the cookie.)
                assert_eq!(check(layout, &key, t0, l, r, 12345 + 1000, c), None);
                assert_eq!(check(layout, &[8; 16], t0, l, r, 12345, c), None);
                let other: SocketAddr = "10.0.0.2:40001".parse().unwrap();
                assert_eq!(check(layout, &key, t0, l, other, 12345, c), None);
            }
        }
    }

    #[test]
    fn options_pack_into_six_bits() {
        for ws in [None, Some(0), Some(7), Some(14)] {
            for sack in [false, true] {
                for ecn in [false, true] {
                    let p = pack_options(ws, sack, ecn);
                    assert!(p < 64);
                    assert_eq!(unpack_options(p), (ws, sack, ecn));
                }
            }
        }
        assert_eq!(mss_index(1460), 3);
        assert_eq!(mss_index(1400), 1);
        assert_eq!(mss_index(100), 0);
    }
}
