//! Segment arrival for a connection that exists (RFC 9293 §3.10.7.3 and
//! §3.10.7.4, with RFC 5961). LISTEN and CLOSED are in `stateless`.

use synack_wire::{SeqNum, TcpFlags};

use crate::segment::Seg;

use crate::config::Profile;
use crate::conn::{Connection, Origin};
use crate::negotiate::{self, SynOpts};
use crate::out::{Ctx, Event};
use crate::rules::Rule;
use crate::state::State;
use crate::step::{Action, Check, CloseReason, DropReason, Note, Reply, TimerKind};

/// Whether the connection survives the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    Keep,
    Delete(CloseReason),
}

use Disposition::{Delete, Keep};

pub(crate) fn segment(c: &mut Connection, ctx: &mut Ctx<'_>, seg: &Seg<'_>) -> Disposition {
    match c.state {
        State::SynSent => syn_sent(c, ctx, seg),
        State::Closed | State::Listen => Keep,
        _ => synchronized(c, ctx, seg),
    }
}

/// §3.10.7.3, rules 2–6.
fn syn_sent(c: &mut Connection, ctx: &mut Ctx<'_>, seg: &Seg<'_>) -> Disposition {
    let f = seg.flags;
    let mut check = None;
    if f.ack() {
        // "If SEG.ACK =< ISS or SEG.ACK > SND.NXT" the ACK is unacceptable.
        let ok = seg.ack.in_open_closed(c.iss, c.snd_nxt);
        check = Some(Check::AckAcceptable {
            lo: c.iss,
            ack: seg.ack,
            hi: c.snd_nxt,
            ok,
        });
        if !ok {
            // Linux: an old FIN/ACK or RST/ACK of ours may have been
            // ignored; try the SYN again soon (tcp_rcv_synsent_state_process).
            if let Some(soon) = ctx.cfg.syn_sent_bad_ack_retry
                && c.sent <= 1
            {
                c.set_timer(ctx.now + soon, TimerKind::Retransmit);
            }
            if f.rst() {
                ctx.note(c, Action::Drop(DropReason::BadRst), Rule::SynSentRst, check);
            } else {
                ctx.push(crate::stateless::rst_for(c.tuple, seg, Rule::SynSentBadAck));
                ctx.note(c, Action::Send(Reply::Rst), Rule::SynSentBadAck, check);
            }
            return Keep;
        }
    }
    if f.rst() {
        if f.ack() {
            c.state = State::Closed;
            c.clear_timer();
            ctx.note(
                c,
                Action::Delete(CloseReason::Refused),
                Rule::SynSentRst,
                check,
            );
            ctx.event(c, Event::Refused);
            return Delete(CloseReason::Refused);
        }
        ctx.note(c, Action::Drop(DropReason::BadRst), Rule::SynSentRst, None);
        return Keep;
    }
    if !f.syn() {
        ctx.note(
            c,
            Action::Drop(DropReason::NoSynNoRst),
            Rule::SynSentNoSynNoRst,
            check,
        );
        return Keep;
    }
    c.irs = seg.seq;
    c.rcv_nxt = seg.seq.add(1);
    c.peer_syn = seg.options;
    if let Some((tsval, _)) = seg.options.timestamps {
        c.ts_recent = tsval;
    }
    if f.ack() {
        synack_completes(c, ctx, seg, check);
        return Keep;
    }
    // SYN without ACK: simultaneous open (Fig. 7). Same ISS, options repeated.
    c.neg = negotiate::agree(ctx.cfg, &c.our_syn, &c.peer_syn, c.tuple.remote);
    c.state = State::SynReceived;
    ctx.push(c.syn_segment(ctx.now, Rule::SimultaneousOpen));
    c.arm_retransmit(ctx.now, ctx.cfg.initial_rto);
    ctx.note(c, Action::Send(Reply::SynAck), Rule::SimultaneousOpen, None);
    Keep
}

