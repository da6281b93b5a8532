//! The endpoint: listeners, the connection table keyed by the 4-tuple, the
//! timer queue, and the sans-IO surface (`handle`, `poll_transmit`,
//! `poll_timeout`, `handle_timeout`, `poll_event`, `poll_step`). What a
//! listener does with SYNs and cookie ACKs is in `listen`.

mod demux;
mod listen;

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::collections::HashMap;

use foldhash::fast::FixedState;

use demux::Demux;
use synack_wire::{IpHeader, TcpPacket, TcpRepr, WireError, emit_segment, parse_ip};

use crate::segment::Seg;

use crate::calls::{self, CallError};
use crate::config::{Config, Ecn};
use crate::conn::{Connection, Origin};
use crate::input::{self, Disposition};
use crate::isn;
use crate::negotiate;
use crate::out::{Ctx, Event, Outbox, Payload};
use crate::rules::Rule;
use crate::state::State;
use crate::stateless;
use crate::step::{
    Action, Cause, ConnHandle, DropReason, Note, Reply, SegInfo, Step, TcbVars, TimerKind, Tuple,
    UserCall,
};
use crate::time::Instant;
use crate::timer::TimerQueue;

/// A segment `poll_transmit` wrote into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Bytes of the IP packet written at the start of the buffer.
    pub len: usize,
    /// Our address.
    pub src: SocketAddr,
    /// The peer's address.
    pub dst: SocketAddr,
    /// The connection it belongs to, none for a stateless reply.
    pub conn: Option<ConnHandle>,
}

/// Counters, for benchmarks and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Segments handled.
    pub segments_in: u64,
    /// Segments transmitted.
    pub segments_out: u64,
    /// Packets that did not parse.
    pub malformed: u64,
    /// Connections that reached ESTABLISHED.
    pub established: u64,
    /// RSTs sent.
    pub resets_sent: u64,
}

struct Slot {
    generation: u32,
    conn: Option<Connection>,
}

/// The largest IP packet the engine emits: IPv6 header, TCP header with
/// 40 bytes of options, and one MSS of payload is below this for MSS ≤ 1440.
pub const MAX_PACKET: usize = 1500;

/// Packets whose table buckets `handle_batch` reads before handling them.
const READ_AHEAD: usize = 16;

/// A TCP endpoint: listeners and connections, driven by the caller's
/// clock. See the crate docs for the loop.
pub struct Endpoint {
    cfg: Config,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    table: Demux,
    /// Listening ports, each with its address and queues.
    listeners: HashMap<u16, listen::Listener, FixedState>,
    /// Fast Open cookies servers gave us, by server address.
    tfo_cache: HashMap<IpAddr, synack_wire::FastOpenCookie, FixedState>,
    timers: TimerQueue,
    out: Outbox,
    rng: u64,
    ip_ident: u16,
    stats: Stats,
}

