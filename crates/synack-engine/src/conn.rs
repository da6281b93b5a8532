//! The TCB (RFC 9293 §3.3.1) and the segments it builds. Processing of
//! incoming segments lives in `input`, of timers and user calls in `action`.

use core::time::Duration;

use synack_wire::{SeqNum, TcpFlags, TcpOptions};

use crate::negotiate::SynOpts;

use crate::config::Config;
use crate::out::{Ctx, OutSeg, Payload};
use crate::rules::Rule;
use crate::state::State;
use crate::step::{Action, ConnHandle, TcbVars, TimerKind, Tuple};
use crate::time::Instant;

/// How the connection was opened. SYN-RECEIVED must remember it: a RST
/// there returns a passive open to LISTEN but refuses an active one (MUST-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `connect` (SYN-RECEIVED reached only through simultaneous open).
    Active,
    /// Spawned by a listener.
    Passive,
}

/// What the two SYNs agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Negotiated {
    /// Largest segment we send: min(peer's MSS or 536/1220, ours).
    pub send_mss: u16,
    /// Shift applied to the peer's window fields (0 without scaling).
    pub snd_shift: u8,
    /// Shift we apply to our own window fields.
    pub rcv_shift: u8,
    /// Both SYNs carried window scale.
    pub window_scaling: bool,
    /// Both SYNs carried SACK-permitted.
    pub sack: bool,
    /// Both SYNs carried timestamps.
    pub timestamps: bool,
    /// ECN-setup SYN answered by an ECN-setup SYN-ACK (RFC 3168 §6.1.1).
    pub ecn: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timer {
    pub at: Instant,
    pub kind: TimerKind,
}

/// Fast Open state of a connection.
#[derive(Debug, Default)]
pub(crate) struct Tfo {
    /// The option for our SYN or SYN-ACK: a request or a cookie.
    pub out: Option<synack_wire::FastOpenCookie>,
    /// A cookie the peer's SYN-ACK gave us, for the endpoint's cache.
    pub learned: Option<synack_wire::FastOpenCookie>,
}

/// One connection's state.
#[derive(Debug)]
pub struct Connection {
    pub(crate) handle: ConnHandle,
    pub(crate) tuple: Tuple,
    pub(crate) state: State,
    pub(crate) origin: Origin,
    pub(crate) iss: SeqNum,
    pub(crate) irs: SeqNum,
    pub(crate) snd_una: SeqNum,
    pub(crate) snd_nxt: SeqNum,
    pub(crate) snd_wnd: u32,
    pub(crate) snd_wl1: SeqNum,
    pub(crate) snd_wl2: SeqNum,
    pub(crate) max_snd_wnd: u32,
    pub(crate) rcv_nxt: SeqNum,
    pub(crate) rcv_wnd: u32,
    /// Options on our SYN or SYN-ACK.
    pub(crate) our_syn: SynOpts,
    /// Options on the peer's SYN or SYN-ACK.
    pub(crate) peer_syn: SynOpts,
    pub(crate) neg: Negotiated,
    pub(crate) ts_offset: u32,
    pub(crate) ts_recent: u32,
    pub(crate) timer: Option<Timer>,
    /// Stamp of the timer-queue entry for `timer` (0: none scheduled).
    pub(crate) timer_stamp: u64,
    pub(crate) timer_scheduled: Option<Instant>,
    /// Transmissions of what the retransmit timer guards (SYN, SYN-ACK, data).
    pub(crate) sent: u32,
    pub(crate) first_sent: Instant,
    pub(crate) rto: Duration,
    /// Unacknowledged and unsent bytes; byte 0 has sequence number SND.UNA.
    pub(crate) send_buf: Vec<u8>,
    /// Sequence number of our FIN once sent.
    pub(crate) fin_seq: Option<SeqNum>,
    pub(crate) recv_buf: Vec<u8>,
    pub(crate) last_ack_reply: Option<Instant>,
    /// Our SYN asks for ECN (cleared when a retransmission falls back).
    pub(crate) ecn_syn: bool,
    /// The last ICMP error that did not end the connection (a soft error).
    pub(crate) soft_error: Option<synack_wire::Unreachable>,
    /// Fast Open cookies in play; boxed, as most connections have none
    /// and the TCB's size matters with many connections.
    pub(crate) tfo: Option<Box<Tfo>>,
    /// Data went out on our SYN (Fast Open).
    pub(crate) syn_data: u32,
    /// Passive and established, not yet taken by `accept`.
    pub(crate) unaccepted: bool,
}

