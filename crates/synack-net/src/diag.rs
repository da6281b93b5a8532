//! The kernel's sockets as it reports them through sock_diag (inet_diag
//! over netlink): exact, one dump in microseconds, with each socket's timer
//! and, for listeners, the accept queue and backlog (`ss -lnt`'s Recv-Q and
//! Send-Q). Request sockets (SYN_RECV) are listed too.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::Duration;

use crate::sys;

/// One socket of the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagSocket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Linux's name: `ESTABLISHED`, `SYN_RECV`, `TIME_WAIT`, `LISTEN`…
    pub state: &'static str,
    /// The pending timer, when one runs.
    pub timer: Option<Duration>,
    /// Recv-Q and Send-Q (for a listener: accept queue length, backlog).
    pub rqueue: u32,
    pub wqueue: u32,
}

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const HDR: usize = 16;
const MSG: usize = 72;

pub fn state_name(code: u8) -> &'static str {
    match code {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        // Request sockets (TCP_NEW_SYN_RECV) are what `ss` calls SYN-RECV.
        3 | 12 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        _ => "UNKNOWN",
    }
}

pub struct Diag {
    fd: OwnedFd,
    buf: Vec<u8>,
    seq: u32,
}

impl Diag {
    /// A sock_diag socket in the calling thread's namespace.
    pub fn open() -> io::Result<Diag> {
        Ok(Diag {
            fd: sys::sock_diag_socket()?,
            buf: vec![0; 64 * 1024],
            seq: 0,
        })
    }

    /// Every TCP socket of the namespace, IPv4 and IPv6.
    pub fn sockets(&mut self) -> io::Result<Vec<DiagSocket>> {
        let mut out = Vec::new();
        for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
            self.dump(family, &mut out)?;
        }
        Ok(out)
    }

    fn dump(&mut self, family: u8, out: &mut Vec<DiagSocket>) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut req = Vec::with_capacity(HDR + 56);
        req.extend_from_slice(&((HDR + 56) as u32).to_ne_bytes());
        req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        req.extend_from_slice(&self.seq.to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes());
        // inet_diag_req_v2: family, IPPROTO_TCP, no extensions, pad, all states.
        req.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
        req.extend_from_slice(&u32::MAX.to_ne_bytes());
        req.extend_from_slice(&[0u8; 48]);
        sys::write(&self.fd, &req)?;
        loop {
            let n = sys::read(&self.fd, &mut self.buf)?.unwrap_or(0);
            if n == 0 {
                return Ok(());
            }
            let data = self.buf.get(..n).unwrap_or(&[]);
            if parse(data, out)? {
                return Ok(());
            }
        }
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(i..i + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// Parse one datagram of netlink messages; true at the end of the dump.
fn parse(mut data: &[u8], out: &mut Vec<DiagSocket>) -> io::Result<bool> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "sock_diag: short message");
    while data.len() >= HDR {
        let len = u32_at(data, 0).ok_or_else(bad)? as usize;
        let kind = u16_at(data, 4).ok_or_else(bad)?;
        if len < HDR || len > data.len() {
            return Err(bad());
        }
        let body = data.get(HDR..len).ok_or_else(bad)?;
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let errno = u32_at(body, 0).map_or(0, |e| -(e as i32));
                return Err(io::Error::from_raw_os_error(errno));
            }
            SOCK_DIAG_BY_FAMILY => {
                if let Some(s) = socket(body) {
                    out.push(s);
                }
            }
            _ => {}
        }
        // Messages are 4-byte aligned.
        let next = (len + 3) & !3;
        data = data.get(next..).unwrap_or(&[]);
    }
    Ok(false)
}

/// An inet_diag_msg.
fn socket(b: &[u8]) -> Option<DiagSocket> {
    if b.len() < MSG {
        return None;
    }
    let (family, state, timer) = (*b.first()?, *b.get(1)?, *b.get(2)?);
    let port = |i: usize| Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?));
    let addr = |i: usize| -> Option<IpAddr> {
        if family == libc::AF_INET as u8 {
            let o: [u8; 4] = b.get(i..i + 4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(o)))
        } else {
            let o: [u8; 16] = b.get(i..i + 16)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(o)))
        }
    };
    let local = SocketAddr::new(addr(8)?, port(4)?);
    let remote = SocketAddr::new(addr(24)?, port(6)?);
    let expires = u32_at(b, 52)?;
    Some(DiagSocket {
        local,
        remote,
        state: state_name(state),
        timer: (timer != 0).then(|| Duration::from_millis(u64::from(expires))),
        rqueue: u32_at(b, 56)?,
        wqueue: u32_at(b, 60)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_message_and_the_end_of_a_dump() {
        let mut m = vec![0u8; HDR + MSG];
        m[..4].copy_from_slice(&((HDR + MSG) as u32).to_ne_bytes());
        m[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        let b = &mut m[HDR..];
        b[0] = libc::AF_INET as u8;
        b[1] = 6;
        b[2] = 3;
        b[4..6].copy_from_slice(&80u16.to_be_bytes());
        b[6..8].copy_from_slice(&40000u16.to_be_bytes());
        b[8..12].copy_from_slice(&[10, 77, 0, 1]);
        b[24..28].copy_from_slice(&[10, 77, 0, 2]);
        b[52..56].copy_from_slice(&59_000u32.to_ne_bytes());
        let mut done = vec![0u8; HDR + 4];
        done[..4].copy_from_slice(&((HDR + 4) as u32).to_ne_bytes());
        done[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
        m.extend_from_slice(&done);
        let mut out = Vec::new();
        assert!(parse(&m, &mut out).unwrap());
        assert_eq!(
            out,
            vec![DiagSocket {
                local: "10.77.0.1:80".parse().unwrap(),
                remote: "10.77.0.2:40000".parse().unwrap(),
                state: "TIME_WAIT",
                timer: Some(Duration::from_millis(59_000)),
                rqueue: 0,
                wqueue: 0,
            }]
        );
        // A truncated message is an error, not a panic.
        assert!(parse(&m[..20], &mut Vec::new()).is_err());
    }
}