impl Endpoint {
    /// An endpoint with no listener and no connection.
    pub fn new(cfg: Config) -> Endpoint {
        let seed = cfg.rng_seed;
        Endpoint {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            table: Demux::new(seed),
            listeners: HashMap::with_hasher(FixedState::with_seed(seed ^ 1)),
            tfo_cache: HashMap::with_hasher(FixedState::with_seed(seed ^ 2)),
            timers: TimerQueue::default(),
            out: Outbox::new(&cfg),
            rng: seed,
            ip_ident: 0,
            stats: Stats::default(),
            cfg,
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Counters since it was made.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Connections currently in the table.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether it holds no connection.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The connection of `h`, if it still exists.
    pub fn connection(&self, h: ConnHandle) -> Option<&Connection> {
        self.slots
            .get(h.idx as usize)
            .filter(|s| s.generation == h.generation)
            .and_then(|s| s.conn.as_ref())
    }

    /// The connection on `tuple`, if any.
    pub fn find(&self, tuple: &Tuple) -> Option<&Connection> {
        let idx = self.lookup(*tuple)?;
        self.slots.get(idx as usize)?.conn.as_ref()
    }

    /// Every connection held.
    pub fn connections(&self) -> impl Iterator<Item = &Connection> {
        self.slots.iter().filter_map(|s| s.conn.as_ref())
    }

    /// Passive OPEN on `addr` (an unspecified IP listens on every address).
    pub fn listen(&mut self, addr: SocketAddr) -> Result<(), CallError> {
        if self.listeners.contains_key(&addr.port()) {
            return Err(CallError::AlreadyListening(addr.port()));
        }
        let ip = (!addr.ip().is_unspecified()).then_some(addr.ip());
        self.listeners
            .insert(addr.port(), listen::Listener::new(ip));
        Ok(())
    }

    /// Stop listening on `port`; half-open connections are dropped.
    pub fn unlisten(&mut self, port: u16) -> Result<(), CallError> {
        self.listeners
            .remove(&port)
            .map(|_| ())
            .ok_or(CallError::NotListening(port))
    }

    /// Whether something listens on `local`.
    pub fn is_listening(&self, local: SocketAddr) -> bool {
        self.listeners
            .get(&local.port())
            .is_some_and(|l| l.ip.is_none_or(|ip| ip == local.ip()))
    }

    /// Active OPEN (rule 1): choose the ISS, queue the SYN, enter SYN-SENT.
    pub fn connect(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<ConnHandle, CallError> {
        self.connect_with_data(now, local, remote, &[])
    }

    /// Active OPEN with data to send. With Fast Open on (rule 41) and a
    /// cookie from this server, the first bytes ride on the SYN; without a
    /// cookie the SYN asks for one and the data follows the handshake.
    pub fn connect_with_data(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Result<ConnHandle, CallError> {
        if local.is_ipv4() != remote.is_ipv4() {
            return Err(CallError::MixedFamilies);
        }
        let tuple = Tuple { local, remote };
        if self.lookup(tuple).is_some() {
            return Err(CallError::TupleInUse(tuple));
        }
        let iss = isn::generate(&self.cfg.isn, now, local, remote);
        let (idx, handle) = self.alloc(tuple, Origin::Active, iss);
        let ts_offset = self.next_random() as u32;
        let cookie = self.tfo_cache.get(&remote.ip()).copied();
        self.run(idx, now, &Cause::User(UserCall::Connect), |c, ctx| {
            c.our_syn = negotiate::syn_options(ctx.cfg, remote);
            c.ts_offset = ts_offset;
            c.state = State::SynSent;
            c.ecn_syn = ctx.cfg.ecn == Ecn::Request;
            let take = data.len().min(ctx.cfg.send_buffer);
            c.send_buf.extend_from_slice(&data[..take]);
            if ctx.cfg.fast_open {
                listen::fast_open_syn(c, ctx, cookie);
            }
            ctx.mark = TcbVars::none(State::Closed);
            let rule = if c.ecn_syn {
                Rule::EcnSetupSyn
            } else {
                Rule::ActiveOpen
            };
            ctx.push(c.syn_segment(ctx.now, rule));
            c.arm_retransmit(ctx.now, ctx.cfg.initial_rto);
            ctx.note(c, Action::Send(Reply::Syn), Rule::ActiveOpen, None);
            if c.ecn_syn {
                ctx.note(c, Action::Note(Note::EcnRequested), Rule::EcnSetupSyn, None);
            }
            if c.syn_data > 0 {
                let bytes = c.syn_data;
                ctx.note(
                    c,
                    Action::Note(Note::FastOpenDataSent { bytes }),
                    Rule::FastOpen,
                    None,
                );
            } else if c.tfo_out().is_some() {
                ctx.note(
                    c,
                    Action::Note(Note::FastOpenCookieRequested),
                    Rule::FastOpen,
                    None,
                );
            }
            (Disposition::Keep, ())
        });
        Ok(handle)
    }

    /// CLOSE: an orderly close (FIN) after queued data.
    pub fn close(&mut self, now: Instant, h: ConnHandle) -> Result<(), CallError> {
        // What fell due before `now` happens first (a call cannot go back in time).
        self.handle_timeout(now);
        let idx = self.index_of(h)?;
        self.run(
            idx,
            now,
            &Cause::User(UserCall::Close),
            |c, ctx| match calls::close(c, ctx) {
                Ok(d) => (d, Ok(())),
                Err(e) => (Disposition::Keep, Err(e)),
            },
        )
        .unwrap_or(Err(CallError::UnknownConnection))
    }

    /// ABORT: drop the connection, with a RST where the peer may hold state.
    pub fn abort(&mut self, now: Instant, h: ConnHandle) -> Result<(), CallError> {
        // What fell due before `now` happens first (a call cannot go back in time).
        self.handle_timeout(now);
        let idx = self.index_of(h)?;
        self.run(idx, now, &Cause::User(UserCall::Abort), |c, ctx| {
            (calls::abort(c, ctx), ())
        });
        Ok(())
    }

    /// SEND: returns how many bytes were buffered.
    pub fn send(&mut self, now: Instant, h: ConnHandle, data: &[u8]) -> Result<usize, CallError> {
        // What fell due before `now` happens first (a call cannot go back in time).
        self.handle_timeout(now);
        let idx = self.index_of(h)?;
        let cause = Cause::User(UserCall::Send {
            bytes: data.len() as u32,
        });
        self.run(idx, now, &cause, |c, ctx| match calls::send(c, ctx, data) {
            Ok(n) => (Disposition::Keep, Ok(n)),
            Err(e) => (Disposition::Keep, Err(e)),
        })
        .unwrap_or(Err(CallError::UnknownConnection))
    }

    /// RECEIVE: copy received bytes out, reopening the window.
    pub fn recv(&mut self, h: ConnHandle, buf: &mut [u8]) -> Result<usize, CallError> {
        let idx = self.index_of(h)?;
        let c = self
            .slots
            .get_mut(idx as usize)
            .and_then(|s| s.conn.as_mut())
            .ok_or(CallError::UnknownConnection)?;
        let n = buf.len().min(c.recv_buf.len());
        buf[..n].copy_from_slice(&c.recv_buf[..n]);
        c.recv_buf.drain(..n);
        c.rcv_wnd = c.rcv_wnd.saturating_add(n as u32).min(self.cfg.recv_window);
        Ok(n)
    }

    /// Keep a Fast Open cookie for `server` (one saved from an earlier run,
    /// as Linux keeps them in its TCP metrics).
    pub fn remember_fast_open_cookie(
        &mut self,
        server: IpAddr,
        cookie: synack_wire::FastOpenCookie,
    ) {
        self.tfo_cache.insert(server, cookie);
    }

    /// Take an established connection off its listener's accept queue
    /// (only needed with `Config::accept_backlog`).
    pub fn accept(&mut self, h: ConnHandle) -> Result<(), CallError> {
        let idx = self.index_of(h)?;
        let port = match self
            .slots
            .get_mut(idx as usize)
            .and_then(|s| s.conn.as_mut())
        {
            Some(c) if c.unaccepted => {
                c.unaccepted = false;
                c.tuple.local.port()
            }
            _ => return Ok(()),
        };
        if let Some(l) = self.listeners.get_mut(&port) {
            l.accept_queue = l.accept_queue.saturating_sub(1);
        }
        Ok(())
    }

    /// A listener's queues, like `ss -lt` shows them: half-open connections
    /// (SYN-RECEIVED) and established ones waiting for `accept`.
    pub fn listen_queues(&self, port: u16) -> Option<(u32, u32)> {
        self.listeners
            .get(&port)
            .map(|l| (l.syn_queue, l.accept_queue))
    }

    /// Feed one IP packet (IPv4 or IPv6) that arrived at `now`.
    pub fn handle(&mut self, now: Instant, packet: &[u8]) -> Result<(), WireError> {
        let verify = self.cfg.verify_checksums;
        let parsed = parse_ip(packet, verify).and_then(|ip| {
            let tcp = TcpPacket::new_checked(ip.tcp)?;
            if verify {
                tcp.verify_checksum(ip.ip.src, ip.ip.dst)?;
            }
            Ok((ip.ip, tcp, Seg::parse(&tcp)?))
        });
        if let Err(WireError::NotTcp(
            synack_wire::icmp::PROTOCOL_V4 | synack_wire::icmp::PROTOCOL_V6,
        )) = parsed
        {
            return self.handle_icmp(now, packet);
        }
        match parsed {
            Ok((ip, tcp, seg)) => {
                let cause = match self.out.record {
                    true => TcpRepr::parse(&tcp).map(|r| {
                        SegInfo::new(
                            SocketAddr::new(ip.src, r.src_port),
                            SocketAddr::new(ip.dst, r.dst_port),
                            &r,
                        )
                    }),
                    false => Err(WireError::MixedFamilies),
                };
                let tuple = Tuple {
                    local: SocketAddr::new(ip.dst, tcp.dst_port()),
                    remote: SocketAddr::new(ip.src, tcp.src_port()),
                };
                self.dispatch(now, tuple, &seg, cause.ok());
                Ok(())
            }
            Err(e) => {
                self.stats.malformed += 1;
                if self.out.record {
                    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
                    self.out.steps.push_back(Step {
                        at: now,
                        conn: None,
                        tuple: Tuple {
                            local: any,
                            remote: any,
                        },
                        cause: Cause::Malformed(e),
                        action: Action::Drop(DropReason::Malformed),
                        rule: Rule::OptionLengths,
                        before: TcbVars::none(State::Closed),
                        after: TcbVars::none(State::Closed),
                        check: None,
                    });
                }
                Err(e)
            }
        }
    }

    /// Feed several IP packets that arrived at `now`, in order: the same as
    /// [`handle`](Self::handle) on each, but the connection table is read
    /// ahead for all of them first, so that with many connections their
    /// cache misses overlap. Returns how many did not parse (each is also
    /// counted in [`Stats::malformed`]; `handle` on one says why).
    pub fn handle_batch(&mut self, now: Instant, packets: &[&[u8]]) -> usize {
        let mut bad = 0;
        for chunk in packets.chunks(READ_AHEAD) {
            // One packet alone has no miss to overlap with.
            if chunk.len() > 1 {
                self.read_ahead(chunk);
            }
            bad += chunk
                .iter()
                .filter(|p| self.handle(now, p).is_err())
                .count();
        }
        bad
    }

    /// Bring the table buckets of the packets' 4-tuples into cache together
    /// (at most [`READ_AHEAD`]; a packet that does not parse is skipped).
    fn read_ahead(&self, packets: &[&[u8]]) {
        let mut buckets = [0usize; READ_AHEAD];
        let mut n = 0;
        for p in packets {
            if let Ok(ip) = parse_ip(p, false)
                && let Ok(tcp) = TcpPacket::new_checked(ip.tcp)
                && let Some(b) = buckets.get_mut(n)
            {
                *b = self.table.bucket_of(Tuple {
                    local: SocketAddr::new(ip.ip.dst, tcp.dst_port()),
                    remote: SocketAddr::new(ip.ip.src, tcp.src_port()),
                });
                n += 1;
            }
        }
        self.table.read_ahead(buckets.get(..n).unwrap_or(&[]));
    }

    /// Feed an already parsed segment.
    pub fn handle_segment(&mut self, now: Instant, ip: &IpHeader, seg: &TcpRepr<'_>) {
        let tuple = Tuple {
            local: SocketAddr::new(ip.dst, seg.dst_port),
            remote: SocketAddr::new(ip.src, seg.src_port),
        };
        let info = self
            .out
            .record
            .then(|| SegInfo::new(tuple.remote, tuple.local, seg));
        self.dispatch(now, tuple, &Seg::from_repr(seg), info);
    }

    /// An ICMP or ICMPv6 packet: a destination-unreachable error about one
    /// of our connections goes to it (rule 55); any other ICMP message is
    /// none of TCP's business.
    fn handle_icmp(&mut self, now: Instant, packet: &[u8]) -> Result<(), WireError> {
        let e = match synack_wire::parse_icmp(packet, self.cfg.verify_checksums) {
            Ok(e) => e,
            Err(WireError::NotUnreachable { .. }) => return Ok(()),
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e);
            }
        };
        let info = crate::step::IcmpInfo {
            from: e.ip.src,
            v6: e.v6,
            code: e.code,
            reason: e.reason,
            quoted: Tuple {
                local: e.quoted_src,
                remote: e.quoted_dst,
            },
            quoted_seq: e.quoted_seq,
        };
        let cause = Cause::Icmp(info);
        if let Some(idx) = self.lookup(info.quoted) {
            self.run(idx, now, &cause, |c, ctx| {
                (crate::icmp::error(c, ctx, &info), ())
            });
        }
        Ok(())
    }

    fn dispatch(&mut self, now: Instant, tuple: Tuple, seg: &Seg<'_>, info: Option<SegInfo>) {
        self.stats.segments_in += 1;
        // Without recording the cause is never read; any variant will do.
        let cause = info.map_or(Cause::User(UserCall::Connect), Cause::Received);
        if let Some(idx) = self.lookup(tuple) {
            let accept_full = self.accept_full(idx);
            self.run(idx, now, &cause, |c, ctx| {
                ctx.accept_full = accept_full;
                (input::segment(c, ctx, seg), ())
            });
        } else if self.is_listening(tuple.local) {
            self.on_listen(now, tuple, seg, &cause);
        } else {
            let mut ctx = self.ctx(now, &cause, TcbVars::none(State::Closed));
            match stateless::closed_reply(tuple, seg) {
                Some(rst) => {
                    let rule = rst.rule;
                    let reply = if rst.flags.ack() {
                        Reply::RstAck
                    } else {
                        Reply::Rst
                    };
                    ctx.push(rst);
                    ctx.note_stateless(
                        tuple,
                        TcbVars::none(State::Closed),
                        Action::Send(reply),
                        rule,
                    );
                }
                None => ctx.note_stateless(
                    tuple,
                    TcbVars::none(State::Closed),
                    Action::Drop(DropReason::RstIgnored),
                    Rule::NeverRstARst,
                ),
            }
        }
    }

    /// Write the next queued segment into `buf` ([`MAX_PACKET`] bytes is
    /// always enough: data is cut to the effective send MSS). When `buf` is
    /// too small the error says how much is needed and the segment stays
    /// queued.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> Result<Option<Transmit>, WireError> {
        while let Some(seg) = self.out.tx.pop_front() {
            let conn = seg.conn.and_then(|h| {
                self.slots
                    .get(h.idx as usize)
                    .filter(|s| s.generation == h.generation)
                    .and_then(|s| s.conn.as_ref())
            });
            let payload: &[u8] = match (seg.payload, conn) {
                (Payload::None, _) => &[],
                (Payload::Send { len, .. }, Some(c)) => {
                    // Data on a SYN (Fast Open) starts the send buffer.
                    let off = if seg.flags.syn() {
                        Some(0)
                    } else {
                        seg.seq.since(c.snd_una)
                    };
                    // Already acknowledged while queued: nothing left to send.
                    let Some(off) = off else {
                        continue;
                    };
                    let (off, len) = (off as usize, len as usize);
                    c.send_buf.get(off..off + len).unwrap_or(&[])
                }
                (Payload::Send { .. }, None) => continue,
            };
            self.ip_ident = self.ip_ident.wrapping_add(1);
            let ip = IpHeader {
                src: seg.tuple.local.ip(),
                dst: seg.tuple.remote.ip(),
                ttl: self.cfg.ttl,
                tos: 0,
                ident: self.ip_ident,
            };
            let repr = TcpRepr {
                src_port: seg.tuple.local.port(),
                dst_port: seg.tuple.remote.port(),
                seq: seg.seq,
                ack: seg.ack,
                flags: seg.flags,
                window: seg.window,
                urgent: 0,
                options: seg.options.to_wire(),
                payload,
            };
            let mut repr = repr;
            if seg.flags.syn() {
                repr.options.fast_open = conn.and_then(|c| c.tfo_out());
            }
            let len = match emit_segment(buf, &ip, &repr, self.cfg.option_layout) {
                Ok(n) => n,
                Err(e) => {
                    // The segment stays queued: a bigger buffer sends it.
                    self.out.tx.push_front(seg);
                    return Err(e);
                }
            };
            self.stats.segments_out += 1;
            if seg.flags.rst() {
                self.stats.resets_sent += 1;
            }
            if self.out.record {
                let vars = match conn {
                    Some(c) => c.vars(),
                    None if self.is_listening(seg.tuple.local) => TcbVars::none(State::Listen),
                    None => TcbVars::none(State::Closed),
                };
                self.out.steps.push_back(Step {
                    at: now,
                    conn: seg.conn,
                    tuple: seg.tuple,
                    cause: Cause::Sent(SegInfo::new(seg.tuple.local, seg.tuple.remote, &repr)),
                    action: Action::Transmitted,
                    rule: seg.rule,
                    before: vars,
                    after: vars,
                    check: None,
                });
            }
            return Ok(Some(Transmit {
                len,
                src: seg.tuple.local,
                dst: seg.tuple.remote,
                conn: seg.conn,
            }));
        }
        Ok(None)
    }

    /// Whether segments are waiting for `poll_transmit`.
    pub fn has_transmit(&self) -> bool {
        !self.out.tx.is_empty()
    }

    /// The earliest timer deadline.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let slots = &self.slots;
        self.timers.next(|idx, stamp| timer_live(slots, idx, stamp))
    }

