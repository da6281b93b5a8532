//! Tunnels: an IP packet whose payload is another packet or frame. Cloud
//! traffic mirroring hands engineers captures where every segment is
//! inside VXLAN (AWS) or Geneve (behind a gateway load balancer), a
//! switch's SPAN session sends ERSPAN in GRE, overlay networks (flannel)
//! use VXLAN on Linux's port 8472, and VPNs use IP in IP, GRE and PPTP's
//! enhanced GRE. This finds what is inside, by the protocol and the
//! well-known ports, as Wireshark decodes them.

use core::net::IpAddr;

use crate::ip::parse_ip_any;

/// Which tunnel a packet came out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tunnel {
    /// IPv4 or IPv6 directly in IP (protocols 4 and 41: ipip, sit, 6in4).
    IpInIp,
    /// Generic Routing Encapsulation (RFC 2784, 2890), including
    /// transparent Ethernet bridging and PPTP's enhanced GRE (RFC 2637).
    Gre,
    /// A switch's encapsulated remote SPAN, types I to III, in GRE.
    Erspan,
    /// VXLAN (RFC 7348) on UDP port 4789, or 8472, Linux's default.
    Vxlan,
    /// Geneve (RFC 8926) on UDP port 6081.
    Geneve,
}

impl Tunnel {
    /// Every kind, in the order reports list them.
    pub const ALL: [Tunnel; 5] = [
        Tunnel::IpInIp,
        Tunnel::Gre,
        Tunnel::Erspan,
        Tunnel::Vxlan,
        Tunnel::Geneve,
    ];

    /// The name engineers know it by.
    pub fn name(self) -> &'static str {
        match self {
            Tunnel::IpInIp => "IP in IP",
            Tunnel::Gre => "GRE",
            Tunnel::Erspan => "ERSPAN",
            Tunnel::Vxlan => "VXLAN",
            Tunnel::Geneve => "Geneve",
        }
    }

    /// A name without spaces, for JSON keys.
    pub fn key(self) -> &'static str {
        match self {
            Tunnel::IpInIp => "ip_in_ip",
            Tunnel::Gre => "gre",
            Tunnel::Erspan => "erspan",
            Tunnel::Vxlan => "vxlan",
            Tunnel::Geneve => "geneve",
        }
    }
}

/// What a tunnel's payload begins with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carried {
    /// An IP packet.
    Ip,
    /// An Ethernet frame.
    Ethernet,
    /// A PPP frame (PPTP).
    Ppp,
}

/// A tunnel packet opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened<'a> {
    /// The tunnel.
    pub tunnel: Tunnel,
    /// What `inner` is.
    pub carries: Carried,
    /// The tunnel's ends: the outer packet's source and destination.
    pub outer: (IpAddr, IpAddr),
    /// The network it carries, where the tunnel names one: VXLAN's and
    /// Geneve's network identifier.
    pub id: Option<u32>,
    /// The packet or frame inside, within the outer packet's length.
    pub inner: &'a [u8],
}

/// The IANA VXLAN port, and Linux's default when none is given.
const VXLAN_PORTS: [u16; 2] = [4789, 8472];
const GENEVE_PORT: u16 = 6081;

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// The tunnel `ip` is, with what it carries; `None` for any other packet
/// (a fragment included: it is opened once put together). `truncated`
/// says the capture cut the packet short, so its length fields may claim
/// more than is there.
pub fn open(ip: &[u8], truncated: bool) -> Option<Opened<'_>> {
    let p = parse_ip_any(ip, false, truncated).ok()?;
    let outer = (p.ip.src, p.ip.dst);
    let ((tunnel, carries, inner), id) = match p.protocol {
        4 | 41 => ((Tunnel::IpInIp, Carried::Ip, p.payload), None),
        47 => (gre(p.payload)?, None),
        17 => udp(p.payload)?,
        _ => return None,
    };
    Some(Opened {
        tunnel,
        carries,
        outer,
        id,
        inner,
    })
}

/// A tunnel's kind, what it carries, and the inside.
type Inside<'a> = (Tunnel, Carried, &'a [u8]);

/// An Ethernet type's payload kind.
fn by_ethertype(t: u16) -> Option<Carried> {
    match t {
        0x0800 | 0x86DD => Some(Carried::Ip),
        0x6558 => Some(Carried::Ethernet),
        _ => None,
    }
}

