//! synack-capture: every TCP connection attempt in a pcap or pcapng file,
//! found in one streaming pass and checked step by step.
//!
//! Status: reading (pcap/pcapng, Ethernet with VLAN/QinQ/MPLS, SLL, SLL2,
//! raw IP, null/loopback), attempt tracking, outcomes, zeek conn_state and
//! history, handshake RTTs. Rule checks, anomaly narration and the report
//! formats are still to come.

pub mod link;
pub mod reader;
pub mod track;

use std::io::Read;

use synack_wire::{TcpFlags, TcpOptions, TcpPacket, parse_ip, parse_ip_truncated};

pub use reader::{CaptureError, ReadSummary};
pub use track::{Attempt, Outcome, Seg, Tracker};

/// Everything found in one file.
#[derive(Debug)]
pub struct Analysis {
    pub summary: ReadSummary,
    pub attempts: Vec<Attempt>,
    /// Frames whose TCP header could not be read (cut off or malformed).
    pub unreadable: u64,
}

/// The TCP segment in an IP packet; lenient with truncated frames.
fn segment(frame: &reader::Frame<'_>) -> Option<Seg> {
    let ip = link::ip_packet(frame.linktype, frame.data)?;
    let p = if frame.truncated {
        parse_ip_truncated(ip)
    } else {
        parse_ip(ip, false)
    }
    .ok()?;
    let t = p.tcp;
    if t.len() < 20 {
        return None;
    }
    // A header cut short still has its 20 fixed bytes; options may be partial.
    let hl = usize::from(t[12] >> 4) * 4;
    let (options, payload_len, bad_checksum) = match TcpPacket::new_checked(t) {
        Ok(pk) => (
            TcpOptions::parse(pk.options()).ok(),
            pk.payload().len(),
            !frame.truncated && pk.verify_checksum(p.ip.src, p.ip.dst).is_err(),
        ),
        Err(_) => (
            TcpOptions::parse(t.get(20..hl.min(t.len()))?).ok(),
            0,
            false,
        ),
    };
    let be32 = |i: usize| u32::from_be_bytes([t[i], t[i + 1], t[i + 2], t[i + 3]]);
    Some(Seg {
        frame: frame.number,
        ts: frame.ts,
        src: std::net::SocketAddr::new(p.ip.src, u16::from_be_bytes([t[0], t[1]])),
        dst: std::net::SocketAddr::new(p.ip.dst, u16::from_be_bytes([t[2], t[3]])),
        flags: TcpFlags(u16::from_be_bytes([t[12], t[13]]) & 0x0fff),
        seq: synack_wire::SeqNum(be32(4)),
        ack: synack_wire::SeqNum(be32(8)),
        window: u16::from_be_bytes([t[14], t[15]]),
        payload_len,
        options,
        bad_checksum,
    })
}

/// Analyse one capture. A damaged tail is reported in `summary.damaged_at`
/// and everything before it is still analysed.
pub fn analyze(input: impl Read + Send, name: &str) -> Result<Analysis, CaptureError> {
    let mut tracker = Tracker::default();
    let mut unreadable = 0;
    let summary = reader::read(input, name, |f| match segment(&f) {
        Some(s) => tracker.add(&s),
        None => {
            if f.truncated {
                unreadable += 1;
            }
        }
    })?;
    Ok(Analysis {
        summary,
        attempts: tracker.finish(),
        unreadable,
    })
}
