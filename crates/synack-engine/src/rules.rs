//! The rule checklist: every decision the engine makes names one of these.
//! The numbers are the checklist of the design brief (RFC 9293 and the RFCs
//! it leans on); the explainer, the tests and the capture analyser cite the
//! same numbers.

use core::fmt;

/// A rule of the checklist. `rule as u8` is its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Rule {
    /// OPEN: choose ISS, send SYN, enter SYN-SENT (RFC 9293 §3.10.1).
    ActiveOpen = 1,
    /// SYN-SENT: unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.3).
    SynSentBadAck = 2,
    /// SYN-SENT: RST with acceptable ACK means refused; otherwise drop (RFC 9293 §3.10.7.3).
    SynSentRst = 3,
    /// SYN-SENT: SYN-ACK with acceptable ACK completes the open, send ACK (RFC 9293 §3.10.7.3).
    SynSentSynAck = 4,
    /// SYN-SENT: segment without SYN or RST is dropped (RFC 9293 §3.10.7.3).
    SynSentNoSynNoRst = 5,
    /// SYN-SENT: SYN without ACK means simultaneous open, send SYN-ACK (RFC 9293 §3.10.7.3, Fig. 7).
    SimultaneousOpen = 6,
    /// retransmit the SYN on RTO, backing off (RFC 6298 §2.1, §5.5).
    SynRetransmit = 7,
    /// give up the open after the retry limit (RFC 9293 §3.8.3 (MUST-21, MUST-23)).
    SynGiveUp = 8,
    /// ECN-setup SYN carries ECE and CWR (RFC 3168 §6.1.1).
    EcnSetupSyn = 9,
    /// CLOSE or ABORT in SYN-SENT deletes the TCB, no RST (RFC 9293 §3.10.4).
    CloseInSynSent = 10,
    /// LISTEN: RST ignored, segment without SYN/ACK/RST dropped (RFC 9293 §3.10.7.2).
    ListenIgnore = 11,
    /// LISTEN: ACK-bearing segment gets <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.2).
    ListenAck = 12,
    /// LISTEN: SYN creates SYN-RECEIVED, send SYN-ACK (RFC 9293 §3.10.7.2).
    ListenSyn = 13,
    /// SYN-ACK carries only options the SYN offered (RFC 7323 §2.2, §3.2; RFC 2018 §2).
    SynAckEchoesOptions = 14,
    /// SYN-RECEIVED: acceptable ACK enters ESTABLISHED (RFC 9293 §3.10.7.4).
    SynRcvdAck = 15,
    /// SYN-RECEIVED: unacceptable ACK gets RST; no ACK is dropped (RFC 9293 §3.10.7.4).
    SynRcvdBadAck = 16,
    /// SYN-RECEIVED: a duplicate SYN is answered (RFC: an ACK; Linux: the SYN-ACK again) (RFC 9293 §3.10.7.4).
    SynRcvdDupSyn = 17,
    /// SYN-RECEIVED (passive): new SYN returns to LISTEN (RFC 9293 §3.10.7.4).
    SynRcvdNewSyn = 18,
    /// SYN-RECEIVED: RST returns to LISTEN if passive, refused if active (RFC 9293 §3.10.7.4 (MUST-11)).
    SynRcvdRst = 19,
    /// retransmit the SYN-ACK with the same ISS, give up silently (RFC 9293 §3.8.1; RFC 6298).
    SynAckRetransmit = 20,
    /// data on a SYN without Fast Open is not acknowledged (RFC 9293 §3.10.7.2).
    DataOnSyn = 21,
    /// old duplicate SYN vetoed by RST <SEQ=SEG.ACK> (RFC 9293 §3.5, Fig. 8).
    OldDuplicateSyn = 22,
    /// SYN-ACK reaching LISTEN is reset (RFC 9293 §3.5, Fig. 11).
    OldSynAckToListen = 23,
    /// rebooted peer's SYN meets a challenge ACK, then exact RST (RFC 9293 Fig. 9; RFC 5961).
    HalfOpenReboot = 24,
    /// data to a peer without TCB gets RST (RFC 9293 Fig. 10).
    HalfOpenData = 25,
    /// a RST is never answered (RFC 9293 §3.10.7.1).
    NeverRstARst = 26,
    /// CLOSED: segment with ACK gets <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.1).
    ClosedAck = 27,
    /// CLOSED: segment without ACK gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (RFC 9293 §3.10.7.1).
    ClosedNoAck = 28,
    /// synchronized: sequence acceptability test (RFC 9293 §3.10.7.4, Table 6).
    SeqAcceptable = 29,
    /// unacceptable non-RST segment gets <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (RFC 9293 §3.10.7.4).
    UnacceptableSegment = 30,
    /// RST with SEG.SEQ = RCV.NXT resets the connection (RFC 5961 §3.2; RFC 9293 §3.10.7.4).
    RstExact = 31,
    /// RST in window but not exact gets a challenge ACK; outside is dropped (RFC 5961 §3.2).
    RstInWindow = 32,
    /// SYN in a synchronized state gets a challenge ACK (RFC 5961 §4.2).
    SynInSynchronized = 33,
    /// synchronized: ACK field checks and window update (RFC 9293 §3.10.7.4; RFC 5961 §5.2).
    AckProcessing = 34,
    /// timestamps on every non-RST segment once negotiated (RFC 7323 §3.2, §5).
    TimestampsEverySegment = 35,
    /// window scale only if both SYNs carry it; shift capped at 14 (RFC 7323 §2.2, §2.3).
    WindowScale = 36,
    /// MSS option; 536/1220 when absent (RFC 9293 §3.7.1 (MUST-14..16)).
    MssNegotiation = 37,
    /// unknown options ignored, illegal lengths dropped (RFC 9293 §3.1 (MUST-6, MUST-7)).
    OptionLengths = 38,
    /// SACK-permitted only on SYNs; SACK only if permitted (RFC 2018 §2).
    SackPermitted = 39,
    /// ECN-setup SYN-ACK only answers an ECN-setup SYN (RFC 3168 §6.1.1).
    EcnSetupSynAck = 40,
    /// Fast Open cookie and data on SYN (RFC 7413).
    FastOpen = 41,
    /// ISN = 4 µs clock + keyed hash of the 4-tuple (RFC 6528 §3 (MUST-8, MUST-9)).
    IsnGeneration = 42,
    /// SYN cookies when the SYN queue is full (RFC 4987 §3.6).
    SynCookieMode = 43,
    /// cookie layout: time, MSS index, keyed hash (RFC 4987 §3.6).
    SynCookieLayout = 44,
    /// Linux cookie layout (Linux net/ipv4/syncookies.c).
    LinuxSynCookie = 45,
    /// CLOSE: FIN, FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT (RFC 9293 §3.10.4, §3.10.7.4).
    ActiveClose = 46,
    /// FIN received: ACK, CLOSE-WAIT; CLOSE: FIN, LAST-ACK, CLOSED (RFC 9293 §3.10.7.4).
    PassiveClose = 47,
    /// FIN crossing FIN: CLOSING, then TIME-WAIT (RFC 9293 §3.10.7.4, Fig. 13).
    SimultaneousClose = 48,
    /// TIME-WAIT lasts 2 MSL; a retransmitted FIN is re-acknowledged (RFC 9293 §3.10.7.4 (MUST-13)).
    TimeWait = 49,
    /// RST in TIME-WAIT closes the connection (RFC 9293 §3.10.7.4; RFC 1337).
    RstInTimeWait = 50,
    /// a FIN is processed only in sequence (RFC 9293 §3.10.7.4).
    FinInOrder = 51,
    /// CLOSE with unread data sends RST (RFC 9293 §3.10.4 (SHLD-3); RFC 2525 §2.17).
    CloseWithUnreadData = 52,
    /// ABORT: RST in synchronized states and SYN-RECEIVED, none otherwise (RFC 9293 §3.10.5).
    Abort = 53,
    /// tell the user whether the connection closed or was reset (RFC 9293 §3.10.7.4 (MUST-12)).
    ReportReset = 54,
    /// An ICMP destination unreachable about a segment in flight: a hard
    /// error ends the open, a soft one is kept (RFC 1122 §4.2.3.9; RFC 5927 §4.1).
    IcmpError = 55,
}