/// Rule 4: an acceptable SYN-ACK completes the open. Options are agreed,
/// ESTABLISHED entered, and the ACK sent (carrying data queued in
/// SYN-SENT, if any).
fn synack_completes(c: &mut Connection, ctx: &mut Ctx<'_>, seg: &Seg<'_>, check: Option<Check>) {
    let f = seg.flags;
    c.neg = negotiate::agree(ctx.cfg, &c.our_syn, &c.peer_syn, c.tuple.remote);
    // ECN only if our (latest) SYN asked and the SYN-ACK says ECE, not CWR.
    c.neg.ecn = c.ecn_syn && f.contains(TcpFlags::ECE) && !f.contains(TcpFlags::CWR);
    if c.neg.ecn {
        ctx.note(c, Action::Note(Note::EcnAgreed), Rule::EcnSetupSyn, None);
    }
    // The window of a SYN is unscaled (RFC 7323 §2.2).
    establish(c, seg, u32::from(seg.window));
    let peer = c.peer_syn;
    ctx.note(c, Action::Negotiated(c.neg), Rule::MssNegotiation, None);
    clamp_note(c, ctx, &peer);
    let fast_open = c.syn_data > 0 || c.tfo.is_some();
    fast_open_synack(c, ctx, seg);
    if !fast_open && !c.send_buf.is_empty() {
        // Data sent in SYN-SENT was queued; it rides on the ACK
        // (§3.10.7.3: "data or controls that were queued ... MAY be
        // included").
        c.push_data_checked(ctx, false, Rule::SynSentSynAck, check);
    } else {
        ctx.push(c.ack_segment(ctx.now, Rule::SynSentSynAck));
        ctx.note(c, Action::Send(Reply::Ack), Rule::SynSentSynAck, check);
    }
    ctx.event(c, Event::Connected);
    if fast_open && !c.send_buf.is_empty() {
        // Data given to connect: what the SYN did not deliver goes now.
        c.push_data(ctx, false, Rule::FastOpen);
    }
    if !seg.payload.is_empty() || f.fin() {
        // Data or FIN on the SYN-ACK: process as in ESTABLISHED.
        text_and_fin(c, ctx, seg, seg.seq.add(1));
    }
}

/// Rule 41 on the client: keep a cookie the SYN-ACK gave, drop the SYN data
/// it acknowledged, and send again what it did not.
fn fast_open_synack(c: &mut Connection, ctx: &mut Ctx<'_>, seg: &Seg<'_>) {
    if let Some(k) = seg
        .fast_open
        .filter(|k| ctx.cfg.fast_open && !k.is_request())
    {
        c.set_tfo_learned(k);
        ctx.note(
            c,
            Action::Note(Note::FastOpenCookieLearned),
            Rule::FastOpen,
            None,
        );
    }
    if c.syn_data == 0 {
        return;
    }
    let acked = seg.ack.since(c.iss.add(1)).unwrap_or(0).min(c.syn_data);
    c.send_buf.drain(..(acked as usize).min(c.send_buf.len()));
    let left = c.syn_data - acked;
    c.syn_data = 0;
    c.snd_nxt = c.snd_una;
    if left > 0 {
        ctx.note(
            c,
            Action::Note(Note::FastOpenDataResent { bytes: left }),
            Rule::FastOpen,
            None,
        );
    }
}

fn clamp_note(c: &Connection, ctx: &mut Ctx<'_>, peer: &SynOpts) {
    if let Some(ws) = peer.window_scale
        && ws > negotiate::MAX_SHIFT
        && c.neg.window_scaling
    {
        ctx.note(c, Action::ClampShift { from: ws }, Rule::WindowScale, None);
    }
}

/// RFC 9293 Table 6 (rule 29).
fn acceptable(seq: SeqNum, len: u32, rcv_nxt: SeqNum, rcv_wnd: u32) -> bool {
    match (len, rcv_wnd) {
        (0, 0) => seq == rcv_nxt,
        (0, w) => seq.in_window(rcv_nxt, w),
        (_, 0) => false,
        (l, w) => seq.in_window(rcv_nxt, w) || seq.add(l - 1).in_window(rcv_nxt, w),
    }
}

