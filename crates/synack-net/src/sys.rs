//! The few system calls the lab needs, each wrapped once. This is the only
//! module with `unsafe`; every block states why it is sound.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Move the calling thread into a new network namespace. Only this thread
/// (and threads it spawns later) see it; it disappears when they are gone.
pub fn unshare_net() -> io::Result<()> {
    // SAFETY: unshare takes a flag word and touches no memory of ours.
    let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether the process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Enter a new user namespace, mapping the current user to root inside it,
/// so that this process may create network namespaces and devices it owns.
/// Must run while the process has a single thread (unshare(2)).
pub fn enter_user_namespace() -> io::Result<()> {
    // SAFETY: both calls take no pointers.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // SAFETY: unshare takes a flag word and touches no memory of ours.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(io::Error::last_os_error());
    }
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    Ok(())
}

/// Open `/dev/net/tun` as a layer-3 device without packet information
/// (IFF_TUN | IFF_NO_PI), named `name` (at most 15 bytes). Non-blocking.
pub fn open_tun(name: &str) -> io::Result<(OwnedFd, String)> {
    open_tun_with(name, libc::IFF_TUN | libc::IFF_NO_PI)
}

/// Attach one more queue to the multi-queue TUN device `name`
/// (IFF_MULTI_QUEUE; the first call makes the device). Non-blocking.
pub fn open_tun_queue(name: &str) -> io::Result<OwnedFd> {
    open_tun_with(
        name,
        libc::IFF_TUN | libc::IFF_NO_PI | libc::IFF_MULTI_QUEUE,
    )
    .map(|(fd, _)| fd)
}

fn open_tun_with(name: &str, flags: libc::c_int) -> io::Result<(OwnedFd, String)> {
    let path = c"/dev/net/tun";
    // SAFETY: path is a valid NUL-terminated string; the flags are plain ints.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by open and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.len() >= req.ifr_name.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    for (dst, &b) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = b as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one ifreq, which lives across the call.
    let r = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TUNSETIFF,
            &mut req as *mut libc::ifreq,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel wrote a NUL-terminated name into ifr_name.
    let got = unsafe { CStr::from_ptr(req.ifr_name.as_ptr()) };
    Ok((fd, got.to_string_lossy().into_owned()))
}

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
struct BpfInsn {
    code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

/// The head of `union bpf_attr` for BPF_PROG_LOAD; the kernel reads only
/// the size passed and takes the fields after it as zero.
#[repr(C)]
struct BpfProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

/// Steer what the kernel sends into the multi-queue TUN device behind `fd`
/// by the TCP source port of an IPv4 packet without options: queue = port
/// modulo the number of queues (the kernel takes the modulo). The kernel's
/// own choice follows a flow hash that a listener's SYN-ACK does not share
/// with the SYN, so without this a reply can land on another queue.
pub fn steer_by_source_port(fd: &OwnedFd) -> io::Result<()> {
    const LD_ABS_H: u8 = 0x28; // BPF_LD | BPF_ABS | BPF_H: r0 = ntohs(skb[imm..imm+2])
    const MOV64_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
    const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT
    let prog = [
        // LD_ABS takes the packet from r6.
        BpfInsn {
            code: MOV64_X,
            regs: 6 | (1 << 4),
            off: 0,
            imm: 0,
        },
        BpfInsn {
            code: LD_ABS_H,
            regs: 0,
            off: 0,
            imm: 20,
        },
        BpfInsn {
            code: EXIT,
            regs: 0,
            off: 0,
            imm: 0,
        },
    ];
    let license = c"GPL";
    let attr = BpfProgLoad {
        prog_type: 1, // BPF_PROG_TYPE_SOCKET_FILTER
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
    };
    const BPF_PROG_LOAD: libc::c_long = 5;
    // SAFETY: attr and the instructions and license it points to live across
    // the call; the kernel reads size_of::<BpfProgLoad>() bytes of attr.
    let prog_fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const BpfProgLoad,
            std::mem::size_of::<BpfProgLoad>(),
        )
    };
    if prog_fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; nobody else owns it.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(prog_fd as libc::c_int) };
    let raw: libc::c_int = prog_fd.as_raw_fd();
    // SAFETY: TUNSETSTEERINGEBPF reads one int, which lives across the call.
    // The device keeps its own reference to the program.
    let r = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TUNSETSTEERINGEBPF,
            &raw as *const libc::c_int,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// SO_LINGER {on, 0}: close() then sends a RST and leaves no TIME_WAIT.
