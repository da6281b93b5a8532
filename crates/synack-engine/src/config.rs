//! Endpoint configuration: what options to offer, the timer schedules, and
//! the injected secrets. Two profiles: `Rfc` follows the RFCs to the letter,
//! `LinuxCompat` follows what Linux 6.x is observed to do where the RFCs
//! leave room (timer schedules, duplicate-SYN handling, RST form).

use core::time::Duration;

use synack_wire::OptionLayout;

use crate::isn::IsnMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Which behaviour the engine follows where the RFCs leave room.
pub enum Profile {
    /// The RFCs to the letter.
    Rfc,
    /// Linux 6.x's choices.
    LinuxCompat,
}

/// When to retransmit a SYN or SYN-ACK, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// RFC 6298 §5.5: RTO doubles after each expiry; give up when the timer
    /// fires after `retries` retransmissions.
    Exponential {
        /// Retransmissions before giving up.
        retries: u8,
    },
    /// Linux ≥ 6.5 for SYNs: the first `linear + 1` intervals stay at the
    /// initial RTO, then double; give up at the first expiry after the time
    /// the plain exponential schedule with `retries` would take
    /// (`tcp_syn_linear_timeouts`, `tcp_model_timeout`).
    LinuxSyn {
        /// `tcp_syn_retries`.
        retries: u8,
        /// `tcp_syn_linear_timeouts`.
        linear: u8,
    },
}

impl Schedule {
    /// The wait after the `n`th transmission (0 = the original).
    pub fn interval(self, n: u32, initial: Duration, max: Duration) -> Duration {
        let shift = match self {
            Schedule::Exponential { .. } => n,
            Schedule::LinuxSyn { linear, .. } => n.saturating_sub(u32::from(linear)),
        };
        initial.saturating_mul(1u32 << shift.min(20)).min(max)
    }

    /// Whether a timer expiring after `sent` transmissions, `elapsed` after
    /// the first one, ends the attempt instead of retransmitting.
    pub fn gives_up(self, sent: u32, elapsed: Duration, initial: Duration) -> bool {
        match self {
            Schedule::Exponential { retries } => sent > u32::from(retries),
            Schedule::LinuxSyn { retries, .. } => {
                let budget = initial.saturating_mul((2u32 << retries.min(20)) - 1);
                elapsed >= budget
            }
        }
    }
}

/// ECN negotiation (RFC 3168 §6.1.1; Linux `net.ipv4.tcp_ecn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecn {
    /// Never: plain SYNs, and an ECN-setup SYN gets a plain SYN-ACK (0).
    Off,
    /// Request ECN on our SYNs and accept it on incoming ones (1).
    Request,
    /// Accept it when asked, never ask (2, Linux's default).
    Accept,
}

/// When a listener answers with SYN cookies (RFC 4987 §3.6; Linux
/// `net.ipv4.tcp_syncookies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynCookies {
    /// Never (0).
    Off,
    /// When the SYN queue is full (1, Linux's default).
    WhenFull,
    /// For every SYN (2).
    Always,
}

#[derive(Debug, Clone)]
/// Everything an endpoint is configured with; `Config::rfc()` and
/// `Config::linux()` are the profiles.
pub struct Config {
    /// The profile these values come from.
    pub profile: Profile,
    /// MSS offered in our SYN / SYN-ACK.
    pub mss: u16,
    /// Receive window in bytes (RCV.WND), also the receive buffer size.
    pub recv_window: u32,
    /// Window-scale shift offered; `None` sends no option.
    pub window_scale: Option<u8>,
    /// Offer SACK-permitted.
    pub sack_permitted: bool,
    /// Offer and use timestamps (RFC 7323).
    pub timestamps: bool,
    /// The order options are written in.
    pub option_layout: OptionLayout,
    /// How ISNs are chosen.
    pub isn: IsnMode,
    /// When SYNs are retransmitted and the open given up.
    pub syn_schedule: Schedule,
    /// When SYN-ACKs are retransmitted.
    pub synack_schedule: Schedule,
    /// Data and FIN retransmissions before the connection is dropped.
    pub data_retries: u8,
    /// The first retransmission timeout (RFC 6298: 1 s).
    pub initial_rto: Duration,
    /// The largest retransmission timeout.
    pub max_rto: Duration,
    /// TIME-WAIT duration, 2·MSL.
    pub time_wait: Duration,
    /// How long the ACK of a peer's FIN may wait for our own FIN or data
    /// to ride on (a delayed ACK, RFC 1122 §4.2.3.2: at most 500 ms);
    /// `None`: acknowledged at once. Linux delays it (about 40 ms).
    pub fin_ack_delay: Option<Duration>,
    /// After an unacceptable ACK in SYN-SENT, before any retransmission,
    /// send the SYN again this soon: the peer may have ignored an earlier
    /// FIN/ACK or RST/ACK of ours. Linux does (`TCP_TIMEOUT_MIN`, two
    /// jiffies: 8 ms at HZ=250); the RFCs do not.
    pub syn_sent_bad_ack_retry: Option<Duration>,
    /// Minimum gap between challenge ACKs / ACKs to invalid segments on one
    /// connection (RFC 5961 §7; Linux `tcp_invalid_ratelimit`).
    pub challenge_ack_interval: Duration,
    /// Seeds the per-connection timestamp offsets and the demux hasher.
    pub rng_seed: u64,
    /// Keep a [`crate::Step`] for every decision (off for raw speed).
    pub record_steps: bool,
    /// Check checksums of arriving segments.
    pub verify_checksums: bool,
    /// The IP TTL / hop limit of our packets.
    pub ttl: u8,
    /// Bytes a connection buffers for sending (data is a side feature).
    pub send_buffer: usize,
    /// ECN negotiation (`tcp_ecn`).
    pub ecn: Ecn,
    /// TCP Fast Open (RFC 7413): request and use cookies as a client
    /// (`connect_with_data`), issue and honour them as a server.
    pub fast_open: bool,
    /// Half-open (SYN-RECEIVED) connections a listener holds before it
    /// answers with SYN cookies or drops SYNs (Linux `tcp_max_syn_backlog`).
    pub syn_backlog: u32,
    /// When the listener answers with SYN cookies.
    pub syn_cookies: SynCookies,
    /// Established connections waiting for [`crate::Endpoint::accept`]
    /// (`listen(2)`'s backlog). `None`: no limit and no `accept` needed.
    pub accept_backlog: Option<u32>,
    /// Keys the Fast Open and SYN cookies (set with `with_secrets`).
    pub secret: [u8; 16],
}

