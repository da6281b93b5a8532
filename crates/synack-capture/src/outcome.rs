//! An attempt's outcome, zeek's conn_state, and what the SYNs negotiated.

use crate::attempt::{Attempt, Negotiated, Outcome};

pub(crate) fn outcome(a: &Attempt) -> Outcome {
    let c_rst = a.rst.iter().any(|r| r.from == "client");
    let s_rst = a.rst.iter().any(|r| r.from == "server");
    if a.simultaneous_open {
        Outcome::SimultaneousOpen
    } else if let Some(ack) = a.ack_frame {
        // Only a RST after the third ACK resets an established connection
        // (an injected one before it was ignored, or the handshake failed),
        // and only one its receiver takes (`Attempt::ends`).
        let rst_after = a.rst.iter().any(|r| r.frame > ack && a.ends(r));
        match (rst_after, a.fin) {
            (true, _) => Outcome::ResetAfterEstablishment,
            (false, [true, true]) => Outcome::Closed,
            _ => Outcome::Established,
        }
    } else if !a.synack_frames.is_empty() {
        if a.syn_frames.is_empty() && !a.seen(0) && a.clues.other[1] > 0 {
            Outcome::OneSided
        } else if c_rst || s_rst {
            Outcome::ResetDuringHandshake
        } else {
            Outcome::HalfOpen
        }
    } else if s_rst {
        Outcome::Refused
    } else if c_rst {
        Outcome::ResetDuringHandshake
    } else if a.clues.icmp.is_some() {
        Outcome::Unreachable
    } else if a.clues.blind_ack.is_some() && !a.seen(1) {
        Outcome::OneSided
    } else {
        Outcome::NoAnswer
    }
}

/// zeek's conn_state (base/protocols/conn/main.zeek).
pub(crate) fn conn_state(a: &Attempt, responder_seen: bool) -> &'static str {
    let c_rst = a.rst.iter().any(|r| r.from == "client");
    let s_rst = a.rst.iter().any(|r| r.from == "server");
    let syn = !a.syn_frames.is_empty();
    let synack = !a.synack_frames.is_empty();
    match (syn, synack, responder_seen) {
        (true, false, false) if c_rst => "RSTOS0",
        (true, false, false) if a.fin[0] => "SH",
        (true, false, false) => "S0",
        (true, false, true) if s_rst => "REJ",
        (false, true, _) if s_rst => "RSTRH",
        (false, true, _) if a.fin[1] => "SHR",
        (_, true, _) => match (c_rst, s_rst, a.fin) {
            (true, _, _) => "RSTO",
            (_, true, _) => "RSTR",
            (_, _, [true, true]) => "SF",
            (_, _, [true, false]) => "S2",
            (_, _, [false, true]) => "S3",
            _ => "S1",
        },
        _ => "OTH",
    }
}

/// RFC 9293 §3.7.1 (536 without the option; the IPv6 default is the same
/// rule with 1220), RFC 7323 §2.2 (scaling needs both SYNs), RFC 2018,
/// RFC 3168 §6.1.1, RFC 7413.
pub(crate) fn negotiated(a: &Attempt) -> Option<Negotiated> {
    let (c, s) = (a.client_options?, a.server_options?);
    let default_mss = if a.ip_version == 4 { 536 } else { 1220 };
    let scaling = c.window_scale.is_some() && s.window_scale.is_some();
    let fast_open = if s.fast_open_cookie {
        "cookie_issued"
    } else if c.fast_open_cookie && c.data > 0 {
        let accepted = a
            .checks
            .iter()
            .any(|k| k.what == crate::check::What::SynAckAck && k.ok && k.len.is_some());
        if accepted {
            "data_accepted"
        } else {
            "data_not_accepted"
        }
    } else if c.fast_open_request {
        "cookie_requested"
    } else {
        "none"
    };
    Some(Negotiated {
        mss: c
            .mss
            .unwrap_or(default_mss)
            .min(s.mss.unwrap_or(default_mss)),
        window_scaling: scaling,
        client_window_shift: c.window_scale.filter(|_| scaling).map(|w| w.min(14)),
        server_window_shift: s.window_scale.filter(|_| scaling).map(|w| w.min(14)),
        sack: c.sack_permitted && s.sack_permitted,
        timestamps: c.timestamps && s.timestamps,
        ecn: c.ecn && s.ecn,
        fast_open,
    })
}