impl Rule {
    /// Every rule, in checklist order.
    pub const ALL: [Rule; 55] = [
        Rule::ActiveOpen,
        Rule::SynSentBadAck,
        Rule::SynSentRst,
        Rule::SynSentSynAck,
        Rule::SynSentNoSynNoRst,
        Rule::SimultaneousOpen,
        Rule::SynRetransmit,
        Rule::SynGiveUp,
        Rule::EcnSetupSyn,
        Rule::CloseInSynSent,
        Rule::ListenIgnore,
        Rule::ListenAck,
        Rule::ListenSyn,
        Rule::SynAckEchoesOptions,
        Rule::SynRcvdAck,
        Rule::SynRcvdBadAck,
        Rule::SynRcvdDupSyn,
        Rule::SynRcvdNewSyn,
        Rule::SynRcvdRst,
        Rule::SynAckRetransmit,
        Rule::DataOnSyn,
        Rule::OldDuplicateSyn,
        Rule::OldSynAckToListen,
        Rule::HalfOpenReboot,
        Rule::HalfOpenData,
        Rule::NeverRstARst,
        Rule::ClosedAck,
        Rule::ClosedNoAck,
        Rule::SeqAcceptable,
        Rule::UnacceptableSegment,
        Rule::RstExact,
        Rule::RstInWindow,
        Rule::SynInSynchronized,
        Rule::AckProcessing,
        Rule::TimestampsEverySegment,
        Rule::WindowScale,
        Rule::MssNegotiation,
        Rule::OptionLengths,
        Rule::SackPermitted,
        Rule::EcnSetupSynAck,
        Rule::FastOpen,
        Rule::IsnGeneration,
        Rule::SynCookieMode,
        Rule::SynCookieLayout,
        Rule::LinuxSynCookie,
        Rule::ActiveClose,
        Rule::PassiveClose,
        Rule::SimultaneousClose,
        Rule::TimeWait,
        Rule::RstInTimeWait,
        Rule::FinInOrder,
        Rule::CloseWithUnreadData,
        Rule::Abort,
        Rule::ReportReset,
        Rule::IcmpError,
    ];

