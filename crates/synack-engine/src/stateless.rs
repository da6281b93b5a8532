//! Segments that meet no connection: LISTEN (§3.10.7.2, rules 11–13) and
//! CLOSED (§3.10.7.1, rules 26–28). Replies are built from the segment alone.

use synack_wire::{SeqNum, TcpFlags};

use crate::segment::Seg;

use crate::negotiate::SynOpts;

use crate::out::{OutSeg, Payload};
use crate::rules::Rule;
use crate::step::Tuple;

/// <SEQ=SEG.ACK><CTL=RST>: the reply to an ACK-bearing segment (rules 2,
/// 12, 16, 27).
pub(crate) fn rst_for(tuple: Tuple, seg: &Seg<'_>, rule: Rule) -> OutSeg {
    OutSeg {
        tuple,
        seq: seg.ack,
        ack: SeqNum(0),
        flags: TcpFlags::RST,
        window: 0,
        options: SynOpts::default(),
        payload: Payload::None,
        conn: None,
        rule,
    }
}

/// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>: the reply to a segment
/// without ACK (rule 28).
pub(crate) fn rst_ack_for(tuple: Tuple, seg: &Seg<'_>, rule: Rule) -> OutSeg {
    OutSeg {
        tuple,
        seq: SeqNum(0),
        ack: seg.seq.add(seg.seg_len()),
        flags: TcpFlags::RST_ACK,
        window: 0,
        options: SynOpts::default(),
        payload: Payload::None,
        conn: None,
        rule,
    }
}

/// What LISTEN does with a segment (the SYN case creates a connection,
/// which the endpoint does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListenVerdict {
    /// Rule 11: RST, or no SYN/ACK/RST.
    Ignore,
    /// Rule 12: ACK-bearing segment gets a RST.
    Reset,
    /// Rule 13: open a connection.
    Open,
    /// SYN with FIN or RST-less illegal mix: dropped (as Linux does).
    IllegalFlags,
}

pub(crate) fn listen_verdict(flags: TcpFlags) -> ListenVerdict {
    if flags.rst() {
        ListenVerdict::Ignore
    } else if flags.ack() {
        ListenVerdict::Reset
    } else if flags.syn() {
        if flags.fin() {
            ListenVerdict::IllegalFlags
        } else {
            ListenVerdict::Open
        }
    } else {
        ListenVerdict::Ignore
    }
}

/// CLOSED: the reply, if any (rules 26–28).
pub(crate) fn closed_reply(tuple: Tuple, seg: &Seg<'_>) -> Option<OutSeg> {
    if seg.flags.rst() {
        None
    } else if seg.flags.ack() {
        Some(rst_for(tuple, seg, Rule::ClosedAck))
    } else {
        Some(rst_ack_for(tuple, seg, Rule::ClosedNoAck))
    }
}
