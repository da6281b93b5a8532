//! The driver: reads IP packets from the TUN device into the engine, writes
//! what the engine transmits, sleeps until the next packet or timer. Loss is
//! injected here (the lab has no netem): the Nth TCP segment one way, or all.

use std::fs::File;
use std::io::BufWriter;
use std::os::fd::OwnedFd;
use std::time::{Duration, SystemTime};

use synack_engine::{ConnHandle, Endpoint, Event, Instant, MAX_PACKET, Step};
use synack_wire::{TcpPacket, parse_ip};

use crate::NetError;
use crate::pcap::PcapWriter;
use crate::sys;

/// Direction on the TUN link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From synack to the kernel.
    ToKernel,
    /// From the kernel to synack.
    FromKernel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Drop the `n`th TCP segment (1-based) in `dir`.
    DropNth { dir: Dir, n: usize },
    /// Drop every TCP segment in `dir`.
    DropAll { dir: Dir },
    /// Drop what the kernel sends to this address (a spoofed source that
    /// does not exist), without counting it in `dir`.
    Blackhole(std::net::IpAddr),
}

/// One TCP segment that crossed (or was dropped on) the TUN link.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Since the driver started.
    pub at: Duration,
    pub dir: Dir,
    pub dropped: bool,
    pub bytes: Vec<u8>,
}

impl Captured {
    /// The TCP flag bits, for quick filtering in tests and reports.
    pub fn flags(&self) -> Option<synack_wire::TcpFlags> {
        let ip = parse_ip(&self.bytes, false).ok()?;
        Some(TcpPacket::new_checked(ip.tcp).ok()?.flags())
    }
}

pub struct Driver {
    tun: OwnedFd,
    pub ep: Endpoint,
    start: std::time::Instant,
    pub faults: Vec<Fault>,
    counts: [usize; 2],
    pub log: Vec<Captured>,
    pub events: Vec<(Duration, ConnHandle, Event)>,
    pub steps: Vec<Step>,
    pcap: Option<PcapWriter<BufWriter<File>>>,
    buf: Vec<u8>,
    /// Where the engine writes each segment it sends.
    out: Vec<u8>,
    /// Keep `log`, `events` and `steps` (off for benchmarks).
    pub keep: bool,
    /// Looks at the kernel's sockets after every frame (explain runs).
    pub observer: Option<crate::observe::Observer>,
}

impl Driver {
    pub fn new(tun: OwnedFd, ep: Endpoint) -> Driver {
        Driver {
            tun,
            ep,
            start: std::time::Instant::now(),
            faults: Vec::new(),
            counts: [0, 0],
            log: Vec::new(),
            events: Vec::new(),
            steps: Vec::new(),
            pcap: None,
            buf: vec![0; 65536],
            out: vec![0; MAX_PACKET],
            keep: true,
            observer: None,
        }
    }

    /// Write every packet, both ways, to a pcap file.
    pub fn pcap_to(&mut self, path: &std::path::Path) -> Result<(), NetError> {
        let f = File::create(path).map_err(|e| NetError::Pcap(path.display().to_string(), e))?;
        let w = PcapWriter::new(BufWriter::new(f))
            .map_err(|e| NetError::Pcap(path.display().to_string(), e))?;
        self.pcap = Some(w);
        Ok(())
    }

    /// The engine's clock: time since the driver started.
    pub fn now(&self) -> Instant {
        Instant::from_nanos(self.start.elapsed().as_nanos() as u64)
    }

