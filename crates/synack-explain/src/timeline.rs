//! One time-ordered list of what to show: synack's steps, and with the Linux
//! kernel as the peer, the kernel's segments (from the link) and its socket
//! states (sock_diag observations). The kernel records no steps: it is shown
//! only as observed.

use synack_engine::sim::{LinkRecord, Side};
use synack_engine::{Instant, Step};

use synack_trace::{Observation, Trace};

pub enum Item<'a> {
    Step(Side, &'a Step),
    /// A segment the kernel sent.
    KernelSent(&'a LinkRecord),
    KernelState(&'a Observation),
}

impl Item<'_> {
    pub(crate) fn at(&self) -> Instant {
        match self {
            Item::Step(_, s) => s.at,
            Item::KernelSent(r) => r.sent_at,
            Item::KernelState(k) => k.at,
        }
    }
}

/// The kernel's side, if the peer is the kernel.
pub fn kernel_side(trace: &Trace) -> Option<Side> {
    trace.kernel_side()
}

pub fn items(trace: &Trace) -> Vec<Item<'_>> {
    let mut v: Vec<Item<'_>> = trace
        .steps
        .iter()
        .map(|(s, st)| Item::Step(*s, st))
        .collect();
    if let Some(k) = kernel_side(trace) {
        v.extend(
            trace
                .link
                .iter()
                .filter(|r| r.from == k)
                .map(Item::KernelSent),
        );
        v.extend(trace.kernel.iter().map(Item::KernelState));
    }
    // Stable: at equal times synack's steps come first.
    v.sort_by_key(Item::at);
    v
}