impl Config {
    /// RFC behaviour: SYN retries reach beyond 3 minutes (MUST-23), MSL = 2 min.
    pub fn rfc() -> Config {
        Config {
            profile: Profile::Rfc,
            mss: 1460,
            recv_window: 64240,
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: true,
            option_layout: OptionLayout::Linux,
            isn: IsnMode::Rfc6528 { key: [0x5a; 16] },
            syn_schedule: Schedule::Exponential { retries: 7 },
            synack_schedule: Schedule::Exponential { retries: 5 },
            data_retries: 15,
            initial_rto: Duration::from_secs(1),
            max_rto: Duration::from_secs(120),
            time_wait: Duration::from_secs(240),
            fin_ack_delay: None,
            syn_sent_bad_ack_retry: None,
            challenge_ack_interval: Duration::from_millis(500),
            rng_seed: 0x5eed_5eed,
            record_steps: true,
            verify_checksums: true,
            ttl: 64,
            send_buffer: 64 * 1024,
            ecn: Ecn::Accept,
            fast_open: false,
            syn_backlog: 1024,
            syn_cookies: SynCookies::WhenFull,
            accept_backlog: None,
            secret: [0xa5; 16],
        }
    }

    /// Linux 6.x defaults: `tcp_syn_retries=6`, `tcp_syn_linear_timeouts=4`,
    /// `tcp_synack_retries=5`, TIME-WAIT 60 s.
    pub fn linux() -> Config {
        Config {
            profile: Profile::LinuxCompat,
            syn_schedule: Schedule::LinuxSyn {
                retries: 6,
                linear: 4,
            },
            synack_schedule: Schedule::Exponential { retries: 5 },
            time_wait: Duration::from_secs(60),
            max_rto: Duration::from_secs(120),
            syn_sent_bad_ack_retry: Some(Duration::from_millis(8)),
            ..Config::rfc()
        }
    }

    /// Set the ISN secret (RFC 6528's key) and the RNG seed.
    pub fn with_secrets(mut self, isn_key: [u8; 16], rng_seed: u64) -> Config {
        if let IsnMode::Rfc6528 { key } = &mut self.isn {
            *key = isn_key;
        }
        self.rng_seed = rng_seed;
        // A key of its own for cookies, derived so that one secret suffices.
        self.secret = isn_key.map(|b| b ^ 0x3c);
        self
    }

    /// The SYN cookie layout: DJB's for the RFC profile, Linux's otherwise.
    pub fn cookie_layout(&self) -> crate::cookie::Layout {
        match self.profile {
            Profile::Rfc => crate::cookie::Layout::Djb,
            Profile::LinuxCompat => crate::cookie::Layout::Linux,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config::rfc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(s: Schedule) -> (Vec<u64>, u64) {
        let (i, m) = (Duration::from_secs(1), Duration::from_secs(120));
        let mut t = Duration::ZERO;
        let mut sent = vec![0];
        loop {
            t += s.interval(sent.len() as u32 - 1, i, m);
            if s.gives_up(sent.len() as u32, t, i) {
                return (sent, t.as_secs());
            }
            sent.push(t.as_secs());
        }
    }

    #[test]
    fn linux_syn_schedule_matches_observed() {
        // Research §6: SYNs at 0,1,2,3,4,5,7,11,19,35,67 s, ETIMEDOUT ≈131 s.
        let (sent, end) = times(Schedule::LinuxSyn {
            retries: 6,
            linear: 4,
        });
        assert_eq!(sent, [0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67]);
        assert_eq!(end, 131);
    }

    #[test]
    fn exponential_schedules() {
        let (sent, end) = times(Schedule::Exponential { retries: 5 });
        assert_eq!(sent, [0, 1, 3, 7, 15, 31]);
        assert_eq!(end, 63);
        // RFC profile: the open lasts beyond 3 minutes (MUST-23).
        let (_, end) = times(Config::rfc().syn_schedule);
        assert!(end >= 180);
    }
}