fn gre(g: &[u8]) -> Option<Inside<'_>> {
    let flags = be16(g, 0)?;
    let protocol = be16(g, 2)?;
    let (checksum, routing, key, seq) = (
        flags & 0x8000 != 0,
        flags & 0x4000 != 0,
        flags & 0x2000 != 0,
        flags & 0x1000 != 0,
    );
    match flags & 0x7 {
        0 => {}
        // PPTP: a key (payload length and call id) always, the sequence
        // number and acknowledgment when flagged; PPP inside.
        1 => {
            let ack = flags & 0x0080 != 0;
            if !key || checksum || routing || protocol != 0x880B {
                return None;
            }
            let at = 8 + if seq { 4 } else { 0 } + if ack { 4 } else { 0 };
            return Some((Tunnel::Gre, Carried::Ppp, g.get(at..)?));
        }
        _ => return None,
    }
    // RFC 1701's routing field is long obsolete; no sender sets it.
    if routing {
        return None;
    }
    let words = 1 + usize::from(checksum) + usize::from(key) + usize::from(seq);
    let rest = g.get(words * 4..)?;
    match protocol {
        // ERSPAN type II has a sequence number in GRE and 8 bytes of its
        // own; type I has neither.
        0x88BE if seq => erspan(rest, 1, 8),
        0x88BE => Some((Tunnel::Erspan, Carried::Ethernet, rest)),
        0x22EB => erspan3(rest),
        t => Some((Tunnel::Gre, by_ethertype(t)?, rest)),
    }
}

/// ERSPAN of `version` with a header of `len` bytes, Ethernet after it.
fn erspan(e: &[u8], version: u8, len: usize) -> Option<Inside<'_>> {
    if e.first()? >> 4 != version {
        return None;
    }
    Some((Tunnel::Erspan, Carried::Ethernet, e.get(len..)?))
}

/// ERSPAN type III: 12 bytes, 8 more when the O bit says a platform
/// header follows; the frame type says Ethernet (0) or IP (2).
fn erspan3(e: &[u8]) -> Option<Inside<'_>> {
    if e.first()? >> 4 != 2 {
        return None;
    }
    let word = be16(e, 10)?;
    let len = if word & 1 != 0 { 20 } else { 12 };
    let carries = match (word >> 10) & 0x1f {
        0 => Carried::Ethernet,
        2 => Carried::Ip,
        _ => return None,
    };
    Some((Tunnel::Erspan, carries, e.get(len..)?))
}

/// The 24-bit network identifier in bytes 4..7 of VXLAN's and Geneve's
/// header.
fn vni(h: &[u8]) -> Option<u32> {
    let [a, b, c] = *h.get(4..7)?.first_chunk::<3>()?;
    Some(u32::from_be_bytes([0, a, b, c]))
}

