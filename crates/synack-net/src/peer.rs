//! `synack explain --peer linux`: the explain scenarios with the Linux
//! kernel's TCP as the other end. synack's side is narrated from its step
//! records; the kernel's from what it sent (captured on the TUN device) and
//! the socket states it reports in /proc. The kernel's decisions carry no
//! rule ids: only what was observed is shown.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use synack_engine::sim::{Fate, LinkRecord, Side, SideEvent};
use synack_engine::{Config, Endpoint, Event, Instant, IsnMode, State};
use synack_explain::{KernelSample, Options, Peer, Profile, REQUEST, RESPONSE, Scenario, Trace};

use crate::{Dir, Driver, Fault, Lab, NetError, kernel, lab};

/// Run `opts.scenario` against the kernel in a lab of its own.
pub fn explain(opts: &Options) -> Result<Trace, NetError> {
    let opts = opts.clone();
    std::thread::spawn(move || run(&opts))
        .join()
        .map_err(|_| NetError::Command("the lab thread panicked".into()))?
}

/// Samples the kernel's state of one connection from its own thread:
/// reading /proc walks the kernel's whole connection table and takes
/// milliseconds, which must not delay the packets.
struct Sampler {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    kernel_addr: SocketAddr,
    synack_addr: SocketAddr,
    accepted: bool,
    samples: Vec<KernelSample>,
}

impl Sampler {
    fn start(
        epoch: std::time::Instant,
        kernel_addr: SocketAddr,
        synack_addr: SocketAddr,
    ) -> Sampler {
        let shared = Arc::new(Mutex::new(Shared {
            kernel_addr,
            synack_addr,
            accepted: false,
            samples: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (shared.clone(), stop.clone());
        // Spawned from the lab thread, so it reads the lab's namespace.
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let (k, s) = match sh.lock() {
                    Ok(g) => (g.kernel_addr, g.synack_addr),
                    Err(_) => return,
                };
                let state = kernel::state_of(k, s);
                // Known as of the end of the read, which takes milliseconds.
                let at = Instant::from_nanos(epoch.elapsed().as_nanos() as u64);
                let Ok(mut g) = sh.lock() else { return };
                let state = match state {
                    Some(x) => x.to_string(),
                    None if g.samples.is_empty() => continue,
                    None => "CLOSED".to_string(),
                };
                let accepted = g.accepted;
                if !g
                    .samples
                    .last()
                    .is_some_and(|x| x.state == state && x.accepted == accepted)
                {
                    g.samples.push(KernelSample {
                        at,
                        state,
                        accepted,
                    });
                }
            }
        });
        Sampler {
            shared,
            stop,
            thread: Some(thread),
        }
    }

    fn latest(&self) -> Option<String> {
        self.shared
            .lock()
            .ok()?
            .samples
            .last()
            .map(|k| k.state.clone())
    }

    fn with(&self, f: impl FnOnce(&mut Shared)) {
        if let Ok(mut g) = self.shared.lock() {
            f(&mut g);
        }
    }

    fn finish(mut self) -> Vec<KernelSample> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.shared
            .lock()
            .map(|g| g.samples.clone())
            .unwrap_or_default()
    }
}

struct Run {
    d: Driver,
    kernel_side: Side,
    kernel_addr: SocketAddr,
    synack_addr: SocketAddr,
    sampler: Sampler,
}

impl Run {
    /// Turn the driver until `done` or `secs` pass.
    fn until(
        &mut self,
        secs: u64,
        mut done: impl FnMut(&mut Run) -> bool,
    ) -> Result<bool, NetError> {
        let end = self.d.elapsed() + Duration::from_secs(secs);
        loop {
            if done(self) {
                return Ok(true);
            }
            if self.d.elapsed() >= end {
                return Ok(false);
            }
            self.d.turn(Duration::from_millis(2))?;
        }
    }

    fn kernel_state(&self) -> Option<String> {
        self.sampler.latest()
    }

    /// Let the sampler see the current state once more.
    fn settle(&mut self) -> Result<(), NetError> {
        self.until(0, |_| false).map(|_| ())?;
        let t = self.d.elapsed() + Duration::from_millis(40);
        while self.d.elapsed() < t {
            self.d.turn(Duration::from_millis(5))?;
        }
        Ok(())
    }
}

fn io(e: std::io::Error) -> NetError {
    NetError::Command(format!("kernel socket: {e}"))
}

