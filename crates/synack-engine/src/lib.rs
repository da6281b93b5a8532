//! synack-engine: TCP connection establishment, sans IO.
//!
//! Bytes and `now` go in ([`Endpoint::handle`], [`Endpoint::handle_timeout`],
//! user calls); segments, deadlines, events and step records come out
//! ([`Endpoint::poll_transmit`], [`Endpoint::poll_timeout`],
//! [`Endpoint::poll_event`], [`Endpoint::poll_step`]). No clock, socket,
//! thread or global is touched: time, the ISN key and the RNG seed are given.
//! A driver that reads several packets at once hands them over together
//! ([`Endpoint::handle_batch`]): with many connections the table lookups of
//! the batch then overlap their cache misses.
//!
//! Scope: the open (RFC 9293 §3.5, with RFC 5961 hardening), RST handling in
//! every state, the close and TIME-WAIT, option negotiation (MSS, window
//! scale, SACK-permitted, timestamps). Data transfer is minimal: in-order
//! data within one window, go-back-N retransmission, no congestion control,
//! no out-of-order queue, no SACK generation, no delayed ACK, no URG.
//!
//! # The sans-IO loop
//!
//! Two endpoints joined by nothing but this loop: what one transmits, the
//! other handles; when both are quiet, time jumps to the next deadline.
//!
//! ```
//! use synack_engine::{Config, Endpoint, Event, Instant, MAX_PACKET};
//!
//! let cfg = |key: u8| Config::rfc().with_secrets([key; 16], u64::from(key));
//! let (mut client, mut server) = (Endpoint::new(cfg(1)), Endpoint::new(cfg(2)));
//! let (c, s) = ("10.0.0.1:40000".parse()?, "10.0.0.2:80".parse()?);
//! server.listen(s)?;
//! let mut now = Instant::ZERO;
//! let conn = client.connect(now, c, s)?;
//! let mut buf = [0u8; MAX_PACKET];
//! let mut connected = false;
//! while !connected {
//!     let mut moved = false;
//!     while let Some(t) = client.poll_transmit(now, &mut buf)? {
//!         server.handle(now, &buf[..t.len])?;
//!         moved = true;
//!     }
//!     while let Some(t) = server.poll_transmit(now, &mut buf)? {
//!         client.handle(now, &buf[..t.len])?;
//!         moved = true;
//!     }
//!     if !moved {
//!         // Nothing in flight: sleep until the next timer, then run it.
//!         let next = [client.poll_timeout(), server.poll_timeout()];
//!         let Some(at) = next.into_iter().flatten().min() else { break };
//!         now = at;
//!         client.handle_timeout(now);
//!         server.handle_timeout(now);
//!     }
//!     while let Some((h, event)) = client.poll_event() {
//!         connected |= h == conn && event == Event::Connected;
//!     }
//! }
//! assert!(connected);
//! // Every decision was recorded with its checklist rule: here rule 4, the
//! // SYN-ACK with an acceptable ACK that completed the open.
//! let steps: Vec<_> = std::iter::from_fn(|| client.poll_step()).collect();
//! assert!(steps.iter().any(|s| s.rule.id() == 4));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod calls;
pub mod config;
mod conn;
pub mod cookie;
mod endpoint;
mod fastopen;
mod forge;
pub mod icmp;
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
pub use forge::{forge, forge_with_data};
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