/// Enter ESTABLISHED on an acceptable ACK: SND.UNA, the send window and its
/// update markers (SND.WL1/WL2), and the handshake's timer stops.
fn establish(c: &mut Connection, seg: &Seg<'_>, snd_wnd: u32) {
    c.state = State::Established;
    c.snd_una = seg.ack;
    c.snd_wnd = snd_wnd;
    c.max_snd_wnd = snd_wnd;
    c.snd_wl1 = seg.seq;
    c.snd_wl2 = seg.ack;
    c.clear_timer();
    c.sent = 0;
}

/// SYN-RECEIVED: SND.UNA < SEG.ACK ≤ SND.NXT enters ESTABLISHED (rule 15)
/// and returns the check; otherwise <SEQ=SEG.ACK><CTL=RST> (rule 16), `None`.
fn syn_received_ack(
    c: &mut Connection,
    ctx: &mut Ctx<'_>,
    seg: &Seg<'_>,
    snd_wnd: u32,
) -> Option<Option<Check>> {
    let ok = seg.ack.in_open_closed(c.snd_una, c.snd_nxt);
    let check = Some(Check::AckAcceptable {
        lo: c.snd_una,
        ack: seg.ack,
        hi: c.snd_nxt,
        ok,
    });
    if !ok {
        ctx.push(crate::stateless::rst_for(c.tuple, seg, Rule::SynRcvdBadAck));
        ctx.note(c, Action::Send(Reply::Rst), Rule::SynRcvdBadAck, check);
        return None;
    }
    if ctx.accept_full {
        let backlog = ctx.cfg.accept_backlog.unwrap_or(0);
        let note = Note::AcceptQueueFull {
            accepted: backlog,
            backlog,
        };
        ctx.note(c, Action::Note(note), Rule::SynCookieMode, check);
        return None;
    }
    establish(c, seg, snd_wnd);
    Some(check)
}

/// §3.10.7.4 for SYN-RECEIVED and the synchronized states.
fn synchronized(c: &mut Connection, ctx: &mut Ctx<'_>, seg: &Seg<'_>) -> Disposition {
    if let Some(d) = before_step_one(c, ctx, seg) {
        return d;
    }

    let f = seg.flags;
    let len = seg.seg_len();
    // Step 1: sequence number acceptable? (rule 29). SYNs go to step 4
    // whatever their sequence number (RFC 5961 §4.2).
    let ok = acceptable(seg.seq, len, c.rcv_nxt, c.rcv_wnd);
    let seq_check = Some(Check::SeqAcceptable {
        rcv_nxt: c.rcv_nxt,
        rcv_wnd: c.rcv_wnd,
        seq: seg.seq,
        len,
        ok,
    });
    let syn_without_rst = f.syn() && !f.rst();
    if !ok && !syn_without_rst {
        return unacceptable(c, ctx, seg, seq_check);
    }

    if f.rst() {
        return rst(c, ctx, seg);
    }

    if f.syn() {
        return syn(c, ctx, seg, seq_check);
    }

    // SACK-permitted belongs on SYNs only (RFC 2018 §2): ignore it elsewhere.
    if seg.options.sack_permitted {
        ctx.note(c, Action::Ignore, Rule::SackPermitted, None);
    }

    if let Some(d) = timestamps(c, ctx, seg) {
        return d;
    }

    // Step 5: ACK.
    if !f.ack() {
        let rule = if c.state == State::SynReceived {
            Rule::SynRcvdBadAck
        } else {
            Rule::AckProcessing
        };
        ctx.note(c, Action::Drop(DropReason::NoAckBit), rule, None);
        return Keep;
    }
    if c.state == State::SynReceived {
        if let Some(d) = syn_received_completes(c, ctx, seg) {
            return d;
        }
    } else if let Some(d) = ack_field(c, ctx, seg) {
        return d;
    }

    text_and_fin(c, ctx, seg, seg.seq)
}

