//! The engine as a system under test: synack's `Endpoint` with the Linux
//! profile, on a virtual clock that is the script's own. Calls map onto
//! the engine's (listen, connect, send, recv, close, abort); a call or an
//! option the engine has no counterpart for is said to be so, never
//! pretended.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use synack_engine::{
    Action, Check, Config, ConnHandle, Ecn, Endpoint, Event, Instant, MAX_PACKET, Schedule, State,
    SynCookies, TcbVars,
};
use synack_wire::SeqNum;

use crate::calls::{Call, OptValue, Ret, constant, errno_value};
use crate::error::RunError;
use crate::report::{Peer, RuleRef, Socket};
use crate::run::{Sent, Started, Sut};
use crate::settings::Settings;

#[derive(Debug, Clone)]
enum Sock {
    Fresh {
        bound: Option<SocketAddr>,
        linger0: bool,
    },
    Listener {
        addr: SocketAddr,
        queue: VecDeque<ConnHandle>,
    },
    Conn {
        h: ConnHandle,
        linger0: bool,
    },
}

#[derive(Debug, Clone)]
struct Fd {
    sock: Sock,
    nonblock: bool,
    error: Option<i32>,
}

pub struct EngineSut {
    settings: Settings,
    cfg: Config,
    ep: Option<Endpoint>,
    now_us: i64,
    out: VecDeque<Sent>,
    fds: BTreeMap<i32, Fd>,
    pending: Option<(Call, Option<(i64, Ret)>)>,
    rules: Vec<RuleRef>,
    next_port: u16,
    /// Connections whose peer sent FIN.
    eof: Vec<ConnHandle>,
}

/// The engine's steps as rule references: a transmission's own to `sent`
/// (when given), every other decision to `rules`, each rule once.
fn take_steps(ep: &mut Endpoint, rules: &mut Vec<RuleRef>, mut sent: Option<&mut Vec<RuleRef>>) {
    while let Some(s) = ep.poll_step() {
        let r = RuleRef {
            id: s.rule.id(),
            summary: s.rule.summary(),
            check: s.check.map(|c| check_text(c, &s.before)),
        };
        let to = match (&mut sent, s.action) {
            (Some(v), Action::Transmitted) => &mut **v,
            _ => &mut *rules,
        };
        if !to.contains(&r) {
            to.push(r);
        }
    }
}

/// A check's operands in the script's numbers: the engine's own counted
/// from its ISS, the peer's as they are (the script writes them so).
fn check_text(c: Check, before: &TcbVars) -> String {
    let ours = |n: SeqNum| n.0.wrapping_sub(before.iss.0);
    let mark = |ok: bool| if ok { "✓" } else { "✗" };
    match c {
        Check::AckAcceptable { lo, ack, hi, ok } => {
            let lo_name = if before.state == State::SynSent {
                "ISS"
            } else {
                "SND.UNA"
            };
            format!(
                "{lo_name} {} < SEG.ACK {} ≤ SND.NXT {} {}",
                ours(lo),
                ours(ack),
                ours(hi),
                mark(ok)
            )
        }
        Check::SeqAcceptable {
            rcv_nxt,
            rcv_wnd,
            seq,
            len,
            ok,
        } => format!(
            "RCV.NXT {} ≤ SEG.SEQ {} < RCV.NXT + RCV.WND {} (SEG.LEN {len}) {}",
            rcv_nxt.0,
            seq.0,
            rcv_nxt.0.wrapping_add(rcv_wnd),
            mark(ok)
        ),
        Check::RstExact { rcv_nxt, seq, ok } => {
            format!("SEG.SEQ {} = RCV.NXT {} {}", seq.0, rcv_nxt.0, mark(ok))
        }
        Check::IcmpInFlight { una, seq, nxt, ok } => format!(
            "SND.UNA {} ≤ {} < SND.NXT {} {}",
            ours(una),
            ours(seq),
            ours(nxt),
            mark(ok)
        ),
        Check::FinInOrder {
            rcv_nxt,
            fin_seq,
            ok,
        } => {
            format!("FIN {} = RCV.NXT {} {}", fin_seq.0, rcv_nxt.0, mark(ok))
        }
    }
}

fn us_instant(us: i64) -> Instant {
    Instant::from_micros(u64::try_from(us).unwrap_or(0))
}

