//! One harness for every run against the kernel: a lab of its own (network
//! namespace, TUN device), the driver with its observer, the settings the
//! run made, the lab's application (listen, accept, connect), and the trace
//! at the end. What a scenario does with it lives with the scenario.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use synack_engine::sim::{Fate, LinkRecord, Side, SideEvent};
use synack_engine::{Config, ConnHandle, Endpoint, Instant, State};
use synack_trace::{IsnOrigin, Peer, Profile, Setting, Trace};
use synack_wire::TcpFlags;

use crate::observe::Observer;
use crate::{Dir, Driver, Lab, NetError, lab};

pub const SEC: Duration = Duration::from_secs(1);

pub fn cmd(e: impl std::fmt::Display) -> NetError {
    NetError::Command(e.to_string())
}

pub fn io(e: std::io::Error) -> NetError {
    NetError::Command(format!("kernel socket: {e}"))
}

/// Run `f` on a thread of its own, which the lab moves into a new network
/// namespace; it vanishes with the thread.
pub fn in_lab<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, NetError> + Send + 'static,
) -> Result<T, NetError> {
    std::thread::spawn(f)
        .join()
        .map_err(|_| NetError::Command("the lab thread panicked".into()))?
}

/// Where the kernel holds a thread of this process asleep: the system
/// call it is in and its wait channel (e.g. `wait_woken`); `None` while
/// it runs.
pub fn blocked_in(tid: i32) -> Option<(i64, String)> {
    let task = format!("/proc/self/task/{tid}");
    let call = std::fs::read_to_string(format!("{task}/syscall")).ok()?;
    let n: i64 = call.split_whitespace().next()?.parse().ok()?;
    let wchan = std::fs::read_to_string(format!("{task}/wchan")).unwrap_or_default();
    (!wchan.is_empty() && wchan != "0").then_some((n, wchan))
}

/// Whether the kernel holds thread `tid` asleep inside write() or send()
/// (std's stream writes are sendto): on a socket still in SYN_SENT that
/// is the wait for its handshake.
pub fn waits_in_write(tid: i32) -> bool {
    blocked_in(tid).is_some_and(|(n, _)| n == libc::SYS_write || n == libc::SYS_sendto)
}

pub struct KernelRun {
    pub d: Driver,
    /// synack's address and the kernel's, as the run uses them.
    pub ours: SocketAddr,
    pub theirs: SocketAddr,
    pub settings: Vec<Setting>,
    /// Which role the kernel plays (the server unless a run says so).
    pub kernel_side: Side,
    /// Leave the kernel's timers as they are: [`KernelRun::shorten`] only
    /// records the setting (runs then take as long as Linux's defaults).
    pub keep_defaults: bool,
    release: String,
}

impl KernelRun {
    /// Make the lab (call on a thread of its own, see [`in_lab`]) with
    /// synack on `ours_port` and the kernel on `theirs_port`.
    pub fn start(
        cfg: Config,
        v6: bool,
        ours_port: u16,
        theirs_port: u16,
    ) -> Result<KernelRun, NetError> {
        let lab = Lab::create()?;
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let mut d = Driver::new(lab.tun, Endpoint::new(cfg));
        d.observer = Some(Observer::new().map_err(io)?);
        Ok(KernelRun {
            d,
            ours: SocketAddr::new(Lab::synack_addr(v6), ours_port),
            theirs: SocketAddr::new(Lab::kernel_addr(v6), theirs_port),
            settings: Vec::new(),
            kernel_side: Side::B,
            keep_defaults: false,
            release,
        })
    }

