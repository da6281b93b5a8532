//! TCP header: a checked zero-copy view ([`TcpPacket`]) and a parsed
//! representation ([`TcpRepr`]) that emits. Flags are kept as raw bits, so
//! illegal mixes (SYN+FIN, SYN+RST) survive a round trip.

use core::fmt;
use core::net::IpAddr;

use crate::checksum;
use crate::error::{Layer, Result, WireError};
use crate::options::{OptionLayout, TcpOptions};
use crate::seq::SeqNum;

/// A TCP header without options.
pub const HEADER_LEN: usize = 20;
/// The IP protocol number of TCP.
pub const PROTOCOL: u8 = 6;

/// The 12 flag bits of bytes 12–13 (3 reserved, AE, CWR, ECE, URG, ACK, PSH,
/// RST, SYN, FIN), exactly as on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// No more data from the sender.
    pub const FIN: TcpFlags = TcpFlags(0x001);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x002);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x004);
    /// Push.
    pub const PSH: TcpFlags = TcpFlags(0x008);
    /// The acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x010);
    /// The urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x020);
    /// ECN-Echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x040);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// Accurate ECN (RFC 9768), formerly NS (RFC 3540).
    pub const AE: TcpFlags = TcpFlags(0x100);
    /// The three reserved bits (the first is AccECN's AE).
    pub const RESERVED: TcpFlags = TcpFlags(0xE00);
    /// No flag.
    pub const NONE: TcpFlags = TcpFlags(0);
    /// SYN and ACK.
    pub const SYN_ACK: TcpFlags = TcpFlags(0x012);
    /// RST and ACK.
    pub const RST_ACK: TcpFlags = TcpFlags(0x014);
    /// FIN and ACK.
    pub const FIN_ACK: TcpFlags = TcpFlags(0x011);

    #[inline]
    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
    #[inline]
    /// Whether any flag of `other` is set.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }
    #[inline]
    /// These flags and those of `other`.
    pub const fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }
    #[inline]
    /// These flags less those of `other`.
    pub const fn without(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & !other.0)
    }
    #[inline]
    /// SYN is set.
    pub const fn syn(self) -> bool {
        self.contains(Self::SYN)
    }
    #[inline]
    /// ACK is set.
    pub const fn ack(self) -> bool {
        self.contains(Self::ACK)
    }
    #[inline]
    /// RST is set.
    pub const fn rst(self) -> bool {
        self.contains(Self::RST)
    }
    #[inline]
    /// FIN is set.
    pub const fn fin(self) -> bool {
        self.contains(Self::FIN)
    }

    /// Two or more of SYN, FIN, RST: never legal in one segment.
    pub const fn is_illegal_mix(self) -> bool {
        (self.0 & 0x7).count_ones() > 1
    }

    /// tcpdump's notation: `S`, `S.`, `.`, `R.`, `F.`, `SEW`, `none`.
    pub fn tcpdump(self) -> TcpdumpFlags {
        TcpdumpFlags(self)
    }

    /// Wireshark's notation: `SYN, ACK`.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        const NAMES: [(u16, &str); 10] = [
            (0x002, "SYN"),
            (0x001, "FIN"),
            (0x004, "RST"),
            (0x008, "PSH"),
            (0x010, "ACK"),
            (0x020, "URG"),
            (0x040, "ECE"),
            (0x080, "CWR"),
            (0x100, "AE"),
            (0xE00, "Reserved"),
        ];
        NAMES
            .into_iter()
            .filter(move |(bit, _)| self.0 & bit != 0)
            .map(|(_, n)| n)
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        self.union(rhs)
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TcpFlags({:#05x} [{}])", self.0, self.tcpdump())
    }
}

/// Display adapter for tcpdump's flag letters (print-tcp.c order).
pub struct TcpdumpFlags(TcpFlags);

