//! ICMP and ICMPv6 "destination unreachable" errors about TCP segments:
//! what a router or a firewall sends back instead of delivering a segment
//! (RFC 792, RFC 4443), with the addresses, ports and sequence number of
//! the segment it quotes, which a receiver checks before believing it
//! (RFC 5927 §4.1).

use core::net::{IpAddr, SocketAddr};

use crate::checksum;
use crate::error::{Layer, Result, WireError};
use crate::ip::{IpHeader, parse_ip_any};
use crate::seq::SeqNum;
use crate::tcp;

/// ICMP's IP protocol number.
pub const PROTOCOL_V4: u8 = 1;
/// ICMPv6's IP protocol (next header) number.
pub const PROTOCOL_V6: u8 = 58;
/// ICMP's "destination unreachable" type.
pub const TYPE_V4: u8 = 3;
/// ICMPv6's "destination unreachable" type.
pub const TYPE_V6: u8 = 1;
/// The ICMP header: type, code, checksum, four unused (or MTU) bytes.
pub const HEADER_LEN: usize = 8;

/// Why the destination is unreachable, in terms both versions share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// No route to the network (v4 code 0; v6 code 0, "no route").
    Net,
    /// The host does not answer (v4 code 1; v6 code 3, "address").
    Host,
    /// The protocol is not served (v4 code 2).
    Protocol,
    /// Nothing listens on the port (v4 code 3, v6 code 4).
    Port,
    /// The packet needs fragmenting but may not be (v4 code 4): PMTUD.
    FragmentationNeeded {
        /// The next hop's MTU.
        mtu: u16,
    },
    /// The network is administratively prohibited (v4 code 9).
    NetProhibited,
    /// The host is administratively prohibited (v4 code 10).
    HostProhibited,
    /// Communication administratively prohibited: a firewall (v4 code 13,
    /// v6 code 1).
    AdminProhibited,
    /// Another code, kept as it came.
    Other(u8),
}

impl Unreachable {
    /// From an ICMP (v4) code and the MTU field.
    pub fn from_v4(code: u8, mtu: u16) -> Unreachable {
        match code {
            0 => Unreachable::Net,
            1 => Unreachable::Host,
            2 => Unreachable::Protocol,
            3 => Unreachable::Port,
            4 => Unreachable::FragmentationNeeded { mtu },
            9 => Unreachable::NetProhibited,
            10 => Unreachable::HostProhibited,
            13 => Unreachable::AdminProhibited,
            c => Unreachable::Other(c),
        }
    }

    /// From an ICMPv6 code.
    pub fn from_v6(code: u8) -> Unreachable {
        match code {
            0 => Unreachable::Net,
            1 => Unreachable::AdminProhibited,
            3 => Unreachable::Host,
            4 => Unreachable::Port,
            c => Unreachable::Other(c),
        }
    }

    /// The code that says this in ICMP (`v6` false) or ICMPv6.
    pub fn code(self, v6: bool) -> u8 {
        match (self, v6) {
            (Unreachable::Net, _) => 0,
            (Unreachable::Host, false) => 1,
            (Unreachable::Host, true) => 3,
            (Unreachable::Protocol, _) => 2,
            (Unreachable::Port, false) => 3,
            (Unreachable::Port, true) => 4,
            (Unreachable::FragmentationNeeded { .. }, _) => 4,
            (Unreachable::NetProhibited, _) => 9,
            (Unreachable::HostProhibited, _) => 10,
            (Unreachable::AdminProhibited, false) => 13,
            (Unreachable::AdminProhibited, true) => 1,
            (Unreachable::Other(c), _) => c,
        }
    }

    /// The name RFC 792 and RFC 4443 give it.
    pub fn name(self) -> &'static str {
        match self {
            Unreachable::Net => "net unreachable",
            Unreachable::Host => "host unreachable",
            Unreachable::Protocol => "protocol unreachable",
            Unreachable::Port => "port unreachable",
            Unreachable::FragmentationNeeded { .. } => "fragmentation needed",
            Unreachable::NetProhibited => "network administratively prohibited",
            Unreachable::HostProhibited => "host administratively prohibited",
            Unreachable::AdminProhibited => "communication administratively prohibited",
            Unreachable::Other(_) => "unreachable (other code)",
        }
    }
}

