//! From a link-layer frame to its IP packet: Ethernet (802.1Q, QinQ, MPLS,
//! PPPoE), PPP, Linux cooked v1 and v2, raw IP, BSD null/loopback, 802.11 data frames
//! (alone or after radiotap; an encrypted one holds nothing readable);
//! which link types those are, and the names of others.

/// LINKTYPE_ETHERNET.
pub const ETHERNET: i32 = 1;
/// LINKTYPE_PPP.
pub const PPP: i32 = 9;
/// LINKTYPE_RAW: an IP packet, no link header.
pub const RAW: i32 = 101;

fn by_version(data: &[u8]) -> Option<&[u8]> {
    match data.first()? >> 4 {
        4 | 6 => Some(data),
        _ => None,
    }
}

fn ethertype(t: u16, rest: &[u8]) -> Option<&[u8]> {
    match t {
        0x0800 | 0x86DD => Some(rest),
        _ => None,
    }
}

fn ethernet(data: &[u8]) -> Option<&[u8]> {
    let t = u16::from_be_bytes([*data.get(12)?, *data.get(13)?]);
    let rest = data.get(14..)?;
    match t {
        0x0800 | 0x86DD => Some(rest),
        _ => tagged(t, rest),
    }
}

/// What follows an Ethernet header of type `t` that is not IP itself:
/// tags, labels or PPPoE before it. Out of line: plain frames, nearly all
/// of them, pay for none of it.
#[inline(never)]
fn tagged(mut t: u16, mut data: &[u8]) -> Option<&[u8]> {
    loop {
        match t {
            0x0800 | 0x86DD => return Some(data),
            // 802.1Q, 802.1ad (QinQ) and the older QinQ type: 4-byte tag.
            0x8100 | 0x88A8 | 0x9100 => {
                t = u16::from_be_bytes([*data.get(2)?, *data.get(3)?]);
                data = data.get(4..)?;
            }
            // A PPPoE session (DSL): its header, then PPP.
            0x8864 => return pppoe(data),
            // MPLS: labels until bottom of stack, then IP by its version.
            0x8847 | 0x8848 => loop {
                let bottom = data.get(2)? & 1 == 1;
                data = data.get(4..)?;
                if bottom {
                    return by_version(data);
                }
            },
            _ => return None,
        }
    }
}

/// A PPP frame's IP packet: HDLC-like framing (address 0xff, control
/// 0x03) when it is there, then the protocol, in one byte when compressed
/// (an odd first byte, RFC 1661 §6.5).
fn ppp(data: &[u8]) -> Option<&[u8]> {
    let data = match data {
        [0xff, 0x03, rest @ ..] => rest,
        _ => data,
    };
    let (protocol, rest) = match data {
        [p, rest @ ..] if p & 1 == 1 => (u16::from(*p), rest),
        [hi, lo, rest @ ..] => (u16::from_be_bytes([*hi, *lo]), rest),
        _ => return None,
    };
    match protocol {
        0x21 | 0x57 => by_version(rest),
        _ => None,
    }
}

/// A PPPoE session frame (version and type 1, code 0): its 6-byte header,
/// then PPP.
fn pppoe(data: &[u8]) -> Option<&[u8]> {
    match data {
        [0x11, 0x00, _, _, _, _, rest @ ..] => ppp(rest),
        _ => None,
    }
}

/// An 802.11 data frame's payload, when it is IP in LLC/SNAP: not a
/// management or control frame, not a frame without data, not an
/// encrypted one (nothing in it can be read), not an A-MSDU.
fn ieee802_11(data: &[u8]) -> Option<&[u8]> {
    let (fc, flags) = (*data.first()?, *data.get(1)?);
    let (kind, subtype) = ((fc >> 2) & 3, fc >> 4);
    const DATA: u8 = 2;
    const TO_DS_FROM_DS: u8 = 0x03;
    const PROTECTED: u8 = 0x40;
    const ORDER: u8 = 0x80;
    if kind != DATA || subtype & 0x4 != 0 || flags & PROTECTED != 0 {
        return None;
    }
    let qos = subtype & 0x8 != 0;
    let mut len = 24;
    if flags & TO_DS_FROM_DS == TO_DS_FROM_DS {
        len += 6;
    }
    if qos {
        // The QoS control field; bit 7 of its first byte: an A-MSDU.
        if data.get(len)? & 0x80 != 0 {
            return None;
        }
        len += 2;
        if flags & ORDER != 0 {
            len += 4; // HT control
        }
    }
    match data.get(len..len + 8)? {
        [0xaa, 0xaa, 0x03, 0, 0, 0 | 0xf8, t0, t1] => {
            ethertype(u16::from_be_bytes([*t0, *t1]), data.get(len + 8..)?)
        }
        _ => None,
    }
}

