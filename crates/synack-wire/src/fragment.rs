//! IP fragments as a receiver puts them together: what one fragment says
//! (whose packet it is part of, where its bytes go) and the whole packet
//! made from the pieces. The bookkeeping of which pieces came is the
//! caller's (it holds state across packets; this module holds none).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::checksum;
use crate::ip::{IPV4_HEADER_LEN, IPV6_HEADER_LEN, MAX_EXTENSION_HEADERS};

/// The largest IP packet: IPv4's total length and IPv6's payload length
/// are 16-bit fields.
pub const MAX_PACKET: usize = 65_535;

/// One fragment of an IPv4 packet, or of an IPv6 one (with a Fragment
/// extension header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The identification shared by the packet's fragments (16 bits in
    /// IPv4, 32 in IPv6).
    pub id: u32,
    /// The protocol of the whole packet's payload (6 for TCP).
    pub protocol: u8,
    /// Where this fragment's bytes go in the whole payload.
    pub offset: usize,
    /// More fragments follow this one (MF / M).
    pub more: bool,
    /// What the whole packet begins with: the IPv4 header (options and
    /// all), or the IPv6 header and the extension headers before the
    /// Fragment header (the same in every fragment).
    pub head: &'a [u8],
    /// In `head`, the byte that names the Fragment header as the next
    /// header (IPv6): the whole packet names `protocol` there.
    pub next_at: Option<usize>,
    /// The fragment's bytes of the payload (within its own length).
    pub data: &'a [u8],
}

/// The fragment `ip` is, or `None` for a whole packet (or bytes too short
/// or inconsistent to be a fragment).
pub fn fragment(ip: &[u8]) -> Option<Fragment<'_>> {
    match ip.first()? >> 4 {
        4 => v4(ip),
        6 => v6(ip),
        _ => None,
    }
}

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn v4(ip: &[u8]) -> Option<Fragment<'_>> {
    let flags = be16(ip, 6)?;
    let (offset, more) = (usize::from(flags & 0x1fff) * 8, flags & 0x2000 != 0);
    if offset == 0 && !more {
        return None;
    }
    let hl = usize::from(ip.first()? & 0x0f) * 4;
    let total = usize::from(be16(ip, 2)?);
    if hl < IPV4_HEADER_LEN || total < hl {
        return None;
    }
    let addr = |i: usize| -> Option<IpAddr> {
        let b: [u8; 4] = ip.get(i..i + 4)?.try_into().ok()?;
        Some(IpAddr::V4(Ipv4Addr::from(b)))
    };
    Some(Fragment {
        src: addr(12)?,
        dst: addr(16)?,
        id: u32::from(be16(ip, 4)?),
        protocol: *ip.get(9)?,
        offset,
        more,
        head: ip.get(..hl)?,
        next_at: None,
        data: ip.get(hl..total)?,
    })
}

fn v6(ip: &[u8]) -> Option<Fragment<'_>> {
    let end = IPV6_HEADER_LEN + usize::from(be16(ip, 4)?);
    let (mut next, mut next_at, mut at) = (*ip.get(6)?, 6usize, IPV6_HEADER_LEN);
    for _ in 0..MAX_EXTENSION_HEADERS {
        match next {
            44 => {
                let h = ip.get(at..at + 8)?;
                let word = be16(h, 2)?;
                let (offset, more) = (usize::from(word >> 3) * 8, word & 1 != 0);
                if offset == 0 && !more {
                    return None;
                }
                let addr = |i: usize| -> Option<IpAddr> {
                    let b: [u8; 16] = ip.get(i..i + 16)?.try_into().ok()?;
                    Some(IpAddr::V6(Ipv6Addr::from(b)))
                };
                let id: [u8; 4] = h.get(4..8)?.try_into().ok()?;
                return Some(Fragment {
                    src: addr(8)?,
                    dst: addr(24)?,
                    id: u32::from_be_bytes(id),
                    protocol: *h.first()?,
                    offset,
                    more,
                    head: ip.get(..at)?,
                    next_at: Some(next_at),
                    data: ip.get(at + 8..end)?,
                });
            }
            // Hop-by-hop, routing, destination options (8-octet units);
            // AH (4-octet units).
            0 | 43 | 60 | 51 => {
                let len = usize::from(*ip.get(at + 1)?);
                let len = if next == 51 {
                    (len + 2) * 4
                } else {
                    (len + 1) * 8
                };
                (next, next_at) = (*ip.get(at)?, at);
                at += len;
            }
            _ => return None,
        }
    }
    None
}