/// A destination-unreachable error and the TCP segment it quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    /// The IP header of the ICMP message itself (its sender and target).
    pub ip: IpHeader,
    /// ICMPv6 rather than ICMP.
    pub v6: bool,
    /// The code as sent.
    pub code: u8,
    /// What the code means.
    pub reason: Unreachable,
    /// The quoted segment's source (the receiver of this error, normally).
    pub quoted_src: SocketAddr,
    /// The quoted segment's destination.
    pub quoted_dst: SocketAddr,
    /// The quoted segment's sequence number.
    pub quoted_seq: SeqNum,
}

/// Parse a destination-unreachable error quoting a TCP segment. Verifies
/// the IPv4 header and ICMP checksums when `verify` is set; the quoted
/// packet may be cut short, as long as its first 8 TCP bytes are there.
pub fn parse_icmp(buf: &[u8], verify: bool) -> Result<IcmpError> {
    let p = parse_ip_any(buf, verify, false)?;
    let v6 = p.ip.src.is_ipv6();
    let want = if v6 { PROTOCOL_V6 } else { PROTOCOL_V4 };
    if p.protocol != want {
        return Err(WireError::NotIcmp(p.protocol));
    }
    let m = p.payload;
    let h = m.get(..HEADER_LEN).ok_or(WireError::Truncated {
        layer: Layer::Icmp,
        at: 0,
        need: HEADER_LEN,
        have: m.len(),
    })?;
    if verify {
        let acc = if v6 {
            let len = u32::try_from(m.len()).unwrap_or(u32::MAX);
            checksum::pseudo_header(p.ip.src, p.ip.dst, PROTOCOL_V6, len)
        } else {
            0
        };
        if checksum::fold(checksum::sum(acc, m)) != 0xffff {
            let got = u16::from_be_bytes([h[2], h[3]]);
            return Err(WireError::BadIcmpChecksum {
                got,
                want: icmp_checksum(&p.ip, v6, m),
            });
        }
    }
    let (icmp_type, code) = (h[0], h[1]);
    if icmp_type != if v6 { TYPE_V6 } else { TYPE_V4 } {
        return Err(WireError::NotUnreachable { v6, icmp_type });
    }
    let reason = if v6 {
        Unreachable::from_v6(code)
    } else {
        Unreachable::from_v4(code, u16::from_be_bytes([h[6], h[7]]))
    };
    let quoted = m.get(HEADER_LEN..).unwrap_or(&[]);
    let inner = parse_ip_any(quoted, false, true)?;
    if inner.protocol != tcp::PROTOCOL {
        return Err(WireError::NotTcp(inner.protocol));
    }
    let t = inner.payload.get(..8).ok_or(WireError::Truncated {
        layer: Layer::IcmpQuote,
        at: inner.offset,
        need: 8,
        have: inner.payload.len(),
    })?;
    let port = |i: usize| u16::from_be_bytes([t[i], t[i + 1]]);
    Ok(IcmpError {
        ip: p.ip,
        v6,
        code,
        reason,
        quoted_src: SocketAddr::new(inner.ip.src, port(0)),
        quoted_dst: SocketAddr::new(inner.ip.dst, port(2)),
        quoted_seq: SeqNum(u32::from_be_bytes([t[4], t[5], t[6], t[7]])),
    })
}

/// The checksum an ICMP message with a zero checksum field should carry.
fn icmp_checksum(ip: &IpHeader, v6: bool, m: &[u8]) -> u16 {
    let acc = if v6 {
        let len = u32::try_from(m.len()).unwrap_or(u32::MAX);
        checksum::pseudo_header(ip.src, ip.dst, PROTOCOL_V6, len)
    } else {
        0
    };
    // Sum around the checksum field (bytes 2 and 3).
    let acc = checksum::sum(acc, m.get(..2).unwrap_or(&[]));
    checksum::finish(checksum::sum(acc, m.get(4..).unwrap_or(&[])))
}