    /// Set a sysctl in the namespace (path below /proc/sys) and record it,
    /// with the value it had.
    pub fn sysctl(&mut self, path: &str, value: &str) -> Result<(), NetError> {
        let default = std::fs::read_to_string(format!("/proc/sys/{path}"))
            .ok()
            .map(|s| s.trim().to_string());
        lab::sysctl(path, value)?;
        let name = path.replace('/', ".");
        // The value first read is the default; the last one set is in force.
        let default = self
            .settings
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.default.clone())
            .or(default);
        self.settings.retain(|s| s.name != name);
        self.settings.push(Setting {
            name,
            value: value.to_string(),
            default,
        });
        Ok(())
    }

    /// Set a sysctl that only makes the run shorter (fewer retries): left
    /// at its default, and only recorded, when `keep_defaults` is set.
    pub fn shorten(&mut self, path: &str, value: &str) -> Result<(), NetError> {
        if self.keep_defaults {
            self.read_sysctl(path);
            return Ok(());
        }
        self.sysctl(path, value)
    }

    /// Put a firewall rule in front of the kernel: `rule` (an nftables rule
    /// body, e.g. `tcp dport 80 drop`) on the `hook` chain (`input` or
    /// `output`) of a table of the lab's own, with a counter. Recorded as a
    /// setting named `nftables <hook>`.
    pub fn firewall(&mut self, hook: &str, rule: &str) -> Result<(), NetError> {
        let ruleset = format!(
            "table inet synack {{\n chain {hook} {{\n  type filter hook {hook} priority 0; policy accept;\n  {} comment \"{hook}\"\n }}\n}}\n",
            counter_first(rule)
        );
        lab::nft(&ruleset)?;
        self.note(&format!("nftables {hook}"), rule);
        Ok(())
    }

    /// How many packets the firewall rule on `hook` matched so far.
    pub fn firewall_counted(&self, hook: &str) -> Option<u64> {
        lab::nft_counted(hook)
    }

    /// Record what the lab's application does (a backlog, no accept()).
    pub fn note(&mut self, name: &str, value: impl std::fmt::Display) {
        self.settings.push(Setting {
            name: name.to_string(),
            value: value.to_string(),
            default: None,
        });
    }

    /// Read a sysctl of the namespace and record it unchanged (so an answer
    /// can name the value in force).
    pub fn read_sysctl(&mut self, path: &str) -> Option<String> {
        let v = std::fs::read_to_string(format!("/proc/sys/{path}"))
            .ok()?
            .trim()
            .to_string();
        let name = path.replace('/', ".");
        if !self.settings.iter().any(|s| s.name == name) {
            self.settings.push(Setting {
                name,
                value: v.clone(),
                default: Some(v.clone()),
            });
        }
        Some(v)
    }

    pub fn until(
        &mut self,
        t: Duration,
        done: impl FnMut(&Driver) -> bool,
    ) -> Result<bool, NetError> {
        self.d.run_until(t, done)
    }

    /// Turn the driver for `t`.
    pub fn wait(&mut self, t: Duration) -> Result<(), NetError> {
        self.until(t, |_| false).map(|_| ())
    }

    /// The kernel's state of `theirs` ↔ `ours`, exactly as it is now.
    pub fn kernel_state(&mut self, theirs: SocketAddr, ours: SocketAddr) -> Option<&'static str> {
        let o = self.d.observer.as_mut()?;
        o.sockets()
            .into_iter()
            .find(|s| s.local == theirs && s.remote == ours)
            .map(|s| s.state)
    }

    /// Turn until the kernel's `theirs` ↔ `ours` is in `state` (`None`:
    /// gone), looking after every turn.
    pub fn until_kernel(
        &mut self,
        t: Duration,
        ours: SocketAddr,
        state: Option<&str>,
    ) -> Result<bool, NetError> {
        let end = self.d.elapsed() + t;
        loop {
            if self.kernel_state(self.theirs, ours) == state {
                return Ok(true);
            }
            if self.d.elapsed() >= end {
                return Ok(false);
            }
            self.d.turn(Duration::from_millis(2))?;
        }
    }

    pub fn listen(&mut self) -> Result<TcpListener, NetError> {
        let l = TcpListener::bind(self.theirs).map_err(io)?;
        l.set_nonblocking(true).map_err(io)?;
        self.d.after_call("listen()");
        Ok(l)
    }

    pub fn listen_with_backlog(&mut self, backlog: i32) -> Result<TcpListener, NetError> {
        let at = self.theirs;
        self.listen_on(at, backlog)
    }

    /// A kernel listener on `at` with `listen(2)`'s `backlog`.
    pub fn listen_on(&mut self, at: SocketAddr, backlog: i32) -> Result<TcpListener, NetError> {
        let l = crate::listen_with_backlog(at, backlog).map_err(io)?;
        l.set_nonblocking(true).map_err(io)?;
        self.note("listen backlog", backlog);
        self.d.after_call("listen()");
        Ok(l)
    }

    /// accept() on the kernel's listener, turning the driver until a
    /// connection is there.
    pub fn accept(&mut self, l: &TcpListener) -> Result<TcpStream, NetError> {
        l.set_nonblocking(true).map_err(io)?;
        let mut got = None;
        self.until(3 * SEC, |_| {
            got = l.accept().ok();
            got.is_some()
        })?;
        let (s, peer) = got.ok_or_else(|| cmd("the kernel never completed accept()"))?;
        s.set_nonblocking(false).map_err(io)?;
        s.set_read_timeout(Some(3 * SEC)).map_err(io)?;
        let now = self.d.now();
        let local = s.local_addr().map_err(io)?;
        if let Some(o) = &mut self.d.observer {
            o.accepted(now, local, peer);
        }
        Ok(s)
    }

    /// Turn until synack's connection `h` is ESTABLISHED.
    pub fn connected(&mut self, h: ConnHandle) -> Result<(), NetError> {
        let ok = self.until(5 * SEC, |d| {
            d.ep.connection(h)
                .is_some_and(|c| c.state() == State::Established)
        })?;
        if ok {
            Ok(())
        } else {
            Err(cmd("the handshake with the kernel did not complete"))
        }
    }

    /// synack connects from `from`; the handshake completes; the kernel's
    /// application accepts.
    pub fn open(
        &mut self,
        from: SocketAddr,
        l: &TcpListener,
    ) -> Result<(ConnHandle, TcpStream), NetError> {
        let h = self
            .d
            .ep
            .connect(self.d.now(), from, self.theirs)
            .map_err(cmd)?;
        self.connected(h)?;
        Ok((h, self.accept(l)?))
    }

    /// A segment no engine made, from `from` to the kernel.
    pub fn craft(&self, from: SocketAddr, flags: TcpFlags, seq: u32) -> Result<Vec<u8>, NetError> {
        synack_engine::forge(self.d.ep.config(), from, self.theirs, flags, seq)
            .map_err(NetError::Emit)
    }

    /// What the kernel application's call returned at `at` on the kernel's
    /// `local` ↔ `remote` (a connect() that failed leaves no socket).
    pub fn call_returned(
        &mut self,
        at: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        call: &'static str,
    ) {
        if let Some(o) = &mut self.d.observer {
            o.observations.push(synack_trace::Observation {
                at,
                cause: synack_trace::ObsCause::Call(call),
                local,
                remote,
                state: "CLOSED",
                accepted: false,
                timer: None,
                queue: None,
            });
            o.observations.sort_by_key(|x| x.at);
        }
    }

    /// The trace of the run.
    pub fn finish(self, t: TraceInfo) -> Trace {
        let kernel_side = self.kernel_side;
        let peer = Peer::Linux {
            kernel_side,
            release: self.release.clone(),
        };
        let mut trace = trace_of(&self.d, kernel_side, peer, t);
        trace.settings = self.settings;
        trace
    }
}

