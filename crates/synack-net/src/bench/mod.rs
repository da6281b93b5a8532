//! `synack bench live`: full handshakes per second between synack over TUN
//! and a kernel listener (SYN, SYN-ACK, ACK, accept(), RST), next to the
//! smallest hand-written TUN loop doing the same (`raw_tun.rs`) and the
//! kernel's own loopback connect/accept rate, in the same namespace; then
//! both loops on two TUN queues with a thread each (`queues.rs`).

mod queues;
mod raw_tun;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use synack_engine::{Config, Endpoint, Event};

use crate::{Driver, Lab, NetError, linger_zero};

#[derive(Debug, Clone, Copy)]
pub struct LiveResult {
    pub handshakes: usize,
    pub synack_per_s: f64,
    /// The raw TUN loop's rate: what the kernel and the system calls allow.
    pub raw_tun_per_s: f64,
    pub kernel_loopback_per_s: f64,
    /// The same two loops over a device with two queues.
    pub queues: Scaling,
}

pub use queues::Scaling;

/// synack and the raw loop take turns this many times; the best of each
/// counts (the machine is shared).
const ROUNDS: usize = 3;

/// Run both measurements, `count` handshakes each, in a lab of its own.
pub fn live(
    count: usize,
    pcap: Option<std::path::PathBuf>,
    progress: &mut dyn FnMut(&str),
) -> Result<LiveResult, NetError> {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let worker = std::thread::spawn(move || -> Result<LiveResult, NetError> {
        let lab = Lab::create()?;
        let mq = queues::Device::create()?;
        let _ = tx.send("kernel loopback…".into());
        let kernel = loopback(count)?;
        let (mut synack, mut raw) = (0f64, 0f64);
        for round in 1..=ROUNDS {
            let _ = tx.send(format!("raw TUN loop, round {round} of {ROUNDS}…"));
            raw = raw.max(raw_run(&lab, count)?);
            let _ = tx.send(format!("synack over TUN, round {round} of {ROUNDS}…"));
            let tun = &lab.tun;
            // Only the first round writes the pcap: one capture of one run.
            let pcap = pcap.as_deref().filter(|_| round == 1);
            let listener = bench_listener(Lab::kernel_addr(false), 80)?;
            let local = Lab::synack_addr(false);
            synack = synack.max(over_tun(tun, &listener, local, count, pcap)?);
        }
        let queues = mq.measure(count, ROUNDS, &mut |m| {
            let _ = tx.send(m.to_string());
        })?;
        Ok(LiveResult {
            handshakes: count,
            synack_per_s: synack,
            raw_tun_per_s: raw,
            kernel_loopback_per_s: kernel,
            queues,
        })
    });
    for msg in rx {
        progress(&msg);
    }
    worker
        .join()
        .map_err(|_| NetError::Command("benchmark thread panicked".into()))?
}

fn io(e: std::io::Error) -> NetError {
    NetError::Command(format!("socket: {e}"))
}

/// One thread: connect (completes at once on loopback), accept, close both
/// with a RST (SO_LINGER 0): the same four segments as the TUN run.
fn loopback(count: usize) -> Result<f64, NetError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let start = Instant::now();
    for _ in 0..count {
        let c = TcpStream::connect(addr).map_err(io)?;
        let (s, _) = listener.accept().map_err(io)?;
        linger_zero(&c).map_err(io)?;
        drop(c);
        drop(s);
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// The raw loop against a listener of its own on the same port.
fn raw_run(lab: &Lab, count: usize) -> Result<f64, NetError> {
    let listener = bench_listener(Lab::kernel_addr(false), 80)?;
    raw_tun::run(
        &lab.tun,
        &listener,
        Lab::synack_addr(false),
        (Lab::kernel_addr(false), 80),
        count,
    )
}

/// Whether the 5 s a handshake may take are over, counted from the first
/// call that found it not done.
fn past(deadline: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    now > *deadline.get_or_insert(now + Duration::from_secs(5))
}

fn bench_listener(ip: std::net::IpAddr, port: u16) -> Result<TcpListener, NetError> {
    let listener = TcpListener::bind((ip, port)).map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    Ok(listener)
}

/// `count` handshakes from synack at `local` (ports 1024 up) on `tun` to
/// the kernel's `listener`: handshakes per second.
fn over_tun(
    tun: &std::os::fd::OwnedFd,
    listener: &TcpListener,
    local: std::net::IpAddr,
    count: usize,
    pcap: Option<&std::path::Path>,
) -> Result<f64, NetError> {
    let server = listener.local_addr().map_err(io)?;
    let mut cfg = Config::linux().with_secrets(*b"synack bench key", 3);
    cfg.record_steps = false;
    let mut d = Driver::new(tun.try_clone().map_err(NetError::Tun)?, Endpoint::new(cfg));
    d.keep = false;
    if let Some(p) = pcap {
        d.pcap_to(p)?;
    }
    let start = Instant::now();
    for i in 0..count {
        let local = SocketAddr::new(local, 1024 + (i % 64000) as u16);
        let h =
            d.ep.connect(d.now(), local, server)
                .map_err(|e| NetError::Command(e.to_string()))?;
        let mut connected = false;
        let mut accepted = None;
        // The clock is read only when a turn was not enough, as the raw
        // loop reads it only when a read finds nothing.
        let mut deadline = None;
        loop {
            d.turn(Duration::ZERO)?;
            while let Some((_, e)) = d.ep.poll_event() {
                connected |= e == Event::Connected;
            }
            if accepted.is_none() {
                match listener.accept() {
                    Ok((s, _)) => accepted = Some(s),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => return Err(io(e)),
                }
            }
            if connected && accepted.is_some() {
                break;
            }
            if past(&mut deadline) {
                return Err(NetError::Command(format!("handshake {i} did not complete")));
            }
        }
        d.ep.abort(d.now(), h)
            .map_err(|e| NetError::Command(e.to_string()))?;
        // The RST goes out; nothing comes back to read.
        d.flush()?;
        drop(accepted);
    }
    d.flush_pcap()?;
    Ok(count as f64 / start.elapsed().as_secs_f64())
}
