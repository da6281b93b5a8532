//! synack-live: the handshake on real networks. A probe is one `connect()`
//! on a kernel socket, timed, with the kernel's own RTT (`TCP_INFO`) and
//! the ICMP error it was told of (`IP_RECVERR`); with the right to capture,
//! its own frames too, read through libpcap and tracked by the same code as
//! `synack analyze`. A live capture (`synack watch`) feeds that code frame
//! by frame. libpcap is loaded at run time, so building needs no C library.
//! The unsafe code is in `sys.rs` (socket calls) and `libpcap.rs`.

pub mod duration;
pub mod libpcap;
pub mod pcap_out;
pub mod probe;
pub mod rtt;
mod sys;

pub use libpcap::{Capture, Filter};
pub use probe::{Probe, ProbeConfig, Reason, Verdict};
pub use sys::{interrupted, on_interrupt};

/// What can go wrong on a live network, before any verdict.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "libpcap is not installed (tcpdump and tshark use it; Debian/Ubuntu: apt install libpcap0.8)"
    )]
    NoLibpcap,
    #[error("libpcap: {0}")]
    Libpcap(String),
    #[error("capturing on {device} needs root or CAP_NET_RAW: {message}")]
    Permission { device: String, message: String },
    #[error("no interface {0} to capture on")]
    NoDevice(String),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl LiveError {
    fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> LiveError {
        move |source| LiveError::Io { what, source }
    }
}
