//! synack-wire: the bytes of IPv4, IPv6 and TCP, read and written exactly.
//!
//! - [`seq::SeqNum`]: wrapping sequence numbers; the only place seq/ack
//!   comparisons are defined.
//! - [`tcp::TcpPacket`] (checked zero-copy view) and [`tcp::TcpRepr`]
//!   (parse/emit), with raw flag bits kept.
//! - [`options`]: every option kind, unknown ones kept, configurable layout.
//! - [`ip`]: find TCP inside IPv4/IPv6 (extension headers walked), emit headers.
//! - [`checksum`]: Internet checksum with pseudo-headers.
//!
//! Nothing here panics on malformed input: every rejection is a
//! [`WireError`] that says why.

#![forbid(unsafe_code)]

pub mod checksum;
pub mod error;
pub mod ip;
pub mod options;
pub mod seq;
pub mod tcp;

pub use error::{Layer, WireError};
pub use ip::{IpHeader, Segment, emit_segment, parse_ip, parse_ip_truncated, parse_segment};
pub use options::{FastOpenCookie, OptionLayout, SackBlocks, TcpOption, TcpOptions};
pub use seq::SeqNum;
pub use tcp::{TcpFlags, TcpPacket, TcpRepr};
