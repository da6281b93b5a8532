//! The kernel's own view of its sockets, from `/proc/thread-self/net/tcp`
//! and `tcp6`: the namespace of the calling thread, not of the process.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A kernel socket: local and remote address and the state name Linux uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: &'static str,
}

fn state_name(code: u8) -> &'static str {
    match code {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        0x0C => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// `0100007F:0050`: 32-bit words in host byte order, then the port.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut o = [0u8; 16];
            for i in 0..4 {
                o[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Every TCP socket of this thread's namespace.
pub fn sockets() -> Vec<KernelSocket> {
    let mut out = Vec::new();
    for file in ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(l), Some(r), Some(st)) = (f.get(1), f.get(2), f.get(3)) else {
                continue;
            };
            let (Some(local), Some(remote), Ok(code)) =
                (parse_addr(l), parse_addr(r), u8::from_str_radix(st, 16))
            else {
                continue;
            };
            out.push(KernelSocket {
                local,
                remote,
                state: state_name(code),
            });
        }
    }
    out
}

/// The kernel's state for the connection `local` ↔ `remote`, if it has one.
pub fn state_of(local: SocketAddr, remote: SocketAddr) -> Option<&'static str> {
    sockets()
        .into_iter()
        .find(|s| s.local == local && s.remote == remote)
        .map(|s| s.state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_addresses() {
        #[cfg(target_endian = "little")]
        {
            assert_eq!(
                parse_addr("0100007F:0050"),
                Some("127.0.0.1:80".parse().unwrap())
            );
            assert_eq!(
                parse_addr("0000000000000000FFFF00000100007F:1F90"),
                Some("[::ffff:127.0.0.1]:8080".parse().unwrap())
            );
        }
        assert_eq!(parse_addr("zz:1"), None);
    }
}