/// Write, into `buf`, the destination-unreachable error `from` sends
/// about `offending` (an IP packet that was sent to it): as Linux does,
/// quoting as much of the packet as fits in 576 bytes (IPv4) or 1280
/// (IPv6). Returns the bytes written.
pub fn emit_unreachable(
    buf: &mut [u8],
    from: IpAddr,
    reason: Unreachable,
    offending: &[u8],
) -> Result<usize> {
    let bad = parse_ip_any(offending, false, true)?;
    let v6 = from.is_ipv6();
    if v6 != bad.ip.src.is_ipv6() {
        return Err(WireError::MixedFamilies);
    }
    let ip = IpHeader::new(from, bad.ip.src);
    let hl = ip.header_len();
    let limit = if v6 { 1280 } else { 576 };
    let quote = offending
        .get(..offending.len().min(limit - hl - HEADER_LEN))
        .unwrap_or(offending);
    let len = HEADER_LEN + quote.len();
    let need = hl + len;
    let have = buf.len();
    let out = buf
        .get_mut(..need)
        .ok_or(WireError::BufferTooSmall { need, have })?;
    let proto = if v6 { PROTOCOL_V6 } else { PROTOCOL_V4 };
    ip.emit_protocol(out, len, proto)?;
    let (_, m) = out.split_at_mut(hl);
    m.fill(0);
    m[0] = if v6 { TYPE_V6 } else { TYPE_V4 };
    m[1] = reason.code(v6);
    if let Unreachable::FragmentationNeeded { mtu } = reason {
        m[6..8].copy_from_slice(&mtu.to_be_bytes());
    }
    m[HEADER_LEN..].copy_from_slice(quote);
    let c = icmp_checksum(&ip, v6, m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    Ok(need)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OptionLayout, TcpFlags, TcpOptions, TcpRepr, emit_segment};

    fn syn(src: &str, dst: &str) -> Vec<u8> {
        let syn = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(1000),
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: 64240,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                ..TcpOptions::default()
            },
            payload: &[],
        };
        let ip = IpHeader::new(src.parse().unwrap(), dst.parse().unwrap());
        let mut b = [0u8; 80];
        let n = emit_segment(&mut b, &ip, &syn, OptionLayout::Linux).unwrap();
        b[..n].to_vec()
    }

    #[test]
    fn an_error_quoting_a_syn_round_trips_in_both_versions() {
        for (c, s) in [("10.0.0.1", "10.0.0.2"), ("fd00::1", "fd00::2")] {
            let bad = syn(c, s);
            for reason in [
                Unreachable::Port,
                Unreachable::AdminProhibited,
                Unreachable::Host,
            ] {
                let mut b = [0u8; 1500];
                let n = emit_unreachable(&mut b, s.parse().unwrap(), reason, &bad).unwrap();
                let e = parse_icmp(&b[..n], true).unwrap();
                assert_eq!(e.reason, reason);
                assert_eq!(e.ip.dst, c.parse::<IpAddr>().unwrap());
                assert_eq!(e.quoted_src, SocketAddr::new(c.parse().unwrap(), 40000));
                assert_eq!(e.quoted_dst, SocketAddr::new(s.parse().unwrap(), 80));
                assert_eq!(e.quoted_seq, SeqNum(1000));
            }
        }
    }

    #[test]
    fn codes_are_those_of_each_version() {
        assert_eq!(Unreachable::AdminProhibited.code(false), 13);
        assert_eq!(Unreachable::AdminProhibited.code(true), 1);
        assert_eq!(Unreachable::Port.code(true), 4);
        assert_eq!(Unreachable::from_v4(13, 0), Unreachable::AdminProhibited);
        assert_eq!(Unreachable::from_v6(4), Unreachable::Port);
    }

    #[test]
    fn bad_messages_say_why() {
        let bad = syn("10.0.0.1", "10.0.0.2");
        let mut b = [0u8; 600];
        let n =
            emit_unreachable(&mut b, "10.0.0.2".parse().unwrap(), Unreachable::Port, &bad).unwrap();
        // A flipped bit in the quote: the checksum no longer holds.
        let mut c = b[..n].to_vec();
        c[n - 1] ^= 1;
        assert!(matches!(
            parse_icmp(&c, true),
            Err(WireError::BadIcmpChecksum { .. })
        ));
        // An echo request is no unreachable error.
        let mut e = b[..n].to_vec();
        e[20] = 8;
        assert!(matches!(
            parse_icmp(&e, false),
            Err(WireError::NotUnreachable { icmp_type: 8, .. })
        ));
        // A quote too short for the ports and sequence number.
        let short = &b[..20 + 8 + 20 + 4];
        let mut s = short.to_vec();
        let len = s.len() as u16;
        s[2..4].copy_from_slice(&len.to_be_bytes());
        assert!(parse_icmp(&s, false).is_err());
        // A TCP segment is not ICMP.
        assert!(matches!(
            parse_icmp(&bad, false),
            Err(WireError::NotIcmp(6))
        ));
        // Nothing panics on any prefix.
        for k in 0..n {
            let _ = parse_icmp(&b[..k], true);
        }
    }
}