/// The whole packet: `head` (a fragment's) with `payload` after it, its
/// lengths set, and no fragment left in it: IPv4's flags and offset
/// cleared and its header checksum made again; IPv6's Fragment header
/// gone, `protocol` named where it was. `None` past [`MAX_PACKET`].
pub fn whole(head: &[u8], next_at: Option<usize>, protocol: u8, payload: &[u8]) -> Option<Vec<u8>> {
    let mut p = Vec::with_capacity(head.len() + payload.len());
    p.extend_from_slice(head);
    p.extend_from_slice(payload);
    match next_at {
        None => {
            let total = u16::try_from(p.len()).ok()?;
            p.get_mut(2..4)?.copy_from_slice(&total.to_be_bytes());
            p.get_mut(6..8)?.copy_from_slice(&[0, 0]);
            p.get_mut(10..12)?.copy_from_slice(&[0, 0]);
            let sum = checksum::checksum(p.get(..head.len())?);
            p.get_mut(10..12)?.copy_from_slice(&sum.to_be_bytes());
        }
        Some(i) => {
            let plen = u16::try_from(p.len().checked_sub(IPV6_HEADER_LEN)?).ok()?;
            p.get_mut(4..6)?.copy_from_slice(&plen.to_be_bytes());
            *p.get_mut(i)? = protocol;
        }
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::parse_ip;

    /// An IPv4 fragment of `data` at `offset` (bytes) with `more`.
    fn v4_piece(id: u16, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
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

    #[test]
    fn an_ipv4_fragment_says_where_its_bytes_go() {
        let p = v4_piece(7, 16, true, &[1; 8]);
        let f = fragment(&p).unwrap();
        assert_eq!((f.id, f.protocol, f.offset, f.more), (7, 6, 16, true));
        assert_eq!((f.head.len(), f.data, f.next_at), (20, &[1u8; 8][..], None));
        assert_eq!(fragment(&v4_piece(7, 0, false, &[0; 20])), None, "whole");
    }

    /// A TCP header in two IPv4 pieces makes a packet that parses, its
    /// header checksum right.
    #[test]
    fn ipv4_pieces_make_a_packet_that_parses() {
        let tcp = [
            0x9c, 0x40, 0, 80, 0, 0, 3, 0xe8, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0,
        ];
        let a = v4_piece(9, 0, true, &tcp[..8]);
        let f = fragment(&a).unwrap();
        let p = whole(f.head, f.next_at, f.protocol, &tcp).unwrap();
        let s = parse_ip(&p, true).unwrap();
        assert_eq!(s.tcp, &tcp[..]);
        assert_eq!(whole(f.head, None, 6, &[0; MAX_PACKET]), None, "too long");
    }

    /// IPv6 with a hop-by-hop header, then the Fragment header: the whole
    /// packet has the hop-by-hop header name TCP, and no Fragment header.
    #[test]
    fn an_ipv6_fragment_header_is_taken_out() {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        p.extend([0x20, 1, 0xd, 0xb8].iter().chain(&[0; 11]).chain(&[1]));
        p.extend([0x20, 1, 0xd, 0xb8].iter().chain(&[0; 11]).chain(&[2]));
        p.extend([44, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop: next is Fragment
        p.extend([6, 0, 0, 1, 0, 0, 0, 42]); // Fragment: TCP, offset 0, M
        p.extend([0xab; 16]);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        let f = fragment(&p).unwrap();
        assert_eq!((f.id, f.protocol, f.offset, f.more), (42, 6, 0, true));
        assert_eq!((f.head.len(), f.next_at, f.data.len()), (48, Some(40), 16));
        let w = whole(f.head, f.next_at, f.protocol, &[0xcd; 24]).unwrap();
        assert_eq!(w.len(), 48 + 24);
        assert_eq!((w[6], w[40]), (0, 6), "hop-by-hop now names TCP");
        assert_eq!(u16::from_be_bytes([w[4], w[5]]), 32);
    }
}
