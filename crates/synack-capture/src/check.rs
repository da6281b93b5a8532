//! Each handshake step checked with the engine's rule ids. A check records
//! the numbers it compared, so the narration (and anyone reading the JSON)
//! can redo the arithmetic.

use serde::Serialize;
use synack_engine::Rule;
use synack_wire::TcpFlags;

use crate::attempt::SideOptions;
use crate::window::Judged;

/// What was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum What {
    /// A SYN carries no FIN and no RST.
    SynFlags,
    /// ECN setup on the SYN sets both ECE and CWR.
    SynEcn,
    /// A window scale shift above 14 is used as 14.
    WindowScale,
    /// The SYN-ACK acknowledges the client's ISN + 1.
    SynAckAck,
    /// Data on a SYN without Fast Open is not acknowledged by the SYN-ACK.
    SynDataAcked,
    /// The SYN-ACK carries only options the SYN offered.
    SynAckOptions,
    /// ECE on the SYN-ACK only answers an ECN-setup SYN, and without CWR.
    SynAckEcn,
    /// The third ACK acknowledges the server's ISN + 1.
    ThirdAckAck,
    /// The third ACK's seq is what the SYN-ACK acknowledged.
    ThirdAckSeq,
    /// Timestamps, once both SYNs carried them, are on the third ACK too.
    ThirdAckTimestamps,
    /// The SYN-ACK was followed by the third ACK (a SYN-ACK alone is not an
    /// established connection).
    ThirdAckSeen,
    /// A RST refusing a SYN: `<SEQ=0><ACK=ISN+1><CTL=RST,ACK>`.
    RefusedRst,
    /// The client resets a SYN-ACK with a bad ack: `<SEQ=SEG.ACK><CTL=RST>`.
    BadAckRst,
    /// A RST after the handshake resets only with seq = its receiver's
    /// RCV.NXT (RFC 5961 §3.2); `detail` says how it fell otherwise.
    EstablishedRst,
}

impl What {
    pub fn rule(self) -> Rule {
        match self {
            What::SynFlags => Rule::ListenSyn,
            What::SynEcn => Rule::EcnSetupSyn,
            What::WindowScale => Rule::WindowScale,
            What::SynAckAck => Rule::SynSentSynAck,
            What::SynDataAcked => Rule::DataOnSyn,
            What::SynAckOptions => Rule::SynAckEchoesOptions,
            What::SynAckEcn => Rule::EcnSetupSynAck,
            What::ThirdAckAck | What::ThirdAckSeen => Rule::SynRcvdAck,
            What::ThirdAckSeq => Rule::SeqAcceptable,
            What::ThirdAckTimestamps => Rule::TimestampsEverySegment,
            What::RefusedRst => Rule::ClosedNoAck,
            What::BadAckRst => Rule::SynSentBadAck,
            What::EstablishedRst => Rule::RstExact,
        }
    }
}

/// One check of one step.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The frame checked (none for a step that never came).
    pub frame: Option<u64>,
    pub what: What,
    /// The engine's rule id (see docs/rules.md).
    pub rule: u8,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub got: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub want: Option<u32>,
    /// The number `want` derives from (an ISN, or the SYN-ACK's ack).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<u32>,
    /// A length added on the way (data carried by the SYN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub len: Option<u32>,
    /// The receiver's window in bytes (a RST after the handshake).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<u32>,
    /// An option or flag name the check is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}

impl Check {
    /// For the check of a server's RST to a SYN (rule 28) or of a RST
    /// after the handshake (rule 31), whether its receiver takes it; `None`
    /// for any other check.
    pub(crate) fn rst_taken(&self) -> Option<bool> {
        matches!(self.what, What::RefusedRst | What::EstablishedRst).then_some(self.ok)
    }

    pub fn new(what: What, frame: Option<u64>, ok: bool) -> Check {
        Check {
            frame,
            what,
            rule: what.rule().id(),
            ok,
            got: None,
            want: None,
            base: None,
            len: None,
            window: None,
            detail: None,
        }
    }

    fn nums(mut self, got: u32, want: u32, base: u32) -> Check {
        self.got = Some(got);
        self.want = Some(want);
        self.base = Some(base);
        self
    }
}

/// What a SYN looked like, for checking the answers to it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SynSeen {
    pub isn: u32,
    pub len: u32,
    pub flags: TcpFlags,
    pub opts: Option<SideOptions>,
}

/// Checks on a SYN (either side's, for simultaneous open too).
pub(crate) fn syn(frame: u64, flags: TcpFlags, opts: Option<&SideOptions>, out: &mut Vec<Check>) {
    let bad = flags.intersects(TcpFlags::FIN | TcpFlags::RST);
    let mut c = Check::new(What::SynFlags, Some(frame), !bad);
    c.got = Some(flags.0.into());
    c.detail = if flags.contains(TcpFlags::RST) {
        Some("RST")
    } else if flags.contains(TcpFlags::FIN) {
        Some("FIN")
    } else {
        None
    };
    out.push(c);
    if !flags.contains(TcpFlags::ACK) && flags.intersects(TcpFlags::ECE | TcpFlags::CWR) {
        let accecn = flags.contains(TcpFlags::AE);
        let setup = flags.contains(TcpFlags::ECE | TcpFlags::CWR);
        let mut c = Check::new(What::SynEcn, Some(frame), setup || accecn);
        c.detail = Some(if accecn { "AccECN" } else { "ECN" });
        out.push(c);
    }
    window_scale(frame, opts, out);
}

