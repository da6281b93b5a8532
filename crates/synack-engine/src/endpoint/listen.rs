//! A listener's decisions: a SYN opens a half-open connection (rule 13), or
//! when the SYN queue is full a stateless cookie SYN-ACK answers it (rules
//! 43–45); an ACK with a valid cookie rebuilds the connection. Fast Open
//! (rule 41) issues and checks cookies on the SYN, and puts the client's
//! data on its SYN.

use core::net::IpAddr;

use synack_wire::{FastOpenCookie, SeqNum, TcpFlags};

use super::Endpoint;
use crate::config::{Ecn, SynCookies};
use crate::conn::{Connection, Origin};
use crate::cookie;
use crate::fastopen;
use crate::input::Disposition;
use crate::negotiate::{self, SynOpts};
use crate::out::{Ctx, Event, OutSeg, Payload};
use crate::rules::Rule;
use crate::segment::Seg;
use crate::state::State;
use crate::stateless::{self, ListenVerdict};
use crate::step::{Action, Cause, DropReason, Note, Reply, TcbVars, Tuple};
use crate::time::Instant;

/// A listening port: its address and its two queues.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listener {
    /// `None`: every local address.
    pub ip: Option<IpAddr>,
    /// Passive connections in SYN-RECEIVED.
    pub syn_queue: u32,
    /// Established connections not yet taken by `accept`.
    pub accept_queue: u32,
}

impl Listener {
    pub fn new(ip: Option<IpAddr>) -> Listener {
        Listener {
            ip,
            syn_queue: 0,
            accept_queue: 0,
        }
    }
}

/// Client side of Fast Open on `connect`: data on the SYN with a cookie we
/// hold, else a cookie request (and the data waits for the handshake).
pub(crate) fn fast_open_syn(c: &mut Connection, ctx: &Ctx<'_>, cookie: Option<FastOpenCookie>) {
    match cookie {
        Some(k) if !c.send_buf.is_empty() => {
            // The peer's MSS is unknown yet: stay within the default.
            let n = c
                .send_buf
                .len()
                .min(usize::from(negotiate::default_mss(c.tuple.remote)));
            c.syn_data = n as u32;
            c.snd_nxt = c.iss.add(1 + n as u32);
            c.set_tfo_out(Some(k));
        }
        Some(k) => c.set_tfo_out(Some(k)),
        None => c.set_tfo_out(FastOpenCookie::new(&[])),
    }
    let _ = ctx;
}

impl Endpoint {
    pub(super) fn on_listen(&mut self, now: Instant, tuple: Tuple, seg: &Seg<'_>, cause: &Cause) {
        let listen = TcbVars::none(State::Listen);
        let verdict = stateless::listen_verdict(seg.flags);
        if verdict == ListenVerdict::Reset && self.cookie_ack(now, tuple, seg, cause) {
            return;
        }
        if verdict != ListenVerdict::Open {
            let mut ctx = self.ctx(now, cause, listen);
            let (action, rule) = match verdict {
                ListenVerdict::Reset => {
                    ctx.push(stateless::rst_for(tuple, seg, Rule::ListenAck));
                    (Action::Send(Reply::Rst), Rule::ListenAck)
                }
                ListenVerdict::IllegalFlags => {
                    (Action::Drop(DropReason::IllegalFlags), Rule::ListenSyn)
                }
                ListenVerdict::Ignore if seg.flags.rst() => {
                    (Action::Drop(DropReason::RstIgnored), Rule::ListenIgnore)
                }
                _ => (Action::Drop(DropReason::NoControl), Rule::ListenIgnore),
            };
            ctx.note_stateless(tuple, listen, action, rule);
            return;
        }
        let queue = self
            .listeners
            .get(&tuple.local.port())
            .map_or(0, |l| l.syn_queue);
        let full = queue >= self.cfg.syn_backlog;
        match self.cfg.syn_cookies {
            SynCookies::Always => return self.cookie_synack(now, tuple, seg, cause, queue),
            SynCookies::WhenFull if full => {
                return self.cookie_synack(now, tuple, seg, cause, queue);
            }
            SynCookies::Off if full => {
                let backlog = self.cfg.syn_backlog;
                let mut ctx = self.ctx(now, cause, listen);
                let note = Note::SynQueueFull {
                    syn_queue: queue,
                    backlog,
                };
                ctx.note_stateless(tuple, listen, Action::Note(note), Rule::SynCookieMode);
                return;
            }
            _ => {}
        }
        self.open_half(now, tuple, seg, cause);
    }

