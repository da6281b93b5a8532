//! Why a packet was rejected. Every variant says enough for a person to see
//! what was wrong with the bytes, and none is produced by a panic.

use thiserror::Error;

/// The protocol layer an error refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The IPv4 header.
    Ipv4,
    /// The IPv6 fixed header.
    Ipv6,
    /// An IPv6 extension header.
    Ipv6Extension,
    /// The TCP header.
    Tcp,
    /// A TCP option.
    TcpOption,
    /// An ICMP or ICMPv6 message.
    Icmp,
    /// The packet an ICMP error quotes.
    IcmpQuote,
}

impl core::fmt::Display for Layer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Layer::Ipv4 => "IPv4 header",
            Layer::Ipv6 => "IPv6 header",
            Layer::Ipv6Extension => "IPv6 extension header",
            Layer::Tcp => "TCP header",
            Layer::TcpOption => "TCP option",
            Layer::Icmp => "ICMP message",
            Layer::IcmpQuote => "packet quoted by an ICMP error",
        })
    }
}

/// Why bytes were rejected, or could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    /// A header or option runs past the end of the bytes.
    #[error("{layer} truncated: needs {need} bytes at offset {at}, only {have} present")]
    Truncated {
        /// Which header.
        layer: Layer,
        /// Where it starts.
        at: usize,
        /// The bytes it needs.
        need: usize,
        /// The bytes there are.
        have: usize,
    },
    /// The first nibble is neither 4 nor 6.
    #[error("IP version {0} is neither 4 nor 6")]
    BadIpVersion(u8),
    /// The IPv4 header length is below 5 words or past the bytes.
    #[error("bad IPv4 header length {ihl} (in 32-bit words; 5..=15 and within {len} bytes)")]
    BadIhl {
        /// The IHL field.
        ihl: u8,
        /// The bytes there are.
        len: usize,
    },
    /// The IP length field does not fit the header or the bytes captured.
    #[error("bad IP total length {total} (header {header}, captured {available})")]
    BadTotalLength {
        /// The length the header claims.
        total: usize,
        /// The header's own length.
        header: usize,
        /// The bytes captured.
        available: usize,
    },
    /// The IPv4 header checksum is wrong.
    #[error("bad IPv4 header checksum: got {got:#06x}, want {want:#06x}")]
    BadIpChecksum {
        /// The field.
        got: u16,
        /// What the header sums to.
        want: u16,
    },
    /// A fragment: TCP is read only from whole datagrams.
    #[error("IP fragment (offset {offset}, more fragments: {more}) not reassembled")]
    Fragmented {
        /// Fragment offset, in 8-byte units.
        offset: u16,
        /// The more-fragments flag.
        more: bool,
    },
    /// The IP payload is another protocol.
    #[error("IP protocol {0} is not TCP")]
    NotTcp(u8),
    /// A chain of IPv6 extension headers longer than is walked.
    #[error("more than {0} IPv6 extension headers")]
    TooManyExtensionHeaders(usize),
    /// The TCP data offset is below 5 words or past the bytes.
    #[error("bad TCP data offset {offset} (in 32-bit words; 5..=15 and within {len} bytes)")]
    BadDataOffset {
        /// The data offset field.
        offset: u8,
        /// The bytes there are.
        len: usize,
    },
    /// The TCP checksum is wrong.
    #[error("bad TCP checksum: got {got:#06x}, want {want:#06x}")]
    BadChecksum {
        /// The field.
        got: u16,
        /// What the segment and pseudo-header sum to.
        want: u16,
    },
    /// An option's length byte is impossible for its kind.
    #[error("bad TCP option length: kind {kind} with length {len}")]
    BadOptionLength {
        /// The option kind.
        kind: u8,
        /// Its length byte.
        len: u8,
    },
    /// An option runs past the option bytes.
    #[error("TCP option kind {kind} truncated at option byte {at}")]
    TruncatedOption {
        /// The option kind.
        kind: u8,
        /// Where it starts in the options.
        at: usize,
    },
    /// The options to write take more than the 40 bytes a header holds.
    #[error("TCP options need {need} bytes, at most 40 fit")]
    OptionsTooLong {
        /// The bytes they would take.
        need: usize,
    },
    /// The IP payload is not ICMP (or ICMPv6 for IPv6).
    #[error("IP protocol {0} is not ICMP")]
    NotIcmp(u8),
    /// An ICMP message that is not a destination-unreachable error.
    #[error("ICMP{} type {icmp_type} is not destination unreachable", if *.v6 { "v6" } else { "" })]
    NotUnreachable {
        /// ICMPv6 rather than ICMP.
        v6: bool,
        /// The message's type.
        icmp_type: u8,
    },
    /// The ICMP checksum does not match.
    #[error("bad ICMP checksum: got {got:#06x}, want {want:#06x}")]
    BadIcmpChecksum {
        /// The checksum field.
        got: u16,
        /// What the bytes sum to.
        want: u16,
    },
    /// Source and destination are of different families.
    #[error("address families differ (IPv4 and IPv6 in one packet)")]
    MixedFamilies,
    /// The buffer to write into is too small; nothing was written.
    #[error("buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall {
        /// The bytes the packet takes.
        need: usize,
        /// The buffer's length.
        have: usize,
    },
}

/// A result whose error is a [`WireError`].
pub type Result<T> = core::result::Result<T, WireError>;
