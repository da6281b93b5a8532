//! IPv4 and IPv6 as far as TCP needs them: find the TCP bytes of a packet
//! (IPv4 options skipped, IPv6 extension headers walked) and emit a header.
//! Fragments are reported, not reassembled (`fragment.rs` puts them together).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::checksum;
use crate::error::{Layer, Result, WireError};
use crate::options::OptionLayout;
use crate::tcp::{self, TcpPacket, TcpRepr};

/// An IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// The IPv6 fixed header.
pub const IPV6_HEADER_LEN: usize = 40;
/// Extension headers walked before giving up (RFC 8200 allows any number;
/// real packets carry a handful).
pub const MAX_EXTENSION_HEADERS: usize = 8;

/// The IP fields a TCP endpoint or an analyser cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHeader {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// DSCP and ECN bits (IPv4 TOS, IPv6 traffic class).
    pub tos: u8,
    /// IPv4 identification (0 for IPv6).
    pub ident: u16,
}

impl IpHeader {
    /// A header from `src` to `dst` with the defaults: TTL 64, TOS 0, ident 0.
    pub fn new(src: IpAddr, dst: IpAddr) -> Self {
        IpHeader {
            src,
            dst,
            ttl: 64,
            tos: 0,
            ident: 0,
        }
    }

    /// Bytes of header this emits: 20 for IPv4, 40 for IPv6.
    pub fn header_len(&self) -> usize {
        match self.src {
            IpAddr::V4(_) => IPV4_HEADER_LEN,
            IpAddr::V6(_) => IPV6_HEADER_LEN,
        }
    }

    /// Write the IP header for `payload_len` bytes of TCP into `buf`.
    pub fn emit(&self, buf: &mut [u8], payload_len: usize) -> Result<usize> {
        self.emit_protocol(buf, payload_len, tcp::PROTOCOL)
    }

    /// Write the IP header for `payload_len` bytes of `protocol`.
    pub fn emit_protocol(&self, buf: &mut [u8], payload_len: usize, protocol: u8) -> Result<usize> {
        let hl = self.header_len();
        let have = buf.len();
        let h = buf
            .get_mut(..hl)
            .ok_or(WireError::BufferTooSmall { need: hl, have })?;
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total =
                    u16::try_from(hl + payload_len).map_err(|_| WireError::BadTotalLength {
                        total: hl + payload_len,
                        header: hl,
                        available: usize::from(u16::MAX),
                    })?;
                h[0] = 0x45;
                h[1] = self.tos;
                h[2..4].copy_from_slice(&total.to_be_bytes());
                h[4..6].copy_from_slice(&self.ident.to_be_bytes());
                h[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF
                h[8] = self.ttl;
                h[9] = protocol;
                h[10..12].copy_from_slice(&[0, 0]);
                h[12..16].copy_from_slice(&s.octets());
                h[16..20].copy_from_slice(&d.octets());
                let c = checksum::checksum(h).to_be_bytes();
                h[10..12].copy_from_slice(&c);
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let plen = u16::try_from(payload_len).map_err(|_| WireError::BadTotalLength {
                    total: payload_len,
                    header: hl,
                    available: usize::from(u16::MAX),
                })?;
                let vtf = (6u32 << 28) | (u32::from(self.tos) << 20);
                h[0..4].copy_from_slice(&vtf.to_be_bytes());
                h[4..6].copy_from_slice(&plen.to_be_bytes());
                h[6] = protocol;
                h[7] = self.ttl;
                h[8..24].copy_from_slice(&s.octets());
                h[24..40].copy_from_slice(&d.octets());
            }
            _ => return Err(WireError::MixedFamilies),
        }
        Ok(hl)
    }
}

/// An IP packet carrying TCP: the header fields and the TCP bytes, bounded by
/// the IP length fields (link-layer padding after them is cut off).
#[derive(Debug, Clone, Copy)]
pub struct IpTcp<'a> {
    /// The IP header's fields.
    pub ip: IpHeader,
    /// Offset of the TCP header in the packet.
    pub tcp_offset: usize,
    /// The TCP segment: header, options and payload.
    pub tcp: &'a [u8],
}

/// Locate the TCP bytes in an IPv4 or IPv6 packet (version from the first
/// nibble). Verifies the IPv4 header checksum when `verify` is set.
#[inline]
pub fn parse_ip(buf: &[u8], verify: bool) -> Result<IpTcp<'_>> {
    parse_ip_inner(buf, verify, false)
}