impl EngineSut {
    pub fn new(settings: &Settings) -> EngineSut {
        EngineSut {
            settings: settings.clone(),
            cfg: Config::linux().with_secrets([0x42; 16], 0x5c41),
            ep: None,
            now_us: 0,
            out: VecDeque::new(),
            fds: BTreeMap::new(),
            pending: None,
            rules: Vec::new(),
            next_port: 40_000,
            eof: Vec::new(),
        }
    }

    fn ep(&mut self) -> &mut Endpoint {
        let cfg = &self.cfg;
        self.ep.get_or_insert_with(|| Endpoint::new(cfg.clone()))
    }

    /// Take everything the engine produced at `now`.
    fn collect(&mut self) -> Result<(), RunError> {
        let now = us_instant(self.now_us);
        let at_us = self.now_us;
        let Some(ep) = self.ep.as_mut() else {
            return Ok(());
        };
        let mut buf = vec![0u8; MAX_PACKET];
        take_steps(ep, &mut self.rules, None);
        while let Some(t) = ep.poll_transmit(now, &mut buf)? {
            let mut rules = Vec::new();
            take_steps(ep, &mut self.rules, Some(&mut rules));
            self.out.push_back(Sent {
                at_us,
                bytes: buf.get(..t.len).unwrap_or(&[]).to_vec(),
                rules,
            });
        }
        let mut events = Vec::new();
        while let Some(e) = ep.poll_event() {
            events.push(e);
        }
        take_steps(ep, &mut self.rules, None);
        for (h, e) in events {
            self.route(h, e);
        }
        self.try_pending();
        Ok(())
    }

    fn route(&mut self, h: ConnHandle, e: Event) {
        let local = self
            .ep
            .as_ref()
            .and_then(|ep| ep.connection(h))
            .map(|c| c.tuple().local);
        match e {
            Event::Accepted => {
                for fd in self.fds.values_mut() {
                    if let Sock::Listener { addr, queue } = &mut fd.sock
                        && local.is_some_and(|l| l.port() == addr.port())
                    {
                        queue.push_back(h);
                    }
                }
            }
            Event::PeerClosed => self.eof.push(h),
            Event::Refused | Event::TimedOut | Event::Reset | Event::Unreachable => {
                let errno = match e {
                    Event::Refused => "ECONNREFUSED",
                    Event::TimedOut => "ETIMEDOUT",
                    Event::Reset => "ECONNRESET",
                    _ => "EHOSTUNREACH",
                };
                for fd in self.fds.values_mut() {
                    if matches!(fd.sock, Sock::Conn { h: x, .. } if x == h) {
                        fd.error = errno_value(errno);
                    }
                }
            }
            _ => {}
        }
    }

    fn try_pending(&mut self) {
        let Some((call, None)) = self.pending.clone() else {
            return;
        };
        if let Some(ret) = self.attempt(&call, true) {
            self.pending = Some((call, Some((self.now_us, ret))));
        }
    }

    /// Run timers up to `t`, collecting what they produce.
    fn advance(&mut self, t: i64) -> Result<(), RunError> {
        loop {
            let next = self.ep.as_mut().and_then(|ep| ep.poll_timeout());
            match next {
                Some(at) if (at.as_micros() as i64) <= t => {
                    self.now_us = self.now_us.max(at.as_micros() as i64);
                    let now = us_instant(self.now_us);
                    if let Some(ep) = self.ep.as_mut() {
                        ep.handle_timeout(now);
                    }
                    self.collect()?;
                }
                _ => break,
            }
        }
        self.now_us = self.now_us.max(t);
        self.collect()
    }

    fn conn_of(&self, fd: i32) -> Option<ConnHandle> {
        match self.fds.get(&fd)?.sock {
            Sock::Conn { h, .. } => Some(h),
            _ => None,
        }
    }

    /// A call that may block: its result now, or `None` while it blocks.
    fn attempt(&mut self, call: &Call, blocking: bool) -> Option<Ret> {
        match *call {
            Call::Accept { fd } => self.accept(fd, blocking),
            Call::Connect { fd, .. } => {
                let f = self.fds.get(&fd)?;
                if let Some(e) = f.error {
                    return Some(Ret::err(e));
                }
                let h = self.conn_of(fd)?;
                let state = self.ep.as_ref()?.connection(h).map(|c| c.state());
                match state {
                    Some(s) if s.is_synchronized() => Some(Ret::ok(0)),
                    _ if blocking => None,
                    _ => Some(Ret::err(115)),
                }
            }
            Call::Recv { fd, len, .. } => {
                let h = self.conn_of(fd)?;
                let mut buf = vec![0u8; len];
                let n = self.ep.as_mut()?.recv(h, &mut buf).unwrap_or(0);
                if n > 0 || self.eof.contains(&h) {
                    return Some(Ret::ok(n as i64));
                }
                if let Some(e) = self.fds.get(&fd).and_then(|f| f.error) {
                    return Some(Ret::err(e));
                }
                (!blocking).then(|| Ret::err(11))
            }
            _ => None,
        }
    }

