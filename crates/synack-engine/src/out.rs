//! What the engine hands back: queued segments, user events and step
//! records. Queues are ring buffers that stop allocating once warm.

use std::collections::VecDeque;

use synack_wire::{SeqNum, TcpFlags};

use crate::config::Config;
use crate::conn::Connection;
use crate::rules::Rule;
use crate::step::{Action, Cause, Check, ConnHandle, Step, TcbVars, Tuple};
use crate::time::Instant;

/// What the user learns about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Our active open reached ESTABLISHED.
    Connected,
    /// A connection to one of our listeners reached ESTABLISHED.
    Accepted,
    /// The peer answered our SYN with a RST (ECONNREFUSED).
    Refused,
    /// Retransmissions ran out (ETIMEDOUT).
    TimedOut,
    /// An ICMP destination unreachable ended the open (ECONNREFUSED for a
    /// port unreachable, EHOSTUNREACH or ENETUNREACH otherwise, on Linux).
    Unreachable,
    /// The peer reset an established connection (ECONNRESET).
    Reset,
    /// Data can be read.
    Readable,
    /// The peer sent FIN: no more data will arrive.
    PeerClosed,
    /// The connection is gone after an orderly close.
    Closed,
}

impl Event {
    /// Whether the handle is dead after this event.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Event::Refused | Event::TimedOut | Event::Unreachable | Event::Reset | Event::Closed
        )
    }
}

/// Where a queued segment's payload comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Payload {
    None,
    /// `len` bytes of the connection's send buffer, starting at the byte
    /// whose sequence number is the segment's seq.
    Send {
        conn: ConnHandle,
        len: u32,
    },
}

/// A segment waiting for `poll_transmit`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutSeg {
    pub tuple: Tuple,
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: crate::negotiate::SynOpts,
    pub payload: Payload,
    pub conn: Option<ConnHandle>,
    pub rule: Rule,
}

/// Everything processing produces besides TCB changes.
pub(crate) struct Outbox {
    pub tx: VecDeque<OutSeg>,
    pub events: VecDeque<(ConnHandle, Event)>,
    pub steps: VecDeque<Step>,
    pub record: bool,
}

impl Outbox {
    pub fn new(cfg: &Config) -> Self {
        Outbox {
            tx: VecDeque::new(),
            events: VecDeque::new(),
            steps: VecDeque::new(),
            record: cfg.record_steps,
        }
    }
}

/// The context of one decision: when, why, and the TCB as of the last step.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub cfg: &'a Config,
    pub out: &'a mut Outbox,
    /// Borrowed: a received segment's cause is large and is read only when
    /// recording.
    pub cause: &'a Cause,
    /// TCB as of the previous recorded step, so consecutive steps chain.
    pub mark: TcbVars,
    /// The listener of this half-open connection has a full accept queue.
    pub accept_full: bool,
}

impl Ctx<'_> {
    /// Record a step about `conn` (when recording is on). Inlined so that,
    /// with recording off, building the arguments costs nothing.
    #[inline(always)]
    pub fn note(&mut self, conn: &Connection, action: Action, rule: Rule, check: Option<Check>) {
        if self.out.record {
            self.record(conn, action, rule, check);
        }
    }

    #[inline(never)]
    fn record(&mut self, conn: &Connection, action: Action, rule: Rule, check: Option<Check>) {
        let after = conn.vars();
        self.out.steps.push_back(Step {
            at: self.now,
            conn: Some(conn.handle),
            tuple: conn.tuple,
            cause: *self.cause,
            action,
            rule,
            before: self.mark,
            after,
            check,
        });
        self.mark = after;
    }

    /// Record a step with no connection behind it (LISTEN, CLOSED).
    pub fn note_stateless(&mut self, tuple: Tuple, vars: TcbVars, action: Action, rule: Rule) {
        if !self.out.record {
            return;
        }
        self.out.steps.push_back(Step {
            at: self.now,
            conn: None,
            tuple,
            cause: *self.cause,
            action,
            rule,
            before: vars,
            after: vars,
            check: None,
        });
    }

    pub fn event(&mut self, conn: &Connection, ev: Event) {
        self.out.events.push_back((conn.handle, ev));
        if ev.is_final() {
            self.note(conn, Action::Report(ev), Rule::ReportReset, None);
        }
    }

    pub fn push(&mut self, seg: OutSeg) {
        self.out.tx.push_back(seg);
    }
}
