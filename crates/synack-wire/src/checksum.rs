//! The Internet checksum (RFC 1071) and the TCP pseudo-headers (RFC 9293
//! §3.1 for IPv4, RFC 8200 §8.1 for IPv6).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One's-complement sum of `data` as big-endian 16-bit words, added to `acc`.
/// The sum is independent of byte order (RFC 1071 §2B), so words are loaded
/// in native order 8 bytes at a time and the folded result is swapped once.
#[inline]
pub fn sum(acc: u64, data: &[u8]) -> u64 {
    acc + from_native(native_words(data))
}

/// A sum of `data` in native byte order, before folding, that folds to the
/// one's-complement sum of its 16-bit words (an odd last byte padded with
/// zero). Any sum congruent to it modulo 65,535 folds the same (its 32-bit
/// halves are added here), and the sums of consecutive pieces of a packet
/// add, as long as every piece but the last has an even length.
#[inline]
pub fn native_words(data: &[u8]) -> u64 {
    let mut s = 0u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let v = u64::from_ne_bytes(w);
        // Two 32-bit halves: no carry is lost in 64 bits for any packet
        // shorter than 2^32 words.
        s += (v >> 32) + (v & 0xffff_ffff);
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        s += u64::from(u16::from_ne_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        // An odd last byte is the high byte of a zero-padded word.
        s += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    s
}

/// A native-order sum ([`native_words`]) as a term of a big-endian one.
#[inline]
fn from_native(s: u64) -> u64 {
    u64::from(u16::from_be(fold(s)))
}

/// Fold a 64-bit accumulator to the 16-bit one's-complement sum.
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field value for data whose running sum is `acc`.
#[inline]
pub fn finish(acc: u64) -> u16 {
    !fold(acc)
}

/// Whether an upper-layer packet's checksum (field included) is right for
/// `src` and `dst`: the data and its pseudo-header sum to all ones. Always
/// inlined: it is on every captured segment's path.
#[inline(always)]
pub fn verifies(src: IpAddr, dst: IpAddr, protocol: u8, data: &[u8]) -> bool {
    verifies_words(src, dst, protocol, data.len(), native_words(data))
}

/// The same for `len` bytes of data whose [`native_words`] are `words`
/// (or any sum that folds as they do: summed elsewhere, with wider
/// instructions).
#[inline(always)]
pub fn verifies_words(src: IpAddr, dst: IpAddr, protocol: u8, len: usize, words: u64) -> bool {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    fold(pseudo_header(src, dst, protocol, len) + from_native(words)) == 0xffff
}

/// Whether a checksum `field` of an upper-layer packet of `len` bytes holds
/// the pseudo-header's sum alone: what a stack that leaves the checksum to
/// the network card writes there (Linux's CHECKSUM_PARTIAL), so a capture
/// taken on the sending host before the card filled it in shows it.
pub fn pseudo_only(src: IpAddr, dst: IpAddr, protocol: u8, len: usize, field: u16) -> bool {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    fold(pseudo_header(src, dst, protocol, len)) == field
}

/// Checksum of a plain header (IPv4), field included or zeroed.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(0, data))
}

/// Sum of the pseudo-header for an upper-layer packet of `len` bytes.
#[inline]
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: u32) -> u64 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => pseudo_v4(s, d, protocol, len),
        (IpAddr::V6(s), IpAddr::V6(d)) => pseudo_v6(s, d, protocol, len),
        // A mixed pair cannot occur in one packet; sum what there is so the
        // result is simply a wrong checksum, never a panic.
        (s, d) => sum(sum(0, &ip_bytes(s)), &ip_bytes(d)) + u64::from(protocol) + u64::from(len),
    }
}

#[inline]
/// The IPv4 pseudo-header's sum (RFC 9293 §3.1): addresses, protocol
/// and TCP length, to start a TCP checksum with.
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u32) -> u64 {
    u64::from(u32::from(src) >> 16)
        + u64::from(u32::from(src) & 0xffff)
        + u64::from(u32::from(dst) >> 16)
        + u64::from(u32::from(dst) & 0xffff)
        + u64::from(protocol)
        + u64::from(len)
}

#[inline]
/// The IPv6 pseudo-header's sum (RFC 8200 §8.1).
pub fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, protocol: u8, len: u32) -> u64 {
    let acc = sum(0, &src.octets());
    let acc = sum(acc, &dst.octets());
    acc + u64::from(len >> 16) + u64::from(len & 0xffff) + u64::from(protocol)
}

fn ip_bytes(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
        IpAddr::V6(v) => v.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    /// The field Linux leaves for offload, worked by hand for
    /// 10.0.0.1 → 10.0.0.2, 20 bytes of TCP: 0x0a00 + 0x0001 + 0x0a00 +
    /// 0x0002 + 6 + 20 = 0x141d. The right checksum of those bytes is not
    /// it, nor is a field one bit off.
    #[test]
    fn the_pseudo_headers_sum_alone_is_offload() {
        let (src, dst) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        assert!(pseudo_only(src, dst, 6, 20, 0x141d));
        assert!(!pseudo_only(src, dst, 6, 20, 0x141d ^ 0x4000));
        assert!(!pseudo_only(src, dst, 6, 21, 0x141d));
        let mut tcp = [0u8; 20];
        tcp[12] = 0x50;
        let right = finish(pseudo_header(src, dst, 6, 20) + sum(0, &tcp));
        tcp[16..18].copy_from_slice(&right.to_be_bytes());
        assert!(verifies(src, dst, 6, &tcp));
        assert!(!pseudo_only(src, dst, 6, 20, right));
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(fold(sum(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    #[test]
    fn chunked_equals_naive() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1001).collect();
        let mut naive = 0u64;
        for p in data.chunks(2) {
            let hi = u64::from(p[0]) << 8;
            naive += hi + p.get(1).map_or(0, |&b| u64::from(b));
        }
        assert_eq!(fold(sum(0, &data)), fold(naive));
    }
}
