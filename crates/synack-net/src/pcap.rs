//! Classic pcap (microsecond timestamps, LINKTYPE_RAW: bare IPv4/IPv6
//! packets), which Wireshark and tshark open directly.

use std::io::{self, Write};
use std::time::SystemTime;

const LINKTYPE_RAW: u32 = 101;

/// Write every segment of a trace, as sent (lost ones included, as a capture
/// at the sender would show them), stamped with the run's wall clock.
pub fn write_trace(path: &std::path::Path, trace: &synack_trace::Trace) -> io::Result<()> {
    let f = std::fs::File::create(path)?;
    let mut w = PcapWriter::new(io::BufWriter::new(f))?;
    for r in &trace.link {
        let at = trace.started_at + std::time::Duration::from_nanos(r.sent_at.as_nanos());
        w.write(at, &r.bytes)?;
    }
    w.flush()
}

pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        h.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        h.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
        h.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out })
    }

    /// Append one packet stamped with `at`.
    pub fn write(&mut self, at: SystemTime, packet: &[u8]) -> io::Result<()> {
        let t = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&(t.as_secs() as u32).to_le_bytes());
        h[4..8].copy_from_slice(&t.subsec_micros().to_le_bytes());
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(packet)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
