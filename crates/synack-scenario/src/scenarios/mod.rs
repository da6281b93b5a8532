//! One file per scenario, and the registry that lists them.

pub mod abort;
pub mod accept_queue;
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
pub mod options;
pub mod refused;
pub mod simultaneous_close;
pub mod simultaneous_open;
pub mod syn_flood;
pub mod syn_lost;
pub mod synack_lost;
pub mod third_ack_data;
pub mod three_way_close;
pub mod time_wait;
pub mod time_wait_rst;
pub mod unreachable;

use crate::Scenario;

/// Every scenario, in the order `--help` lists them.
pub static ALL: [Scenario; 25] = [
    &normal::DEF,
    &syn_lost::DEF,
    &synack_lost::DEF,
    &ack_lost::DEF,
    &refused::DEF,
    &filtered::DEF,
    &unreachable::DEF,
    &close::DEF,
    &data::DEF,
    &simultaneous_open::DEF,
    &old_duplicate::DEF,
    &half_open::DEF,
    &syn_flood::DEF,
    &ecn::DEF,
    &fast_open::DEF,
    &isn::DEF,
    &simultaneous_close::DEF,
    &last_ack_lost::DEF,
    &abort::DEF,
    &time_wait_rst::DEF,
    &accept_queue::DEF,
    &time_wait::DEF,
    &third_ack_data::DEF,
    &three_way_close::DEF,
    &options::DEF,
];
