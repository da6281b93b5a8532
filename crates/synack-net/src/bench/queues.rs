//! The live benchmark on two cores: a TUN device with two queues
//! (`IFF_MULTI_QUEUE`), one thread per queue, each with its own engine (or
//! raw loop) and its own kernel listener. The listener's port picks the
//! queue the kernel writes its replies to (`sys::steer_by_source_port`):
//! port 80 queue 0, port 81 queue 1. Both threads start together; the rate
//! is every handshake of both over the time the slower one took. The same
//! device with one thread on queue 0 is the one-thread figure it is
//! compared with.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::OwnedFd;
use std::sync::Barrier;
use std::time::Instant;

use super::{bench_listener, over_tun, raw_tun};
use crate::{NetError, lab, sys};

const DEVICE: &str = "synackmq0";
const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const SYNACK: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);
/// Listener ports, one per queue: a port modulo 2 is its queue.
const PORTS: [u16; 2] = [80, 81];

/// Handshakes per second over the two-queue device.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scaling {
    /// synack, one thread on one queue.
    pub synack_one: f64,
    /// synack, a thread on each queue.
    pub synack_two: f64,
    /// The raw TUN loop, one thread on one queue.
    pub raw_one: f64,
    /// The raw TUN loop, a thread on each queue.
    pub raw_two: f64,
}

/// The two-queue device in the lab's namespace (made on the calling thread,
/// which must be in it).
pub(super) struct Device {
    queues: [OwnedFd; 2],
}

/// Which loop a thread runs.
#[derive(Clone, Copy)]
enum Peer {
    Synack,
    Raw,
}

impl Device {
    pub fn create() -> Result<Device, NetError> {
        let q0 = sys::open_tun_queue(DEVICE).map_err(NetError::Tun)?;
        let q1 = sys::open_tun_queue(DEVICE).map_err(NetError::Tun)?;
        sys::steer_by_source_port(&q0).map_err(NetError::Tun)?;
        let _ = lab::sysctl(&format!("net/ipv6/conf/{DEVICE}/router_solicitations"), "0");
        let _ = lab::sysctl(&format!("net/ipv6/conf/{DEVICE}/disable_ipv6"), "1");
        lab::run_ip(&["addr", "add", &format!("{KERNEL}/24"), "dev", DEVICE])?;
        lab::run_ip(&["link", "set", DEVICE, "up"])?;
        Ok(Device { queues: [q0, q1] })
    }

    /// One and two threads, synack and the raw loop, `rounds` times in
    /// turns; the best of each counts.
    pub fn measure(
        &self,
        count: usize,
        rounds: usize,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Scaling, NetError> {
        let mut s = Scaling::default();
        for round in 1..=rounds {
            progress(&format!("two TUN queues, round {round} of {rounds}…"));
            s.raw_one = s.raw_one.max(self.run(Peer::Raw, 1, count)?);
            s.raw_two = s.raw_two.max(self.run(Peer::Raw, 2, count)?);
            s.synack_one = s.synack_one.max(self.run(Peer::Synack, 1, count)?);
            s.synack_two = s.synack_two.max(self.run(Peer::Synack, 2, count)?);
        }
        Ok(s)
    }

    /// `count` handshakes on each of the first `threads` queues at once:
    /// handshakes per second, all threads together.
    fn run(&self, peer: Peer, threads: usize, count: usize) -> Result<f64, NetError> {
        let listeners = PORTS
            .iter()
            .take(threads)
            .map(|&port| bench_listener(IpAddr::V4(KERNEL), port))
            .collect::<Result<Vec<_>, _>>()?;
        let start = Barrier::new(threads);
        // Each worker times itself from the barrier: a clock read by this
        // thread after the barrier could come after the workers finished,
        // if it is not run meanwhile (a busy machine: rates of millions).
        let results: Vec<_> = std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .queues
                .iter()
                .zip(&listeners)
                .map(|(tun, listener)| {
                    let start = &start;
                    scope.spawn(move || {
                        start.wait();
                        let began = Instant::now();
                        let done = match peer {
                            Peer::Synack => {
                                over_tun(tun, listener, IpAddr::V4(SYNACK), count, None)
                            }
                            Peer::Raw => raw_tun::run(
                                tun,
                                listener,
                                IpAddr::V4(SYNACK),
                                (
                                    IpAddr::V4(KERNEL),
                                    listener.local_addr().map_or(0, |a| a.port()),
                                ),
                                count,
                            ),
                        };
                        (began, done, Instant::now())
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join()).collect()
        });
        let mut span: Option<(Instant, Instant)> = None;
        for r in results {
            let (began, done, ended) =
                r.map_err(|_| NetError::Command("benchmark thread panicked".into()))?;
            done?;
            span = Some(span.map_or((began, ended), |(b, e)| (b.min(began), e.max(ended))));
        }
        let elapsed = span.map_or(std::time::Duration::ZERO, |(b, e)| e - b);
        Ok((threads * count) as f64 / elapsed.as_secs_f64())
    }
}