    fn accept(&mut self, fd: i32, blocking: bool) -> Option<Ret> {
        let Some(Fd {
            sock: Sock::Listener { queue, .. },
            ..
        }) = self.fds.get_mut(&fd)
        else {
            return Some(Ret::err(22));
        };
        match queue.pop_front() {
            Some(h) => {
                if let Some(ep) = self.ep.as_mut() {
                    let _ = ep.accept(h);
                }
                let new = self.new_fd(Sock::Conn { h, linger0: false });
                Some(Ret::ok(i64::from(new)))
            }
            None if blocking => None,
            None => Some(Ret::err(11)),
        }
    }

    fn new_fd(&mut self, sock: Sock) -> i32 {
        // The lowest free descriptor from 3, as the kernel gives them.
        let fd = (3..).find(|k| !self.fds.contains_key(k)).unwrap_or(3);
        self.fds.insert(
            fd,
            Fd {
                sock,
                nonblock: false,
                error: None,
            },
        );
        fd
    }

    fn local_for(&mut self, bound: Option<SocketAddr>) -> SocketAddr {
        match bound {
            Some(b) if b.port() != 0 => b,
            _ => {
                self.next_port = self.next_port.wrapping_add(1).max(32_768);
                SocketAddr::new(self.settings.local(), self.next_port)
            }
        }
    }

    fn connect(&mut self, fd: i32, addr: SocketAddr, data: &[u8]) -> Started {
        let Some(Fd {
            sock: Sock::Fresh { bound, linger0 },
            nonblock,
            ..
        }) = self.fds.get(&fd).cloned()
        else {
            return Started::Done(Ret::err(106));
        };
        let local = self.local_for(bound);
        let now = us_instant(self.now_us);
        let h = match self.ep().connect_with_data(now, local, addr, data) {
            Ok(h) => h,
            Err(e) => return Started::Unmodeled(e.to_string()),
        };
        if let Some(f) = self.fds.get_mut(&fd) {
            f.sock = Sock::Conn { h, linger0 };
        }
        if !data.is_empty() {
            // Linux returns the bytes it put on the SYN (a cookie was
            // known), else EINPROGRESS on a non-blocking socket.
            let on_syn = self
                .ep
                .as_ref()
                .and_then(|ep| ep.connection(h))
                .is_some_and(|c| c.vars().snd_nxt.0.wrapping_sub(c.iss().0) > 1);
            let v = if on_syn || !nonblock {
                Ret::ok(data.len() as i64)
            } else {
                Ret::err(115)
            };
            return Started::Done(v);
        }
        if nonblock {
            return Started::Done(Ret::err(115));
        }
        self.pending = Some((Call::Connect { fd, addr }, None));
        Started::Blocked
    }

    fn setsockopt(&mut self, fd: i32, level: i32, name: i32, value: OptValue) -> Started {
        let c = |n: &str| constant(n).unwrap_or(-1) as i32;
        let is = |l: &str, n: &str| level == c(l) && name == c(n);
        if is("SOL_SOCKET", "SO_LINGER") {
            if let (OptValue::Linger { onoff, secs }, Some(f)) = (value, self.fds.get_mut(&fd)) {
                let zero = onoff != 0 && secs == 0;
                match &mut f.sock {
                    Sock::Fresh { linger0, .. } | Sock::Conn { linger0, .. } => *linger0 = zero,
                    _ => {}
                }
            }
            return Started::Done(Ret::ok(0));
        }
        if is("SOL_SOCKET", "SO_REUSEADDR")
            || is("SOL_SOCKET", "SO_REUSEPORT")
            || is("SOL_TCP", "TCP_NODELAY")
        {
            // Nothing the handshake depends on.
            return Started::Done(Ret::ok(0));
        }
        if is("SOL_TCP", "TCP_FASTOPEN") || is("SOL_TCP", "TCP_FASTOPEN_CONNECT") {
            if self.ep.is_some() {
                return Started::Unmodeled("Fast Open must be set before the engine starts".into());
            }
            self.cfg.fast_open = true;
            return Started::Done(Ret::ok(0));
        }
        Started::Unmodeled(format!("the engine has no socket option {level}/{name}"))
    }

