//! Linux's retransmission schedules with its default settings, measured
//! once against the kernel. The lab shortens some settings to keep runs
//! short; answers quote these figures for what Linux does by default.
//! `tests/linux_defaults.rs` measures again and fails when the kernel
//! disagrees; `SYNACK_BLESS=1` rewrites the figures below.

/// One schedule as the kernel showed it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// The kernel it was measured on (`/proc/sys/kernel/osrelease`).
    pub release: &'static str,
    /// The settings in force, as read in the lab's namespace.
    pub settings: &'static [(&'static str, &'static str)],
    /// Each transmission of the segment, in ms since the first.
    pub sends_ms: &'static [u64],
    /// When the kernel gave up, in ms since the first transmission.
    pub gave_up_ms: u64,
}

impl Measured {
    /// The waits between consecutive transmissions, in ms.
    pub fn waits_ms(&self) -> Vec<u64> {
        self.sends_ms
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .collect()
    }
}

// measured:begin
/// A client's SYN that nothing answers.
pub static SYN: Measured = Measured {
    release: "6.18.44-fc-v1045",
    settings: &[
        ("net.ipv4.tcp_syn_retries", "6"),
        ("net.ipv4.tcp_syn_linear_timeouts", "4"),
        ("net.ipv4.tcp_synack_retries", "5"),
    ],
    sends_ms: &[
        0, 1021, 2044, 3069, 4093, 5122, 7135, 11324, 19516, 35644, 68156,
    ],
    gave_up_ms: 133692,
};

/// A listener's SYN-ACK that nothing acknowledges.
pub static SYN_ACK: Measured = Measured {
    release: "6.18.44-fc-v1045",
    settings: &[
        ("net.ipv4.tcp_syn_retries", "6"),
        ("net.ipv4.tcp_syn_linear_timeouts", "4"),
        ("net.ipv4.tcp_synack_retries", "5"),
    ],
    sends_ms: &[0, 1004, 3020, 7225, 15405, 31532],
    gave_up_ms: 64042,
};
// measured:end
