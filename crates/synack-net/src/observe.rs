//! Watches the kernel's sockets while a run goes on: a sock_diag dump right
//! after every frame crosses the device and after every call the lab's
//! application makes, recorded only when something changed. Since the
//! kernel handles a packet inside our write() to the TUN device, a change
//! seen right after a frame was caused by it: no sampling, no luck.

use std::net::SocketAddr;

use synack_engine::Instant;
use synack_trace::{ObsCause, Observation};

use crate::diag::{Diag, DiagSocket};

#[derive(Clone, PartialEq, Eq)]
struct Last {
    local: SocketAddr,
    remote: SocketAddr,
    state: &'static str,
    accepted: bool,
    queue: Option<(u32, u32)>,
}

pub struct Observer {
    diag: Diag,
    last: Vec<Last>,
    accepted: Vec<(SocketAddr, SocketAddr)>,
    last_look: Instant,
    pub observations: Vec<Observation>,
}

impl Observer {
    /// Open sock_diag in the calling thread's namespace.
    pub fn new() -> std::io::Result<Observer> {
        Ok(Observer {
            diag: Diag::open()?,
            last: Vec::new(),
            accepted: Vec::new(),
            last_look: Instant::ZERO,
            observations: Vec::new(),
        })
    }

    /// The application accept()ed `local` ↔ `remote`.
    pub fn accepted(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr) {
        self.accepted.push((local, remote));
        self.look(now, ObsCause::Call("accept()"));
    }

    /// The kernel's sockets now (for a run's own decisions).
    pub fn sockets(&mut self) -> Vec<DiagSocket> {
        self.diag.sockets().unwrap_or_default()
    }

    /// Dump the sockets and record what changed since the last look.
    pub fn look(&mut self, now: Instant, cause: ObsCause) {
        let cause = match cause {
            ObsCause::Poll { .. } => ObsCause::Poll {
                since: self.last_look,
            },
            c => c,
        };
        let socks = self.sockets();
        // Lab time is taken after the dump: the state held by then.
        self.last_look = now;
        let mut now_seen = Vec::with_capacity(socks.len());
        for s in socks.iter().filter(|s| !s.local.ip().is_loopback()) {
            let listener = s.state == "LISTEN";
            let cur = Last {
                local: s.local,
                remote: s.remote,
                state: s.state,
                accepted: self.accepted.contains(&(s.local, s.remote)),
                queue: listener.then_some((s.rqueue, s.wqueue)),
            };
            if !self.last.contains(&cur) {
                self.observations.push(Observation {
                    at: now,
                    cause,
                    local: s.local,
                    remote: s.remote,
                    state: s.state,
                    accepted: cur.accepted,
                    timer: s.timer,
                    queue: cur.queue,
                });
            }
            now_seen.push(cur);
        }
        for gone in self.last.iter().filter(|l| {
            !now_seen
                .iter()
                .any(|n| n.local == l.local && n.remote == l.remote)
        }) {
            self.observations.push(Observation {
                at: now,
                cause,
                local: gone.local,
                remote: gone.remote,
                state: "CLOSED",
                accepted: gone.accepted,
                timer: None,
                queue: None,
            });
        }
        self.last = now_seen;
    }
}