    fn close(&mut self, fd: i32, abort: bool) -> Ret {
        let Some(f) = self.fds.remove(&fd) else {
            return Ret::err(9);
        };
        let now = us_instant(self.now_us);
        match f.sock {
            Sock::Listener { addr, .. } => {
                let _ = self.ep().unlisten(addr.port());
            }
            Sock::Conn { h, linger0 } => {
                let ep = self.ep();
                let _ = if linger0 || abort {
                    ep.abort(now, h)
                } else {
                    ep.close(now, h)
                };
            }
            Sock::Fresh { .. } => {}
        }
        Ret::ok(0)
    }

    fn call(&mut self, call: &Call) -> Started {
        let fd = call.fd().unwrap_or(-1);
        if call.fd().is_some() && !self.fds.contains_key(&fd) {
            return Started::Done(Ret::err(9));
        }
        let nonblock = self.fds.get(&fd).is_some_and(|f| f.nonblock);
        match *call {
            Call::Socket { nonblock, .. } => {
                let fd = self.new_fd(Sock::Fresh {
                    bound: None,
                    linger0: false,
                });
                if let Some(f) = self.fds.get_mut(&fd) {
                    f.nonblock = nonblock;
                }
                Started::Done(Ret::ok(i64::from(fd)))
            }
            Call::Bind { addr, .. } => {
                if let Some(Fd {
                    sock: Sock::Fresh { bound, .. },
                    ..
                }) = self.fds.get_mut(&fd)
                {
                    *bound = Some(addr);
                    Started::Done(Ret::ok(0))
                } else {
                    Started::Done(Ret::err(22))
                }
            }
            Call::Listen { backlog, .. } => self.listen(fd, backlog),
            Call::Accept { .. } | Call::Recv { .. } => match self.attempt(call, !nonblock) {
                Some(r) => Started::Done(r),
                None => {
                    self.pending = Some((call.clone(), None));
                    Started::Blocked
                }
            },
            Call::Connect { addr, .. } => self.connect(fd, addr, &[]),
            Call::Send { len, flags, to, .. } => self.send(fd, len, flags, to),
            Call::Close { .. } => Started::Done(self.close(fd, false)),
            Call::Shutdown { how, .. } => self.shutdown(fd, how),
            Call::SetSockOpt {
                level, name, value, ..
            } => self.setsockopt(fd, level, name, value),
            Call::GetSockOpt { level, name, .. } => self.getsockopt(fd, level, name),
            Call::Fcntl { cmd, arg, .. } => self.fcntl(fd, cmd, arg),
        }
    }

    /// SHUT_WR and SHUT_RDWR send the FIN (the engine's CLOSE); SHUT_RD
    /// changes nothing on the wire.
    fn shutdown(&mut self, fd: i32, how: i32) -> Started {
        if how == 0 {
            return Started::Done(Ret::ok(0));
        }
        let Some(h) = self.conn_of(fd) else {
            return Started::Done(Ret::err(107));
        };
        let now = us_instant(self.now_us);
        let _ = self.ep().close(now, h);
        Started::Done(Ret::ok(0))
    }

    /// SO_ERROR only: the error the connection ended with, read once.
    fn getsockopt(&mut self, fd: i32, level: i32, name: i32) -> Started {
        let so_error = constant("SO_ERROR").unwrap_or(4) as i32;
        if level != 1 || name != so_error {
            return Started::Unmodeled(format!(
                "the engine has no socket option {level}/{name} to read"
            ));
        }
        let e = self
            .fds
            .get_mut(&fd)
            .and_then(|f| f.error.take())
            .unwrap_or(0);
        Started::Done(Ret {
            read: Some(i64::from(e)),
            ..Ret::ok(0)
        })
    }