/// Like [`parse_ip`], for captured frames cut short by a snap length: an IP
/// length beyond the captured bytes is clamped instead of rejected (and no
/// checksum is verified). The caller knows the frame was truncated.
#[inline]
pub fn parse_ip_truncated(buf: &[u8]) -> Result<IpTcp<'_>> {
    parse_ip_inner(buf, false, true)
}

#[inline]
fn parse_ip_inner(buf: &[u8], verify: bool, clamp: bool) -> Result<IpTcp<'_>> {
    let p = parse_ip_any(buf, verify, clamp)?;
    if p.protocol != tcp::PROTOCOL {
        return Err(WireError::NotTcp(p.protocol));
    }
    Ok(IpTcp {
        ip: p.ip,
        tcp_offset: p.offset,
        tcp: p.payload,
    })
}

/// An IP packet of any protocol: its header fields, the protocol of the
/// payload (after IPv6 extension headers) and the payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IpAny<'a> {
    pub ip: IpHeader,
    pub protocol: u8,
    pub offset: usize,
    pub payload: &'a [u8],
}

#[inline]
pub(crate) fn parse_ip_any(buf: &[u8], verify: bool, clamp: bool) -> Result<IpAny<'_>> {
    let first = *buf.first().ok_or(WireError::Truncated {
        layer: Layer::Ipv4,
        at: 0,
        need: 1,
        have: 0,
    })?;
    match first >> 4 {
        4 => parse_ipv4(buf, verify, clamp),
        6 => parse_ipv6(buf, clamp),
        v => Err(WireError::BadIpVersion(v)),
    }
}

#[inline]
fn parse_ipv4(buf: &[u8], verify: bool, clamp: bool) -> Result<IpAny<'_>> {
    if buf.len() < IPV4_HEADER_LEN {
        return Err(WireError::Truncated {
            layer: Layer::Ipv4,
            at: 0,
            need: IPV4_HEADER_LEN,
            have: buf.len(),
        });
    }
    let ihl = buf[0] & 0x0f;
    let hl = usize::from(ihl) * 4;
    if ihl < 5 || hl > buf.len() {
        return Err(WireError::BadIhl {
            ihl,
            len: buf.len(),
        });
    }
    let mut total = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    if clamp && total > buf.len() {
        total = buf.len();
    }
    if total < hl || total > buf.len() {
        return Err(WireError::BadTotalLength {
            total,
            header: hl,
            available: buf.len(),
        });
    }
    if verify {
        let acc = checksum::sum(0, &buf[..hl]);
        if checksum::fold(acc) != 0xffff {
            let got = u16::from_be_bytes([buf[10], buf[11]]);
            let mut h = [0u8; 60];
            h[..hl].copy_from_slice(&buf[..hl]);
            h[10] = 0;
            h[11] = 0;
            return Err(WireError::BadIpChecksum {
                got,
                want: checksum::checksum(&h[..hl]),
            });
        }
    }
    let frag = u16::from_be_bytes([buf[6], buf[7]]);
    let (offset, more) = (frag & 0x1fff, frag & 0x2000 != 0);
    if offset != 0 || more {
        return Err(WireError::Fragmented { offset, more });
    }
    let src = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
    let dst = Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19]);
    Ok(IpAny {
        protocol: buf[9],
        ip: IpHeader {
            src: IpAddr::V4(src),
            dst: IpAddr::V4(dst),
            ttl: buf[8],
            tos: buf[1],
            ident: u16::from_be_bytes([buf[4], buf[5]]),
        },
        offset: hl,
        payload: &buf[hl..total],
    })
}

