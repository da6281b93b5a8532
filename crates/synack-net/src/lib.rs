//! synack-net: the engine on a TUN device, in a network namespace private to
//! the run, facing the Linux kernel's own TCP.
//!
//! - [`lab::Lab`]: a new network namespace for the calling thread, a TUN
//!   device in it, the kernel on 10.77.0.1 / fd77::1, synack on .2 / ::2.
//! - [`driver::Driver`]: moves packets between the device and the engine on
//!   the real clock, injects loss, writes pcap.
//! - [`diag`], [`observe`]: the kernel's socket states as it reports them
//!   (sock_diag), looked at after every frame.
//! - [`harness::KernelRun`]: one harness for every run against the kernel.

pub mod bench;
pub mod device;
pub mod diag;
pub mod driver;
pub mod harness;
pub mod kernel;
pub mod lab;
pub mod observe;
pub mod pcap;
mod sys;

pub use sys::{
    Usage, connect_from, evict_cached, gettid, linger_zero, listen_with_backlog, set_fastopen,
    sockaddr, wait_usage,
};

pub use driver::{Captured, Dir, Driver, Fault};
pub use lab::{Lab, LabSpec};

/// Packets on a TUN device: non-blocking read (`None`: nothing waiting),
/// write, and waiting until one can be read.
pub mod tun {
    pub use crate::sys::{read, wait_readable, write};
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot create a network namespace: {0} (needs root, or CAP_SYS_ADMIN)")]
    Namespace(std::io::Error),
    #[error("TUN device: {0}")]
    Tun(std::io::Error),
    #[error(
        "cannot open /dev/net/tun: {0} (it must be readable and writable by you; most distributions make it mode 0666)"
    )]
    TunDenied(std::io::Error),
    #[error("{0}")]
    Command(String),
    #[error("emitting a segment: {0}")]
    Emit(synack_wire::WireError),
    #[error("pcap {0}: {1}")]
    Pcap(String, std::io::Error),
}
