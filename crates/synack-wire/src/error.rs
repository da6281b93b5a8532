//! Why a packet was rejected. Every variant says enough for a person to see
//! what was wrong with the bytes, and none is produced by a panic.

use thiserror::Error;

/// The protocol layer an error refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Ipv4,
    Ipv6,
    Ipv6Extension,
    Tcp,
    TcpOption,
}

impl core::fmt::Display for Layer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Layer::Ipv4 => "IPv4 header",
            Layer::Ipv6 => "IPv6 header",
            Layer::Ipv6Extension => "IPv6 extension header",
            Layer::Tcp => "TCP header",
            Layer::TcpOption => "TCP option",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("{layer} truncated: needs {need} bytes at offset {at}, only {have} present")]
    Truncated {
        layer: Layer,
        at: usize,
        need: usize,
        have: usize,
    },
    #[error("IP version {0} is neither 4 nor 6")]
    BadIpVersion(u8),
    #[error("bad IPv4 header length {ihl} (in 32-bit words; 5..=15 and within {len} bytes)")]
    BadIhl { ihl: u8, len: usize },
    #[error("bad IP total length {total} (header {header}, captured {available})")]
    BadTotalLength {
        total: usize,
        header: usize,
        available: usize,
    },
    #[error("bad IPv4 header checksum: got {got:#06x}, want {want:#06x}")]
    BadIpChecksum { got: u16, want: u16 },
    #[error("IP fragment (offset {offset}, more fragments: {more}) not reassembled")]
    Fragmented { offset: u16, more: bool },
    #[error("IP protocol {0} is not TCP")]
    NotTcp(u8),
    #[error("more than {0} IPv6 extension headers")]
    TooManyExtensionHeaders(usize),
    #[error("bad TCP data offset {offset} (in 32-bit words; 5..=15 and within {len} bytes)")]
    BadDataOffset { offset: u8, len: usize },
    #[error("bad TCP checksum: got {got:#06x}, want {want:#06x}")]
    BadChecksum { got: u16, want: u16 },
    #[error("bad TCP option length: kind {kind} with length {len}")]
    BadOptionLength { kind: u8, len: u8 },
    #[error("TCP option kind {kind} truncated at option byte {at}")]
    TruncatedOption { kind: u8, at: usize },
    #[error("TCP options need {need} bytes, at most 40 fit")]
    OptionsTooLong { need: usize },
    #[error("address families differ (IPv4 and IPv6 in one packet)")]
    MixedFamilies,
    #[error("buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall { need: usize, have: usize },
}

pub type Result<T> = core::result::Result<T, WireError>;
