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

/// Whether `scenario` has a run against the kernel here.
pub fn supports(scenario: Scenario) -> bool {
    scenario.is_textbook() || crate::peer_more::supports(scenario)
}

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
pub(crate) struct Sampler {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub(crate) struct Shared {
    pub(crate) kernel_addr: SocketAddr,
    pub(crate) synack_addr: SocketAddr,
    pub(crate) accepted: bool,
    samples: Vec<KernelSample>,
    /// Completed reads of /proc.
    reads: u64,
}

impl Sampler {
    pub(crate) fn start(
        epoch: std::time::Instant,
        kernel_addr: SocketAddr,
        synack_addr: SocketAddr,
    ) -> Sampler {
        let shared = Arc::new(Mutex::new(Shared {
            kernel_addr,
            synack_addr,
            accepted: false,
            samples: Vec::new(),
            reads: 0,
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
                g.reads += 1;
                // The addresses may have changed during the read.
                if (g.kernel_addr, g.synack_addr) != (k, s) {
                    continue;
                }
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

    fn reads(&self) -> u64 {
        self.shared.lock().map(|g| g.reads).unwrap_or(u64::MAX)
    }

    fn latest(&self) -> Option<String> {
        self.shared
            .lock()
            .ok()?
            .samples
            .last()
            .map(|k| k.state.clone())
    }

    pub(crate) fn with(&self, f: impl FnOnce(&mut Shared)) {
        if let Ok(mut g) = self.shared.lock() {
            f(&mut g);
        }
    }

    pub(crate) fn finish(mut self) -> Vec<KernelSample> {
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

    /// Let the sampler finish a read that began after this call (so the
    /// final state is seen), turning the driver meanwhile; at most 2 s.
    fn settle(&mut self) -> Result<(), NetError> {
        let start = self.sampler.reads();
        let end = self.d.elapsed() + Duration::from_secs(2);
        while self.sampler.reads() < start.saturating_add(2) && self.d.elapsed() < end {
            self.d.turn(Duration::from_millis(5))?;
        }
        Ok(())
    }
}

/// The scenario's lost segment, as a fault on the TUN device: whoever plays
/// the sending role, the kernel or synack.
fn loss(s: Scenario, kernel_side: Side) -> Vec<Fault> {
    s.lost_segment()
        .map(|(from, n)| Fault::DropNth {
            dir: if from == kernel_side {
                Dir::FromKernel
            } else {
                Dir::ToKernel
            },
            n,
        })
        .into_iter()
        .collect()
}

pub(crate) fn io(e: std::io::Error) -> NetError {
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
    if !o.scenario.is_textbook() {
        return crate::peer_more::run(o, lab, release);
    }
    let kernel_client = o.scenario == Scenario::Filtered || o.synack_side == Side::B;
    // --isn applies to synack's side; the kernel picks its own.
    let ours = if kernel_client {
        o.server_isn
    } else {
        o.client_isn
    };
    if let Some(n) = ours {
        cfg.isn = IsnMode::Fixed(n);
    }
    let v6 = o.client.is_ipv6();
    let synack_ip = Lab::synack_addr(v6);
    let kernel_ip = Lab::kernel_addr(v6);
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
    let mut open_stream = None;
    if o.scenario == Scenario::Filtered {
        filtered(&mut r)?;
    } else if kernel_client {
        kernel_client_run(&mut r, o)?;
    } else {
        open_stream = synack_client(&mut r, o.scenario, o.closer)?;
    }
    let t = trace(r, o, release);
    drop(open_stream);
    Ok(t)
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

/// The kernel connects to synack's listener (`--role server`).
fn kernel_client_run(r: &mut Run, o: &Options) -> Result<(), NetError> {
    let s = o.scenario;
    r.d.ep
        .listen(r.synack_addr)
        .map_err(|e| NetError::Command(e.to_string()))?;
    r.d.faults = loss(s, r.kernel_side);
    let target = if s == Scenario::Refused {
        SocketAddr::new(r.synack_addr.ip(), 81)
    } else {
        r.synack_addr
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let kernel_first = o.closer == Side::A;
    // The kernel's application, in a thread of the lab's namespace.
    let client = std::thread::spawn(move || -> std::io::Result<()> {
        let mut c = TcpStream::connect_timeout(&target, Duration::from_secs(10))?;
        c.set_read_timeout(Some(Duration::from_secs(10)))?;
        // Act only once the kernel's ESTABLISHED has been observed: a
        // connection that lives 2 ms is invisible to a /proc read.
        let _ = done_rx.recv_timeout(Duration::from_secs(5));
        match s {
            Scenario::Data | Scenario::AckLost => {
                c.write_all(REQUEST)?;
                let mut b = vec![0u8; RESPONSE.len()];
                c.read_exact(&mut b)?;
            }
            Scenario::Close if kernel_first => {}
            Scenario::Close => {
                let mut rest = Vec::new();
                c.read_to_end(&mut rest)?;
            }
            _ => {}
        }
        drop(c);
        Ok(())
    });
    if s == Scenario::Refused {
        r.synack_addr = target;
        r.sampler.with(|g| g.synack_addr = target);
    }
    // Learn the kernel's port from its SYN.
    r.until(5, |r| r.d.log.iter().any(|c| c.dir == Dir::FromKernel))?;
    if let Some(k) =
        r.d.log
            .iter()
            .find(|c| c.dir == Dir::FromKernel)
            .and_then(|c| synack_wire::parse_segment(&c.bytes, false).ok())
            .map(|p| SocketAddr::new(p.ip.src, p.tcp.src_port))
    {
        r.kernel_addr = k;
        r.sampler.with(|g| g.kernel_addr = k);
    }
    if s == Scenario::Refused {
        r.until(5, |_| client.is_finished())?;
    } else {
        r.until(5, |r| r.d.has_event(Event::Accepted))?;
        r.until(2, |r| r.kernel_state().as_deref() == Some("ESTABLISHED"))?;
        let _ = done_tx.send(());
        let h =
            r.d.events
                .iter()
                .find(|e| e.2 == Event::Accepted)
                .map(|e| e.1);
        match (s, h) {
            (Scenario::Data | Scenario::AckLost, Some(h)) => {
                r.until(5, |r| {
                    r.d.ep
                        .connection(h)
                        .is_some_and(|c| c.readable() >= REQUEST.len())
                })?;
                let mut b = [0u8; 256];
                let _ = r.d.ep.recv(h, &mut b);
                let now = r.d.now();
                let _ = r.d.ep.send(now, h, RESPONSE);
                r.until(5, |_| client.is_finished())?;
            }
            (Scenario::Close, Some(h)) => {
                if !kernel_first {
                    let now = r.d.now();
                    r.d.ep
                        .close(now, h)
                        .map_err(|e| NetError::Command(e.to_string()))?;
                }
                r.until(5, |r| r.d.has_event(Event::PeerClosed))?;
                if kernel_first {
                    let now = r.d.now();
                    r.d.ep
                        .close(now, h)
                        .map_err(|e| NetError::Command(e.to_string()))?;
                    r.until(5, |r| r.d.has_event(Event::Closed))?;
                } else {
                    r.until(5, |r| {
                        r.d.ep
                            .connection(h)
                            .is_some_and(|c| c.state() == State::TimeWait)
                    })?;
                }
            }
            _ => {
                r.until(5, |_| client.is_finished())?;
            }
        }
    }
    r.settle()?;
    let _ = client.join();
    Ok(())
}

/// Returns the kernel's accepted socket when it is still open, so that it
/// outlives the sampling (closing it would show states the scenario never had).
fn synack_client(r: &mut Run, s: Scenario, closer: Side) -> Result<Option<TcpStream>, NetError> {
    let listener = if s == Scenario::Refused {
        None
    } else {
        let l = TcpListener::bind(r.kernel_addr).map_err(io)?;
        l.set_nonblocking(true).map_err(io)?;
        Some(l)
    };
    r.d.faults = loss(s, r.kernel_side);
    let now = r.d.now();
    let h =
        r.d.ep
            .connect(now, r.synack_addr, r.kernel_addr)
            .map_err(|e| NetError::Command(e.to_string()))?;
    let Some(listener) = listener else {
        r.until(5, |r| r.d.has_event(Event::Refused))?;
        r.settle()?;
        return Ok(None);
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
            return Ok(Some(stream));
        }
        Scenario::Close if closer == Side::B => {
            // The kernel closes first, so the kernel holds TIME_WAIT.
            drop(stream);
            r.until(5, |r| r.d.has_event(Event::PeerClosed))?;
            let now = r.d.now();
            r.d.ep
                .close(now, h)
                .map_err(|e| NetError::Command(e.to_string()))?;
            r.until(5, |r| {
                r.d.has_event(Event::Closed) && r.kernel_state().as_deref() == Some("TIME_WAIT")
            })?;
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
        _ => return Ok(Some(stream)),
    }
    Ok(None)
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
    let mut t = build_trace(
        &r.d,
        k,
        (client, server),
        peer,
        samples,
        (o.scenario, o.profile),
        fixed_ours,
    );
    t.closer = o.closer;
    t
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
    // Distinct address pairs on the link.
    let connections = {
        let mut pairs: Vec<(SocketAddr, SocketAddr)> = link
            .iter()
            .filter_map(|l| synack_wire::parse_segment(&l.bytes, false).ok())
            .map(|p| {
                let a = SocketAddr::new(p.ip.src, p.tcp.src_port);
                let b = SocketAddr::new(p.ip.dst, p.tcp.dst_port);
                if a <= b { (a, b) } else { (b, a) }
            })
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs.len().max(1)
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
        closer: Side::A,
        isn_fixed: if k == Side::B {
            [fixed_ours, false]
        } else {
            [false, fixed_ours]
        },
        request: REQUEST,
        response: RESPONSE,
        connections,
    }
}
