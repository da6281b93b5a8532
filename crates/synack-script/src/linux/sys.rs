//! The script's calls on real kernel sockets (libc). Each returns what the
//! kernel returned: a value, or -1 and errno. This is the crate's only
//! `unsafe` code.

use std::net::SocketAddr;

use crate::calls::{Call, OptValue, Ret};

fn ret(r: i64) -> Ret {
    if r < 0 {
        Ret::err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ret::ok(r)
    }
}

use synack_net::sockaddr;

/// Execute one call on the kernel. Buffers are zeros (packetdrill's data is
/// not checked either).
pub fn execute(call: &Call) -> Ret {
    match *call {
        Call::Socket { v6, nonblock } => {
            let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
            let ty = libc::SOCK_STREAM | if nonblock { libc::SOCK_NONBLOCK } else { 0 };
            // SAFETY: plain integer arguments.
            ret(i64::from(unsafe {
                libc::socket(family, ty, libc::IPPROTO_TCP)
            }))
        }
        Call::Bind { fd, addr } => {
            let (ss, len) = sockaddr(addr);
            // SAFETY: ss is a valid sockaddr of `len` bytes for the call.
            ret(i64::from(unsafe {
                libc::bind(fd, (&ss as *const libc::sockaddr_storage).cast(), len)
            }))
        }
        Call::Connect { fd, addr } => {
            let (ss, len) = sockaddr(addr);
            // SAFETY: as for bind.
            ret(i64::from(unsafe {
                libc::connect(fd, (&ss as *const libc::sockaddr_storage).cast(), len)
            }))
        }
        // SAFETY: plain integer arguments.
        Call::Listen { fd, backlog } => ret(i64::from(unsafe { libc::listen(fd, backlog) })),
        Call::Accept { fd } => {
            // SAFETY: null address and length pointers are allowed.
            ret(i64::from(unsafe {
                libc::accept(fd, std::ptr::null_mut(), std::ptr::null_mut())
            }))
        }
        Call::Send { fd, len, flags, to } => send(fd, len, flags, to),
        Call::Recv { fd, len, flags } => {
            let mut buf = vec![0u8; len];
            // SAFETY: buf is writable for len bytes.
            ret(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), len, flags) } as i64)
        }
        // SAFETY: plain integer arguments.
        Call::Close { fd } => ret(i64::from(unsafe { libc::close(fd) })),
        // SAFETY: plain integer arguments.
        Call::Shutdown { fd, how } => ret(i64::from(unsafe { libc::shutdown(fd, how) })),
        Call::SetSockOpt {
            fd,
            level,
            name,
            value,
        } => setsockopt(fd, level, name, value),
        Call::GetSockOpt { fd, level, name } => getsockopt(fd, level, name),
        Call::Fcntl { fd, cmd, arg } => {
            let arg = libc::c_int::try_from(arg).unwrap_or(0);
            // SAFETY: F_GETFL/F_SETFL take an int argument.
            ret(i64::from(unsafe { libc::fcntl(fd, cmd, arg) }))
        }
    }
}

/// `len` zero bytes; `sendto` when there is an address (Fast Open).
fn send(fd: i32, len: usize, flags: i32, to: Option<SocketAddr>) -> Ret {
    let buf = vec![0u8; len];
    match to {
        Some(addr) => {
            let (ss, alen) = sockaddr(addr);
            // SAFETY: buf holds len bytes; ss is a valid sockaddr.
            ret(unsafe {
                libc::sendto(
                    fd,
                    buf.as_ptr().cast(),
                    len,
                    flags,
                    (&ss as *const libc::sockaddr_storage).cast(),
                    alen,
                )
            } as i64)
        }
        // SAFETY: buf holds len bytes.
        None => ret(unsafe { libc::send(fd, buf.as_ptr().cast(), len, flags) } as i64),
    }
}

/// An int option, what was read in `read`.
fn getsockopt(fd: i32, level: i32, name: i32) -> Ret {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v and len are valid for the kernel to write.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    let mut out = ret(i64::from(r));
    if r == 0 {
        out.read = Some(i64::from(v));
    }
    out
}

fn setsockopt(fd: i32, level: i32, name: i32, value: OptValue) -> Ret {
    let r = match value {
        OptValue::Int(v) => {
            let v: libc::c_int = v;
            // SAFETY: v is a valid int for the call's duration.
            unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    name,
                    (&v as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            }
        }
        OptValue::Linger { onoff, secs } => {
            let l = libc::linger {
                l_onoff: onoff,
                l_linger: secs,
            };
            // SAFETY: l is a valid linger for the call's duration.
            unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    name,
                    (&l as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            }
        }
    };
    ret(i64::from(r))
}

/// Whether thread `tid` of this process sleeps (state `S` in
/// /proc/self/task/TID/stat): a call it is in has blocked.
pub fn sleeping(tid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        == Some("S")
}

/// Shut down and close a descriptor the script left open: the shutdown
/// wakes a call still blocked on it (close alone would not), so the call
/// thread can end.
pub fn close(fd: i32) {
    // SAFETY: a descriptor the script opened and nobody else owns.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
        libc::close(fd);
    }
}

/// A packet socket on `device` that sees every packet the kernel sends
/// there, stamped by the kernel when it went out (SO_TIMESTAMPNS): the
/// time of a `>` packet is the kernel's, not when a thread got to read it.
pub fn packet_socket(device: &str) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let name = std::ffi::CString::new(device).map_err(|_| std::io::Error::other("device name"))?;
    // SAFETY: name is a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(std::io::Error::last_os_error());
    }
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain integer arguments.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            i32::from(proto),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by socket and is owned by nobody else.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    use std::os::fd::AsRawFd;
    // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = index as i32;
    // SAFETY: sll is a valid sockaddr_ll for the call's duration.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let on: libc::c_int = 1;
    // SAFETY: on is a valid int for the call's duration.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// One packet the kernel sent on the packet socket's device: its bytes
/// and the kernel's time stamp (ns since the epoch). `None` when nothing
/// is waiting; packets going the other way (ours) are skipped.
pub fn recv_sent(
    fd: &std::os::fd::OwnedFd,
    buf: &mut [u8],
) -> std::io::Result<Option<(i128, usize)>> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: all-zero is valid for these plain structs.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: all-zero is a valid msghdr; the pointers are set below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: msg points at live buffers of the sizes it states.
        let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return if e.kind() == std::io::ErrorKind::WouldBlock {
                Ok(None)
            } else {
                Err(e)
            };
        }
        if sll.sll_pkttype != libc::PACKET_OUTGOING {
            continue;
        }
        let mut stamp = None;
        // SAFETY: walking the control messages the kernel wrote into msg.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    stamp = Some(i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        return Ok(Some((stamp.unwrap_or(now), n as usize)));
    }
}