/// What the synchronized states answer before step 1: the peer's SYN-ACK
/// of a simultaneous open, a duplicate of the SYN that made this
/// connection, a FIN again in TIME-WAIT.
fn before_step_one(c: &mut Connection, ctx: &mut Ctx<'_>, seg: &Seg<'_>) -> Option<Disposition> {
    let f = seg.flags;
    let len = seg.seg_len();
    // Simultaneous open, Fig. 7 line 6: the peer's SYN-ACK repeats its SYN
    // (SEQ=IRS, so step 1 would call it old) and acknowledges ours.
    if c.state == State::SynReceived && f.syn() && f.ack() && !f.rst() && seg.seq == c.irs {
        // The window of a SYN is unscaled (RFC 7323 §2.2).
        let Some(check) = syn_received_ack(c, ctx, seg, u32::from(seg.window)) else {
            return Some(Keep);
        };
        ctx.push(c.ack_segment(ctx.now, Rule::SimultaneousOpen));
        ctx.note(c, Action::Send(Reply::Ack), Rule::SimultaneousOpen, check);
        ctx.event(c, Event::Connected);
        return Some(Keep);
    }

    // A duplicate of the SYN that created this connection (rule 17).
    if c.state == State::SynReceived && f.syn() && !f.ack() && !f.rst() && seg.seq == c.irs {
        match ctx.cfg.profile {
            Profile::LinuxCompat => {
                ctx.push(c.syn_segment(ctx.now, Rule::SynRcvdDupSyn));
                ctx.note(c, Action::Send(Reply::SynAck), Rule::SynRcvdDupSyn, None);
            }
            Profile::Rfc => {
                ctx.push(c.ack_segment(ctx.now, Rule::SynRcvdDupSyn));
                ctx.note(c, Action::Send(Reply::Ack), Rule::SynRcvdDupSyn, None);
            }
        }
        return Some(Keep);
    }

    // A retransmitted FIN in TIME-WAIT: acknowledge and restart 2·MSL (rule 49).
    if c.state == State::TimeWait && f.fin() && !f.rst() && seg.seq.add(len) == c.rcv_nxt {
        ctx.push(c.ack_segment(ctx.now, Rule::TimeWait));
        c.set_timer(ctx.now + ctx.cfg.time_wait, TimerKind::TimeWait);
        ctx.note(c, Action::Send(Reply::Ack), Rule::TimeWait, None);
        return Some(Keep);
    }
    None
}

/// TS.Recent kept, or a segment without timestamps dropped (RFC profile).
fn timestamps(c: &mut Connection, ctx: &mut Ctx<'_>, seg: &Seg<'_>) -> Option<Disposition> {
    // Timestamps: once negotiated, a non-RST segment without them SHOULD be
    // dropped (RFC 7323 §3.2); Linux accepts it.
    match seg.options.timestamps {
        Some((tsval, _))
            if c.neg.timestamps && (seg.seq == c.rcv_nxt || c.state == State::SynReceived) =>
        {
            c.ts_recent = tsval;
        }
        None if c.neg.timestamps && ctx.cfg.profile == Profile::Rfc => {
            ctx.note(
                c,
                Action::Drop(DropReason::MissingTimestamp),
                Rule::TimestampsEverySegment,
                None,
            );
            return Some(Keep);
        }
        _ => {}
    }
    None
}

/// The ACK that completes SYN-RECEIVED (rule 15's scaling applies from
/// it on); `None` when it did, so its text and FIN go on.
fn syn_received_completes(
    c: &mut Connection,
    ctx: &mut Ctx<'_>,
    seg: &Seg<'_>,
) -> Option<Disposition> {
    // Scaling applies from this segment on (rule 15).
    let Some(check) = syn_received_ack(c, ctx, seg, u32::from(seg.window) << c.neg.snd_shift)
    else {
        return Some(Keep);
    };
    let peer = c.peer_syn;
    clamp_note(c, ctx, &peer);
    ctx.note(c, Action::Enter, Rule::SynRcvdAck, check);
    let ev = match c.origin {
        Origin::Passive => Event::Accepted,
        Origin::Active => Event::Connected,
    };
    ctx.event(c, ev);
    if !c.send_buf.is_empty() {
        // Data queued in SYN-RECEIVED goes once ESTABLISHED.
        c.push_data(ctx, false, Rule::SynRcvdAck);
    }
    None
}

