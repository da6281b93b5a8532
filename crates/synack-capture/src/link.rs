//! From a link-layer frame to its IP packet: Ethernet (802.1Q, QinQ, MPLS),
//! Linux cooked v1 and v2, raw IP, BSD null/loopback.

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

fn ethernet(mut data: &[u8]) -> Option<&[u8]> {
    let mut t = u16::from_be_bytes([*data.get(12)?, *data.get(13)?]);
    data = data.get(14..)?;
    loop {
        match t {
            // 802.1Q, 802.1ad (QinQ) and the older QinQ type: 4-byte tag.
            0x8100 | 0x88A8 | 0x9100 => {
                t = u16::from_be_bytes([*data.get(2)?, *data.get(3)?]);
                data = data.get(4..)?;
            }
            // MPLS: labels until bottom of stack, then IP by its version.
            0x8847 | 0x8848 => loop {
                let bottom = data.get(2)? & 1 == 1;
                data = data.get(4..)?;
                if bottom {
                    return by_version(data);
                }
            },
            _ => return ethertype(t, data),
        }
    }
}

/// The IP packet inside a frame of `linktype`, if it carries one.
pub fn ip_packet(linktype: i32, data: &[u8]) -> Option<&[u8]> {
    match linktype {
        1 => ethernet(data),
        // ETHERNET_MPACKET: preamble and SFD before the frame.
        274 => ethernet(data.get(8..)?),
        113 => ethertype(
            u16::from_be_bytes([*data.get(14)?, *data.get(15)?]),
            data.get(16..)?,
        ),
        276 => ethertype(
            u16::from_be_bytes([*data.first()?, *data.get(1)?]),
            data.get(20..)?,
        ),
        101 | 12 | 14 | 228 | 229 => by_version(data),
        // NULL: a 4-byte address family in the capturing host's byte order.
        0 | 108 => {
            let fam = [*data.first()?, *data.get(1)?, *data.get(2)?, *data.get(3)?];
            let (le, be) = (u32::from_le_bytes(fam), u32::from_be_bytes(fam));
            let ok = |v: u32| matches!(v, 2 | 24 | 28 | 30);
            if ok(le) || ok(be) {
                by_version(data.get(4..)?)
            } else {
                None
            }
        }
        _ => None,
    }
}
