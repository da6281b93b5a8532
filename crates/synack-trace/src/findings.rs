//! Facts derived from a trace by detectors shared by every scenario: what an
//! answer may state. Each comes from frames (as they crossed the link),
//! synack's steps, or the kernel's observations; a fact that the trace does
//! not hold is `None`, and the answer must say it is unknown.

use std::net::SocketAddr;
use std::time::Duration;

use synack_engine::sim::Side;
use synack_engine::{Action, CloseReason, Instant, State};

use crate::{Frame, ObsCause, Trace, rfc_state};

/// The segments whose repeats are retransmissions a learner asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Syn,
    SynAck,
    Fin,
}

impl Kind {
    fn matches(self, f: &Frame<'_>) -> bool {
        let fl = f.flags();
        match self {
            Kind::Syn => fl.syn() && !fl.ack(),
            Kind::SynAck => fl.syn() && fl.ack(),
            Kind::Fin => fl.fin() && !fl.rst(),
        }
    }
}

/// How the waits between transmissions grew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Sent once: nothing to classify.
    Once,
    /// Each wait about twice the one before.
    Doubling,
    /// Each wait about the same.
    Linear,
    /// Equal waits first, then doubling (Linux's `tcp_syn_linear_timeouts`).
    LinearThenDoubling {
        linear: usize,
    },
    Irregular,
}

/// One segment and its copies, as they left `side`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The first transmission and every retransmission.
    pub sends: Vec<Instant>,
    pub shape: Shape,
    /// The segment's source and destination.
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

impl Schedule {
    pub fn retransmissions(&self) -> &[Instant] {
        self.sends.get(1..).unwrap_or(&[])
    }

    /// The waits between consecutive transmissions.
    pub fn intervals(&self) -> Vec<Duration> {
        self.sends.windows(2).map(|w| diff(w[0], w[1])).collect()
    }
}

/// When a side entered a state, and what showed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entered {
    /// When it happened: synack's step, or for the kernel the frame that
    /// moved it (when the observation followed that frame directly).
    pub at: Instant,
    /// The frame that caused it, when known.
    pub frame: Option<usize>,
    /// For the kernel: when sock_diag reported it.
    pub observed_at: Option<Instant>,
    /// For the kernel, seen at a periodic look: it happened after this.
    pub after: Option<Instant>,
}

pub fn diff(a: Instant, b: Instant) -> Duration {
    Duration::from_nanos(b.as_nanos().saturating_sub(a.as_nanos()))
}

pub struct Findings<'a> {
    t: &'a Trace,
}

impl<'a> Findings<'a> {
    pub fn new(t: &'a Trace) -> Findings<'a> {
        Findings { t }
    }

    pub fn trace(&self) -> &'a Trace {
        self.t
    }

    /// The transmissions of the first `kind` segment `side` sent on the
    /// connection from `client` (a repeat has the same seq and ports).
    pub fn schedule(&self, side: Side, kind: Kind) -> Option<Schedule> {
        let first = self.t.frames(side).find(|f| kind.matches(f))?;
        let key = (first.seq(), first.src(), first.dst());
        self.schedule_of(side, kind, key)
    }

    /// The schedule of every distinct `kind` segment `side` sent.
    pub fn schedules(&self, side: Side, kind: Kind) -> Vec<Schedule> {
        let mut keys: Vec<(u32, SocketAddr, SocketAddr)> = Vec::new();
        for f in self.t.frames(side).filter(|f| kind.matches(f)) {
            let k = (f.seq(), f.src(), f.dst());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys.into_iter()
            .filter_map(|k| self.schedule_of(side, kind, k))
            .collect()
    }

    fn schedule_of(
        &self,
        side: Side,
        kind: Kind,
        key: (u32, SocketAddr, SocketAddr),
    ) -> Option<Schedule> {
        let sends: Vec<Instant> = self
            .t
            .frames(side)
            .filter(|f| kind.matches(f) && (f.seq(), f.src(), f.dst()) == key)
            .map(|f| f.at)
            .collect();
        if sends.is_empty() {
            return None;
        }
        let shape = shape(&sends);
        Some(Schedule {
            sends,
            shape,
            src: key.1,
            dst: key.2,
        })
    }

    /// When `side`'s connect() failed for `why` (refused: ECONNREFUSED,
    /// timed out: ETIMEDOUT): synack's step, or the kernel application's
    /// connect() returning the error.
    pub fn connect_failed(&self, side: Side, why: CloseReason) -> Option<Instant> {
        if self.t.is_synack(side) {
            return self
                .steps(side)
                .find_map(|s| (s.action == Action::Delete(why)).then_some(s.at));
        }
        let errno = match why {
            CloseReason::Refused => "ECONNREFUSED",
            CloseReason::TimedOut => "ETIMEDOUT",
            _ => return None,
        };
        self.t
            .kernel
            .iter()
            .find(|o| matches!(o.cause, ObsCause::Call(c) if c.contains(errno)))
            .map(|o| o.at)
    }

    /// When `side` gave up connecting (ETIMEDOUT).
    pub fn gave_up(&self, side: Side) -> Option<Instant> {
        self.connect_failed(side, CloseReason::TimedOut)
    }

    fn steps(&self, side: Side) -> impl Iterator<Item = &'a synack_engine::Step> {
        self.t
            .steps
            .iter()
            .filter(move |(s, _)| *s == side)
            .map(|(_, st)| st)
    }

