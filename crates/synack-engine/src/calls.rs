//! User calls on a connection (RFC 9293 §3.10.3–5) and timer expiry
//! (§3.10.8): CLOSE, ABORT, SEND, and the retransmission/TIME-WAIT timers.

use crate::config::Profile;
use crate::conn::{Connection, Origin};
use crate::input::Disposition;
use crate::out::{Ctx, Event};
use crate::rules::Rule;
use crate::state::State;
use crate::step::{Action, CloseReason, Note, Reply, TimerKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
/// Why a user call was refused.
pub enum CallError {
    #[error("no such connection (closed, or never existed)")]
    /// The handle names no connection.
    UnknownConnection,
    #[error("connection is closing (state {0})")]
    /// The connection is closing already.
    Closing(crate::State),
    #[error("a connection {0:?} already exists")]
    /// A connection on this 4-tuple exists.
    TupleInUse(crate::Tuple),
    #[error("already listening on port {0}")]
    /// The port has a listener.
    AlreadyListening(u16),
    #[error("not listening on port {0}")]
    /// The port has no listener.
    NotListening(u16),
    #[error("local and remote address families differ")]
    /// Local and remote addresses of different families.
    MixedFamilies,
}

/// CLOSE (rules 10, 46, 47, 52).
pub(crate) fn close(c: &mut Connection, ctx: &mut Ctx<'_>) -> Result<Disposition, CallError> {
    match c.state {
        State::SynSent => {
            c.state = State::Closed;
            c.clear_timer();
            ctx.note(
                c,
                Action::Delete(CloseReason::Aborted),
                Rule::CloseInSynSent,
                None,
            );
            Ok(Disposition::Delete(CloseReason::Aborted))
        }
        State::SynReceived | State::Established if !c.recv_buf.is_empty() => {
            // Unread data would be lost silently: reset instead (SHLD-3).
            ctx.push(c.rst_segment(
                ctx.cfg.profile == Profile::LinuxCompat,
                Rule::CloseWithUnreadData,
            ));
            c.state = State::Closed;
            c.clear_timer();
            ctx.note(c, Action::Send(Reply::Rst), Rule::CloseWithUnreadData, None);
            Ok(Disposition::Delete(CloseReason::Aborted))
        }
        State::SynReceived | State::Established => {
            c.state = State::FinWait1;
            c.push_data(ctx, true, Rule::ActiveClose);
            Ok(Disposition::Keep)
        }
        State::CloseWait => {
            c.state = State::LastAck;
            c.push_data(ctx, true, Rule::PassiveClose);
            Ok(Disposition::Keep)
        }
        s => Err(CallError::Closing(s)),
    }
}

/// ABORT (rule 53): RST only where the peer may hold state for us.
pub(crate) fn abort(c: &mut Connection, ctx: &mut Ctx<'_>) -> Disposition {
    let sends_rst = matches!(
        c.state,
        State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait
    );
    if sends_rst {
        ctx.push(c.rst_segment(ctx.cfg.profile == Profile::LinuxCompat, Rule::Abort));
    }
    let rule = if c.state == State::SynSent {
        Rule::CloseInSynSent
    } else {
        Rule::Abort
    };
    c.state = State::Closed;
    c.clear_timer();
    let action = if sends_rst {
        Action::Send(Reply::Rst)
    } else {
        Action::Delete(CloseReason::Aborted)
    };
    ctx.note(c, action, rule, None);
    Disposition::Delete(CloseReason::Aborted)
}

/// SEND: buffer and transmit what the window allows. Returns bytes taken.
pub(crate) fn send(c: &mut Connection, ctx: &mut Ctx<'_>, data: &[u8]) -> Result<usize, CallError> {
    match c.state {
        // §3.10.2: in SYN-SENT and SYN-RECEIVED, "queue the data for
        // transmission after entering ESTABLISHED state".
        State::Established | State::CloseWait | State::SynSent | State::SynReceived => {}
        s => return Err(CallError::Closing(s)),
    }
    let room = ctx.cfg.send_buffer.saturating_sub(c.send_buf.len());
    let take = data.len().min(room);
    c.send_buf
        .extend_from_slice(data.get(..take).unwrap_or_default());
    if c.state.is_synchronized() {
        c.push_data(ctx, false, Rule::AckProcessing);
    }
    Ok(take)
}

/// The connection's timer fired (rules 7, 8, 20, 49).
pub(crate) fn timeout(c: &mut Connection, ctx: &mut Ctx<'_>, kind: TimerKind) -> Disposition {
    let cfg = ctx.cfg;
    if kind == TimerKind::DelayedAck {
        // Nothing of ours came to carry it: the ACK of the FIN goes alone.
        c.timer = None;
        ctx.push(c.ack_segment(ctx.now, Rule::PassiveClose));
        ctx.note(c, Action::Send(Reply::Ack), Rule::PassiveClose, None);
        return Disposition::Keep;
    }
    if kind == TimerKind::TimeWait {
        c.state = State::Closed;
        c.timer = None;
        ctx.note(c, Action::Delete(CloseReason::Closed), Rule::TimeWait, None);
        ctx.event(c, Event::Closed);
        return Disposition::Delete(CloseReason::Closed);
    }
    let elapsed = ctx.now.since(c.first_sent);
    let (schedule, retransmit_rule, give_up_rule) = match c.state {
        State::SynSent => (cfg.syn_schedule, Rule::SynRetransmit, Rule::SynGiveUp),
        State::SynReceived => (
            cfg.synack_schedule,
            Rule::SynAckRetransmit,
            Rule::SynAckRetransmit,
        ),
        State::LastAck => (data_schedule(cfg), Rule::PassiveClose, Rule::PassiveClose),
        State::FinWait1 | State::Closing => {
            (data_schedule(cfg), Rule::ActiveClose, Rule::ActiveClose)
        }
        _ => (data_schedule(cfg), Rule::SynRetransmit, Rule::SynGiveUp),
    };
    if schedule.gives_up(c.sent, elapsed, cfg.initial_rto) {
        // A passive open that never completed vanishes silently (rule 20).
        let silent = c.origin == Origin::Passive && c.state == State::SynReceived;
        c.state = State::Closed;
        c.timer = None;
        ctx.note(c, Action::Delete(CloseReason::TimedOut), give_up_rule, None);
        if !silent {
            ctx.event(c, Event::TimedOut);
        }
        return Disposition::Delete(CloseReason::TimedOut);
    }
    let wait = schedule.interval(c.sent, cfg.initial_rto, cfg.max_rto);
    c.sent += 1;
    if c.state == State::SynSent && c.syn_data > 0 {
        // Rule 41: a retransmitted SYN carries no data (nor the cookie);
        // the data goes after the handshake.
        c.syn_data = 0;
        c.snd_nxt = c.iss.add(1);
        if c.tfo.is_some() {
            c.set_tfo_out(None);
        }
    }
    c.rto = wait;
    c.set_timer(ctx.now + wait, TimerKind::Retransmit);
    let reply = match c.state {
        State::SynSent if c.ecn_syn => {
            // RFC 3168 §6.1.1.1: a peer may drop ECN-setup SYNs; Linux
            // retransmits plain ones.
            c.ecn_syn = false;
            ctx.push(c.syn_segment(ctx.now, Rule::EcnSetupSyn));
            ctx.note(c, Action::Note(Note::EcnFallback), Rule::EcnSetupSyn, None);
            Reply::Syn
        }
        State::SynSent => {
            ctx.push(c.syn_segment(ctx.now, retransmit_rule));
            Reply::Syn
        }
        State::SynReceived => {
            ctx.push(c.syn_segment(ctx.now, retransmit_rule));
            Reply::SynAck
        }
        _ => retransmit_data(c, ctx, retransmit_rule),
    };
    ctx.note(
        c,
        Action::Retransmit {
            reply,
            attempt: c.sent,
            next_timeout: wait,
        },
        retransmit_rule,
        None,
    );
    Disposition::Keep
}

fn data_schedule(cfg: &crate::Config) -> crate::Schedule {
    crate::Schedule::Exponential {
        retries: cfg.data_retries,
    }
}

/// Go back to SND.UNA: resend the first segment's worth, with FIN if it fits.
fn retransmit_data(c: &mut Connection, ctx: &mut Ctx<'_>, rule: Rule) -> Reply {
    let outstanding = c.snd_nxt.since(c.snd_una).unwrap_or(0);
    let fin_out = c.fin_seq.is_some();
    let data = outstanding
        .saturating_sub(u32::from(fin_out))
        .min(c.send_buf.len() as u32);
    let len = data.min(c.eff_send_mss());
    let fin = fin_out && len == data;
    ctx.push(c.data_segment(ctx.now, c.snd_una, len, fin, rule));
    if len > 0 { Reply::Data } else { Reply::Fin }
}
