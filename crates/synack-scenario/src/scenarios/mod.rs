//! One file per scenario; `crate::ALL` lists them.

pub mod abort;
pub mod ack_lost;
pub mod close;
pub mod data;
pub mod ecn;
pub mod fast_open;
pub mod filtered;
pub mod half_open;
pub mod isn;
pub mod last_ack_lost;
pub mod normal;
pub mod old_duplicate;
pub mod refused;
pub mod simultaneous_close;
pub mod simultaneous_open;
pub mod syn_flood;
pub mod syn_lost;
pub mod synack_lost;
pub mod time_wait_rst;