/// A VXLAN or Geneve datagram's inside, and the network it names.
fn udp(u: &[u8]) -> Option<(Inside<'_>, Option<u32>)> {
    let (src, dst) = (be16(u, 0)?, be16(u, 2)?);
    let body = u.get(8..)?;
    let either = |port: u16| src == port || dst == port;
    if VXLAN_PORTS.iter().any(|&p| either(p)) {
        // The I flag says the network identifier is valid; every VXLAN
        // sender sets it, and it keeps other traffic on the port out.
        if body.first()? & 0x08 == 0 {
            return None;
        }
        let inside = (Tunnel::Vxlan, Carried::Ethernet, body.get(8..)?);
        return Some((inside, vni(body)));
    }
    if either(GENEVE_PORT) {
        let [first, _, t0, t1] = *body.first_chunk::<4>()?;
        if first >> 6 != 0 {
            return None;
        }
        let len = 8 + usize::from(first & 0x3f) * 4;
        let carries = by_ethertype(u16::from_be_bytes([t0, t1]))?;
        return Some(((Tunnel::Geneve, carries, body.get(len..)?), vni(body)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 header of `protocol` around `payload`.
    fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
        let total = u16::try_from(20 + payload.len()).unwrap_or(u16::MAX);
        let mut p = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, protocol, 0, 0];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(payload);
        p
    }

    fn udp(src: u16, dst: u16, body: &[u8]) -> Vec<u8> {
        let mut u = Vec::new();
        u.extend_from_slice(&src.to_be_bytes());
        u.extend_from_slice(&dst.to_be_bytes());
        let len = u16::try_from(8 + body.len()).unwrap_or(u16::MAX);
        u.extend_from_slice(&len.to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(body);
        u
    }

    const INNER: &[u8] = b"inner frame";

    fn opened(p: &[u8]) -> Option<(Tunnel, Carried, &[u8])> {
        open(p, false).map(|o| (o.tunnel, o.carries, o.inner))
    }

    #[test]
    fn each_kind_opens_to_what_it_carries() {
        let vxlan = [&[0x08, 0, 0, 0, 0, 0, 42, 0][..], INNER].concat();
        let geneve = [&[0x01, 0, 0x65, 0x58, 0, 0, 42, 0, 1, 2, 3, 4][..], INNER].concat();
        let gre_keyed = [&[0x20, 0, 0x08, 0x00, 0, 0, 0, 9][..], INNER].concat();
        let erspan2 = [
            &[0x10, 0, 0x88, 0xBE, 0, 0, 0, 5, 0x10, 1, 0, 2, 0, 0, 0, 0][..],
            INNER,
        ]
        .concat();
        let erspan3 = [
            &[0, 0, 0x22, 0xEB][..],
            &[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1][..],
            &[0; 8][..],
            INNER,
        ]
        .concat();
        let pptp = [
            &[0x30, 0x81, 0x88, 0x0B, 0, 11, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0][..],
            INNER,
        ]
        .concat();
        let cases = [
            (ipv4(4, INNER), (Tunnel::IpInIp, Carried::Ip)),
            (
                ipv4(17, &udp(50000, 4789, &vxlan)),
                (Tunnel::Vxlan, Carried::Ethernet),
            ),
            (
                ipv4(17, &udp(8472, 40000, &vxlan)),
                (Tunnel::Vxlan, Carried::Ethernet),
            ),
            (
                ipv4(17, &udp(1, 6081, &geneve)),
                (Tunnel::Geneve, Carried::Ethernet),
            ),
            (ipv4(47, &gre_keyed), (Tunnel::Gre, Carried::Ip)),
            (ipv4(47, &erspan2), (Tunnel::Erspan, Carried::Ethernet)),
            (ipv4(47, &erspan3), (Tunnel::Erspan, Carried::Ethernet)),
            (ipv4(47, &pptp), (Tunnel::Gre, Carried::Ppp)),
        ];
        for (packet, (tunnel, carries)) in cases {
            assert_eq!(
                opened(&packet),
                Some((tunnel, carries, INNER)),
                "{tunnel:?}"
            );
        }
    }

    #[test]
    fn the_network_carried_is_read() {
        let vxlan = [&[0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0][..], INNER].concat();
        let geneve = [&[0, 0, 0x08, 0x00, 0, 0, 42, 0][..], INNER].concat();
        let id = |p: Vec<u8>| open(&p, false).and_then(|o| o.id);
        assert_eq!(id(ipv4(17, &udp(1, 4789, &vxlan))), Some(0x12_3456));
        assert_eq!(id(ipv4(17, &udp(1, 6081, &geneve))), Some(42));
        assert_eq!(id(ipv4(4, INNER)), None);
    }

    #[test]
    fn what_only_looks_like_a_tunnel_is_left() {
        let no_i_flag = [&[0, 0, 0, 0, 0, 0, 42, 0][..], INNER].concat();
        let geneve_v1 = [&[0x40, 0, 0x65, 0x58, 0, 0, 42, 0][..], INNER].concat();
        let gre_routing = [&[0x40, 0, 0x08, 0x00, 0, 0, 0, 0][..], INNER].concat();
        let gre_mpls = [&[0, 0, 0x88, 0x47][..], INNER].concat();
        for packet in [
            ipv4(17, &udp(53, 4789, &no_i_flag)),
            ipv4(17, &udp(53, 6081, &geneve_v1)),
            ipv4(17, &udp(53, 80, INNER)),
            ipv4(47, &gre_routing),
            ipv4(47, &gre_mpls),
            ipv4(6, INNER),
            ipv4(47, &[0x20]),
        ] {
            assert_eq!(opened(&packet), None);
        }
        // A fragment is opened once whole.
        let mut frag = ipv4(4, INNER);
        frag[6] = 0x20;
        assert_eq!(opened(&frag), None);
    }

    #[test]
    fn a_packet_cut_short_opens_only_when_said_to_be() {
        let mut p = ipv4(4, INNER);
        p.truncate(p.len() - 3);
        assert_eq!(open(&p, false), None);
        let o = open(&p, true).map(|o| o.inner.len());
        assert_eq!(o, Some(INNER.len() - 3));
    }
}