    /// The moment the driver's clock counts from.
    pub fn epoch(&self) -> std::time::Instant {
        self.start
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn fate(&mut self, dir: Dir) -> bool {
        let i = usize::from(dir == Dir::FromKernel);
        self.counts[i] += 1;
        let n = self.counts[i];
        self.faults.iter().any(|f| match *f {
            Fault::DropNth { dir: d, n: k } => d == dir && k == n,
            Fault::DropAll { dir: d } => d == dir,
            Fault::Blackhole(_) => false,
        })
    }

    fn record(&mut self, dir: Dir, dropped: bool, bytes: &[u8]) -> Result<(), NetError> {
        if let Some(p) = &mut self.pcap {
            p.write(SystemTime::now(), bytes)
                .map_err(|e| NetError::Pcap("capture".into(), e))?;
        }
        if !self.keep {
            return Ok(());
        }
        self.log.push(Captured {
            at: self.start.elapsed(),
            dir,
            dropped,
            bytes: bytes.to_vec(),
        });
        Ok(())
    }

    /// Write a packet the engine did not make (an old duplicate, a forged
    /// RST) to the kernel; it is logged like the engine's.
    pub fn inject(&mut self, pkt: &[u8]) -> Result<(), NetError> {
        self.record(Dir::ToKernel, false, pkt)?;
        sys::write(&self.tun, pkt).map_err(NetError::Tun)?;
        self.look_after_frame();
        Ok(())
    }

    /// What the kernel's sockets are right after the frame just logged.
    fn look_after_frame(&mut self) {
        // No clock read without an observer: this runs for every frame.
        if self.observer.is_none() {
            return;
        }
        let frame = self.log.len().saturating_sub(1);
        let now = self.now();
        if let Some(o) = &mut self.observer {
            o.look(now, synack_trace::ObsCause::Frame(frame));
        }
    }

    /// Look at the kernel's sockets after the application's `call`.
    pub fn after_call(&mut self, call: &'static str) {
        let now = self.now();
        if let Some(o) = &mut self.observer {
            o.look(now, synack_trace::ObsCause::Call(call));
        }
    }

    /// Write everything the engine has queued.
    pub fn flush(&mut self) -> Result<(), NetError> {
        // The clock is read per segment (each is stamped when it leaves),
        // and not at all when nothing is queued.
        while self.ep.has_transmit() {
            let now = self.now();
            // The buffer is lent out while the segment is sent: no copy, and
            // no fresh buffer to clear for each one.
            let mut out = std::mem::take(&mut self.out);
            let sent = match self.ep.poll_transmit(now, &mut out) {
                Ok(Some(t)) => self.send(out.get(..t.len).unwrap_or(&[])).map(|()| true),
                Ok(None) => Ok(false),
                Err(e) => Err(NetError::Emit(e)),
            };
            self.out = out;
            if !sent? {
                break;
            }
        }
        Ok(())
    }

    /// One segment of the engine's to the kernel, unless a fault drops it.
    fn send(&mut self, pkt: &[u8]) -> Result<(), NetError> {
        let drop = self.fate(Dir::ToKernel);
        self.record(Dir::ToKernel, drop, pkt)?;
        if !drop {
            sys::write(&self.tun, pkt).map_err(NetError::Tun)?;
            self.look_after_frame();
        }
        Ok(())
    }

    /// One round: send what the engine queued, wait up to `max_wait` for a
    /// packet or the engine's next timer, feed what arrived, run timers.
    pub fn turn(&mut self, max_wait: Duration) -> Result<(), NetError> {
        self.flush()?;
        let mut wait = max_wait;
        if !wait.is_zero()
            && let Some(at) = self.ep.poll_timeout()
        {
            wait = wait.min(at.since(self.now()));
        }
        // The kernel answers inside our write(), so a reply is often already
        // waiting: read first, and poll only when nothing is there.
        if self.drain_device()? == 0 && !wait.is_zero() {
            let ms = wait.as_millis().min(i32::MAX as u128) as i32;
            if sys::wait_readable(&self.tun, ms).map_err(NetError::Tun)? {
                self.drain_device()?;
            }
        }
        let now = self.now();
        if let Some(o) = &mut self.observer {
            o.look(now, synack_trace::ObsCause::Poll { since: now });
        }
        self.ep.handle_timeout(now);
        // Answers go out at once, not on the next turn.
        self.flush()?;
        if !self.keep {
            return Ok(());
        }
        while let Some((h, e)) = self.ep.poll_event() {
            self.events.push((self.start.elapsed(), h, e));
        }
        while let Some(s) = self.ep.poll_step() {
            self.steps.push(s);
        }
        Ok(())
    }

    /// Read and handle every packet waiting on the device; returns how many.
    fn drain_device(&mut self) -> Result<usize, NetError> {
        let mut n_read = 0;
        while let Some(n) = sys::read(&self.tun, &mut self.buf).map_err(NetError::Tun)? {
            n_read += 1;
            // The buffer is lent out while the packet is handled: no copy.
            let buf = std::mem::take(&mut self.buf);
            let handled = self.take_packet(buf.get(..n).unwrap_or(&[]));
            self.buf = buf;
            handled?;
        }
        Ok(n_read)
    }

    /// One packet from the device: logged, dropped by a fault, or handled.
    fn take_packet(&mut self, pkt: &[u8]) -> Result<(), NetError> {
        // The kernel also sends IPv6 housekeeping (MLD, ND): only TCP,
        // and ICMP errors about TCP segments, reach the engine.
        let Ok(ip) = parse_ip(pkt, false) else {
            if synack_wire::parse_icmp(pkt, false).is_ok() {
                self.record(Dir::FromKernel, false, pkt)?;
                self.look_after_frame();
                let now = self.now();
                let _ = self.ep.handle(now, pkt);
            }
            return Ok(());
        };
        let dst = ip.ip.dst;
        if self.faults.contains(&Fault::Blackhole(dst)) {
            self.record(Dir::FromKernel, true, pkt)?;
            self.look_after_frame();
            return Ok(());
        }
        let drop = self.fate(Dir::FromKernel);
        self.record(Dir::FromKernel, drop, pkt)?;
        self.look_after_frame();
        if !drop {
            let now = self.now();
            // Malformed input is the engine's to record.
            let _ = self.ep.handle(now, pkt);
        }
        Ok(())
    }

    /// Turn until `done` holds or `timeout` passes; returns whether it held.
    pub fn run_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Driver) -> bool,
    ) -> Result<bool, NetError> {
        let end = self.start.elapsed() + timeout;
        loop {
            if done(self) {
                return Ok(true);
            }
            let left = end.saturating_sub(self.start.elapsed());
            if left.is_zero() {
                return Ok(done(self));
            }
            self.turn(left.min(Duration::from_millis(20)))?;
        }
    }

    pub fn has_event(&self, ev: Event) -> bool {
        self.events.iter().any(|(_, _, e)| *e == ev)
    }

    pub fn event_time(&self, ev: Event) -> Option<Duration> {
        self.events
            .iter()
            .find(|(_, _, e)| *e == ev)
            .map(|(t, _, _)| *t)
    }

    pub fn flush_pcap(&mut self) -> Result<(), NetError> {
        match &mut self.pcap {
            Some(p) => p.flush().map_err(|e| NetError::Pcap("capture".into(), e)),
            None => Ok(()),
        }
    }
}