    /// The `nth` (0-based) time `side` entered `state` on a connection
    /// whose far end is `remote` (any, when `None`).
    pub fn entered_nth(
        &self,
        side: Side,
        state: State,
        remote: Option<SocketAddr>,
        nth: usize,
    ) -> Option<Entered> {
        if self.t.is_synack(side) {
            return self
                .steps(side)
                .filter(|s| s.after.state == state && s.before.state != state)
                .filter(|s| remote.is_none_or(|r| s.tuple.remote == r))
                .nth(nth)
                .map(|s| Entered {
                    at: s.at,
                    frame: None,
                    observed_at: None,
                    after: None,
                });
        }
        let mut prev: Vec<(SocketAddr, SocketAddr, State)> = Vec::new();
        let mut seen = 0;
        for o in &self.t.kernel {
            let st = rfc_state(o.state);
            let key = (o.local, o.remote);
            let before = prev.iter().rev().find(|p| (p.0, p.1) == key).map(|p| p.2);
            prev.push((o.local, o.remote, st));
            if st != state || before == Some(state) {
                continue;
            }
            if remote.is_some_and(|r| o.remote != r) || o.state == "LISTEN" {
                continue;
            }
            if seen < nth {
                seen += 1;
                continue;
            }
            return Some(self.entered_from(o));
        }
        None
    }

    pub fn entered(&self, side: Side, state: State) -> Option<Entered> {
        self.entered_nth(side, state, None, 0)
    }

    fn entered_from(&self, o: &crate::Observation) -> Entered {
        match o.cause {
            ObsCause::Frame(i) => {
                let at = self.t.link.get(i).map_or(o.at, |r| r.sent_at);
                Entered {
                    at,
                    frame: Some(i),
                    observed_at: Some(o.at),
                    after: None,
                }
            }
            ObsCause::Call(_) => Entered {
                at: o.at,
                frame: None,
                observed_at: Some(o.at),
                after: None,
            },
            ObsCause::Poll { since } => Entered {
                at: o.at,
                frame: None,
                observed_at: Some(o.at),
                after: Some(since),
            },
        }
    }

    /// When `side`'s connection to `remote` (any) left `state`.
    pub fn left(&self, side: Side, state: State) -> Option<Entered> {
        if self.t.is_synack(side) {
            return self
                .steps(side)
                .find(|s| s.before.state == state && s.after.state != state)
                .map(|s| Entered {
                    at: s.at,
                    frame: None,
                    observed_at: None,
                    after: None,
                });
        }
        let mut inside = Vec::new();
        for o in &self.t.kernel {
            let key = (o.local, o.remote);
            let st = rfc_state(o.state);
            if st == state {
                if !inside.contains(&key) {
                    inside.push(key);
                }
            } else if inside.contains(&key) {
                return Some(self.entered_from(o));
            }
        }
        None
    }

