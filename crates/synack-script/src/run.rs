//! The executor: one script against one system under test ([`Sut`]),
//! event by event, in packetdrill's model. Actions the script takes (`<`,
//! calls, commands) happen at their times; `>` packets must come within the
//! tolerance and match field by field; relative times count from when the
//! previous event actually happened (a `>` packet may come as early as
//! that event was due, when the executor was late taking it).

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::ast::{Action, Dir, Event, Expr, Packet, Script, Syscall, Time};
use crate::calls::{Call, Ret, errno_name, errno_value, expected_read, resolve};
use crate::error::RunError;
use crate::packet::{self, Live, Map};
use crate::report::*;
use crate::settings::{PORT, REMOTE_PORT, Settings};

/// A packet the system under test sent, with when.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at_us: i64,
    pub bytes: Vec<u8>,
    /// The engine's rules that made this packet (none for the kernel).
    pub rules: Vec<RuleRef>,
}

pub enum Started {
    Done(Ret),
    /// The call blocks; [`Sut::blocked`] gives its result later.
    Blocked,
    /// The system cannot take this call (the engine has no such option).
    Unmodeled(String),
}

/// What the executor needs of a system under test. Times are µs since the
/// script started, on the system's clock (real or virtual).
pub trait Sut {
    fn peer(&self) -> Peer;
    /// The script's time 0 is now.
    fn begin(&mut self) {}
    fn now(&mut self) -> i64;
    /// Let time pass until `t`, the system running meanwhile.
    fn sleep_until(&mut self, t: i64) -> Result<(), RunError>;
    fn inject(&mut self, packet: &[u8]) -> Result<(), RunError>;
    /// The next TCP packet the system sends, waiting until `deadline`.
    fn outbound(&mut self, deadline: i64) -> Result<Option<Sent>, RunError>;
    fn start_call(&mut self, call: &Call) -> Result<Started, RunError>;
    /// The blocked call's result and when it returned, waiting until `deadline`.
    fn blocked(&mut self, deadline: i64) -> Result<Option<(i64, Ret)>, RunError>;
    /// A shell command: its exit status and output, or why it cannot run.
    fn shell(&mut self, command: &str) -> Result<(i32, String), String>;
    fn sockets(&mut self) -> Vec<Socket>;
    /// The engine's rules applied since the last call (none for the kernel).
    fn rules(&mut self) -> Vec<RuleRef>;
    /// When the call just made started, if the system knows better than
    /// the executor's clock after it returned.
    fn call_started_at(&mut self) -> Option<i64> {
        None
    }
}

/// A call still blocked, and what the script expects of it.
struct Pending {
    line: u32,
    call: Syscall,
    resolved: Call,
    end_us: i64,
    tolerance_us: i64,
    record: usize,
}

struct Exec<'a> {
    lines: Vec<&'a str>,
    settings: Settings,
    sut: &'a mut dyn Sut,
    map: Map,
    fds: HashMap<i32, i32>,
    prev_us: i64,
    /// When the previous event was due: earlier than `prev_us` when the
    /// executor itself was late taking an action.
    prev_due_us: i64,
    pending: Option<Pending>,
    /// Whether the current event's time is relative.
    relative: bool,
    report: Report,
}

/// The first construct the runners do not take, with its line.
pub fn unsupported(script: &Script, settings: &Settings) -> Option<Unsupported> {
    if let Err(what) = settings.clone().with_script(script) {
        return Some(Unsupported {
            line: 1,
            construct: what,
        });
    }
    script.events.iter().find_map(|e| match &e.action {
        Action::Unsupported(what) => Some(Unsupported {
            line: e.pos.line,
            construct: what.clone(),
        }),
        _ => None,
    })
}

/// Run `script` (whose text is `source`) against `sut`.
pub fn run(
    name: &str,
    source: &str,
    script: &Script,
    settings: &Settings,
    sut: &mut dyn Sut,
) -> Report {
    let mut report = Report::new(name, sut.peer());
    if let Some(u) = unsupported(script, settings) {
        report.result = Verdict::Unsupported;
        report.unsupported = Some(u);
        return report;
    }
    let settings = settings.clone().with_script(script).unwrap_or_default();
    let mut x = Exec {
        lines: source.lines().collect(),
        map: Map {
            remote: Some(SocketAddr::new(settings.remote(), REMOTE_PORT)),
            local: Some(SocketAddr::new(settings.local(), PORT)),
            ..Map::default()
        },
        settings,
        sut,
        fds: HashMap::new(),
        prev_us: 0,
        prev_due_us: 0,
        pending: None,
        relative: false,
        report,
    };
    x.sut.begin();
    x.report.started = Some(std::time::SystemTime::now());
    let outcome = x.events(&script.events);
    let mut report = x.report;
    match outcome {
        Ok(None) => {}
        Ok(Some(m)) => {
            report.result = Verdict::Fail;
            report.mismatch = Some(m);
        }
        Err(e) => {
            report.result = Verdict::Error;
            report.error = Some(e.to_string());
        }
    }
    report
}