impl Connection {
    pub(crate) fn new(
        handle: ConnHandle,
        tuple: Tuple,
        origin: Origin,
        iss: SeqNum,
        cfg: &Config,
    ) -> Self {
        Connection {
            handle,
            tuple,
            state: State::Closed,
            origin,
            iss,
            irs: SeqNum(0),
            snd_una: iss,
            snd_nxt: iss.add(1),
            snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: SeqNum(0),
            max_snd_wnd: 0,
            rcv_nxt: SeqNum(0),
            rcv_wnd: cfg.recv_window,
            our_syn: SynOpts::default(),
            peer_syn: SynOpts::default(),
            neg: Negotiated::default(),
            ts_offset: 0,
            ts_recent: 0,
            timer: None,
            timer_stamp: 0,
            timer_scheduled: None,
            sent: 0,
            first_sent: Instant::ZERO,
            rto: cfg.initial_rto,
            send_buf: Vec::new(),
            fin_seq: None,
            recv_buf: Vec::new(),
            last_ack_reply: None,
            ecn_syn: false,
            soft_error: None,
            tfo: None,
            syn_data: 0,
            unaccepted: false,
        }
    }

    /// This connection's handle.
    pub fn handle(&self) -> ConnHandle {
        self.handle
    }
    /// Its 4-tuple.
    pub fn tuple(&self) -> Tuple {
        self.tuple
    }
    /// Its RFC 9293 state.
    pub fn state(&self) -> State {
        self.state
    }
    /// Whether it was opened actively or passively.
    pub fn origin(&self) -> Origin {
        self.origin
    }
    /// Our initial sequence number.
    pub fn iss(&self) -> SeqNum {
        self.iss
    }
    /// The peer's initial sequence number.
    pub fn irs(&self) -> SeqNum {
        self.irs
    }
    /// What the two SYNs agreed on.
    pub fn negotiated(&self) -> Negotiated {
        self.neg
    }
    /// The options of our SYN or SYN-ACK.
    pub fn our_syn_options(&self) -> TcpOptions {
        self.our_syn.to_wire()
    }
    /// The options of the peer's SYN or SYN-ACK.
    pub fn peer_syn_options(&self) -> TcpOptions {
        self.peer_syn.to_wire()
    }
    /// The last ICMP error that did not end the connection (a soft
    /// error), if any: what an application learns on a timeout instead of
    /// ETIMEDOUT alone.
    pub fn soft_error(&self) -> Option<synack_wire::Unreachable> {
        self.soft_error
    }

    /// Bytes received and not yet read.
    pub fn readable(&self) -> usize {
        self.recv_buf.len()
    }

    pub(crate) fn tfo_out(&self) -> Option<synack_wire::FastOpenCookie> {
        self.tfo.as_ref().and_then(|t| t.out)
    }

    pub(crate) fn set_tfo_out(&mut self, c: Option<synack_wire::FastOpenCookie>) {
        self.tfo.get_or_insert_with(Box::default).out = c;
    }

    pub(crate) fn set_tfo_learned(&mut self, c: synack_wire::FastOpenCookie) {
        self.tfo.get_or_insert_with(Box::default).learned = Some(c);
    }

    pub(crate) fn take_tfo_learned(&mut self) -> Option<synack_wire::FastOpenCookie> {
        self.tfo.as_mut().and_then(|t| t.learned.take())
    }

    /// The TCB variables, as a step records them.
    pub fn vars(&self) -> TcbVars {
        TcbVars {
            state: self.state,
            iss: self.iss,
            irs: self.irs,
            snd_una: self.snd_una,
            snd_nxt: self.snd_nxt,
            snd_wnd: self.snd_wnd,
            rcv_nxt: self.rcv_nxt,
            rcv_wnd: self.rcv_wnd,
        }
    }

