//! Initial sequence numbers (RFC 6528 §3): ISN = M + F(4-tuple, secret),
//! M a clock ticking every 4 µs, F a keyed PRF (SipHash-2-4, as Linux uses).
//! The clock is the caller's `now`; the key is injected.

use core::hash::Hasher;
use core::net::{IpAddr, SocketAddr};

use siphasher::sip::SipHasher24;
use synack_wire::SeqNum;

use crate::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq)]
/// How ISNs are chosen.
pub enum IsnMode {
    /// RFC 6528 with this secret key.
    /// RFC 6528 with this secret key.
    Rfc6528 {
        /// The secret of the keyed hash.
        key: [u8; 16],
    },
    /// Always this ISN: for tests and for reproducing a textbook example.
    Fixed(u32),
}

impl core::fmt::Debug for IsnMode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            // Never print the secret.
            IsnMode::Rfc6528 { .. } => f.write_str("Rfc6528 { key: <secret> }"),
            IsnMode::Fixed(v) => write!(f, "Fixed({v})"),
        }
    }
}

/// The 4 µs clock M of RFC 6528.
pub fn clock_component(now: Instant) -> u32 {
    (now.as_nanos() / 4_000) as u32
}

/// F(localip, localport, remoteip, remoteport, secretkey). IPv4 tuples are
/// hashed as 12 bytes (two SipHash blocks instead of five).
pub fn hash_component(key: &[u8; 16], local: SocketAddr, remote: SocketAddr) -> u32 {
    let mut h = SipHasher24::new_with_key(key);
    match (local.ip(), remote.ip()) {
        (IpAddr::V4(l), IpAddr::V4(r)) => {
            let mut buf = [0u8; 12];
            buf[..4].copy_from_slice(&l.octets());
            buf[4..6].copy_from_slice(&local.port().to_be_bytes());
            buf[6..10].copy_from_slice(&r.octets());
            buf[10..].copy_from_slice(&remote.port().to_be_bytes());
            h.write(&buf);
        }
        (l, r) => {
            let mut buf = [0u8; 36];
            put_ip(&mut buf[..16], l);
            buf[16..18].copy_from_slice(&local.port().to_be_bytes());
            put_ip(&mut buf[18..34], r);
            buf[34..36].copy_from_slice(&remote.port().to_be_bytes());
            h.write(&buf);
        }
    }
    h.finish() as u32
}

fn put_ip(dst: &mut [u8], ip: IpAddr) {
    let octets = match ip {
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
        IpAddr::V6(v) => v.octets(),
    };
    dst.copy_from_slice(&octets);
}

/// The ISN for a connection from `local` to `remote` at `now`.
pub fn generate(mode: &IsnMode, now: Instant, local: SocketAddr, remote: SocketAddr) -> SeqNum {
    match mode {
        IsnMode::Fixed(v) => SeqNum(*v),
        IsnMode::Rfc6528 { key } => {
            SeqNum(clock_component(now).wrapping_add(hash_component(key, local, remote)))
        }
    }
}
