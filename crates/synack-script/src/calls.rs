//! System calls as the runners execute them: a script's call with its
//! `...` filled in (the default addresses), symbolic constants resolved, and
//! the result it expects.

use std::net::{IpAddr, SocketAddr};

use crate::ast::{Expr, Syscall};
use crate::settings::{PORT, Settings};

/// A socket option's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptValue {
    Int(i32),
    Linger { onoff: i32, secs: i32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Socket {
        v6: bool,
        nonblock: bool,
    },
    Bind {
        fd: i32,
        addr: SocketAddr,
    },
    Listen {
        fd: i32,
        backlog: i32,
    },
    Accept {
        fd: i32,
    },
    Connect {
        fd: i32,
        addr: SocketAddr,
    },
    /// write, send, sendto (with `MSG_FASTOPEN`, a connect with data).
    Send {
        fd: i32,
        len: usize,
        flags: i32,
        to: Option<SocketAddr>,
    },
    /// read, recv, recvfrom.
    Recv {
        fd: i32,
        len: usize,
        flags: i32,
    },
    Close {
        fd: i32,
    },
    Shutdown {
        fd: i32,
        how: i32,
    },
    SetSockOpt {
        fd: i32,
        level: i32,
        name: i32,
        value: OptValue,
    },
    GetSockOpt {
        fd: i32,
        level: i32,
        name: i32,
    },
    Fcntl {
        fd: i32,
        cmd: i32,
        arg: i64,
    },
}

impl Call {
    /// The descriptor the call acts on (none for `socket`).
    pub fn fd(&self) -> Option<i32> {
        match *self {
            Call::Socket { .. } => None,
            Call::Bind { fd, .. }
            | Call::Listen { fd, .. }
            | Call::Accept { fd }
            | Call::Connect { fd, .. }
            | Call::Send { fd, .. }
            | Call::Recv { fd, .. }
            | Call::Close { fd }
            | Call::Shutdown { fd, .. }
            | Call::SetSockOpt { fd, .. }
            | Call::GetSockOpt { fd, .. }
            | Call::Fcntl { fd, .. } => Some(fd),
        }
    }

    /// Whether the call's result is a new descriptor the script names.
    pub fn makes_fd(&self) -> bool {
        matches!(self, Call::Socket { .. } | Call::Accept { .. })
    }
}

/// What a call returned: a value, or -1 and an errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ret {
    pub value: i64,
    pub errno: Option<i32>,
    /// What getsockopt read.
    pub read: Option<i64>,
}

impl Ret {
    pub fn ok(value: i64) -> Ret {
        Ret {
            value,
            errno: None,
            read: None,
        }
    }
    pub fn err(errno: i32) -> Ret {
        Ret {
            value: -1,
            errno: Some(errno),
            read: None,
        }
    }
}

/// The constants scripts use, with Linux's values.
pub fn constant(name: &str) -> Option<i64> {
    Some(match name {
        "AF_INET" | "PF_INET" => 2,
        "AF_INET6" | "PF_INET6" => 10,
        "SOCK_STREAM" => 1,
        "SOCK_NONBLOCK" => 0o4000,
        "IPPROTO_TCP" | "SOL_TCP" => 6,
        "IPPROTO_IP" | "SOL_IP" => 0,
        "IPPROTO_IPV6" | "SOL_IPV6" => 41,
        "SOL_SOCKET" => 1,
        "SO_REUSEADDR" => 2,
        "SO_ERROR" => 4,
        "SO_SNDBUF" => 7,
        "SO_RCVBUF" => 8,
        "SO_KEEPALIVE" => 9,
        "SO_LINGER" => 13,
        "SO_REUSEPORT" => 15,
        "TCP_NODELAY" => 1,
        "TCP_MAXSEG" => 2,
        "TCP_CORK" => 3,
        "TCP_SYNCNT" => 7,
        "TCP_DEFER_ACCEPT" => 9,
        "TCP_WINDOW_CLAMP" => 10,
        "TCP_QUICKACK" => 12,
        "TCP_USER_TIMEOUT" => 18,
        "TCP_FASTOPEN" => 23,
        "TCP_FASTOPEN_CONNECT" => 30,
        "IP_TOS" => 1,
        "IP_TTL" => 2,
        "F_GETFL" => 3,
        "F_SETFL" => 4,
        "O_RDONLY" => 0,
        "O_WRONLY" => 1,
        "O_RDWR" => 2,
        "O_NONBLOCK" => 0o4000,
        "SHUT_RD" => 0,
        "SHUT_WR" => 1,
        "SHUT_RDWR" => 2,
        "MSG_PEEK" => 2,
        "MSG_DONTWAIT" => 0x40,
        "MSG_FASTOPEN" => 0x2000_0000,
        _ => return None,
    })
}