    /// How long `side` holds TIME-WAIT: measured when it ended in the run;
    /// for the kernel, the remaining time it reported when TIME-WAIT began,
    /// plus how long it had been in TIME-WAIT by then.
    pub fn time_wait(&self, side: Side) -> Option<Duration> {
        let entered = self.entered(side, State::TimeWait)?;
        if let Some(left) = self.left(side, State::TimeWait) {
            // Only a timer expiry measures TIME-WAIT; a RST cuts it short.
            let by_timer = self.t.is_synack(side)
                && self.steps(side).any(|s| {
                    s.before.state == State::TimeWait
                        && s.cause
                            == synack_engine::Cause::Timer(synack_engine::TimerKind::TimeWait)
                });
            if by_timer {
                return Some(diff(entered.at, left.at));
            }
        }
        if self.t.is_synack(side) {
            return None;
        }
        let o = self
            .t
            .kernel
            .iter()
            .find(|o| o.state == "TIME_WAIT" && o.timer.is_some())?;
        Some(o.timer? + diff(entered.at, o.at))
    }

    /// The payload of the first segment `side` sent with data: (seq, len).
    pub fn first_data(&self, side: Side) -> Option<(u32, u32, Instant)> {
        self.t
            .frames(side)
            .find(|f| !f.is_empty())
            .map(|f| (f.seq(), f.len(), f.at))
    }

    /// Distinct payload bytes `side` sent (retransmissions counted once).
    pub fn bytes_sent(&self, side: Side) -> u32 {
        let mut seen: Vec<(u32, u32, SocketAddr)> = Vec::new();
        for f in self.t.frames(side).filter(|f| !f.is_empty()) {
            let k = (f.seq(), f.len(), f.src());
            if !seen.contains(&k) {
                seen.push(k);
            }
        }
        seen.iter().map(|k| k.1).sum()
    }

    /// The first frame from `side` that acknowledges `ack`, after `after`.
    pub fn acked_by(&self, side: Side, ack: u32, after: Instant) -> Option<Frame<'a>> {
        self.t
            .frames(side)
            .find(|f| f.at >= after && f.flags().ack() && f.ack() == ack)
    }

    /// Frames the lab dropped.
    pub fn lost(&self) -> Vec<Frame<'a>> {
        self.t.all_frames().filter(|f| f.lost).collect()
    }

    /// Whether some frame on the link is a RST without the ACK flag.
    pub fn bare_rst(&self) -> bool {
        self.t
            .all_frames()
            .any(|f| f.flags().rst() && !f.flags().ack())
    }

    /// Whether the kernel made a SYN_RECV socket for `client` (it does not
    /// when it answers with a SYN cookie).
    pub fn kernel_half_open(&self, client: SocketAddr) -> bool {
        self.t
            .kernel
            .iter()
            .any(|o| o.remote == client && rfc_state(o.state) == State::SynReceived)
    }
}

/// Classify waits between transmissions: within 15 % (or 20 ms) counts as
/// equal, 1.7–2.3× as doubling.
fn shape(sends: &[Instant]) -> Shape {
    let waits: Vec<f64> = sends
        .windows(2)
        .map(|w| diff(w[0], w[1]).as_secs_f64())
        .collect();
    if waits.is_empty() {
        return Shape::Once;
    }
    let same = |a: f64, b: f64| (a - b).abs() <= (0.15 * a).max(0.02);
    let double = |a: f64, b: f64| b >= 1.7 * a && b <= 2.3 * a;
    let pairs: Vec<(f64, f64)> = waits.windows(2).map(|w| (w[0], w[1])).collect();
    if pairs.iter().all(|&(a, b)| same(a, b)) {
        return Shape::Linear;
    }
    if pairs.iter().all(|&(a, b)| double(a, b)) {
        return Shape::Doubling;
    }
    let linear = pairs.iter().take_while(|&&(a, b)| same(a, b)).count();
    if linear > 0 && pairs.iter().skip(linear).all(|&(a, b)| double(a, b)) {
        return Shape::LinearThenDoubling { linear: linear + 1 };
    }
    Shape::Irregular
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &[f64]) -> Vec<Instant> {
        s.iter()
            .map(|x| Instant::from_micros((x * 1e6) as u64))
            .collect()
    }

    #[test]
    fn classifies_schedules() {
        assert_eq!(shape(&at(&[0.0])), Shape::Once);
        assert_eq!(shape(&at(&[0.0, 1.0])), Shape::Linear);
        assert_eq!(shape(&at(&[0.0, 1.0, 3.0, 7.0])), Shape::Doubling);
        assert_eq!(shape(&at(&[0.0, 1.0, 2.0, 3.0])), Shape::Linear);
        assert_eq!(
            shape(&at(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0])),
            Shape::LinearThenDoubling { linear: 5 }
        );
        assert_eq!(shape(&at(&[0.0, 1.0, 1.2, 5.0])), Shape::Irregular);
    }
}