type Step = Result<Option<Mismatch>, RunError>;

impl Exec<'_> {
    fn events(&mut self, events: &[Event]) -> Step {
        for ev in events {
            if let Some(m) = self.event(ev)? {
                return Ok(Some(m));
            }
        }
        if let Some(m) = self.finish_pending()? {
            return Ok(Some(m));
        }
        // What came after the last event is shown, not judged.
        let now = self.sut.now();
        while let Some(s) = self.sut.outbound(now)? {
            if let Some(live) = Live::parse(&s.bytes) {
                let packet = self.seen(&live, true);
                self.report.extra.push(Extra {
                    at_us: s.at_us,
                    packet,
                });
            }
            self.report.frames.push((s.at_us, s.bytes));
        }
        Ok(None)
    }

    /// When the event is due and its window: (expected, earliest, latest).
    fn schedule(&mut self, t: Time) -> (Option<i64>, i64, i64) {
        let prev = self.prev_us;
        match t {
            Time::At(at) => (Some(at), at, at),
            Time::After(d) => (Some(prev + d), prev + d, prev + d),
            Time::Any => (None, prev, prev + 10_000_000),
            Time::Range { lo, hi, relative } => {
                let base = if relative { prev } else { 0 };
                (Some(base + lo), base + lo, base + hi)
            }
        }
    }

    fn event(&mut self, ev: &Event) -> Step {
        let (expected, lo, hi) = self.schedule(ev.time);
        self.relative = matches!(ev.time, Time::After(_) | Time::Range { relative: true, .. });
        let tol = self.settings.tolerance(lo - self.prev_us);
        let kind = match &ev.action {
            Action::Packet(p) if p.dir == Dir::In => Kind::Inbound,
            Action::Packet(_) => Kind::Outbound,
            Action::Syscall(_) => Kind::Syscall,
            _ => Kind::Shell,
        };
        if kind != Kind::Outbound {
            self.sut.sleep_until(lo)?;
        }
        // The states before: as seen after the previous event, unless time
        // passed since (a timer may have changed them), when they are read
        // again. One sock_diag dump costs about 0.6 ms: events at +0 do
        // without the second.
        let waited = kind != Kind::Outbound && lo - self.prev_us > 1_000;
        let before = match self.report.events.last() {
            Some(r) if !waited => r.states_after.clone(),
            _ => self.sut.sockets(),
        };
        let text = self
            .lines
            .get(ev.pos.line.saturating_sub(1) as usize)
            .map(|l| l.trim().to_string())
            .unwrap_or_default();
        self.report.events.push(EventRecord {
            line: ev.pos.line,
            kind,
            text,
            expected_us: expected,
            at_us: lo,
            tolerance_us: tol,
            packet: None,
            returned: None,
            script_fd: None,
            states_before: before,
            states_after: Vec::new(),
            rules: Vec::new(),
            model: None,
        });
        let line = ev.pos.line;
        let result = match &ev.action {
            Action::Packet(p) if p.dir == Dir::In => self.inject(p),
            Action::Packet(p) => {
                // The executor's lateness with the previous action (a busy
                // machine, a slow sock_diag dump) is not the system's: a
                // packet on time for when that action was due is on time.
                let late = if self.relative {
                    (self.prev_us - self.prev_due_us).max(0)
                } else {
                    0
                };
                self.expect(line, p, expected, lo - tol - late, hi + tol, tol)
            }
            Action::Syscall(c) => self.call(line, c, expected.unwrap_or(lo), tol),
            Action::Shell(cmd) => self.command(line, cmd),
            Action::Unsupported(_) => Ok(None),
        }?;
        let after = self.sut.sockets();
        let rules = self.sut.rules();
        if let Some(r) = self.report.events.last_mut() {
            r.states_after = after;
            for rule in rules {
                if !r.rules.contains(&rule) {
                    r.rules.push(rule);
                }
            }
            if result.is_none() {
                self.prev_us = r.at_us;
                self.prev_due_us = if r.kind == Kind::Outbound {
                    r.at_us
                } else {
                    lo.min(r.at_us)
                };
            }
        }
        Ok(result)
    }

    fn record(&mut self) -> Option<&mut EventRecord> {
        self.report.events.last_mut()
    }

    fn seen(&self, live: &Live, ours: bool) -> Seen {
        let isn = self.map.isn;
        Seen {
            flags: live.flags_text(),
            seq: live.seq,
            rel_seq: if ours {
                isn.map(|i| live.seq.wrapping_sub(i))
            } else {
                None
            },
            ack: live.ack,
            rel_ack: if ours {
                None
            } else {
                isn.map(|i| live.ack.wrapping_sub(i))
            },
            len: live.payload,
            win: live.window,
            options: live
                .options
                .iter()
                .map(|o| o.text())
                .collect::<Vec<_>>()
                .join(","),
            ecn: ["noecn", "ect1", "ect0", "ce"]
                .get(usize::from(live.tos & 3))
                .copied()
                .unwrap_or("noecn"),
        }
    }

    fn inject(&mut self, p: &Packet) -> Step {
        let bytes = packet::build(p, &self.map).map_err(RunError::Other)?;
        // The system handles the packet inside the write: its answer can
        // be stamped before the write returns, so the event is when it began.
        let at = self.sut.now();
        self.sut.inject(&bytes)?;
        self.report.frames.push((at, bytes.clone()));
        let seen = Live::parse(&bytes).map(|l| self.seen(&l, false));
        if let Some(r) = self.record() {
            r.at_us = at;
            r.packet = seen;
        }
        Ok(None)
    }

    fn expect(
        &mut self,
        line: u32,
        p: &Packet,
        expected: Option<i64>,
        earliest: i64,
        latest: i64,
        tol: i64,
    ) -> Step {
        let sent = loop {
            let Some(s) = self.sut.outbound(latest)? else {
                return Ok(Some(Mismatch {
                    line,
                    kind: MismatchKind::Missing,
                    message: format!("expected the packet by {}; none came", secs(latest)),
                    difference: None,
                    expected_us: expected,
                    at_us: None,
                    tolerance_us: Some(tol),
                }));
            };
            let parsed = Live::parse(&s.bytes);
            self.report.frames.push((s.at_us, s.bytes));
            if let Some(l) = parsed {
                break (s.at_us, l, s.rules);
            }
        };
        let (at, live, rules) = sent;
        let checked = packet::check(p, &live, &mut self.map);
        let seen = self.seen(&live, true);
        if let Some(r) = self.record() {
            r.at_us = at;
            r.packet = Some(seen);
            r.rules = rules;
        }
        if let Err(d) = checked {
            return Ok(Some(Mismatch {
                line,
                kind: MismatchKind::Field,
                message: format!("{}: expected {}, actual {}", d.field, d.expected, d.actual),
                difference: Some(d),
                expected_us: expected,
                at_us: Some(at),
                tolerance_us: Some(tol),
            }));
        }
        if at < earliest || at > latest {
            let want = expected.map_or_else(|| "?".into(), secs);
            return Ok(Some(Mismatch {
                line,
                kind: MismatchKind::Timing,
                message: format!(
                    "expected the packet at {want} but it happened at {}; tolerance {}",
                    secs(at),
                    secs(tol)
                ),
                difference: None,
                expected_us: expected,
                at_us: Some(at),
                tolerance_us: Some(tol),
            }));
        }
        Ok(None)
    }

    fn map_fd(&self, call: Call) -> Call {
        let m = |fd: i32| self.fds.get(&fd).copied().unwrap_or(fd);
        match call {
            Call::Bind { fd, addr } => Call::Bind { fd: m(fd), addr },
            Call::Listen { fd, backlog } => Call::Listen { fd: m(fd), backlog },
            Call::Accept { fd } => Call::Accept { fd: m(fd) },
            Call::Connect { fd, addr } => Call::Connect { fd: m(fd), addr },
            Call::Send { fd, len, flags, to } => Call::Send {
                fd: m(fd),
                len,
                flags,
                to,
            },
            Call::Recv { fd, len, flags } => Call::Recv {
                fd: m(fd),
                len,
                flags,
            },
            Call::Close { fd } => Call::Close { fd: m(fd) },
            Call::Shutdown { fd, how } => Call::Shutdown { fd: m(fd), how },
            Call::SetSockOpt {
                fd,
                level,
                name,
                value,
            } => Call::SetSockOpt {
                fd: m(fd),
                level,
                name,
                value,
            },
            Call::GetSockOpt { fd, level, name } => Call::GetSockOpt {
                fd: m(fd),
                level,
                name,
            },
            Call::Fcntl { fd, cmd, arg } => Call::Fcntl {
                fd: m(fd),
                cmd,
                arg,
            },
            c @ Call::Socket { .. } => c,
        }
    }

    /// Learn the addresses packets use from a bind or a connect.
    fn learn_addresses(&mut self, call: &Call) {
        match *call {
            Call::Bind { addr, .. } => {
                let ip = if addr.ip().is_unspecified() {
                    self.settings.local()
                } else {
                    addr.ip()
                };
                self.map.local = Some(SocketAddr::new(ip, addr.port()));
            }
            Call::Connect { addr, .. } | Call::Send { to: Some(addr), .. } => {
                // The system picks its port: its first packet tells.
                self.map.remote = Some(addr);
                self.map.local = Some(SocketAddr::new(self.settings.local(), 0));
            }
            _ => {}
        }
    }

    fn call(&mut self, line: u32, c: &Syscall, at: i64, tol: i64) -> Step {
        if let Some(m) = self.finish_pending()? {
            return Ok(Some(m));
        }
        let resolved = match resolve(c, &self.settings) {
            Ok(r) => r,
            Err(e) => return Err(RunError::Other(format!("line {line}: {e}"))),
        };
        self.learn_addresses(&resolved);
        let live_call = self.map_fd(resolved.clone());
        let started = self.sut.start_call(&live_call)?;
        let now = match self.sut.call_started_at() {
            Some(t) => t,
            None => self.sut.now(),
        };
        if let Some(r) = self.record() {
            r.at_us = now;
        }
        match started {
            Started::Done(ret) => {
                if let Some(m) = self.judge(line, c, &resolved, ret) {
                    return Ok(Some(m));
                }
                if let Some(end) = c.end {
                    let end = self.end_time(at, end);
                    return Ok(self.returned_at(line, c, now, end, tol));
                }
                Ok(None)
            }
            Started::Unmodeled(why) => Ok(Some(Mismatch {
                line,
                kind: MismatchKind::Call,
                message: format!("{}() cannot be run here: {why}", c.name),
                difference: None,
                expected_us: Some(at),
                at_us: None,
                tolerance_us: Some(tol),
            })),
            Started::Blocked => {
                let Some(end) = c.end else {
                    return Ok(Some(Mismatch {
                        line,
                        kind: MismatchKind::Call,
                        message: format!(
                            "{}() blocked; the script expects it to return at once (write `...T` before a call that blocks until T)",
                            c.name
                        ),
                        difference: None,
                        expected_us: Some(at),
                        at_us: None,
                        tolerance_us: Some(tol),
                    }));
                };
                let end_us = self.end_time(at, end);
                self.pending = Some(Pending {
                    line,
                    call: c.clone(),
                    resolved,
                    end_us,
                    tolerance_us: tol.max(self.settings.tolerance(end_us - at)),
                    record: self.report.events.len().saturating_sub(1),
                });
                Ok(None)
            }
        }
    }

    /// `...0.2`: absolute after an absolute time, since the start after `+t`.
    fn end_time(&self, start: i64, end: i64) -> i64 {
        if self.relative { start + end } else { end }
    }

    fn returned_at(&self, line: u32, c: &Syscall, at: i64, end: i64, tol: i64) -> Option<Mismatch> {
        if (at - end).abs() <= tol {
            return None;
        }
        Some(Mismatch {
            line,
            kind: MismatchKind::Timing,
            message: format!(
                "expected {}() to return at {} but it returned at {}; tolerance {}",
                c.name,
                secs(end),
                secs(at),
                secs(tol)
            ),
            difference: None,
            expected_us: Some(end),
            at_us: Some(at),
            tolerance_us: Some(tol),
        })
    }

    fn finish_pending(&mut self) -> Step {
        let Some(p) = self.pending.take() else {
            return Ok(None);
        };
        let Some((at, ret)) = self.sut.blocked(p.end_us + p.tolerance_us)? else {
            return Ok(Some(Mismatch {
                line: p.line,
                kind: MismatchKind::Call,
                message: format!(
                    "{}() was still blocked at {}; the script expects it to return at {}",
                    p.call.name,
                    secs(p.end_us + p.tolerance_us),
                    secs(p.end_us)
                ),
                difference: None,
                expected_us: Some(p.end_us),
                at_us: None,
                tolerance_us: Some(p.tolerance_us),
            }));
        };
        let text = show_ret(ret);
        if let Some(r) = self.report.events.get_mut(p.record) {
            r.returned = Some(format!("{text} at {}", secs(at)));
        }
        if let Some(m) = self.judge_quiet(p.line, &p.call, &p.resolved, ret) {
            return Ok(Some(m));
        }
        Ok(self.returned_at(p.line, &p.call, at, p.end_us, p.tolerance_us))
    }

    fn judge(&mut self, line: u32, c: &Syscall, resolved: &Call, ret: Ret) -> Option<Mismatch> {
        if let Some(r) = self.record() {
            r.returned = Some(show_ret(ret));
        }
        self.judge_quiet(line, c, resolved, ret)
    }

    /// Compare a call's result with the script's, mapping new descriptors.
    fn judge_quiet(
        &mut self,
        line: u32,
        c: &Syscall,
        resolved: &Call,
        ret: Ret,
    ) -> Option<Mismatch> {
        let want_errno = c.errno.as_deref();
        let want = match &c.ret {
            Expr::Int(n) => Some(*n),
            _ => None,
        };
        let got_errno = ret.errno.map(errno_name);
        let fail = |msg: String| Mismatch {
            line,
            kind: MismatchKind::Call,
            message: msg,
            difference: None,
            expected_us: None,
            at_us: None,
            tolerance_us: None,
        };
        let expected_text = match (want, want_errno) {
            (Some(n), Some(e)) => format!("{n} {e}"),
            (Some(n), None) => n.to_string(),
            (None, _) => "anything".into(),
        };
        if let Some(e) = want_errno
            && errno_value(e).is_none()
        {
            return Some(fail(format!("{e} is not an errno this runner knows")));
        }
        if want_errno.is_some() && got_errno.as_deref() != want_errno
            || want_errno.is_none() && ret.errno.is_some()
        {
            return Some(fail(format!(
                "{}() returned {}, expected {expected_text}",
                c.name,
                show_ret(ret)
            )));
        }
        if let Some(n) = want
            && ret.errno.is_none()
        {
            if resolved.makes_fd() {
                if let Ok(fd) = i32::try_from(n) {
                    self.fds.insert(fd, ret.value as i32);
                }
                if let Some(r) = self.record() {
                    r.script_fd = Some(n);
                }
            } else if n != ret.value {
                return Some(fail(format!(
                    "{}() returned {}, expected {expected_text}",
                    c.name,
                    show_ret(ret)
                )));
            }
        }
        if let (Some(w), Some(r)) = (expected_read(c), ret.read)
            && c.name == "getsockopt"
            && w != r
        {
            return Some(fail(format!("getsockopt() read {r}, expected {w}")));
        }
        None
    }

    fn command(&mut self, line: u32, cmd: &str) -> Step {
        match self.sut.shell(cmd) {
            Ok((0, _)) => Ok(None),
            Ok((status, out)) => Ok(Some(Mismatch {
                line,
                kind: MismatchKind::Shell,
                message: format!("`{cmd}` exited with status {status}: {}", out.trim()),
                difference: None,
                expected_us: None,
                at_us: None,
                tolerance_us: None,
            })),
            Err(why) => Ok(Some(Mismatch {
                line,
                kind: MismatchKind::Shell,
                message: format!("`{cmd}`: {why}"),
                difference: None,
                expected_us: None,
                at_us: None,
                tolerance_us: None,
            })),
        }
    }
}

pub fn show_ret(r: Ret) -> String {
    match r.errno {
        Some(e) => format!("{} {}", r.value, errno_name(e)),
        None => r.value.to_string(),
    }
}

/// µs as seconds, `0.100 s`.
pub fn secs(us: i64) -> String {
    let s = us as f64 / 1e6;
    if us % 1000 == 0 {
        format!("{s:.3} s")
    } else {
        format!("{s:.6} s")
    }
}