    /// Rule 13: a SYN opens a connection in SYN-RECEIVED.
    fn open_half(&mut self, now: Instant, tuple: Tuple, seg: &Seg<'_>, cause: &Cause) {
        let listen = TcbVars::none(State::Listen);
        let iss = crate::isn::generate(&self.cfg.isn, now, tuple.local, tuple.remote);
        let (idx, _) = self.alloc(tuple, Origin::Passive, iss);
        if let Some(l) = self.listeners.get_mut(&tuple.local.port()) {
            l.syn_queue += 1;
        }
        let ts_offset = self.next_random() as u32;
        self.run(idx, now, cause, |c, ctx| {
            ctx.mark = listen;
            c.irs = seg.seq;
            c.rcv_nxt = seg.seq.add(1);
            c.peer_syn = seg.options;
            c.our_syn = negotiate::synack_options(ctx.cfg, &c.peer_syn, tuple.remote);
            c.neg = negotiate::agree(ctx.cfg, &c.our_syn, &c.peer_syn, tuple.remote);
            let ecn_setup = seg.flags.contains(TcpFlags::ECE | TcpFlags::CWR);
            c.neg.ecn = ecn_setup && ctx.cfg.ecn != Ecn::Off;
            c.ts_recent = seg.options.timestamps.map_or(0, |t| t.0);
            c.ts_offset = ts_offset;
            c.state = State::SynReceived;
            let early = fast_open_server(c, ctx, seg);
            let rule = if ecn_setup {
                Rule::EcnSetupSynAck
            } else {
                Rule::ListenSyn
            };
            ctx.push(c.syn_segment(ctx.now, rule));
            c.arm_retransmit(ctx.now, ctx.cfg.initial_rto);
            ctx.note(c, Action::Send(Reply::SynAck), Rule::ListenSyn, None);
            ctx.note(
                c,
                Action::Negotiated(c.neg),
                Rule::SynAckEchoesOptions,
                None,
            );
            if ecn_setup {
                let note = if c.neg.ecn {
                    Note::EcnAgreed
                } else {
                    Note::EcnDeclined
                };
                ctx.note(c, Action::Note(note), Rule::EcnSetupSynAck, None);
            }
            if let Some(note) = early {
                ctx.note(c, Action::Note(note), Rule::FastOpen, None);
                if matches!(note, Note::FastOpenDataAccepted { .. }) {
                    ctx.event(c, Event::Readable);
                }
            }
            if !seg.payload.is_empty() && c.recv_buf.is_empty() {
                ctx.note(c, Action::Drop(DropReason::SynData), Rule::DataOnSyn, None);
            }
            (Disposition::Keep, ())
        });
    }

    /// Rule 43: answer with ISS = cookie, keep nothing, never retransmit.
    fn cookie_synack(
        &mut self,
        now: Instant,
        tuple: Tuple,
        seg: &Seg<'_>,
        cause: &Cause,
        queue: u32,
    ) {
        let cfg = &self.cfg;
        let peer_mss = seg
            .options
            .mss
            .filter(|&m| m > 0)
            .unwrap_or(negotiate::default_mss(tuple.remote));
        let idx = cookie::mss_index(peer_mss.min(negotiate::our_mss(cfg, tuple.remote)));
        let iss = cookie::make(
            cfg.cookie_layout(),
            &cfg.secret,
            now,
            tuple.local,
            tuple.remote,
            seg.seq.get(),
            idx,
        );
        let mut options: SynOpts = negotiate::synack_options(cfg, &seg.options, tuple.remote);
        let ecn = seg.flags.contains(TcpFlags::ECE | TcpFlags::CWR) && cfg.ecn != Ecn::Off;
        if let (Some(_), Some((peer_tsval, _))) = (options.timestamps, seg.options.timestamps) {
            // The options the cookie cannot hold ride in TSval's low bits.
            let bits = cookie::pack_options(options.window_scale, options.sack_permitted, ecn);
            let tsval = (now.as_millis() as u32 & !0x3f) | bits;
            options.timestamps = Some((tsval, peer_tsval));
        }
        let mut flags = TcpFlags::SYN_ACK;
        if ecn {
            flags = flags | TcpFlags::ECE;
        }
        let out = OutSeg {
            tuple,
            seq: SeqNum(iss),
            ack: seg.seq.add(1),
            flags,
            window: cfg.recv_window.min(0xffff) as u16,
            options,
            payload: Payload::None,
            conn: None,
            rule: Rule::SynCookieMode,
        };
        let note = Note::SynCookieSent {
            mss: cookie::MSS_TABLE.get(idx as usize).copied().unwrap_or(536),
            syn_queue: queue,
            backlog: cfg.syn_backlog,
        };
        let layout_rule = match cfg.cookie_layout() {
            cookie::Layout::Djb => Rule::SynCookieLayout,
            cookie::Layout::Linux => Rule::LinuxSynCookie,
        };
        let listen = TcbVars::none(State::Listen);
        let mut ctx = self.ctx(now, cause, listen);
        ctx.push(out);
        ctx.note_stateless(tuple, listen, Action::Note(note), Rule::SynCookieMode);
        ctx.note_stateless(tuple, listen, Action::Send(Reply::SynAck), layout_rule);
    }