/// Send a challenge ACK (RFC 5961 §3.2, §4.2), rate limited (§7).
fn challenge_ack(c: &mut Connection, ctx: &mut Ctx<'_>, rule: Rule) -> Action {
    if c.rate_limited_ack(ctx, rule) {
        Action::Send(Reply::ChallengeAck)
    } else {
        Action::Drop(DropReason::RateLimited)
    }
}
/// Step 1's answer to a segment outside the window (rules 29, 30): a RST
/// is dropped, anything else gets an ACK (rate-limited on Linux).
fn unacceptable(
    c: &mut Connection,
    ctx: &mut Ctx<'_>,
    seg: &Seg<'_>,
    seq_check: Option<Check>,
) -> Disposition {
    let f = seg.flags;
    if f.rst() {
        ctx.note(
            c,
            Action::Drop(DropReason::OutOfWindow),
            Rule::RstInWindow,
            seq_check,
        );
        return Keep;
    }
    // Linux rate-limits these pure ACKs; segments with data are exempt.
    let limited = ctx.cfg.profile == Profile::LinuxCompat && seg.payload.is_empty();
    let sent = if limited {
        c.rate_limited_ack(ctx, Rule::UnacceptableSegment)
    } else {
        ctx.push(c.ack_segment(ctx.now, Rule::UnacceptableSegment));
        true
    };
    let action = if sent {
        Action::Send(Reply::Ack)
    } else {
        Action::Drop(DropReason::RateLimited)
    };
    ctx.note(c, action, Rule::UnacceptableSegment, seq_check);
    Keep
}

/// Step 2: RST (rules 19, 31, 32, 50).
fn rst(c: &mut Connection, ctx: &mut Ctx<'_>, seg: &Seg<'_>) -> Disposition {
    let exact = seg.seq == c.rcv_nxt;
    let check = Some(Check::RstExact {
        rcv_nxt: c.rcv_nxt,
        seq: seg.seq,
        ok: exact,
    });
    if !exact {
        let action = challenge_ack(c, ctx, Rule::RstInWindow);
        ctx.note(c, action, Rule::RstInWindow, check);
        return Keep;
    }
    let (reason, rule, event) = match (c.state, c.origin) {
        (State::SynReceived, Origin::Passive) => {
            (CloseReason::BackToListen, Rule::SynRcvdRst, None)
        }
        (State::SynReceived, Origin::Active) => {
            (CloseReason::Refused, Rule::SynRcvdRst, Some(Event::Refused))
        }
        (State::TimeWait, _) => (
            CloseReason::Closed,
            Rule::RstInTimeWait,
            Some(Event::Closed),
        ),
        _ => (CloseReason::Reset, Rule::RstExact, Some(Event::Reset)),
    };
    c.state = State::Closed;
    c.clear_timer();
    ctx.note(c, Action::Delete(reason), rule, check);
    if let Some(ev) = event {
        ctx.event(c, ev);
    }
    Delete(reason)
}

/// Step 4: SYN (rules 18, 33).
fn syn(
    c: &mut Connection,
    ctx: &mut Ctx<'_>,
    seg: &Seg<'_>,
    seq_check: Option<Check>,
) -> Disposition {
    if c.state == State::SynReceived && c.origin == Origin::Passive {
        // Linux also resets the new SYN: <SEQ=0><ACK=SEG.SEQ+1><RST,ACK>
        // (tcp_check_req's embryonic reset).
        if ctx.cfg.profile == Profile::LinuxCompat {
            ctx.push(crate::stateless::rst_ack_for(
                c.tuple,
                seg,
                Rule::SynRcvdNewSyn,
            ));
            ctx.note(c, Action::Send(Reply::Rst), Rule::SynRcvdNewSyn, seq_check);
        }
        c.state = State::Closed;
        c.clear_timer();
        ctx.note(
            c,
            Action::Delete(CloseReason::BackToListen),
            Rule::SynRcvdNewSyn,
            seq_check,
        );
        return Delete(CloseReason::BackToListen);
    }
    let action = challenge_ack(c, ctx, Rule::SynInSynchronized);
    ctx.note(c, action, Rule::SynInSynchronized, seq_check);
    Keep
}