#[inline]
fn parse_ipv6(buf: &[u8], clamp: bool) -> Result<IpAny<'_>> {
    if buf.len() < IPV6_HEADER_LEN {
        return Err(WireError::Truncated {
            layer: Layer::Ipv6,
            at: 0,
            need: IPV6_HEADER_LEN,
            have: buf.len(),
        });
    }
    let plen = usize::from(u16::from_be_bytes([buf[4], buf[5]]));
    let mut end = IPV6_HEADER_LEN + plen;
    if clamp && end > buf.len() {
        end = buf.len();
    }
    if end > buf.len() {
        return Err(WireError::BadTotalLength {
            total: end,
            header: IPV6_HEADER_LEN,
            available: buf.len(),
        });
    }
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&buf[8..24]);
    let src = Ipv6Addr::from(octets);
    octets.copy_from_slice(&buf[24..40]);
    let dst = Ipv6Addr::from(octets);
    let tos = ((u16::from_be_bytes([buf[0], buf[1]]) >> 4) & 0xff) as u8;

    let (next, at) = skip_extensions(buf, buf[6], end)?;
    Ok(IpAny {
        protocol: next,
        ip: IpHeader {
            src: IpAddr::V6(src),
            dst: IpAddr::V6(dst),
            ttl: buf[7],
            tos,
            ident: 0,
        },
        offset: at,
        payload: &buf[at..end],
    })
}

/// Walk the IPv6 extension headers of `buf` (a packet ending at `end`)
/// from the fixed header's next header `first`: the protocol after them
/// and where it begins.
#[inline]
fn skip_extensions(buf: &[u8], first: u8, end: usize) -> Result<(u8, usize)> {
    let mut next = first;
    let mut at = IPV6_HEADER_LEN;
    let mut walked = 0;
    // Hop-by-hop (0), routing (43), destination options (60): length in
    // 8-octet units, not counting the first 8. AH (51): in 4-octet units,
    // not counting the first 2. Fragment (44): 8 bytes.
    while let 0 | 43 | 60 | 51 | 44 = next {
        walked += 1;
        if walked > MAX_EXTENSION_HEADERS {
            return Err(WireError::TooManyExtensionHeaders(MAX_EXTENSION_HEADERS));
        }
        let h = buf
            .get(at..at + 8)
            .filter(|_| at + 8 <= end)
            .ok_or(WireError::Truncated {
                layer: Layer::Ipv6Extension,
                at,
                need: 8,
                have: end.saturating_sub(at),
            })?;
        let len = match next {
            44 => {
                let frag = u16::from_be_bytes([h[2], h[3]]);
                let (offset, more) = (frag >> 3, frag & 1 != 0);
                if offset != 0 || more {
                    return Err(WireError::Fragmented { offset, more });
                }
                8
            }
            51 => (usize::from(h[1]) + 2) * 4,
            _ => (usize::from(h[1]) + 1) * 8,
        };
        if at + len > end {
            return Err(WireError::Truncated {
                layer: Layer::Ipv6Extension,
                at,
                need: len,
                have: end - at,
            });
        }
        next = h[0];
        at += len;
    }
    Ok((next, at))
}

/// A parsed IP packet carrying one TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// The IP header's fields.
    pub ip: IpHeader,
    /// The TCP segment, parsed.
    pub tcp: TcpRepr<'a>,
}

/// Parse IP and TCP, verifying both checksums when `verify` is set.
pub fn parse_segment(buf: &[u8], verify: bool) -> Result<Segment<'_>> {
    let IpTcp { ip, tcp, .. } = parse_ip(buf, verify)?;
    let packet = TcpPacket::new_checked(tcp)?;
    if verify {
        packet.verify_checksum(ip.src, ip.dst)?;
    }
    Ok(Segment {
        ip,
        tcp: TcpRepr::parse(&packet)?,
    })
}