    /// The checklist number.
    pub const fn id(self) -> u8 {
        self as u8
    }

    /// Look a rule up by its number.
    pub fn from_id(id: u8) -> Option<Rule> {
        Rule::ALL.get(usize::from(id).checked_sub(1)?).copied()
    }

    /// Where the rule comes from.
    pub const fn source(self) -> &'static str {
        match self {
            Rule::ActiveOpen => "RFC 9293 §3.10.1",
            Rule::SynSentBadAck => "RFC 9293 §3.10.7.3",
            Rule::SynSentRst => "RFC 9293 §3.10.7.3",
            Rule::SynSentSynAck => "RFC 9293 §3.10.7.3",
            Rule::SynSentNoSynNoRst => "RFC 9293 §3.10.7.3",
            Rule::SimultaneousOpen => "RFC 9293 §3.10.7.3, Fig. 7",
            Rule::SynRetransmit => "RFC 6298 §2.1, §5.5",
            Rule::SynGiveUp => "RFC 9293 §3.8.3 (MUST-21, MUST-23)",
            Rule::EcnSetupSyn => "RFC 3168 §6.1.1",
            Rule::CloseInSynSent => "RFC 9293 §3.10.4",
            Rule::ListenIgnore => "RFC 9293 §3.10.7.2",
            Rule::ListenAck => "RFC 9293 §3.10.7.2",
            Rule::ListenSyn => "RFC 9293 §3.10.7.2",
            Rule::SynAckEchoesOptions => "RFC 7323 §2.2, §3.2; RFC 2018 §2",
            Rule::SynRcvdAck => "RFC 9293 §3.10.7.4",
            Rule::SynRcvdBadAck => "RFC 9293 §3.10.7.4",
            Rule::SynRcvdDupSyn => "RFC 9293 §3.10.7.4",
            Rule::SynRcvdNewSyn => "RFC 9293 §3.10.7.4",
            Rule::SynRcvdRst => "RFC 9293 §3.10.7.4 (MUST-11)",
            Rule::SynAckRetransmit => "RFC 9293 §3.8.1; RFC 6298",
            Rule::DataOnSyn => "RFC 9293 §3.10.7.2",
            Rule::OldDuplicateSyn => "RFC 9293 §3.5, Fig. 8",
            Rule::OldSynAckToListen => "RFC 9293 §3.5, Fig. 11",
            Rule::HalfOpenReboot => "RFC 9293 Fig. 9; RFC 5961",
            Rule::HalfOpenData => "RFC 9293 Fig. 10",
            Rule::NeverRstARst => "RFC 9293 §3.10.7.1",
            Rule::ClosedAck => "RFC 9293 §3.10.7.1",
            Rule::ClosedNoAck => "RFC 9293 §3.10.7.1",
            Rule::SeqAcceptable => "RFC 9293 §3.10.7.4, Table 6",
            Rule::UnacceptableSegment => "RFC 9293 §3.10.7.4",
            Rule::RstExact => "RFC 5961 §3.2; RFC 9293 §3.10.7.4",
            Rule::RstInWindow => "RFC 5961 §3.2",
            Rule::SynInSynchronized => "RFC 5961 §4.2",
            Rule::AckProcessing => "RFC 9293 §3.10.7.4; RFC 5961 §5.2",
            Rule::TimestampsEverySegment => "RFC 7323 §3.2, §5",
            Rule::WindowScale => "RFC 7323 §2.2, §2.3",
            Rule::MssNegotiation => "RFC 9293 §3.7.1 (MUST-14..16)",
            Rule::OptionLengths => "RFC 9293 §3.1 (MUST-6, MUST-7)",
            Rule::SackPermitted => "RFC 2018 §2",
            Rule::EcnSetupSynAck => "RFC 3168 §6.1.1",
            Rule::FastOpen => "RFC 7413",
            Rule::IsnGeneration => "RFC 6528 §3 (MUST-8, MUST-9)",
            Rule::SynCookieMode => "RFC 4987 §3.6",
            Rule::SynCookieLayout => "RFC 4987 §3.6",
            Rule::LinuxSynCookie => "Linux net/ipv4/syncookies.c",
            Rule::ActiveClose => "RFC 9293 §3.10.4, §3.10.7.4",
            Rule::PassiveClose => "RFC 9293 §3.10.7.4",
            Rule::SimultaneousClose => "RFC 9293 §3.10.7.4, Fig. 13",
            Rule::TimeWait => "RFC 9293 §3.10.7.4 (MUST-13)",
            Rule::RstInTimeWait => "RFC 9293 §3.10.7.4; RFC 1337",
            Rule::FinInOrder => "RFC 9293 §3.10.7.4",
            Rule::CloseWithUnreadData => "RFC 9293 §3.10.4 (SHLD-3); RFC 2525 §2.17",
            Rule::Abort => "RFC 9293 §3.10.5",
            Rule::ReportReset => "RFC 9293 §3.10.7.4 (MUST-12)",
            Rule::IcmpError => "RFC 1122 §4.2.3.9; RFC 5927 §4.1",
        }
    }

    /// What the rule says, in one English line.
    pub const fn summary(self) -> &'static str {
        match self {
            Rule::ActiveOpen => "OPEN: choose ISS, send SYN, enter SYN-SENT",
            Rule::SynSentBadAck => "SYN-SENT: unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>",
            Rule::SynSentRst => "SYN-SENT: RST with acceptable ACK means refused; otherwise drop",
            Rule::SynSentSynAck => {
                "SYN-SENT: SYN-ACK with acceptable ACK completes the open, send ACK"
            }
            Rule::SynSentNoSynNoRst => "SYN-SENT: segment without SYN or RST is dropped",
            Rule::SimultaneousOpen => {
                "SYN-SENT: SYN without ACK means simultaneous open, send SYN-ACK"
            }
            Rule::SynRetransmit => "retransmit the SYN on RTO, backing off",
            Rule::SynGiveUp => "give up the open after the retry limit",
            Rule::EcnSetupSyn => "ECN-setup SYN carries ECE and CWR",
            Rule::CloseInSynSent => "CLOSE or ABORT in SYN-SENT deletes the TCB, no RST",
            Rule::ListenIgnore => "LISTEN: RST ignored, segment without SYN/ACK/RST dropped",
            Rule::ListenAck => "LISTEN: ACK-bearing segment gets <SEQ=SEG.ACK><CTL=RST>",
            Rule::ListenSyn => "LISTEN: SYN creates SYN-RECEIVED, send SYN-ACK",
            Rule::SynAckEchoesOptions => "SYN-ACK carries only options the SYN offered",
            Rule::SynRcvdAck => "SYN-RECEIVED: acceptable ACK enters ESTABLISHED",
            Rule::SynRcvdBadAck => "SYN-RECEIVED: unacceptable ACK gets RST; no ACK is dropped",
            Rule::SynRcvdDupSyn => {
                "SYN-RECEIVED: a duplicate SYN is answered (RFC: an ACK; Linux: the SYN-ACK again)"
            }
            Rule::SynRcvdNewSyn => "SYN-RECEIVED (passive): new SYN returns to LISTEN",
            Rule::SynRcvdRst => "SYN-RECEIVED: RST returns to LISTEN if passive, refused if active",
            Rule::SynAckRetransmit => "retransmit the SYN-ACK with the same ISS, give up silently",
            Rule::DataOnSyn => "data on a SYN without Fast Open is not acknowledged",
            Rule::OldDuplicateSyn => "old duplicate SYN vetoed by RST <SEQ=SEG.ACK>",
            Rule::OldSynAckToListen => "SYN-ACK reaching LISTEN is reset",
            Rule::HalfOpenReboot => "rebooted peer's SYN meets a challenge ACK, then exact RST",
            Rule::HalfOpenData => "data to a peer without TCB gets RST",
            Rule::NeverRstARst => "a RST is never answered",
            Rule::ClosedAck => "CLOSED: segment with ACK gets <SEQ=SEG.ACK><CTL=RST>",
            Rule::ClosedNoAck => {
                "CLOSED: segment without ACK gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>"
            }
            Rule::SeqAcceptable => "synchronized: sequence acceptability test",
            Rule::UnacceptableSegment => {
                "unacceptable non-RST segment gets <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"
            }
            Rule::RstExact => "RST with SEG.SEQ = RCV.NXT resets the connection",
            Rule::RstInWindow => {
                "RST in window but not exact gets a challenge ACK; outside is dropped"
            }
            Rule::SynInSynchronized => "SYN in a synchronized state gets a challenge ACK",
            Rule::AckProcessing => "synchronized: ACK field checks and window update",
            Rule::TimestampsEverySegment => "timestamps on every non-RST segment once negotiated",
            Rule::WindowScale => "window scale only if both SYNs carry it; shift capped at 14",
            Rule::MssNegotiation => "MSS option; 536/1220 when absent",
            Rule::OptionLengths => "unknown options ignored, illegal lengths dropped",
            Rule::SackPermitted => "SACK-permitted only on SYNs; SACK only if permitted",
            Rule::EcnSetupSynAck => "ECN-setup SYN-ACK only answers an ECN-setup SYN",
            Rule::FastOpen => "Fast Open cookie and data on SYN",
            Rule::IsnGeneration => "ISN = 4 µs clock + keyed hash of the 4-tuple",
            Rule::SynCookieMode => "SYN cookies when the SYN queue is full",
            Rule::SynCookieLayout => "cookie layout: time, MSS index, keyed hash",
            Rule::LinuxSynCookie => "Linux cookie layout",
            Rule::ActiveClose => "CLOSE: FIN, FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT",
            Rule::PassiveClose => "FIN received: ACK, CLOSE-WAIT; CLOSE: FIN, LAST-ACK, CLOSED",
            Rule::SimultaneousClose => "FIN crossing FIN: CLOSING, then TIME-WAIT",
            Rule::TimeWait => "TIME-WAIT lasts 2 MSL; a retransmitted FIN is re-acknowledged",
            Rule::RstInTimeWait => "RST in TIME-WAIT closes the connection",
            Rule::FinInOrder => "a FIN is processed only in sequence",
            Rule::CloseWithUnreadData => "CLOSE with unread data sends RST",
            Rule::Abort => "ABORT: RST in synchronized states and SYN-RECEIVED, none otherwise",
            Rule::ReportReset => "tell the user whether the connection closed or was reset",
            Rule::IcmpError => {
                "ICMP unreachable about a segment in flight: hard errors end the open, soft ones are kept"
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {} ({})", self.id(), self.source())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_round_trip() {
        for (i, r) in Rule::ALL.iter().enumerate() {
            assert_eq!(usize::from(r.id()), i + 1);
            assert_eq!(Rule::from_id(r.id()), Some(*r));
        }
        assert_eq!(Rule::from_id(0), None);
        assert_eq!(Rule::from_id(56), None);
    }
}