/// Linux's errno numbers by name.
pub fn errno_value(name: &str) -> Option<i32> {
    Some(match name {
        "EPERM" => 1,
        "ENOENT" => 2,
        "EINTR" => 4,
        "EBADF" => 9,
        "EAGAIN" | "EWOULDBLOCK" => 11,
        "ENOMEM" => 12,
        "EACCES" => 13,
        "EFAULT" => 14,
        "EINVAL" => 22,
        "EPIPE" => 32,
        "ENOTSOCK" => 88,
        "EOPNOTSUPP" => 95,
        "EAFNOSUPPORT" => 97,
        "EADDRINUSE" => 98,
        "EADDRNOTAVAIL" => 99,
        "ENETUNREACH" => 101,
        "ECONNABORTED" => 103,
        "ECONNRESET" => 104,
        "EISCONN" => 106,
        "ENOTCONN" => 107,
        "ETIMEDOUT" => 110,
        "ECONNREFUSED" => 111,
        "EHOSTUNREACH" => 113,
        "EALREADY" => 114,
        "EINPROGRESS" => 115,
        _ => return None,
    })
}

/// The name of a Linux errno (for messages).
pub fn errno_name(value: i32) -> String {
    const NAMES: &[&str] = &[
        "EPERM",
        "ENOENT",
        "EINTR",
        "EBADF",
        "EAGAIN",
        "ENOMEM",
        "EACCES",
        "EFAULT",
        "EINVAL",
        "EPIPE",
        "ENOTSOCK",
        "EOPNOTSUPP",
        "EAFNOSUPPORT",
        "EADDRINUSE",
        "EADDRNOTAVAIL",
        "ENETUNREACH",
        "ECONNABORTED",
        "ECONNRESET",
        "EISCONN",
        "ENOTCONN",
        "ETIMEDOUT",
        "ECONNREFUSED",
        "EHOSTUNREACH",
        "EALREADY",
        "EINPROGRESS",
    ];
    NAMES
        .iter()
        .find(|n| errno_value(n) == Some(value))
        .map(|n| (*n).to_string())
        .unwrap_or_else(|| format!("errno {value}"))
}

/// An integer argument: a number, a constant, or constants or-ed.
pub fn int(e: &Expr) -> Result<i64, String> {
    match e {
        Expr::Int(n) => Ok(*n),
        Expr::Word(w) => constant(w)
            .or_else(|| errno_value(w).map(i64::from))
            .ok_or_else(|| format!("unknown constant `{w}`")),
        Expr::Or(parts) => parts.iter().try_fold(0i64, |acc, p| Ok(acc | int(p)?)),
        Expr::Array(v) if v.len() == 1 => v.first().map_or(Ok(0), int),
        Expr::Call(f, args) if f == "htons" => args.first().map_or(Ok(0), int),
        other => Err(format!("expected a number, found {other:?}")),
    }
}

fn int32(e: &Expr) -> Result<i32, String> {
    let v = int(e)?;
    i32::try_from(v).map_err(|_| format!("{v} does not fit a C int"))
}

fn arg(c: &Syscall, k: usize) -> Result<&Expr, String> {
    c.args
        .get(k)
        .ok_or_else(|| format!("{}() needs an argument {}", c.name, k + 1))
}

/// A `sockaddr` argument: `...` is the peer's default address for connect
/// and the system's own for bind.
fn sockaddr(e: &Expr, default: SocketAddr) -> Result<SocketAddr, String> {
    match e {
        Expr::Any => Ok(default),
        Expr::Struct(fields) => {
            let mut addr = default;
            for (name, value) in fields {
                match name.as_str() {
                    "sin_port" | "sin6_port" => {
                        let p = int(value)?;
                        addr.set_port(u16::try_from(p).map_err(|_| format!("port {p}"))?);
                    }
                    "sin_addr" | "sin6_addr" => addr.set_ip(ip_expr(value)?),
                    _ => {}
                }
            }
            Ok(addr)
        }
        other => Err(format!("expected an address or `...`, found {other:?}")),
    }
}

