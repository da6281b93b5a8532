//! Option negotiation for the SYN exchange (rules 14, 35–39).

use core::net::SocketAddr;

use synack_wire::TcpOptions;

use crate::config::Config;
use crate::conn::Negotiated;

/// The options that take part in negotiation, in 16 bytes: what the engine
/// keeps per connection and per queued segment (the full [`TcpOptions`] is
/// 120 bytes, and copying it dominated the hot path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynOpts {
    /// MSS offered.
    pub mss: Option<u16>,
    /// Window scale offered.
    pub window_scale: Option<u8>,
    /// SACK-permitted offered.
    pub sack_permitted: bool,
    /// (TSval, TSecr), if timestamps were offered.
    pub timestamps: Option<(u32, u32)>,
}

impl SynOpts {
    /// The negotiation part of a segment's options.
    pub fn from_wire(o: &TcpOptions) -> SynOpts {
        SynOpts {
            mss: o.mss,
            window_scale: o.window_scale,
            sack_permitted: o.sack_permitted,
            timestamps: o.timestamps,
        }
    }

    /// As options for the wire.
    pub fn to_wire(self) -> TcpOptions {
        TcpOptions {
            mss: self.mss,
            window_scale: self.window_scale,
            sack_permitted: self.sack_permitted,
            timestamps: self.timestamps,
            ..TcpOptions::default()
        }
    }
}

/// RFC 7323 §2.3: shifts above 14 are treated as 14.
pub const MAX_SHIFT: u8 = 14;

/// The MSS to assume when the peer sent none (MUST-15).
pub fn default_mss(remote: SocketAddr) -> u16 {
    if remote.is_ipv6() { 1220 } else { 536 }
}

/// The MSS we offer to `remote`: `cfg.mss` is for IPv4 (MTU − 40); the
/// IPv6 header is 20 bytes longer, so the same link carries 20 bytes less.
pub fn our_mss(cfg: &Config, remote: SocketAddr) -> u16 {
    if remote.is_ipv6() {
        cfg.mss.saturating_sub(20)
    } else {
        cfg.mss
    }
}

/// Options of our SYN to `remote`.
pub fn syn_options(cfg: &Config, remote: SocketAddr) -> SynOpts {
    SynOpts {
        mss: Some(our_mss(cfg, remote)),
        window_scale: cfg.window_scale,
        sack_permitted: cfg.sack_permitted,
        // TSval is filled at transmission; TSecr of a SYN is 0 (RFC 7323 §3.2).
        timestamps: cfg.timestamps.then_some((0, 0)),
    }
}

/// What both sides agreed on, given what each SYN carried. Used by both
/// ends, so the result depends only on the two option sets.
pub fn agree(cfg: &Config, ours: &SynOpts, theirs: &SynOpts, remote: SocketAddr) -> Negotiated {
    // Linux ignores an MSS of 0; so do we (and fall back to the default).
    let peer_mss = theirs.mss.filter(|&m| m > 0).unwrap_or(default_mss(remote));
    let scaling = ours.window_scale.is_some() && theirs.window_scale.is_some();
    Negotiated {
        send_mss: peer_mss.min(our_mss(cfg, remote)),
        snd_shift: if scaling {
            theirs.window_scale.unwrap_or(0).min(MAX_SHIFT)
        } else {
            0
        },
        rcv_shift: if scaling {
            ours.window_scale.unwrap_or(0).min(MAX_SHIFT)
        } else {
            0
        },
        window_scaling: scaling,
        sack: ours.sack_permitted && theirs.sack_permitted,
        timestamps: ours.timestamps.is_some() && theirs.timestamps.is_some(),
        ecn: false,
    }
}

/// Options of our SYN-ACK: MSS always (MAY-3), the rest only if the SYN
/// offered it (rule 14).
pub fn synack_options(cfg: &Config, syn: &SynOpts, remote: SocketAddr) -> SynOpts {
    SynOpts {
        mss: Some(our_mss(cfg, remote)),
        window_scale: cfg.window_scale.filter(|_| syn.window_scale.is_some()),
        sack_permitted: cfg.sack_permitted && syn.sack_permitted,
        timestamps: (cfg.timestamps && syn.timestamps.is_some())
            .then(|| (0, syn.timestamps.map_or(0, |t| t.0))),
    }
}