/// Step 5 in the synchronized states (rules 34, 46–49). `Some` ends
/// processing of the segment.
fn ack_field(c: &mut Connection, ctx: &mut Ctx<'_>, seg: &Seg<'_>) -> Option<Disposition> {
    let check = Some(Check::AckAcceptable {
        lo: c.snd_una,
        ack: seg.ack,
        hi: c.snd_nxt,
        ok: seg.ack.in_open_closed(c.snd_una, c.snd_nxt),
    });
    // Acks something not yet sent: ACK and drop.
    if seg.ack > c.snd_nxt {
        ctx.push(c.ack_segment(ctx.now, Rule::AckProcessing));
        ctx.note(c, Action::Send(Reply::Ack), Rule::AckProcessing, check);
        return Some(Keep);
    }
    // RFC 5961 §5.2: too old to be a real ACK.
    if seg.ack < c.snd_una.sub(c.max_snd_wnd) {
        ctx.push(c.ack_segment(ctx.now, Rule::AckProcessing));
        ctx.note(c, Action::Send(Reply::Ack), Rule::AckProcessing, check);
        return Some(Keep);
    }
    if seg.ack.in_open_closed(c.snd_una, c.snd_nxt) {
        let acked = seg.ack.since(c.snd_una).unwrap_or(0);
        let fin_acked = c.fin_seq.is_some_and(|f| f.add(1) == seg.ack);
        let data = acked - u32::from(fin_acked);
        c.send_buf.drain(..(data as usize).min(c.send_buf.len()));
        c.snd_una = seg.ack;
        if c.snd_una == c.snd_nxt {
            c.clear_timer();
            c.sent = 0;
        } else {
            c.arm_retransmit(ctx.now, ctx.cfg.initial_rto);
        }
        if data > 0 {
            ctx.note(c, Action::Acked { bytes: data }, Rule::AckProcessing, check);
        }
    }
    // Window update (SND.WL1/WL2 rule).
    if c.snd_wl1 < seg.seq || (c.snd_wl1 == seg.seq && c.snd_wl2 <= seg.ack) {
        c.snd_wnd = u32::from(seg.window) << c.neg.snd_shift;
        c.max_snd_wnd = c.max_snd_wnd.max(c.snd_wnd);
        c.snd_wl1 = seg.seq;
        c.snd_wl2 = seg.ack;
    }
    let fin_acked = c.fin_seq.is_some_and(|f| c.snd_una == f.add(1));
    if fin_acked {
        match c.state {
            State::FinWait1 => {
                c.state = State::FinWait2;
                ctx.note(c, Action::Enter, Rule::ActiveClose, check);
            }
            State::Closing => {
                c.state = State::TimeWait;
                c.set_timer(ctx.now + ctx.cfg.time_wait, TimerKind::TimeWait);
                ctx.note(c, Action::Enter, Rule::SimultaneousClose, check);
            }
            State::LastAck => {
                c.state = State::Closed;
                c.clear_timer();
                ctx.note(
                    c,
                    Action::Delete(CloseReason::Closed),
                    Rule::PassiveClose,
                    check,
                );
                ctx.event(c, Event::Closed);
                return Some(Delete(CloseReason::Closed));
            }
            _ => {}
        }
    }
    // More data may fit now that the window moved.
    if matches!(c.state, State::Established | State::CloseWait) {
        c.push_data(ctx, false, Rule::AckProcessing);
    } else if matches!(c.state, State::FinWait1 | State::LastAck) && c.fin_seq.is_none() {
        // CLOSE came while data waited for the window: the rest goes now,
        // with the FIN on its last segment.
        let rule = if c.state == State::FinWait1 {
            Rule::ActiveClose
        } else {
            Rule::PassiveClose
        };
        c.push_data(ctx, true, rule);
    }
    None
}