    /// F_GETFL and F_SETFL: O_RDWR, and O_NONBLOCK as set.
    fn fcntl(&mut self, fd: i32, cmd: i32, arg: i64) -> Started {
        let Some(f) = self.fds.get_mut(&fd) else {
            return Started::Done(Ret::err(9));
        };
        match cmd {
            3 => Started::Done(Ret::ok(2 | if f.nonblock { 0o4000 } else { 0 })),
            4 => {
                f.nonblock = arg & 0o4000 != 0;
                Started::Done(Ret::ok(0))
            }
            _ => Started::Unmodeled(format!("fcntl command {cmd}")),
        }
    }

    fn listen(&mut self, fd: i32, backlog: i32) -> Started {
        let Some(Fd {
            sock: Sock::Fresh { bound, .. },
            ..
        }) = self.fds.get(&fd).cloned()
        else {
            return Started::Done(Ret::err(22));
        };
        let addr = bound.unwrap_or_else(|| SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0));
        if self.ep.is_none() {
            self.cfg.accept_backlog = Some(u32::try_from(backlog.max(1)).unwrap_or(1));
        }
        if let Err(e) = self.ep().listen(addr) {
            return Started::Unmodeled(e.to_string());
        }
        if let Some(f) = self.fds.get_mut(&fd) {
            f.sock = Sock::Listener {
                addr,
                queue: VecDeque::new(),
            };
        }
        Started::Done(Ret::ok(0))
    }

    fn send(&mut self, fd: i32, len: usize, flags: i32, to: Option<SocketAddr>) -> Started {
        let fastopen = flags & constant("MSG_FASTOPEN").unwrap_or(0) as i32 != 0;
        let data = vec![0u8; len];
        if fastopen && matches!(self.fds.get(&fd).map(|f| &f.sock), Some(Sock::Fresh { .. })) {
            let addr = to
                .unwrap_or_else(|| SocketAddr::new(self.settings.remote(), crate::settings::PORT));
            return self.connect(fd, addr, &data);
        }
        let Some(h) = self.conn_of(fd) else {
            return Started::Done(Ret::err(32));
        };
        let now = us_instant(self.now_us);
        match self.ep().send(now, h, &data) {
            Ok(n) => Started::Done(Ret::ok(n as i64)),
            Err(_) => Started::Done(Ret::err(32)),
        }
    }

    /// A `sysctl` the engine has a setting for, applied before it starts.
    fn sysctl(&mut self, key: &str, value: &str) -> Result<(), String> {
        if self.ep.is_some() {
            return Err("the engine's settings are fixed once it runs; set them first".into());
        }
        const KNOWN: &[&str] = &[
            "net.ipv4.tcp_syncookies",
            "net.ipv4.tcp_ecn",
            "net.ipv4.tcp_timestamps",
            "net.ipv4.tcp_sack",
            "net.ipv4.tcp_window_scaling",
            "net.ipv4.tcp_fastopen",
            "net.ipv4.tcp_syn_retries",
            "net.ipv4.tcp_syn_linear_timeouts",
            "net.ipv4.tcp_synack_retries",
        ];
        if !KNOWN.contains(&key) {
            return Err(format!("the engine has no setting for {key}"));
        }
        let v = value.trim();
        let v = match v.strip_prefix("0x") {
            Some(hex) => i64::from_str_radix(hex, 16),
            None => v.parse(),
        }
        .map_err(|_| format!("{key}={value} is not a number"))?;
        let c = &mut self.cfg;
        match key {
            "net.ipv4.tcp_syncookies" => {
                c.syn_cookies = match v {
                    0 => SynCookies::Off,
                    1 => SynCookies::WhenFull,
                    _ => SynCookies::Always,
                }
            }
            "net.ipv4.tcp_ecn" => {
                c.ecn = match v {
                    1 => Ecn::Request,
                    2 => Ecn::Accept,
                    _ => Ecn::Off,
                }
            }
            "net.ipv4.tcp_timestamps" => c.timestamps = v != 0,
            "net.ipv4.tcp_syn_retries" | "net.ipv4.tcp_syn_linear_timeouts" => {
                let n = u8::try_from(v).map_err(|_| format!("{key}={v}"))?;
                let (mut retries, mut linear) = match c.syn_schedule {
                    Schedule::LinuxSyn { retries, linear } => (retries, linear),
                    Schedule::Exponential { retries } => (retries, 0),
                };
                if key.ends_with("retries") {
                    retries = n;
                } else {
                    linear = n;
                }
                c.syn_schedule = Schedule::LinuxSyn { retries, linear };
            }
            "net.ipv4.tcp_synack_retries" => {
                let retries = u8::try_from(v).map_err(|_| format!("{key}={v}"))?;
                c.synack_schedule = Schedule::Exponential { retries };
            }
            "net.ipv4.tcp_sack" => c.sack_permitted = v != 0,
            "net.ipv4.tcp_window_scaling" => {
                if v == 0 {
                    c.window_scale = None;
                }
            }
            "net.ipv4.tcp_fastopen" => {
                if v & !0x3 != 0 {
                    return Err(format!(
                        "the engine has no counterpart for tcp_fastopen=0x{v:x}: it knows the client (0x1) and server (0x2) bits, always with cookies"
                    ));
                }
                c.fast_open = v != 0;
            }
            _ => return Err(format!("the engine has no setting for {key}")),
        }
        Ok(())
    }
}