    /// Run every timer due at `now`; spurious calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        loop {
            let slots = &self.slots;
            let Some(idx) = self.timers.pop_due(now, |i, s| timer_live(slots, i, s)) else {
                break;
            };
            let Some(c) = self
                .slots
                .get_mut(idx as usize)
                .and_then(|s| s.conn.as_mut())
            else {
                continue;
            };
            let kind = c.timer.map_or(TimerKind::Retransmit, |t| t.kind);
            c.timer = None;
            c.timer_scheduled = None;
            c.timer_stamp = 0;
            self.run(idx, now, &Cause::Timer(kind), |c, ctx| {
                (calls::timeout(c, ctx, kind), ())
            });
        }
        let slots = &self.slots;
        self.timers
            .compact(self.live, |i, s| timer_live(slots, i, s));
    }

    /// The next event for the application: connected, accepted, readable, …
    pub fn poll_event(&mut self) -> Option<(ConnHandle, Event)> {
        self.out.events.pop_front()
    }

    /// The next step record (only when `Config::record_steps` is on).
    pub fn poll_step(&mut self) -> Option<Step> {
        self.out.steps.pop_front()
    }

    fn ctx<'a>(&'a mut self, now: Instant, cause: &'a Cause, mark: TcbVars) -> Ctx<'a> {
        Ctx {
            now,
            cfg: &self.cfg,
            out: &mut self.out,
            cause,
            mark,
            accept_full: false,
        }
    }

    /// Whether a half-open passive connection's listener has no room left
    /// in its accept queue.
    fn accept_full(&self, idx: u32) -> bool {
        let Some(backlog) = self.cfg.accept_backlog else {
            return false;
        };
        self.slots
            .get(idx as usize)
            .and_then(|s| s.conn.as_ref())
            .filter(|c| c.origin == Origin::Passive && c.state == State::SynReceived)
            .and_then(|c| self.listeners.get(&c.tuple.local.port()))
            .is_some_and(|l| l.accept_queue >= backlog)
    }

    /// The slot of the connection on `tuple`.
    #[inline]
    fn lookup(&self, tuple: Tuple) -> Option<u32> {
        let slots = &self.slots;
        self.table.get(tuple, |i| tuple_at(slots, i))
    }

    fn index_of(&self, h: ConnHandle) -> Result<u32, CallError> {
        self.connection(h)
            .map(|_| h.idx)
            .ok_or(CallError::UnknownConnection)
    }

    fn alloc(
        &mut self,
        tuple: Tuple,
        origin: Origin,
        iss: synack_wire::SeqNum,
    ) -> (u32, ConnHandle) {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    conn: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[idx as usize];
        let handle = ConnHandle {
            idx,
            generation: slot.generation,
        };
        slot.conn = Some(Connection::new(handle, tuple, origin, iss, &self.cfg));
        self.table.insert(tuple, idx);
        self.live += 1;
        (idx, handle)
    }

    /// Run `f` on connection `idx`, then apply its disposition: reschedule
    /// its timer, or delete it.
    fn run<R>(
        &mut self,
        idx: u32,
        now: Instant,
        cause: &Cause,
        f: impl FnOnce(&mut Connection, &mut Ctx<'_>) -> (Disposition, R),
    ) -> Option<R> {
        let c = self
            .slots
            .get_mut(idx as usize)
            .and_then(|s| s.conn.as_mut())?;
        let was_established = c.state == State::Established;
        let mut ctx = Ctx {
            now,
            cfg: &self.cfg,
            out: &mut self.out,
            cause,
            mark: c.vars(),
            accept_full: false,
        };
        let was_half_open = c.origin == Origin::Passive && c.state == State::SynReceived;
        let (disposition, r) = f(c, &mut ctx);
        if !was_established && c.state == State::Established {
            self.stats.established += 1;
        }
        if let Some(cookie) = c.take_tfo_learned() {
            self.tfo_cache.insert(c.tuple.remote.ip(), cookie);
        }
        let deleted = matches!(disposition, Disposition::Delete(_));
        if was_half_open && (deleted || c.state != State::SynReceived) {
            let to_accept =
                !deleted && c.state != State::Closed && self.cfg.accept_backlog.is_some();
            c.unaccepted = to_accept;
            if let Some(l) = self.listeners.get_mut(&c.tuple.local.port()) {
                l.syn_queue = l.syn_queue.saturating_sub(1);
                l.accept_queue += u32::from(to_accept);
            }
        }
        match disposition {
            Disposition::Keep => {
                let want = c.timer.map(|t| t.at);
                if want != c.timer_scheduled {
                    c.timer_scheduled = want;
                    c.timer_stamp = match want {
                        Some(at) => self.timers.schedule(at, idx),
                        None => 0,
                    };
                }
            }
            Disposition::Delete(_) => self.remove(idx),
        }
        Some(r)
    }

    fn remove(&mut self, idx: u32) {
        if let Some(slot) = self.slots.get_mut(idx as usize)
            && let Some(c) = slot.conn.take()
        {
            if c.unaccepted
                && let Some(l) = self.listeners.get_mut(&c.tuple.local.port())
            {
                l.accept_queue = l.accept_queue.saturating_sub(1);
            }
            self.table.remove(c.tuple, idx);
            slot.generation = slot.generation.wrapping_add(1);
            self.free.push(idx);
            self.live -= 1;
        }
    }

    /// SplitMix64: per-connection values (timestamp offsets) from the seed.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The tuple slot `idx` holds, if it holds a connection.
#[inline]
fn tuple_at(slots: &[Slot], idx: u32) -> Option<Tuple> {
    slots
        .get(idx as usize)
        .and_then(|s| s.conn.as_ref())
        .map(|c| c.tuple)
}

fn timer_live(slots: &[Slot], idx: u32, stamp: u64) -> bool {
    slots
        .get(idx as usize)
        .and_then(|s| s.conn.as_ref())
        .is_some_and(|c| c.timer_stamp == stamp)
}