impl fmt::Display for TcpdumpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LETTERS: [(u16, char); 9] = [
            (0x001, 'F'),
            (0x002, 'S'),
            (0x004, 'R'),
            (0x008, 'P'),
            (0x010, '.'),
            (0x020, 'U'),
            (0x040, 'E'),
            (0x080, 'W'),
            (0x100, 'e'),
        ];
        if self.0.0 & 0x1ff == 0 {
            return f.write_str("none");
        }
        for (bit, c) in LETTERS {
            if self.0.0 & bit != 0 {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// A zero-copy view of a TCP header and its payload. [`TcpPacket::new_checked`]
/// validates lengths once; after that no accessor can panic.
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wrap and check: at least 20 bytes, 20 ≤ data offset·4 ≤ length.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated {
                layer: Layer::Tcp,
                at: 0,
                need: HEADER_LEN,
                have: b.len(),
            });
        }
        let offset = b[12] >> 4;
        if offset < 5 || usize::from(offset) * 4 > b.len() {
            return Err(WireError::BadDataOffset {
                offset,
                len: b.len(),
            });
        }
        Ok(TcpPacket { buf })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buf
    }

    #[inline]
    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }
    #[inline]
    fn be16(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.b()[at], self.b()[at + 1]])
    }
    #[inline]
    fn be32(&self, at: usize) -> u32 {
        let b = self.b();
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.be16(0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.be16(2)
    }
    /// Sequence number.
    pub fn seq(&self) -> SeqNum {
        SeqNum(self.be32(4))
    }
    /// Acknowledgment number (the field, whether or not ACK is set).
    pub fn ack(&self) -> SeqNum {
        SeqNum(self.be32(8))
    }
    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[12] >> 4) * 4
    }
    /// The 12 flag bits, reserved ones included.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.be16(12) & 0x0fff)
    }
    /// The window field, unscaled.
    pub fn window(&self) -> u16 {
        self.be16(14)
    }
    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.be16(16)
    }
    /// The urgent pointer.
    pub fn urgent(&self) -> u16 {
        self.be16(18)
    }
    /// The option bytes.
    pub fn options(&self) -> &[u8] {
        &self.b()[HEADER_LEN..self.header_len()]
    }
    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }

    /// The checksum this segment should carry between `src` and `dst`.
    pub fn compute_checksum(&self, src: IpAddr, dst: IpAddr) -> u16 {
        let b = self.b();
        let mut acc = checksum::pseudo_header(src, dst, PROTOCOL, b.len() as u32);
        acc = checksum::sum(acc, &b[..16]);
        acc = checksum::sum(acc, &b[18..]);
        checksum::finish(acc)
    }

    /// Check the checksum against the pseudo-header of `src` and `dst`.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> Result<()> {
        if checksum::verifies(src, dst, PROTOCOL, self.b()) {
            return Ok(());
        }
        Err(WireError::BadChecksum {
            got: self.checksum(),
            want: self.compute_checksum(src, dst),
        })
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Compute and write the checksum for `src` and `dst`.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        let b = self.buf.as_mut();
        b[16] = 0;
        b[17] = 0;
        let acc = checksum::sum(
            checksum::pseudo_header(src, dst, PROTOCOL, b.len() as u32),
            b,
        );
        let c = checksum::finish(acc).to_be_bytes();
        b[16] = c[0];
        b[17] = c[1];
    }
}