impl Sut for EngineSut {
    fn peer(&self) -> Peer {
        Peer::Engine
    }

    fn now(&mut self) -> i64 {
        self.now_us
    }

    fn sleep_until(&mut self, t: i64) -> Result<(), RunError> {
        self.advance(t)
    }

    fn inject(&mut self, packet: &[u8]) -> Result<(), RunError> {
        let now = us_instant(self.now_us);
        // A malformed packet is the engine's to judge and record.
        let _ = self.ep().handle(now, packet);
        self.collect()
    }

    fn outbound(&mut self, deadline: i64) -> Result<Option<Sent>, RunError> {
        if self.out.is_empty() {
            loop {
                let next = self.ep.as_mut().and_then(|ep| ep.poll_timeout());
                match next {
                    Some(at) if (at.as_micros() as i64) <= deadline => {
                        self.advance(at.as_micros() as i64)?;
                        if !self.out.is_empty() {
                            break;
                        }
                    }
                    _ => {
                        self.now_us = self.now_us.max(deadline);
                        break;
                    }
                }
            }
        }
        Ok(self.out.pop_front())
    }

    fn start_call(&mut self, call: &Call) -> Result<Started, RunError> {
        let started = self.call(call);
        self.collect()?;
        Ok(started)
    }

    fn blocked(&mut self, deadline: i64) -> Result<Option<(i64, Ret)>, RunError> {
        loop {
            if let Some((_, Some(done))) = self.pending {
                self.pending = None;
                return Ok(Some(done));
            }
            let next = self.ep.as_mut().and_then(|ep| ep.poll_timeout());
            match next {
                Some(at) if (at.as_micros() as i64) <= deadline => {
                    self.advance(at.as_micros() as i64)?
                }
                _ => {
                    self.advance(deadline)?;
                    if let Some((_, Some(done))) = self.pending.take() {
                        return Ok(Some(done));
                    }
                    return Ok(None);
                }
            }
        }
    }

    fn shell(&mut self, command: &str) -> Result<(i32, String), String> {
        let mut applied = false;
        for part in command
            .split([';', '&'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let words: Vec<&str> = part.split_whitespace().collect();
            let Some((&"sysctl", rest)) = words.split_first() else {
                return Err(format!(
                    "the engine runs no shell commands (only the sysctl settings it has a counterpart for): `{part}`"
                ));
            };
            for w in rest.iter().filter(|w| !w.starts_with('-')) {
                let (k, v) = w
                    .split_once('=')
                    .ok_or_else(|| format!("`{w}` is not key=value"))?;
                self.sysctl(&k.replace('/', "."), v)?;
                applied = true;
            }
        }
        if applied {
            Ok((0, String::new()))
        } else {
            Err("a sysctl with nothing to set".into())
        }
    }

    fn sockets(&mut self) -> Vec<Socket> {
        let mut out = Vec::new();
        for f in self.fds.values() {
            if let Sock::Listener { addr, .. } = f.sock {
                out.push(Socket {
                    local: addr.to_string(),
                    remote: "*".into(),
                    state: "LISTEN".into(),
                });
            }
        }
        if let Some(ep) = &self.ep {
            for c in ep.connections() {
                let t = c.tuple();
                out.push(Socket {
                    local: t.local.to_string(),
                    remote: t.remote.to_string(),
                    state: c.state().linux_name().into(),
                });
            }
        }
        out.sort_by(|a, b| (&a.local, &a.remote).cmp(&(&b.local, &b.remote)));
        out
    }

    fn rules(&mut self) -> Vec<RuleRef> {
        std::mem::take(&mut self.rules)
    }
}
