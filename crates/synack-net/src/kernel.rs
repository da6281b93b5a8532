//! The kernel's own view of its sockets, for tests and quick questions:
//! one sock_diag dump of the calling thread's namespace (see [`crate::diag`]).

use std::net::SocketAddr;

pub use crate::diag::DiagSocket as KernelSocket;

/// Every TCP socket of this thread's namespace (none when sock_diag fails).
pub fn sockets() -> Vec<KernelSocket> {
    crate::diag::Diag::open()
        .and_then(|mut d| d.sockets())
        .unwrap_or_default()
}

/// The kernel's state for the connection `local` ↔ `remote`, if it has one.
pub fn state_of(local: SocketAddr, remote: SocketAddr) -> Option<&'static str> {
    sockets()
        .into_iter()
        .find(|s| s.local == local && s.remote == remote)
        .map(|s| s.state)
}