/// Emit an IP header and a TCP segment with both checksums filled.
pub fn emit_segment(
    buf: &mut [u8],
    ip: &IpHeader,
    tcp: &TcpRepr<'_>,
    layout: OptionLayout,
) -> Result<usize> {
    let hl = ip.header_len();
    let have = buf.len();
    let rest = buf
        .get_mut(hl..)
        .ok_or(WireError::BufferTooSmall { need: hl, have })?;
    let n = tcp
        .emit(rest, layout, ip.src, ip.dst)
        .map_err(|e| match e {
            WireError::BufferTooSmall { need, .. } => WireError::BufferTooSmall {
                need: need + hl,
                have,
            },
            e => e,
        })?;
    ip.emit(buf, n)?;
    Ok(hl + n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::TcpOptions;
    use crate::seq::SeqNum;
    use crate::tcp::TcpFlags;

    fn seg(src: IpAddr, dst: IpAddr) -> (IpHeader, TcpRepr<'static>) {
        (
            IpHeader::new(src, dst),
            TcpRepr {
                src_port: 1,
                dst_port: 2,
                seq: SeqNum(7),
                ack: SeqNum(9),
                flags: TcpFlags::SYN_ACK,
                window: 100,
                urgent: 0,
                options: TcpOptions {
                    mss: Some(1440),
                    ..TcpOptions::default()
                },
                payload: b"hi",
            },
        )
    }

    #[test]
    fn v4_and_v6_round_trip() {
        for (s, d) in [
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()),
            (
                "2001:db8::1".parse().unwrap(),
                "2001:db8::2".parse().unwrap(),
            ),
        ] {
            let (ip, tcp) = seg(s, d);
            let mut buf = [0u8; 128];
            let n = emit_segment(&mut buf, &ip, &tcp, OptionLayout::Linux).unwrap();
            let p = parse_segment(&buf[..n], true).unwrap();
            assert_eq!(p.ip, ip);
            assert_eq!(p.tcp, tcp);
        }
    }

    #[test]
    fn a_buffer_of_exactly_the_size_needed_keeps_the_options() {
        let (ip, mut tcp) = seg("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        tcp.options.window_scale = Some(7);
        tcp.options.sack_permitted = true;
        tcp.options.timestamps = Some((1, 2));
        tcp.payload = b"";
        let mut big = [0u8; 128];
        let n = emit_segment(&mut big, &ip, &tcp, OptionLayout::Linux).unwrap();
        // 20 + 20 + 20 bytes of options: below the 60 a TCP header may take.
        assert_eq!(n, 60);
        let mut exact = vec![0u8; n];
        assert_eq!(
            emit_segment(&mut exact, &ip, &tcp, OptionLayout::Linux),
            Ok(n)
        );
        assert_eq!(&exact[..], &big[..n]);
        assert_eq!(parse_segment(&exact, true).unwrap().tcp, tcp);
        let mut short = vec![0u8; n - 1];
        assert_eq!(
            emit_segment(&mut short, &ip, &tcp, OptionLayout::Linux),
            Err(WireError::BufferTooSmall {
                need: n,
                have: n - 1
            })
        );
    }

    #[test]
    fn trailing_padding_is_cut() {
        let (ip, tcp) = seg("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let mut buf = [0u8; 128];
        let n = emit_segment(&mut buf, &ip, &tcp, OptionLayout::Linux).unwrap();
        let p = parse_segment(&buf[..n + 6], true).unwrap();
        assert_eq!(p.tcp.payload, b"hi");
    }

    #[test]
    fn v6_extension_headers_are_walked() {
        let (ip, tcp) = seg(
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        let mut plain = [0u8; 128];
        let n = emit_segment(&mut plain, &ip, &tcp, OptionLayout::Linux).unwrap();
        // Insert hop-by-hop (8 bytes) and an atomic fragment header (8 bytes).
        let mut buf = Vec::new();
        buf.extend_from_slice(&plain[..40]);
        buf.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        buf.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 1]);
        buf.extend_from_slice(&plain[40..n]);
        buf[6] = 0;
        let plen = (buf.len() - 40) as u16;
        buf[4..6].copy_from_slice(&plen.to_be_bytes());
        let p = parse_segment(&buf, true).unwrap();
        assert_eq!(p.tcp, tcp);
        // A real fragment is refused.
        buf[50] = 0;
        buf[51] = 8;
        assert_eq!(
            parse_segment(&buf, true).unwrap_err(),
            WireError::Fragmented {
                offset: 1,
                more: false
            }
        );
    }

    #[test]
    fn v4_checksum_and_lengths() {
        let (ip, tcp) = seg("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let mut buf = [0u8; 128];
        let n = emit_segment(&mut buf, &ip, &tcp, OptionLayout::Linux).unwrap();
        let mut bad = buf;
        bad[8] = 1; // TTL changed, checksum stale
        assert!(matches!(
            parse_segment(&bad[..n], true),
            Err(WireError::BadIpChecksum { .. })
        ));
        assert!(parse_segment(&bad[..n], false).is_ok());
        assert!(matches!(
            parse_segment(&buf[..n - 1], true),
            Err(WireError::BadTotalLength { .. })
        ));
        let mut frag = buf;
        frag[6] = 0x20;
        assert!(matches!(
            parse_segment(&frag[..n], false),
            Err(WireError::Fragmented {
                offset: 0,
                more: true
            })
        ));
    }
}
