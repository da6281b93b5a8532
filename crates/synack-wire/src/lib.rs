//! synack-wire: the bytes of IPv4, IPv6 and TCP, read and written exactly.
//!
//! - [`seq::SeqNum`]: wrapping sequence numbers; the only place seq/ack
//!   comparisons are defined.
//! - [`tcp::TcpPacket`] (checked zero-copy view) and [`tcp::TcpRepr`]
//!   (parse/emit), with raw flag bits kept.
//! - [`options`]: every option kind, unknown ones kept, configurable layout.
//! - [`ip`]: find TCP inside IPv4/IPv6 (extension headers walked), emit headers.
//! - [`icmp`]: destination-unreachable errors about TCP segments.
//! - [`fragment`]: IP fragments put back together; [`tunnel`]: what IP
//!   in IP, GRE, ERSPAN, VXLAN and Geneve carry.
//! - [`checksum`]: Internet checksum with pseudo-headers.
//!
//! Nothing here panics on malformed input: every rejection is a
//! [`WireError`] that says why.
//!
//! ```
//! use synack_wire::{IpHeader, OptionLayout, SeqNum, TcpFlags, TcpOptions, TcpRepr};
//!
//! let syn = TcpRepr {
//!     src_port: 40000,
//!     dst_port: 80,
//!     seq: SeqNum(1000),
//!     ack: SeqNum(0),
//!     flags: TcpFlags::SYN,
//!     window: 64240,
//!     urgent: 0,
//!     options: TcpOptions { mss: Some(1460), ..TcpOptions::default() },
//!     payload: &[],
//! };
//! let ip = IpHeader::new("10.0.0.1".parse()?, "10.0.0.2".parse()?);
//! let mut buf = [0u8; 60];
//! let n = synack_wire::emit_segment(&mut buf, &ip, &syn, OptionLayout::Linux)?;
//! // Checksums verified on the way back in.
//! let seg = synack_wire::parse_segment(&buf[..n], true)?;
//! assert_eq!(seg.tcp, syn);
//! assert!(seg.tcp.seq.add(1) > SeqNum(1000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod checksum;
pub mod error;
pub mod fragment;
pub mod icmp;
pub mod ip;
pub mod options;
pub mod seq;
pub mod tcp;
pub mod tunnel;

pub use error::{Layer, WireError};
pub use icmp::{IcmpError, Unreachable, emit_unreachable, parse_icmp};
pub use ip::{IpHeader, Segment, emit_segment, parse_ip, parse_ip_truncated, parse_segment};
pub use options::{FastOpenCookie, OptionLayout, SackBlocks, TcpOption, TcpOptions};
pub use seq::SeqNum;
pub use tcp::{TcpFlags, TcpPacket, TcpRepr};