/// What a driver run's trace needs beyond what the driver saw.
pub struct TraceInfo {
    pub scenario: &'static str,
    pub profile: Profile,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub initial: [State; 2],
    /// How synack's ISNs were made (the peer's side is the peer's).
    pub our_isn: IsnOrigin,
    pub syn_backlog: Option<u32>,
}

/// A trace from a driver run: synack's steps, every frame the device saw,
/// the kernel's observations.
pub fn trace_of(d: &Driver, peer_side: Side, peer: Peer, t: TraceInfo) -> Trace {
    let us = peer_side.other();
    let at = |d: Duration| Instant::from_nanos(d.as_nanos() as u64);
    let mut counts = [0usize; 2];
    let link: Vec<LinkRecord> = d
        .log
        .iter()
        .map(|c| {
            let from = if c.dir == Dir::ToKernel {
                us
            } else {
                peer_side
            };
            let i = usize::from(from == Side::B);
            counts[i] += 1;
            LinkRecord {
                sent_at: at(c.at),
                from,
                nth: counts[i],
                fate: if c.dropped {
                    Fate::Dropped { fault: 0 }
                } else {
                    Fate::Delivered
                },
                deliver_at: (!c.dropped).then(|| at(c.at)),
                bytes: c.bytes.clone(),
            }
        })
        .collect();
    let peer_isn = match peer {
        Peer::Linux { .. } => IsnOrigin::Linux,
        _ => IsnOrigin::Unknown,
    };
    let mut isn = [t.our_isn, t.our_isn];
    isn[usize::from(peer_side == Side::B)] = peer_isn;
    Trace {
        scenario: t.scenario,
        profile: t.profile,
        peer,
        started_at: std::time::SystemTime::now() - d.epoch().elapsed(),
        client: t.client,
        server: t.server,
        delay: Duration::ZERO,
        steps: d.steps.iter().map(|s| (us, *s)).collect(),
        link,
        events: d
            .events
            .iter()
            .map(|(tm, h, e)| SideEvent {
                at: at(*tm),
                side: us,
                conn: *h,
                event: *e,
            })
            .collect(),
        kernel: d
            .observer
            .as_ref()
            .map(|o| o.observations.clone())
            .unwrap_or_default(),
        settings: Vec::new(),
        initial: t.initial,
        isn,
        syn_backlog: t.syn_backlog,
        end: at(d.elapsed()),
    }
}

/// `rule` with a counter before its verdict (nft evaluates in order, so
/// a counter after `drop` would never count).
fn counter_first(rule: &str) -> String {
    let words: Vec<&str> = rule.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| ["drop", "reject", "accept"].contains(w))
        .unwrap_or(words.len());
    let (m, v) = words.split_at(at);
    format!("{} counter {}", m.join(" "), v.join(" "))
}
