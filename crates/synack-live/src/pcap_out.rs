//! Frames written to a pcap file as they are captured (`watch -w`,
//! `probe --pcap`): nanosecond times, the capture's own link type, flushed
//! per frame so the file is whole whenever the run is stopped.

use std::io::{self, Write};

/// A pcap file being written.
pub struct PcapOut<W: Write> {
    out: W,
}

impl<W: Write> PcapOut<W> {
    /// Write the file header for frames of `linktype`.
    pub fn new(mut out: W, linktype: i32) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes()); // nanosecond pcap
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&(crate::libpcap::SNAPLEN as u32).to_le_bytes());
        h.extend_from_slice(&(linktype as u32).to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapOut { out })
    }

    /// One frame: its time in ns since the epoch, its bytes, its length on
    /// the wire.
    pub fn frame(&mut self, ts_ns: i64, data: &[u8], wire_len: u32) -> io::Result<()> {
        let secs = ts_ns.div_euclid(1_000_000_000);
        let ns = ts_ns.rem_euclid(1_000_000_000);
        let caplen = u32::try_from(data.len()).map_err(|_| io::Error::other("frame too long"))?;
        let mut h = [0u8; 16];
        h[..4].copy_from_slice(&u32::try_from(secs).unwrap_or(0).to_le_bytes());
        h[4..8].copy_from_slice(&(ns as u32).to_le_bytes());
        h[8..12].copy_from_slice(&caplen.to_le_bytes());
        h[12..].copy_from_slice(&wire_len.max(caplen).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_reads_back_with_its_times() {
        let mut buf = Vec::new();
        let mut w = PcapOut::new(&mut buf, 101).unwrap_or_else(|_| unreachable!());
        let pkt = synack_capture::synth::ip_segment(
            "10.0.0.1:1000".parse().unwrap_or_else(|_| unreachable!()),
            "10.0.0.2:80".parse().unwrap_or_else(|_| unreachable!()),
            synack_wire::TcpFlags::SYN,
            1000,
            0,
            0,
            synack_wire::TcpOptions::default(),
        )
        .unwrap_or_else(|_| unreachable!());
        w.frame(1_700_000_000_123_456_789, &pkt, 0)
            .unwrap_or_else(|_| unreachable!());
        let a = synack_capture::analyze(&buf[..], "t").unwrap_or_else(|_| unreachable!());
        assert_eq!(a.attempts.len(), 1);
        assert_eq!(a.attempts[0].start_time_ns, 1_700_000_000_123_456_789);
    }
}