fn run(o: &Options) -> Result<Trace, NetError> {
    let lab = Lab::create()?;
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let mut cfg = match o.profile {
        Profile::Rfc => Config::rfc(),
        Profile::Linux => Config::linux(),
    }
    .with_secrets(*b"synack-client-ky", 1);
    let kernel_client = o.scenario == Scenario::Filtered;
    // --isn applies to synack's side; the kernel picks its own.
    let ours = if kernel_client {
        o.server_isn
    } else {
        o.client_isn
    };
    if let Some(n) = ours {
        cfg.isn = IsnMode::Fixed(n);
    }
    let synack_ip = Lab::synack_addr(false);
    let kernel_ip = Lab::kernel_addr(false);
    let d = Driver::new(lab.tun, Endpoint::new(cfg));
    let kernel_addr = SocketAddr::new(
        kernel_ip,
        if o.scenario == Scenario::Refused {
            81
        } else {
            80
        },
    );
    let synack_addr = SocketAddr::new(synack_ip, if kernel_client { 80 } else { 40000 });
    let sampler = Sampler::start(d.epoch(), kernel_addr, synack_addr);
    let mut r = Run {
        d,
        kernel_side: if kernel_client { Side::A } else { Side::B },
        kernel_addr,
        synack_addr,
        sampler,
    };
    if kernel_client {
        filtered(&mut r)?;
    } else {
        synack_client(&mut r, o.scenario)?;
    }
    Ok(trace(r, o, release))
}

/// The kernel connects to synack, whose replies never reach it: the
/// kernel's own SYN schedule with `tcp_syn_retries=2`, then ETIMEDOUT.
fn filtered(r: &mut Run) -> Result<(), NetError> {
    lab::sysctl("net/ipv4/tcp_syn_retries", "2")?;
    r.d.ep
        .listen(r.synack_addr)
        .map_err(|e| NetError::Command(e.to_string()))?;
    r.d.faults.push(Fault::DropAll { dir: Dir::ToKernel });
    let to = r.synack_addr;
    // Bind first so the kernel's port is known for sampling.
    let client = std::thread::spawn(move || {
        TcpStream::connect_timeout(&to, Duration::from_secs(30)).map(|_| ())
    });
    // Learn the kernel's port from its first SYN.
    r.until(3, |r| r.d.ep.connections().next().is_some())?;
    if let Some(c) = r.d.ep.connections().next() {
        let k = c.tuple().remote;
        r.kernel_addr = k;
        r.sampler.with(|g| g.kernel_addr = k);
    }
    r.until(20, |_| client.is_finished())?;
    r.settle()?;
    let _ = client.join();
    Ok(())
}

fn synack_client(r: &mut Run, s: Scenario) -> Result<(), NetError> {
    let listener = if s == Scenario::Refused {
        None
    } else {
        let l = TcpListener::bind(r.kernel_addr).map_err(io)?;
        l.set_nonblocking(true).map_err(io)?;
        Some(l)
    };
    r.d.faults = match s {
        Scenario::SynLost => vec![Fault::DropNth {
            dir: Dir::ToKernel,
            n: 1,
        }],
        Scenario::SynAckLost => vec![Fault::DropNth {
            dir: Dir::FromKernel,
            n: 1,
        }],
        Scenario::AckLost => vec![Fault::DropNth {
            dir: Dir::ToKernel,
            n: 2,
        }],
        _ => vec![],
    };
    let now = r.d.now();
    let h =
        r.d.ep
            .connect(now, r.synack_addr, r.kernel_addr)
            .map_err(|e| NetError::Command(e.to_string()))?;
    let Some(listener) = listener else {
        r.until(5, |r| r.d.has_event(Event::Refused))?;
        r.settle()?;
        return Ok(());
    };
    r.until(5, |r| r.d.has_event(Event::Connected))?;
    if s == Scenario::AckLost {
        let now = r.d.now();
        r.d.ep
            .send(now, h, REQUEST)
            .map_err(|e| NetError::Command(e.to_string()))?;
    }
    // ESTABLISHED in the kernel's accept queue, before accept().
    r.until(5, |r| r.kernel_state().as_deref() == Some("ESTABLISHED"))?;
    let (mut stream, _) = accept(r, &listener)?;
    r.sampler.with(|g| g.accepted = true);
    r.settle()?;
    match s {
        Scenario::Data | Scenario::AckLost => {
            if s == Scenario::Data {
                let now = r.d.now();
                r.d.ep
                    .send(now, h, REQUEST)
                    .map_err(|e| NetError::Command(e.to_string()))?;
            }
            stream.set_nonblocking(true).map_err(io)?;
            let mut got = Vec::new();
            r.until(5, |_| {
                let mut b = [0u8; 256];
                if let Ok(n) = stream.read(&mut b) {
                    got.extend_from_slice(&b[..n]);
                }
                got.len() >= REQUEST.len()
            })?;
            stream.write_all(RESPONSE).map_err(io)?;
            r.until(5, |r| r.d.has_event(Event::Readable))?;
            r.settle()?;
        }
        Scenario::Close => {
            let now = r.d.now();
            r.d.ep
                .close(now, h)
                .map_err(|e| NetError::Command(e.to_string()))?;
            r.until(5, |r| r.kernel_state().as_deref() == Some("CLOSE_WAIT"))?;
            drop(stream);
            r.until(5, |r| {
                r.kernel_state().as_deref() == Some("CLOSED")
                    && r.d
                        .ep
                        .connection(h)
                        .is_some_and(|c| c.state() == State::TimeWait)
            })?;
        }
        _ => {}
    }
    Ok(())
}