    /// An ACK reaching the listener: if cookies are on and it returns a
    /// valid cookie, build the connection in ESTABLISHED. Returns whether
    /// it was handled.
    fn cookie_ack(&mut self, now: Instant, tuple: Tuple, seg: &Seg<'_>, cause: &Cause) -> bool {
        let cfg = &self.cfg;
        if cfg.syn_cookies == SynCookies::Off || seg.flags.syn() || seg.flags.rst() {
            return false;
        }
        let client_isn = seg.seq.get().wrapping_sub(1);
        let cookie_val = seg.ack.get().wrapping_sub(1);
        let layout = cfg.cookie_layout();
        let Some(idx) = cookie::check(
            layout,
            &cfg.secret,
            now,
            tuple.local,
            tuple.remote,
            client_isn,
            cookie_val,
        ) else {
            let listen = TcbVars::none(State::Listen);
            let mut ctx = self.ctx(now, cause, listen);
            ctx.note_stateless(
                tuple,
                listen,
                Action::Note(Note::SynCookieRejected),
                Rule::SynCookieMode,
            );
            return false;
        };
        let mss = cookie::MSS_TABLE.get(idx as usize).copied().unwrap_or(536);
        let (ws, sack, ecn) = match seg.options.timestamps {
            Some((_, tsecr)) => cookie::unpack_options(tsecr),
            None => (None, false, false),
        };
        let to_accept = cfg.accept_backlog.is_some();
        let (slot, _) = self.alloc(tuple, Origin::Passive, SeqNum(cookie_val));
        let ts_offset = self.next_random() as u32;
        self.run(slot, now, cause, |c, ctx| {
            ctx.mark = TcbVars::none(State::Listen);
            let peer = SynOpts {
                mss: Some(mss),
                window_scale: ws,
                sack_permitted: sack,
                timestamps: seg.options.timestamps,
            };
            c.irs = SeqNum(client_isn);
            c.rcv_nxt = seg.seq;
            c.peer_syn = peer;
            c.our_syn = negotiate::synack_options(ctx.cfg, &peer, tuple.remote);
            c.neg = negotiate::agree(ctx.cfg, &c.our_syn, &peer, tuple.remote);
            c.neg.ecn = ecn;
            c.ts_recent = seg.options.timestamps.map_or(0, |t| t.0);
            c.ts_offset = ts_offset;
            c.state = State::Established;
            c.snd_una = seg.ack;
            c.snd_nxt = seg.ack;
            let wnd = u32::from(seg.window) << c.neg.snd_shift;
            c.snd_wnd = wnd;
            c.max_snd_wnd = wnd;
            c.snd_wl1 = seg.seq;
            c.snd_wl2 = seg.ack;
            c.unaccepted = to_accept;
            ctx.note(
                c,
                Action::Note(Note::SynCookieAccepted { mss }),
                Rule::SynCookieMode,
                None,
            );
            ctx.note(c, Action::Negotiated(c.neg), Rule::SynCookieLayout, None);
            ctx.event(c, Event::Accepted);
            (Disposition::Keep, ())
        });
        if to_accept && let Some(l) = self.listeners.get_mut(&tuple.local.port()) {
            l.accept_queue += 1;
        }
        true
    }
}

/// Server side of Fast Open on a SYN: issue a cookie on request, accept the
/// data of a SYN with a valid cookie (RCV.NXT moves past it, so the SYN-ACK
/// acknowledges it), refuse it otherwise and hand out a fresh cookie.
fn fast_open_server(c: &mut Connection, ctx: &Ctx<'_>, seg: &Seg<'_>) -> Option<Note> {
    let cfg = ctx.cfg;
    let k = seg.fast_open.filter(|_| cfg.fast_open)?;
    let client = c.tuple.remote.ip();
    let fresh = fastopen::cookie(&cfg.secret, client);
    if k.is_request() {
        c.set_tfo_out(Some(fresh));
        return Some(Note::FastOpenCookieIssued);
    }
    let bytes = seg.payload.len() as u32;
    if fastopen::valid(&cfg.secret, client, &k) {
        if bytes == 0 {
            return None;
        }
        c.recv_buf.extend_from_slice(seg.payload);
        c.rcv_nxt = c.rcv_nxt.add(bytes);
        c.rcv_wnd = c.rcv_wnd.saturating_sub(bytes);
        return Some(Note::FastOpenDataAccepted { bytes });
    }
    c.set_tfo_out(Some(fresh));
    Some(Note::FastOpenDataRejected { bytes })
}