fn window_scale(frame: u64, opts: Option<&SideOptions>, out: &mut Vec<Check>) {
    if let Some(ws) = opts.and_then(|o| o.window_scale)
        && ws > 14
    {
        let mut c = Check::new(What::WindowScale, Some(frame), false);
        c.got = Some(ws.into());
        c.want = Some(14);
        out.push(c);
    }
}

/// Checks on the first SYN-ACK, against the SYN it answers.
pub(crate) fn synack(
    frame: u64,
    flags: TcpFlags,
    ack: u32,
    opts: Option<&SideOptions>,
    syn: &SynSeen,
    out: &mut Vec<Check>,
) {
    let plus1 = syn.isn.wrapping_add(1);
    let all = plus1.wrapping_add(syn.len);
    let tfo_cookie = syn.opts.is_some_and(|o| o.fast_open_cookie);
    if syn.len > 0 && ack == all && !tfo_cookie {
        let mut c = Check::new(What::SynDataAcked, Some(frame), false).nums(ack, plus1, syn.isn);
        c.len = Some(syn.len);
        out.push(c);
    } else {
        let ok = ack == plus1 || (tfo_cookie && ack == all);
        let want = if tfo_cookie && ack == all { all } else { plus1 };
        let mut c = Check::new(What::SynAckAck, Some(frame), ok).nums(ack, want, syn.isn);
        if want == all && syn.len > 0 {
            c.len = Some(syn.len);
            c.detail = Some("Fast Open data accepted");
        } else if tfo_cookie && syn.len > 0 {
            c.detail = Some("Fast Open data not accepted");
        }
        out.push(c);
    }
    if let (Some(o), Some(offer)) = (opts, syn.opts.as_ref()) {
        let unoffered = [
            (
                o.window_scale.is_some() && offer.window_scale.is_none(),
                "wscale",
            ),
            (o.sack_permitted && !offer.sack_permitted, "sackOK"),
            (o.timestamps && !offer.timestamps, "TS"),
            (
                o.fast_open_cookie && !offer.fast_open_request && !offer.fast_open_cookie,
                "TFO",
            ),
        ]
        .into_iter()
        .find_map(|(bad, name)| bad.then_some(name));
        let mut c = Check::new(What::SynAckOptions, Some(frame), unoffered.is_none());
        c.detail = unoffered;
        out.push(c);
    }
    if flags.intersects(TcpFlags::ECE | TcpFlags::CWR) {
        let accecn = syn.flags.contains(TcpFlags::AE);
        let setup_syn = syn.flags.contains(TcpFlags::ECE | TcpFlags::CWR);
        let ok = accecn
            || (setup_syn && flags.contains(TcpFlags::ECE) && !flags.contains(TcpFlags::CWR));
        let mut c = Check::new(What::SynAckEcn, Some(frame), ok);
        c.detail = Some(if accecn { "AccECN" } else { "ECN" });
        out.push(c);
    }
    window_scale(frame, opts, out);
}

/// Checks on the client's first ACK after the SYN-ACK.
#[allow(clippy::too_many_arguments)]
pub(crate) fn third_ack(
    frame: u64,
    seq: u32,
    ack: u32,
    has_ts: Option<bool>,
    server_isn: u32,
    synack_ack: Option<u32>,
    both_ts: bool,
    out: &mut Vec<Check>,
) {
    let want = server_isn.wrapping_add(1);
    out.push(Check::new(What::ThirdAckAck, Some(frame), ack == want).nums(ack, want, server_isn));
    if let Some(expect) = synack_ack {
        out.push(
            Check::new(What::ThirdAckSeq, Some(frame), seq == expect).nums(seq, expect, expect),
        );
    }
    if both_ts && let Some(ts) = has_ts {
        out.push(Check::new(What::ThirdAckTimestamps, Some(frame), ts));
    }
}

/// Whether the client takes a server's RST to its SYN (rule 28).
pub(crate) fn refusal_taken(flags: TcpFlags, ack: u32, syn: &SynSeen) -> bool {
    flags.contains(TcpFlags::ACK) && ack == syn.isn.wrapping_add(1).wrapping_add(syn.len)
}

/// A server's RST to a SYN (no SYN-ACK yet).
pub(crate) fn refused(frame: u64, flags: TcpFlags, ack: u32, syn: &SynSeen, out: &mut Vec<Check>) {
    let want = syn.isn.wrapping_add(1).wrapping_add(syn.len);
    let ok = refusal_taken(flags, ack, syn);
    let mut c = Check::new(What::RefusedRst, Some(frame), ok).nums(ack, want, syn.isn);
    if syn.len > 0 {
        c.len = Some(syn.len);
    }
    if !flags.contains(TcpFlags::ACK) {
        c.detail = Some("no ACK bit");
    }
    out.push(c);
}

/// The client's RST answering a SYN-ACK whose ack was wrong.
pub(crate) fn bad_ack_rst(frame: u64, seq: u32, synack_ack: u32, out: &mut Vec<Check>) {
    out.push(
        Check::new(What::BadAckRst, Some(frame), seq == synack_ack)
            .nums(seq, synack_ack, synack_ack),
    );
}

/// A RST after the handshake, against its receiver's RCV.NXT and window.
pub(crate) fn established_rst(frame: u64, j: &Judged, out: &mut Vec<Check>) {
    let mut c = Check::new(What::EstablishedRst, Some(frame), j.verdict.taken());
    (c.got, c.want) = (Some(j.seq), Some(j.expected));
    c.window = Some(j.window);
    c.detail = Some(j.verdict.name());
    out.push(c);
}
