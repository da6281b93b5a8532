//! The Linux kernel as the system under test: a network namespace of the
//! run's own with a TUN device `tun0` and packetdrill's addresses, the
//! script's calls made on real sockets by a thread of their own (so a call
//! may block while packets go on), packets read from the device by another
//! and stamped as they come, and the kernel's sockets read with sock_diag.

mod sys;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use synack_net::diag::Diag;
use synack_net::{Lab, LabSpec, tun};

use crate::ast::Script;
use crate::calls::{Call, Ret};
use crate::error::RunError;
use crate::report::{Peer, Report, RuleRef, Socket};
use crate::run::{Sent, Started, Sut};
use crate::settings::{LOCAL_V4, LOCAL_V6, REMOTE_V4, REMOTE_V6, Settings};

/// Run `script` against the kernel, in a namespace made for it on a thread
/// of its own; nothing outside the namespace is touched.
pub fn run(
    name: &str,
    source: &str,
    script: &Script,
    settings: &Settings,
) -> Result<Report, RunError> {
    let (name, source, script, settings) = (
        name.to_string(),
        source.to_string(),
        script.clone(),
        settings.clone(),
    );
    std::thread::spawn(move || -> Result<Report, RunError> {
        let mut sut = LinuxSut::create()?;
        let report = crate::run::run(&name, &source, &script, &settings, &mut sut);
        sut.teardown();
        Ok(report)
    })
    .join()
    .map_err(|_| RunError::Other("the kernel run's thread panicked".into()))?
}

/// Settings a namespace inherits from the host, set to Linux's defaults.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("net/ipv4/tcp_rmem", "4096 131072 6291456"),
    ("net/ipv4/tcp_wmem", "4096 16384 4194304"),
];

struct Caller {
    calls: Sender<Call>,
    /// (started, returned, result), ns since the epoch.
    results: Receiver<(i128, i128, Ret)>,
    busy: Arc<AtomicBool>,
    tid: Arc<AtomicI32>,
}

pub struct LinuxSut {
    lab: Lab,
    /// The script's time 0, ns since the epoch (the kernel stamps packets
    /// on the same clock).
    start: i128,
    packets: Receiver<(i128, Vec<u8>)>,
    stop: Arc<AtomicBool>,
    caller: Caller,
    diag: Diag,
    /// Descriptors the script's calls made, closed at the end.
    opened: Vec<i32>,
    waiting: Option<Call>,
    last_call_start: Option<i128>,
}

/// How long past a packet's deadline the reader may take to hand it over
/// (the kernel's stamp, not the hand-over, is what is judged).
const GRACE_US: i64 = 50_000;

fn wall_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

impl LinuxSut {
    fn create() -> Result<LinuxSut, RunError> {
        let lab = Lab::create_with(&LabSpec {
            device: "tun0",
            addrs: &[(IpAddr::V4(LOCAL_V4), 16), (IpAddr::V6(LOCAL_V6), 48)],
            routes: &[(IpAddr::V4(REMOTE_V4), 32), (IpAddr::V6(REMOTE_V6), 128)],
            small_hash: true,
        })?;
        // A new namespace copies these from the host; Linux's own defaults
        // make a script's window scale the same on every machine.
        for (key, value) in DEFAULTS {
            synack_net::lab::sysctl(key, value)?;
        }
        let diag = Diag::open().map_err(|e| RunError::io("sock_diag", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let packets = reader(&lab, stop.clone())?;
        Ok(LinuxSut {
            lab,
            start: wall_ns(),
            packets,
            stop,
            caller: caller(),
            diag,
            opened: Vec::new(),
            waiting: None,
            last_call_start: None,
        })
    }

    fn teardown(&mut self) {
        for fd in self.opened.drain(..) {
            sys::close(fd);
        }
        self.stop.store(true, Ordering::Relaxed);
    }

    fn note(&mut self, call: &Call, r: &Ret) {
        if call.makes_fd() && r.errno.is_none() {
            self.opened.push(r.value as i32);
        }
        if let Call::Close { fd } = call {
            self.opened.retain(|x| x != fd);
        }
    }

    fn us(&self, ns: i128) -> i64 {
        i64::try_from((ns - self.start) / 1000).unwrap_or(i64::MAX)
    }
}

/// The packet reader: every packet the kernel sends on tun0, with the
/// kernel's stamp, from a packet socket; the device itself is drained so
/// its queue never fills.
fn reader(lab: &Lab, stop: Arc<AtomicBool>) -> Result<Receiver<(i128, Vec<u8>)>, RunError> {
    let tun = lab
        .tun
        .try_clone()
        .map_err(|e| RunError::io("TUN device", e))?;
    let sock =
        sys::packet_socket(&lab.device).map_err(|e| RunError::io("a packet socket on tun0", e))?;
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            let _ = tun::wait_readable(&sock, 5);
            while let Ok(Some((stamp, n))) = sys::recv_sent(&sock, &mut buf) {
                let bytes = buf.get(..n).unwrap_or(&[]).to_vec();
                if tx.send((stamp, bytes)).is_err() {
                    return;
                }
            }
            while let Ok(Some(_)) = tun::read(&tun, &mut buf) {}
        }
    });
    Ok(rx)
}

