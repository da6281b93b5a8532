//! The socket calls a probe makes, and the Ctrl-C flag: the crate's only
//! unsafe code besides libpcap's.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// From now on SIGINT and SIGTERM set [`interrupted`] instead of ending the
/// process, so a summary can still be printed.
pub fn on_interrupt() {
    let handler: extern "C" fn(libc::c_int) = note_interrupt;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe.
        unsafe { libc::signal(sig, handler as libc::sighandler_t) };
    }
}

/// Whether SIGINT or SIGTERM came since [`on_interrupt`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn to_raw(a: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all zeroes is a valid value.
    let mut s: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match a {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&raw mut s).cast::<libc::sockaddr_in>(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write((&raw mut s).cast::<libc::sockaddr_in6>(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (s, len as libc::socklen_t)
}

/// A socket address from the bytes of a `sockaddr_in`/`sockaddr_in6`.
fn from_raw(b: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes([*b.first()?, *b.get(1)?]);
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    match i32::from(family) {
        libc::AF_INET => {
            let ip: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        libc::AF_INET6 => {
            let ip: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                0,
                0,
            )))
        }
        _ => None,
    }
}

/// An ICMP error the kernel queued on the socket (`IP_RECVERR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedIcmp {
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// The router or host that sent it.
    pub from: Option<IpAddr>,
    /// The errno the kernel made of it.
    pub errno: i32,
}

/// A non-blocking TCP socket that reports ICMP errors with their sender.
pub struct ProbeSocket {
    fd: OwnedFd,
}

fn setsockopt_int(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: an int option, passed by pointer with its size.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const v).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

impl ProbeSocket {
    /// A socket for `family`'s addresses, bound to a port of the kernel's
    /// choosing (so a capture can be set up for it before the SYN leaves).
    pub fn bound(v6: bool) -> io::Result<ProbeSocket> {
        let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
        // SAFETY: socket takes three ints and returns a new descriptor.
        let raw = check(unsafe {
            libc::socket(
                family,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        })?;
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let (level, name) = if v6 {
            (libc::SOL_IPV6, libc::IPV6_RECVERR)
        } else {
            (libc::SOL_IP, libc::IP_RECVERR)
        };
        setsockopt_int(&fd, level, name, 1)?;
        let any = if v6 {
            SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0)
        } else {
            SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)
        };
        let (s, len) = to_raw(any);
        // SAFETY: `s` holds a sockaddr of `len` bytes.
        check(unsafe { libc::bind(fd.as_raw_fd(), (&raw const s).cast(), len) })?;
        Ok(ProbeSocket { fd })
    }

    /// The local address (port known after [`ProbeSocket::bound`], address
    /// after the connect).
    pub fn local(&self) -> io::Result<SocketAddr> {
        // SAFETY: plain data, written by getsockname.
        let mut s: libc::sockaddr_storage = unsafe { zeroed() };
        let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `s` has room for `len` bytes.
        check(unsafe { libc::getsockname(self.fd.as_raw_fd(), (&raw mut s).cast(), &mut len) })?;
        // SAFETY: sockaddr_storage is plain bytes of its size.
        let b = unsafe {
            std::slice::from_raw_parts(
                (&raw const s).cast::<u8>(),
                size_of::<libc::sockaddr_storage>(),
            )
        };
        from_raw(b).ok_or_else(|| io::Error::other("unknown address family"))
    }

    /// Send the SYN. `Ok` means the handshake is under way (or done).
    pub fn connect(&self, to: SocketAddr) -> io::Result<()> {
        let (s, len) = to_raw(to);
        // SAFETY: `s` holds a sockaddr of `len` bytes.
        match check(unsafe { libc::connect(self.fd.as_raw_fd(), (&raw const s).cast(), len) }) {
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Wait up to `ms` for the connect to end either way.
    pub fn wait(&self, ms: i32) -> io::Result<bool> {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one pollfd.
        match check(unsafe { libc::poll(&mut p, 1, ms) }) {
            Ok(n) => Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The connect's result: 0, or the errno it failed with (`SO_ERROR`).
    pub fn error(&self) -> io::Result<i32> {
        let mut v: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: an int option, read into `v`.
        check(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut v).cast(),
                &mut len,
            )
        })?;
        Ok(v)
    }

    /// The kernel's smoothed RTT in µs (`TCP_INFO`), 0 when it took no
    /// sample (a retransmitted SYN gives none), and the SYN retransmissions.
    pub fn tcp_info(&self) -> io::Result<(u32, u32)> {
        // SAFETY: plain data, written by getsockopt.
        let mut info: libc::tcp_info = unsafe { zeroed() };
        let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: `info` has room for `len` bytes.
        check(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&raw mut info).cast(),
                &mut len,
            )
        })?;
        Ok((info.tcpi_rtt, info.tcpi_total_retrans))
    }

    /// The first ICMP error queued on the socket, if any.
    pub fn queued_icmp(&self) -> io::Result<Option<QueuedIcmp>> {
        let mut data = [0u8; 256];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        let mut control = [0u64; 64];
        // SAFETY: plain data; the fields that matter are set below.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 64]>() as _;
        // SAFETY: `msg` points at buffers that live through the call.
        let r = unsafe {
            libc::recvmsg(
                self.fd.as_raw_fd(),
                &mut msg,
                libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(None),
                _ => Err(e),
            };
        }
        // SAFETY: the kernel filled `control` with `msg_controllen` bytes of
        // well-formed cmsgs; CMSG_* walk them without leaving the buffer.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                let h = &*c;
                let ours = (h.cmsg_level == libc::SOL_IP && h.cmsg_type == libc::IP_RECVERR)
                    || (h.cmsg_level == libc::SOL_IPV6 && h.cmsg_type == libc::IPV6_RECVERR);
                let have = (h.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                if ours && have >= size_of::<libc::sock_extended_err>() {
                    let p = libc::CMSG_DATA(c);
                    let ee: libc::sock_extended_err = std::ptr::read_unaligned(p.cast());
                    let v6 = ee.ee_origin == libc::SO_EE_ORIGIN_ICMP6;
                    if ee.ee_origin != libc::SO_EE_ORIGIN_ICMP && !v6 {
                        c = libc::CMSG_NXTHDR(&msg, c);
                        continue;
                    }
                    let rest = std::slice::from_raw_parts(
                        p.add(size_of::<libc::sock_extended_err>()),
                        have - size_of::<libc::sock_extended_err>(),
                    );
                    return Ok(Some(QueuedIcmp {
                        v6,
                        icmp_type: ee.ee_type,
                        code: ee.ee_code,
                        from: from_raw(rest).map(|a| a.ip()),
                        errno: ee.ee_errno as i32,
                    }));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_survive_the_round_trip_through_sockaddr() {
        for a in ["192.0.2.1:8080", "[2001:db8::1]:443"] {
            let a: SocketAddr = a.parse().unwrap_or_else(|_| unreachable!());
            let (s, len) = to_raw(a);
            // SAFETY: plain bytes of the storage.
            let b = unsafe {
                std::slice::from_raw_parts(
                    (&raw const s).cast::<u8>(),
                    size_of::<libc::sockaddr_storage>(),
                )
            };
            assert!(len > 0);
            assert_eq!(from_raw(b), Some(a));
        }
        assert_eq!(from_raw(&[0, 0]), None);
    }
}