fn accept(r: &mut Run, l: &TcpListener) -> Result<(TcpStream, SocketAddr), NetError> {
    let mut got = None;
    r.until(5, |_| {
        got = l.accept().ok();
        got.is_some()
    })?;
    let (s, a) =
        got.ok_or_else(|| NetError::Command("the kernel never completed accept()".into()))?;
    s.set_nonblocking(false).map_err(io)?;
    Ok((s, a))
}

fn trace(r: Run, o: &Options, release: String) -> Trace {
    let samples = r.sampler.finish();
    let k = r.kernel_side;
    let (client, server) = match k {
        Side::B => (r.synack_addr, r.kernel_addr),
        Side::A => (r.kernel_addr, r.synack_addr),
    };
    let fixed_ours = if k == Side::A {
        o.server_isn
    } else {
        o.client_isn
    }
    .is_some();
    let peer = Peer::Linux {
        kernel_side: k,
        release,
    };
    build_trace(
        &r.d,
        k,
        (client, server),
        peer,
        samples,
        (o.scenario, o.profile),
        fixed_ours,
    )
}

/// A trace from a driver run: synack's steps, the peer's segments from the
/// device log, the peer's states if sampled.
pub(crate) fn build_trace(
    d: &Driver,
    peer_side: Side,
    (client, server): (SocketAddr, SocketAddr),
    peer: Peer,
    samples: Vec<KernelSample>,
    (scenario, profile): (Scenario, Profile),
    fixed_ours: bool,
) -> Trace {
    let k = peer_side;
    let us = k.other();
    let at = |d: Duration| Instant::from_nanos(d.as_nanos() as u64);
    let mut counts = [0usize; 2];
    let link: Vec<LinkRecord> = d
        .log
        .iter()
        .map(|c| {
            let from = if c.dir == Dir::ToKernel { us } else { k };
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
    let syn_seq = |side: Side| {
        link.iter()
            .filter(|l| l.from == side)
            .filter_map(|l| synack_wire::parse_segment(&l.bytes, false).ok())
            .find(|p| p.tcp.flags.syn())
            .map(|p| p.tcp.seq.get())
    };
    let (client_isn, server_isn) = (syn_seq(Side::A).unwrap_or(0), syn_seq(Side::B));
    Trace {
        scenario,
        profile,
        peer,
        kernel_states: samples,
        started_at: std::time::SystemTime::now() - d.epoch().elapsed(),
        client,
        server,
        delay: Duration::ZERO,
        steps: d.steps.iter().map(|s| (us, *s)).collect(),
        events: d
            .events
            .iter()
            .map(|(t, h, e)| SideEvent {
                at: at(*t),
                side: us,
                conn: *h,
                event: *e,
            })
            .collect(),
        end: at(d.elapsed()),
        link,
        client_isn,
        server_isn,
        isn_fixed: if k == Side::B {
            [fixed_ours, false]
        } else {
            [false, fixed_ours]
        },
        request: REQUEST,
        response: RESPONSE,
    }
}