/// The thread that makes the script's calls.
fn caller() -> Caller {
    let (calls, rx) = channel::<Call>();
    let (tx, results) = channel();
    let busy = Arc::new(AtomicBool::new(false));
    let tid = Arc::new(AtomicI32::new(0));
    let (b, t) = (busy.clone(), tid.clone());
    std::thread::spawn(move || {
        t.store(synack_net::gettid(), Ordering::SeqCst);
        while let Ok(call) = rx.recv() {
            b.store(true, Ordering::SeqCst);
            let started = wall_ns();
            let r = sys::execute(&call);
            let returned = wall_ns();
            b.store(false, Ordering::SeqCst);
            if tx.send((started, returned, r)).is_err() {
                return;
            }
        }
    });
    Caller {
        calls,
        results,
        busy,
        tid,
    }
}

impl Sut for LinuxSut {
    fn peer(&self) -> Peer {
        Peer::Linux
    }

    fn begin(&mut self) {
        self.start = wall_ns();
    }

    fn now(&mut self) -> i64 {
        self.us(wall_ns())
    }

    fn sleep_until(&mut self, t: i64) -> Result<(), RunError> {
        let now = self.now();
        if t > now {
            std::thread::sleep(Duration::from_micros((t - now) as u64));
        }
        Ok(())
    }

    fn inject(&mut self, packet: &[u8]) -> Result<(), RunError> {
        tun::write(&self.lab.tun, packet).map_err(|e| RunError::io("writing to tun0", e))
    }

    fn outbound(&mut self, deadline: i64) -> Result<Option<Sent>, RunError> {
        loop {
            let left = (deadline + GRACE_US).saturating_sub(self.now()).max(0);
            let got = match self
                .packets
                .recv_timeout(Duration::from_micros(left as u64))
            {
                Ok((stamp, bytes)) => Sent {
                    at_us: self.us(stamp),
                    bytes,
                    rules: Vec::new(),
                },
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(RunError::Other("the TUN reader stopped".into()));
                }
            };
            // IPv6 housekeeping (MLD, ND) is not the script's business.
            if synack_wire::parse_ip(&got.bytes, false).is_ok() {
                return Ok(Some(got));
            }
        }
    }

    fn start_call(&mut self, call: &Call) -> Result<Started, RunError> {
        self.caller
            .calls
            .send(call.clone())
            .map_err(|_| RunError::Other("the call thread stopped".into()))?;
        let tid = self.caller.tid.load(Ordering::SeqCst);
        // Calls that can wait for the network: they block when the thread
        // sleeps for 2 ms on end (a short sleep on a lock is not blocking).
        let may_block = matches!(
            call,
            Call::Accept { .. }
                | Call::Connect { .. }
                | Call::Send { .. }
                | Call::Recv { .. }
                | Call::Close { .. }
        );
        let mut asleep_since: Option<Instant> = None;
        loop {
            match self.caller.results.recv_timeout(Duration::from_micros(50)) {
                Ok((started, _, r)) => {
                    self.note(call, &r);
                    self.last_call_start = Some(started);
                    return Ok(Started::Done(r));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(RunError::Other("the call thread stopped".into()));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if !may_block {
                continue;
            }
            if self.caller.busy.load(Ordering::SeqCst) && sys::sleeping(tid) {
                let since = *asleep_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_millis(2) {
                    self.waiting = Some(call.clone());
                    return Ok(Started::Blocked);
                }
            } else {
                asleep_since = None;
            }
        }
    }

    fn blocked(&mut self, deadline: i64) -> Result<Option<(i64, Ret)>, RunError> {
        let left = deadline.saturating_sub(self.now()).max(0);
        match self
            .caller
            .results
            .recv_timeout(Duration::from_micros(left as u64))
        {
            Ok((_, returned, r)) => {
                if let Some(c) = self.waiting.take() {
                    self.note(&c, &r);
                }
                Ok(Some((self.us(returned), r)))
            }
            Err(_) => Ok(None),
        }
    }

    fn shell(&mut self, command: &str) -> Result<(i32, String), String> {
        // A sysctl outside net.* would change the host, not the namespace.
        if let Some(key) = command
            .split_whitespace()
            .skip_while(|w| *w != "sysctl")
            .skip(1)
            .find(|w| !w.starts_with('-'))
            && !key.starts_with("net.")
            && !key.starts_with("net/")
        {
            return Err(format!(
                "{key} is not a per-namespace setting (only net.* are); refused"
            ));
        }
        let out = std::process::Command::new("sh")
            .args(["-c", command])
            .output()
            .map_err(|e| format!("sh: {e}"))?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok((out.status.code().unwrap_or(-1), text))
    }

    fn sockets(&mut self) -> Vec<Socket> {
        let mut out: Vec<Socket> = self
            .diag
            .sockets()
            .unwrap_or_default()
            .into_iter()
            .filter(|s| !s.local.ip().is_loopback())
            .map(|s| Socket {
                local: s.local.to_string(),
                remote: if s.state == "LISTEN" {
                    "*".into()
                } else {
                    show(s.remote)
                },
                state: s.state.into(),
            })
            .collect();
        out.sort_by(|a, b| (&a.local, &a.remote).cmp(&(&b.local, &b.remote)));
        out
    }

    fn rules(&mut self) -> Vec<RuleRef> {
        Vec::new()
    }

    fn call_started_at(&mut self) -> Option<i64> {
        self.last_call_start.take().map(|ns| self.us(ns))
    }
}

fn show(a: SocketAddr) -> String {
    a.to_string()
}