/// A radiotap header's length, then the 802.11 frame.
fn radiotap(data: &[u8]) -> Option<&[u8]> {
    if *data.first()? != 0 {
        return None;
    }
    let len = usize::from(u16::from_le_bytes([*data.get(2)?, *data.get(3)?]));
    ieee802_11(data.get(len..)?)
}

/// The link layers frames are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Ethernet,
    /// ETHERNET_MPACKET: preamble and SFD before the frame.
    EthernetMpacket,
    LinuxSll,
    LinuxSll2,
    Raw,
    /// NULL and LOOP: a 4-byte address family before the packet.
    Null,
    Ieee80211,
    /// 802.11 after a radiotap header (a capture in monitor mode).
    Radiotap,
    /// PPP, with or without HDLC-like framing.
    Ppp,
    /// PPPoE without the Ethernet header (PPP_ETHER).
    Pppoe,
}

fn link(linktype: i32) -> Option<Link> {
    Some(match linktype {
        1 => Link::Ethernet,
        274 => Link::EthernetMpacket,
        113 => Link::LinuxSll,
        276 => Link::LinuxSll2,
        101 | 12 | 14 | 228 | 229 => Link::Raw,
        0 | 108 => Link::Null,
        9 | 50 => Link::Ppp,
        51 => Link::Pppoe,
        105 => Link::Ieee80211,
        127 => Link::Radiotap,
        _ => return None,
    })
}

/// Whether frames of `linktype` are read at all (`ip_packet` finds the IP
/// packet in those that carry one); frames of any other are counted
/// apart, so that a capture nothing was read from does not look empty.
pub fn reads(linktype: i32) -> bool {
    link(linktype).is_some()
}

/// The IP packet inside a frame of `linktype`, if it carries one.
#[inline]
pub fn ip_packet(linktype: i32, data: &[u8]) -> Option<&[u8]> {
    // Most captures' link types inline; the others in a call of their own,
    // so that these pay for no more registers than they use.
    match linktype {
        1 => ethernet(data),
        101 => by_version(data),
        _ => other(linktype, data),
    }
}

#[inline(never)]
fn other(linktype: i32, data: &[u8]) -> Option<&[u8]> {
    match link(linktype)? {
        Link::Ethernet => ethernet(data),
        Link::EthernetMpacket => ethernet(data.get(8..)?),
        Link::LinuxSll => ethertype(
            u16::from_be_bytes([*data.get(14)?, *data.get(15)?]),
            data.get(16..)?,
        ),
        Link::LinuxSll2 => ethertype(
            u16::from_be_bytes([*data.first()?, *data.get(1)?]),
            data.get(20..)?,
        ),
        Link::Raw => by_version(data),
        Link::Ieee80211 => ieee802_11(data),
        Link::Radiotap => radiotap(data),
        Link::Ppp => ppp(data),
        Link::Pppoe => pppoe(data),
        // In the capturing host's byte order.
        Link::Null => {
            let fam = [*data.first()?, *data.get(1)?, *data.get(2)?, *data.get(3)?];
            let (le, be) = (u32::from_le_bytes(fam), u32::from_be_bytes(fam));
            let ok = |v: u32| matches!(v, 2 | 24 | 28 | 30);
            if ok(le) || ok(be) {
                by_version(data.get(4..)?)
            } else {
                None
            }
        }
    }
}

/// libpcap's name for a link type (what `tcpdump -r` prints after
/// "link-type"), for the ones captures are commonly taken with; `None` for
/// the rest.
pub fn name(linktype: i32) -> Option<&'static str> {
    Some(match linktype {
        0 => "NULL",
        1 => "EN10MB",
        6 => "IEEE802",
        9 => "PPP",
        10 => "FDDI",
        12 | 101 => "RAW",
        50 => "PPP_SERIAL",
        51 => "PPP_ETHER",
        104 => "C_HDLC",
        105 => "IEEE802_11",
        107 => "FRELAY",
        108 => "LOOP",
        113 => "LINUX_SLL",
        119 => "PRISM_HEADER",
        127 => "IEEE802_11_RADIO",
        163 => "IEEE802_11_RADIO_AVS",
        187 => "BLUETOOTH_HCI_H4",
        189 => "USB_LINUX",
        192 => "PPI",
        195 => "IEEE802_15_4",
        201 => "BLUETOOTH_HCI_H4_WITH_PHDR",
        220 => "USB_LINUX_MMAPPED",
        228 => "IPV4",
        229 => "IPV6",
        239 => "NFLOG",
        249 => "USBPCAP",
        256 => "BLUETOOTH_LE_LL_WITH_PHDR",
        274 => "ETHERNET_MPACKET",
        276 => "LINUX_SLL2",
        _ => return None,
    })
}