/// Steps 7 and 8: payload and FIN. `data_seq` is the sequence number of the
/// first payload byte.
fn text_and_fin(
    c: &mut Connection,
    ctx: &mut Ctx<'_>,
    seg: &Seg<'_>,
    data_seq: SeqNum,
) -> Disposition {
    let mut ack_needed = false;
    let mut delivered_to = data_seq;
    if !seg.payload.is_empty() {
        if matches!(
            c.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            match c.rcv_nxt.since(data_seq) {
                Some(skip) if (skip as usize) < seg.payload.len() => {
                    let fresh = &seg.payload[skip as usize..];
                    let room = c.rcv_wnd as usize;
                    let take = fresh.len().min(room);
                    c.recv_buf.extend_from_slice(&fresh[..take]);
                    c.rcv_nxt = c.rcv_nxt.add(take as u32);
                    c.rcv_wnd -= take as u32;
                    if take > 0 {
                        ctx.note(
                            c,
                            Action::Deliver { bytes: take as u32 },
                            Rule::SeqAcceptable,
                            None,
                        );
                        ctx.event(c, Event::Readable);
                    }
                }
                Some(_) => {} // all old: a duplicate, re-ACK below
                None => {
                    ctx.note(
                        c,
                        Action::Drop(DropReason::OutOfOrder),
                        Rule::SeqAcceptable,
                        None,
                    );
                }
            }
        } else {
            ctx.note(
                c,
                Action::Drop(DropReason::DataIgnored),
                Rule::SeqAcceptable,
                None,
            );
        }
        ack_needed = true;
        delivered_to = data_seq.add(seg.payload.len() as u32);
    }

    if seg.flags.fin() {
        let ok = delivered_to == c.rcv_nxt;
        let check = Some(Check::FinInOrder {
            rcv_nxt: c.rcv_nxt,
            fin_seq: delivered_to,
            ok,
        });
        if !ok {
            ctx.note(
                c,
                Action::Drop(DropReason::OutOfOrder),
                Rule::FinInOrder,
                check,
            );
        } else {
            c.rcv_nxt = c.rcv_nxt.add(1);
            let rule = match c.state {
                State::SynReceived | State::Established => {
                    c.state = State::CloseWait;
                    ctx.event(c, Event::PeerClosed);
                    Some(Rule::PassiveClose)
                }
                State::FinWait1 => {
                    c.state = State::Closing;
                    ctx.event(c, Event::PeerClosed);
                    Some(Rule::SimultaneousClose)
                }
                State::FinWait2 => {
                    c.state = State::TimeWait;
                    c.set_timer(ctx.now + ctx.cfg.time_wait, TimerKind::TimeWait);
                    ctx.event(c, Event::PeerClosed);
                    Some(Rule::ActiveClose)
                }
                _ => None,
            };
            if let Some(rule) = rule {
                if let (State::CloseWait, Some(d), None) = (c.state, ctx.cfg.fin_ack_delay, c.timer)
                {
                    // Our FIN, if the application closes soon, carries it.
                    c.set_timer(ctx.now + d, TimerKind::DelayedAck);
                    let ms = u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
                    ctx.note(c, Action::Note(Note::FinAckDelayed { ms }), rule, check);
                    return Keep;
                }
                ctx.push(c.ack_segment(ctx.now, rule));
                ctx.note(c, Action::Send(Reply::Ack), rule, check);
                return Keep;
            }
        }
        ack_needed = true;
    }
    if ack_needed {
        ctx.push(c.ack_segment(ctx.now, Rule::SeqAcceptable));
        ctx.note(c, Action::Send(Reply::Ack), Rule::SeqAcceptable, None);
    }
    Keep
}