    pub(crate) fn set_timer(&mut self, at: Instant, kind: TimerKind) {
        self.timer = Some(Timer { at, kind });
    }

    pub(crate) fn clear_timer(&mut self) {
        self.timer = None;
    }

    /// Start guarding a new transmission with the retransmit timer.
    pub(crate) fn arm_retransmit(&mut self, now: Instant, first: Duration) {
        self.sent = 1;
        self.first_sent = now;
        self.rto = first;
        self.set_timer(now + first, TimerKind::Retransmit);
    }

    fn tsval(&self, now: Instant) -> u32 {
        (now.as_millis() as u32).wrapping_add(self.ts_offset)
    }

    /// Window field for a non-SYN segment (scaled, capped at 16 bits).
    fn window_field(&self) -> u16 {
        (self.rcv_wnd >> self.neg.rcv_shift).min(0xffff) as u16
    }

    fn base(&self, flags: TcpFlags, seq: SeqNum, rule: Rule) -> OutSeg {
        OutSeg {
            tuple: self.tuple,
            seq,
            ack: if flags.ack() { self.rcv_nxt } else { SeqNum(0) },
            flags,
            window: self.window_field(),
            options: SynOpts::default(),
            payload: Payload::None,
            conn: Some(self.handle),
            rule,
        }
    }

    /// Options for a non-SYN segment: timestamps once negotiated (RFC 7323
    /// §3.2), never on a RST.
    fn with_ts(&self, mut seg: OutSeg, now: Instant) -> OutSeg {
        if self.neg.timestamps && !seg.flags.rst() {
            seg.options.timestamps = Some((self.tsval(now), self.ts_recent));
        }
        seg
    }

    /// The SYN or SYN-ACK, always with SEQ=ISS (also when retransmitted).
    pub(crate) fn syn_segment(&self, now: Instant, rule: Rule) -> OutSeg {
        let flags = match self.state {
            // ECN-setup SYN-ACK: ECE without CWR (RFC 3168 §6.1.1).
            State::SynReceived if self.neg.ecn => TcpFlags::SYN_ACK | TcpFlags::ECE,
            State::SynReceived => TcpFlags::SYN_ACK,
            _ if self.ecn_syn => TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR,
            _ => TcpFlags::SYN,
        };
        let mut seg = self.base(flags, self.iss, rule);
        if self.state == State::SynSent && self.syn_data > 0 {
            seg.payload = Payload::Send {
                conn: self.handle,
                len: self.syn_data,
            };
        }
        // The window of a SYN is never scaled (RFC 7323 §2.2).
        seg.window = self.rcv_wnd.min(0xffff) as u16;
        seg.options = self.our_syn;
        if let Some((_, ecr)) = self.our_syn.timestamps {
            let ecr = if flags.ack() { self.ts_recent } else { ecr };
            seg.options.timestamps = Some((self.tsval(now), ecr));
        }
        seg
    }

    pub(crate) fn ack_segment(&self, now: Instant, rule: Rule) -> OutSeg {
        self.with_ts(self.base(TcpFlags::ACK, self.snd_nxt, rule), now)
    }

    /// <SEQ=SND.NXT><CTL=RST> (with ACK=RCV.NXT when `with_ack`).
    pub(crate) fn rst_segment(&self, with_ack: bool, rule: Rule) -> OutSeg {
        let flags = if with_ack {
            TcpFlags::RST_ACK
        } else {
            TcpFlags::RST
        };
        let mut seg = self.base(flags, self.snd_nxt, rule);
        seg.window = 0;
        seg
    }

    /// A data segment of `len` bytes at `seq`, with FIN when `fin`.
    pub(crate) fn data_segment(
        &self,
        now: Instant,
        seq: SeqNum,
        len: u32,
        fin: bool,
        rule: Rule,
    ) -> OutSeg {
        let mut flags = TcpFlags::ACK;
        if len > 0 {
            flags = flags | TcpFlags::PSH;
        }
        if fin {
            flags = flags | TcpFlags::FIN;
        }
        let mut seg = self.with_ts(self.base(flags, seq, rule), now);
        if len > 0 {
            seg.payload = Payload::Send {
                conn: self.handle,
                len,
            };
        }
        seg
    }

