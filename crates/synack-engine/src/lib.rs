//! synack-engine: TCP connection establishment, sans IO.
//!
//! Bytes and `now` go in ([`Endpoint::handle`], [`Endpoint::handle_timeout`],
//! user calls); segments, deadlines, events and step records come out
//! ([`Endpoint::poll_transmit`], [`Endpoint::poll_timeout`],
//! [`Endpoint::poll_event`], [`Endpoint::poll_step`]). No clock, socket,
//! thread or global is touched: time, the ISN key and the RNG seed are given.
//!
//! Scope: the open (RFC 9293 §3.5, with RFC 5961 hardening), RST handling in
//! every state, the close and TIME-WAIT, option negotiation (MSS, window
//! scale, SACK-permitted, timestamps). Data transfer is minimal: in-order
//! data within one window, go-back-N retransmission, no congestion control,
//! no out-of-order queue, no SACK generation, no delayed ACK, no URG.

#![forbid(unsafe_code)]

mod calls;
pub mod config;
mod conn;
pub mod cookie;
mod endpoint;
mod fastopen;
mod forge;
mod input;
pub mod isn;
pub mod negotiate;
mod out;
pub mod rules;
mod segment;
pub mod sim;
mod state;
mod stateless;
pub mod step;
pub mod time;
mod timer;

pub use calls::CallError;
pub use config::{Config, Ecn, Profile, Schedule, SynCookies};
pub use conn::{Connection, Negotiated, Origin};
pub use endpoint::{Endpoint, MAX_PACKET, Stats, Transmit};
pub use forge::forge;
pub use isn::IsnMode;
pub use negotiate::default_mss;
pub use out::Event;
pub use rules::Rule;
pub use state::State;
pub use step::{
    Action, Cause, Check, CloseReason, ConnHandle, DropReason, Note, Reply, SegInfo, Step, TcbVars,
    TimerKind, Tuple, UserCall,
};
pub use time::Instant;