/// A parsed TCP segment. `ack` is kept even when the ACK flag is clear, so
/// crafted and captured segments are represented exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: SeqNum,
    /// Acknowledgment number (kept even when ACK is clear).
    pub ack: SeqNum,
    /// Flag bits, raw.
    pub flags: TcpFlags,
    /// Window field, unscaled.
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Options.
    pub options: TcpOptions,
    /// Payload.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Parse a checked packet. Options with illegal lengths are an error
    /// (RFC 9293 MUST-7).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &TcpPacket<&'a T>) -> Result<TcpRepr<'a>> {
        let b: &'a [u8] = <T as AsRef<[u8]>>::as_ref(packet.buf);
        let hl = packet.header_len();
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq(),
            ack: packet.ack(),
            flags: packet.flags(),
            window: packet.window(),
            urgent: packet.urgent(),
            options: TcpOptions::parse(&b[HEADER_LEN..hl])?,
            payload: &b[hl..],
        })
    }

    /// Segment length in sequence space: payload plus one each for SYN, FIN.
    pub fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }

    /// Header bytes with the options written in `layout`.
    pub fn header_len(&self, layout: OptionLayout) -> usize {
        HEADER_LEN + self.options.emitted_len(layout)
    }

    /// Header and payload bytes.
    pub fn buffer_len(&self, layout: OptionLayout) -> usize {
        self.header_len(layout) + self.payload.len()
    }

    /// Write header, options and payload into `buf` and fill the checksum.
    /// Returns the number of bytes written.
    pub fn emit(
        &self,
        buf: &mut [u8],
        layout: OptionLayout,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<usize> {
        let have = buf.len();
        // Options go to a scratch first: their length decides the size
        // needed, and a buffer of exactly that size has no room for the
        // longest options.
        let mut scratch = [0u8; crate::options::MAX_OPTIONS_LEN];
        let opt_len = self.options.emit(layout, &mut scratch)?;
        let hl = HEADER_LEN + opt_len;
        let total = hl + self.payload.len();
        if total > have {
            return Err(WireError::BufferTooSmall { need: total, have });
        }
        let b = &mut buf[..total];
        b[HEADER_LEN..hl].copy_from_slice(&scratch[..opt_len]);
        b[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        b[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        b[4..8].copy_from_slice(&self.seq.0.to_be_bytes());
        b[8..12].copy_from_slice(&self.ack.0.to_be_bytes());
        let off_flags = ((hl as u16 / 4) << 12) | (self.flags.0 & 0x0fff);
        b[12..14].copy_from_slice(&off_flags.to_be_bytes());
        b[14..16].copy_from_slice(&self.window.to_be_bytes());
        b[16..18].copy_from_slice(&[0, 0]);
        b[18..20].copy_from_slice(&self.urgent.to_be_bytes());
        b[hl..].copy_from_slice(self.payload);
        TcpPacket { buf: b }.fill_checksum(src, dst);
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    fn syn() -> TcpRepr<'static> {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(1000),
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: 64240,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                ..TcpOptions::default()
            },
            payload: &[],
        }
    }

    #[test]
    fn emit_parse_round_trip() {
        let mut buf = [0u8; 80];
        let n = syn().emit(&mut buf, OptionLayout::Linux, SRC, DST).unwrap();
        assert_eq!(n, 24);
        let p = TcpPacket::new_checked(&buf[..n]).unwrap();
        p.verify_checksum(SRC, DST).unwrap();
        assert_eq!(TcpRepr::parse(&p).unwrap(), syn());
    }

    #[test]
    fn bad_checksum_reports_got_and_want() {
        let mut buf = [0u8; 80];
        let n = syn().emit(&mut buf, OptionLayout::Linux, SRC, DST).unwrap();
        let want = u16::from_be_bytes([buf[16], buf[17]]);
        buf[16] ^= 0xff;
        let got = u16::from_be_bytes([buf[16], buf[17]]);
        let p = TcpPacket::new_checked(&buf[..n]).unwrap();
        assert_eq!(
            p.verify_checksum(SRC, DST),
            Err(WireError::BadChecksum { got, want })
        );
    }

    #[test]
    fn illegal_mixes_survive() {
        let mut r = syn();
        r.flags = TcpFlags::SYN | TcpFlags::FIN | TcpFlags::AE | TcpFlags::RESERVED;
        let mut buf = [0u8; 80];
        let n = r.emit(&mut buf, OptionLayout::Linux, SRC, DST).unwrap();
        let p = TcpPacket::new_checked(&buf[..n]).unwrap();
        assert_eq!(p.flags(), r.flags);
        assert!(p.flags().is_illegal_mix());
        assert_eq!(r.flags.tcpdump().to_string(), "FSe");
    }

    #[test]
    fn tcpdump_letters() {
        assert_eq!(TcpFlags::SYN_ACK.tcpdump().to_string(), "S.");
        assert_eq!(TcpFlags::RST_ACK.tcpdump().to_string(), "R.");
        assert_eq!(
            (TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR)
                .tcpdump()
                .to_string(),
            "SEW"
        );
        assert_eq!(TcpFlags::NONE.tcpdump().to_string(), "none");
    }

    #[test]
    fn bad_data_offset() {
        let mut buf = [0u8; 20];
        buf[12] = 4 << 4;
        assert_eq!(
            TcpPacket::new_checked(&buf[..]).unwrap_err(),
            WireError::BadDataOffset { offset: 4, len: 20 }
        );
        buf[12] = 6 << 4;
        assert_eq!(
            TcpPacket::new_checked(&buf[..]).unwrap_err(),
            WireError::BadDataOffset { offset: 6, len: 20 }
        );
    }

    #[test]
    fn short_buffer_is_an_error() {
        let mut buf = [0u8; 22];
        assert_eq!(
            syn().emit(&mut buf, OptionLayout::Linux, SRC, DST),
            Err(WireError::BufferTooSmall { need: 24, have: 22 })
        );
    }
}