fn ip_expr(e: &Expr) -> Result<IpAddr, String> {
    match e {
        Expr::Call(f, args) if f == "inet_addr" || f == "inet_pton" => match args.last() {
            Some(Expr::Str(s)) => s.parse().map_err(|_| format!("`{s}` is not an IP address")),
            _ => Err(format!("{f}() needs an address in quotes")),
        },
        other => Err(format!("expected inet_addr(\"…\"), found {other:?}")),
    }
}

fn option_value(e: &Expr) -> Result<OptValue, String> {
    if let Expr::Struct(fields) = e {
        let get = |k: &str| {
            fields
                .iter()
                .find(|(n, _)| n == k)
                .map_or(Ok(0), |(_, v)| int32(v))
        };
        return Ok(OptValue::Linger {
            onoff: get("onoff")?,
            secs: get("linger")?,
        });
    }
    Ok(OptValue::Int(int32(e)?))
}

/// The most bytes one call moves here (its buffer is allocated).
pub const MAX_LENGTH: usize = 1 << 20;

/// The length argument of read/write: a number, or the buffer's size.
fn length(e: &Expr) -> Result<usize, String> {
    let n = int(e)?;
    usize::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_LENGTH)
        .ok_or_else(|| format!("length {n}: a call moves 0 to {MAX_LENGTH} bytes here"))
}

/// Turn a script's call into one a runner executes.
pub fn resolve(c: &Syscall, s: &Settings) -> Result<Call, String> {
    let local = SocketAddr::new(s.local(), PORT);
    let remote = SocketAddr::new(s.remote(), PORT);
    let fd = || int32(arg(c, 0)?);
    Ok(match c.name.as_str() {
        "socket" => {
            let domain = match arg(c, 0)? {
                Expr::Any => None,
                e => Some(int(e)?),
            };
            let ty = int(arg(c, 1)?)?;
            Call::Socket {
                v6: domain.map_or(s.v6, |d| d == 10),
                nonblock: ty & 0o4000 != 0,
            }
        }
        "bind" => Call::Bind {
            fd: fd()?,
            addr: sockaddr(arg(c, 1)?, local)?,
        },
        "listen" => Call::Listen {
            fd: fd()?,
            backlog: int32(arg(c, 1)?)?,
        },
        "accept" => Call::Accept { fd: fd()? },
        "connect" => Call::Connect {
            fd: fd()?,
            addr: sockaddr(arg(c, 1)?, remote)?,
        },
        "write" | "send" | "sendto" => Call::Send {
            fd: fd()?,
            len: length(arg(c, 2)?)?,
            flags: match c.args.get(3) {
                Some(e) => int32(e)?,
                None => 0,
            },
            to: match c.args.get(4) {
                Some(e) if c.name == "sendto" => Some(sockaddr(e, remote)?),
                _ => None,
            },
        },
        "read" | "recv" | "recvfrom" => Call::Recv {
            fd: fd()?,
            len: length(arg(c, 2)?)?,
            flags: match c.args.get(3) {
                Some(e) => int32(e)?,
                None => 0,
            },
        },
        "close" => Call::Close { fd: fd()? },
        "shutdown" => Call::Shutdown {
            fd: fd()?,
            how: int32(arg(c, 1)?)?,
        },
        "setsockopt" => Call::SetSockOpt {
            fd: fd()?,
            level: int32(arg(c, 1)?)?,
            name: int32(arg(c, 2)?)?,
            value: option_value(arg(c, 3)?)?,
        },
        "getsockopt" => Call::GetSockOpt {
            fd: fd()?,
            level: int32(arg(c, 1)?)?,
            name: int32(arg(c, 2)?)?,
        },
        "fcntl" => Call::Fcntl {
            fd: fd()?,
            cmd: int32(arg(c, 1)?)?,
            arg: match c.args.get(2) {
                Some(e) => int(e)?,
                None => 0,
            },
        },
        other => return Err(format!("the system call `{other}`")),
    })
}

/// What getsockopt is expected to read (its fourth argument, `[0]`).
pub fn expected_read(c: &Syscall) -> Option<i64> {
    match c.args.get(3)? {
        Expr::Array(v) => int(v.first()?).ok(),
        _ => None,
    }
}