    /// Queue an ACK subject to the per-connection rate limit; returns whether
    /// it was sent.
    pub(crate) fn rate_limited_ack(&mut self, ctx: &mut Ctx<'_>, rule: Rule) -> bool {
        if let Some(last) = self.last_ack_reply
            && ctx.now.since(last) < ctx.cfg.challenge_ack_interval
        {
            return false;
        }
        self.last_ack_reply = Some(ctx.now);
        ctx.push(self.ack_segment(ctx.now, rule));
        true
    }

    /// RFC 9293 §3.7.1: Eff.snd.MSS = min(SendMSS + 20, MMS_S) − TCPhdrsize
    /// − IPoptionsize, where MMS_S is what fits in [`MAX_PACKET`] after the
    /// IP header, and TCPhdrsize counts the options our data segments carry
    /// (timestamps: 12 bytes). A peer MSS below Linux's `TCP_MIN_SND_MSS`
    /// (48) is raised to it, so a hostile MSS cannot make segments of one
    /// byte.
    pub(crate) fn eff_send_mss(&self) -> u32 {
        const MIN_SND_MSS: u32 = 48;
        let ip_header: u32 = if self.tuple.remote.is_ipv6() { 40 } else { 20 };
        let mms_s = crate::MAX_PACKET as u32 - ip_header;
        let options = if self.neg.timestamps { 12 } else { 0 };
        let send_mss = u32::from(self.neg.send_mss).max(MIN_SND_MSS);
        (send_mss + 20).min(mms_s) - 20 - options
    }

    /// Send whatever buffered data the window allows, then a FIN if the user
    /// closed and everything before it went out.
    pub(crate) fn push_data(&mut self, ctx: &mut Ctx<'_>, fin_wanted: bool, rule: Rule) {
        self.push_data_checked(ctx, fin_wanted, rule, None);
    }

    /// [`Connection::push_data`], the first segment's step carrying `check`
    /// (the data rides on the segment that completes the handshake).
    pub(crate) fn push_data_checked(
        &mut self,
        ctx: &mut Ctx<'_>,
        fin_wanted: bool,
        rule: Rule,
        mut check: Option<crate::step::Check>,
    ) {
        let sent_bytes = self.snd_nxt.since(self.snd_una).unwrap_or(0);
        let mut unsent = (self.send_buf.len() as u32).saturating_sub(sent_bytes);
        if (unsent > 0 || fin_wanted)
            && self
                .timer
                .is_some_and(|t| t.kind == crate::step::TimerKind::DelayedAck)
        {
            // What goes now carries the delayed ACK of the peer's FIN.
            self.timer = None;
        }
        let mss = self.eff_send_mss();
        let mut room = self.snd_wnd.saturating_sub(sent_bytes);
        let was_idle = self.snd_una == self.snd_nxt;
        let mut queued = false;
        while unsent > 0 && room > 0 {
            let len = unsent.min(mss).min(room);
            let last = len == unsent;
            let fin = fin_wanted && last && self.fin_seq.is_none();
            let seg = self.data_segment(ctx.now, self.snd_nxt, len, fin, rule);
            ctx.push(seg);
            self.snd_nxt = self.snd_nxt.add(len);
            if fin {
                self.fin_seq = Some(self.snd_nxt);
                self.snd_nxt = self.snd_nxt.add(1);
            }
            unsent -= len;
            room -= len;
            queued = true;
            ctx.note(
                self,
                Action::Send(if fin {
                    crate::step::Reply::Fin
                } else {
                    crate::step::Reply::Data
                }),
                rule,
                check.take(),
            );
        }
        if fin_wanted && unsent == 0 && self.fin_seq.is_none() {
            let seg = self.data_segment(ctx.now, self.snd_nxt, 0, true, rule);
            ctx.push(seg);
            self.fin_seq = Some(self.snd_nxt);
            self.snd_nxt = self.snd_nxt.add(1);
            queued = true;
            ctx.note(self, Action::Send(crate::step::Reply::Fin), rule, None);
        }
        if queued && (was_idle || self.timer.is_none()) {
            self.arm_retransmit(ctx.now, ctx.cfg.initial_rto);
        }
    }
}