pub fn linger_zero(fd: &impl AsRawFd) -> io::Result<()> {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: one linger struct, its exact size, valid for the call.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Read one packet; `Ok(None)` when none is waiting.
pub fn read(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: buf is valid for writes of buf.len() bytes.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n >= 0 {
        return Ok(Some(n as usize));
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(None)
    } else {
        Err(e)
    }
}

/// Write one packet.
pub fn write(fd: &OwnedFd, pkt: &[u8]) -> io::Result<()> {
    // SAFETY: pkt is valid for reads of pkt.len() bytes.
    let n = unsafe { libc::write(fd.as_raw_fd(), pkt.as_ptr().cast(), pkt.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Wait until `fd` is readable or `timeout_ms` passes (negative: forever).
pub fn wait_readable(fd: &OwnedFd, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    match r {
        r if r < 0 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}

/// What a child that ended used, for side-by-side benchmarks.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// Its exit status (-1 when a signal ended it).
    pub code: i32,
    /// Peak resident memory in bytes (the kernel's `ru_maxrss`).
    pub peak: u64,
    /// CPU seconds, user and system, of all its threads.
    pub cpu_s: f64,
}

/// Wait for a child and return what it used.
pub fn wait_usage(child: &mut std::process::Child) -> io::Result<Usage> {
    let pid = libc::pid_t::try_from(child.id()).map_err(io::Error::other)?;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals of the right types; the pid is
    // our own child, not yet waited for (std's Child only waits on request).
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Usage {
        code,
        peak: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
        cpu_s: secs(usage.ru_utime) + secs(usage.ru_stime),
    })
}

/// Drop `file`'s pages from the page cache (clean ones; `posix_fadvise`
/// DONTNEED), so that the next read brings it in as from disk, for
/// benchmarks that must not depend on how a file came into memory (pages
/// a program wrote can be cached in smaller pieces than the kernel's
/// read-ahead makes, which costs a reader that maps the file).
pub fn evict_cached(file: &std::fs::File) -> io::Result<()> {
    // Only clean pages can be dropped: what was just written goes out first.
    file.sync_data()?;
    // SAFETY: a plain call on a file descriptor the caller keeps open.
    let r = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(())
}

/// A `sockaddr_storage` holding `a`, and its length, for bind/connect/sendto.
pub fn sockaddr(a: std::net::SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match a {
        std::net::SocketAddr::V4(v) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        std::net::SocketAddr::V6(v) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// A kernel TCP socket bound to `local` that has started connecting to
/// `remote` without waiting (its SYN is on its way): for simultaneous open,
/// where the local port must be known in advance.
pub fn connect_from(
    local: std::net::SocketAddr,
    remote: std::net::SocketAddr,
) -> io::Result<std::net::TcpStream> {
    let family = if local.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain integer arguments.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor we own.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // SAFETY: one c_int, its exact size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    let (ss, len) = sockaddr(local);
    // SAFETY: ss holds a valid address of `len` bytes.
    if unsafe { libc::bind(fd, (&ss as *const libc::sockaddr_storage).cast(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let (ss, len) = sockaddr(remote);
    // SAFETY: as above.
    let r = unsafe { libc::connect(fd, (&ss as *const libc::sockaddr_storage).cast(), len) };
    if r != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
    }
    Ok(std::net::TcpStream::from(owned))
}

/// The calling thread's id, as `/proc/<pid>/task/<tid>` names it.
pub fn gettid() -> i32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::gettid() }
}

/// TCP_FASTOPEN on a listener: accept data on SYNs with valid cookies,
/// with up to `qlen` such connections pending.
pub fn set_fastopen(fd: &impl AsRawFd, qlen: i32) -> io::Result<()> {
    // SAFETY: one c_int, its exact size.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_FASTOPEN,
            (&qlen as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A listening socket with an explicit `listen(2)` backlog (std always
/// asks for its own), so a test can fill the SYN queue with a few SYNs.
pub fn listen_with_backlog(
    addr: std::net::SocketAddr,
    backlog: i32,
) -> io::Result<std::net::TcpListener> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain integer arguments.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor we own.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let (ss, len) = sockaddr(addr);
    // SAFETY: ss holds a valid address of `len` bytes.
    if unsafe { libc::bind(fd, (&ss as *const libc::sockaddr_storage).cast(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: plain integer arguments.
    if unsafe { libc::listen(fd, backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(std::net::TcpListener::from(owned))
}

/// A netlink socket for sock_diag (NETLINK_SOCK_DIAG), in the calling
/// thread's network namespace. Blocking: the kernel answers a dump at once.
pub fn sock_diag_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket takes plain ints.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by socket and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
