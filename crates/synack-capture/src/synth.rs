//! A synthetic capture for the benchmark and the tests: many interleaved
//! connections with full-size data segments, a share of handshake anomalies
//! and some IPv6. The generator counts what it wrote, so the analyser can be
//! checked against a truth that does not come from the analyser.

use std::collections::BTreeMap;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use synack_wire::{IpHeader, OptionLayout, SeqNum, TcpFlags, TcpOptions, TcpRepr, emit_segment};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct SynthConfig {
    /// Stop after the first flow that takes the file past this size.
    pub target_bytes: u64,
    pub seed: u64,
    /// Connections in progress at once (interleaved in the file).
    pub concurrent: usize,
    /// Share of attempts with a handshake anomaly, per mille.
    pub anomaly_per_mille: u32,
    /// Share of attempts over IPv6, per mille.
    pub ipv6_per_mille: u32,
    /// Microseconds between two segments of one flow.
    pub gap_us: u64,
    /// Every flow a single unanswered SYN to a 4-tuple of its own (a SYN
    /// scan): the attempt-heavy capture, where the other settings but the
    /// size and IPv6 share do not apply.
    pub scan: bool,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            target_bytes: 1 << 30,
            seed: 1,
            concurrent: 512,
            anomaly_per_mille: 50,
            ipv6_per_mille: 100,
            gap_us: 4000,
            scan: false,
        }
    }
}

/// What was written: the expected analysis.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SynthTruth {
    pub bytes: u64,
    pub frames: u64,
    pub attempts: u64,
    /// Attempts per outcome, named as the analyser's JSON names them.
    pub by_outcome: BTreeMap<&'static str, u64>,
    pub syn_retransmissions: u64,
    pub synack_retransmissions: u64,
    pub bad_checksums: u64,
    pub duplicates: u64,
    /// Attempts whose SYN-ACK acknowledges the wrong number.
    pub bad_synack_acks: u64,
}

/// The kinds of flow, the first one normal and the rest anomalies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    Refused,
    NoAnswer,
    SynAckLost,
    HalfOpen,
    BadSynAckAck,
    ResetAfter,
    BadChecksum,
    Duplicate,
    /// One SYN, nothing back.
    Scan,
}

const ANOMALIES: [Kind; 8] = [
    Kind::Refused,
    Kind::NoAnswer,
    Kind::SynAckLost,
    Kind::HalfOpen,
    Kind::BadSynAckAck,
    Kind::ResetAfter,
    Kind::BadChecksum,
    Kind::Duplicate,
];

/// One segment of a flow's script.
#[derive(Debug, Clone, Copy)]
struct Pkt {
    from_client: bool,
    flags: u16,
    seq: u32,
    ack: u32,
    len: u16,
    /// SYN options (MSS, SACK, TS, WS) rather than only timestamps.
    syn_opts: bool,
    /// Wait this long after the previous segment of the flow.
    delay_us: u64,
    corrupt: bool,
    twice: bool,
}

struct Flow {
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    script: Vec<Pkt>,
    next: usize,
}

/// splitmix64: small, seeded, good enough to vary a workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const SYN: u16 = TcpFlags::SYN.0;
const ACK: u16 = TcpFlags::ACK.0;
const RST: u16 = TcpFlags::RST.0;
const FIN: u16 = TcpFlags::FIN.0;
const PSH: u16 = TcpFlags::PSH.0;

fn pkt(from_client: bool, flags: u16, seq: u32, ack: u32, len: u16, delay_us: u64) -> Pkt {
    Pkt {
        from_client,
        flags,
        seq,
        ack,
        len,
        syn_opts: flags & SYN != 0,
        delay_us,
        corrupt: false,
        twice: false,
    }
}

/// The script of one flow and its contribution to the truth.
fn script(kind: Kind, rng: &mut Rng, gap: u64, truth: &mut SynthTruth) -> Vec<Pkt> {
    let (c, s) = (rng.next() as u32, rng.next() as u32);
    let rtt = gap / 2 + rng.below(gap * 4);
    let mut v = vec![pkt(true, SYN, c, 0, 0, 0)];
    let outcome = match kind {
        Kind::Scan => "no_answer",
        Kind::Refused => {
            v.push(pkt(false, RST | ACK, 0, c.wrapping_add(1), 0, rtt));
            "refused"
        }
        Kind::NoAnswer => {
            v.push(pkt(true, SYN, c, 0, 0, 1_000_000));
            v.push(pkt(true, SYN, c, 0, 0, 2_000_000));
            truth.syn_retransmissions += 2;
            "no_answer"
        }
        Kind::HalfOpen => {
            v.push(pkt(false, SYN | ACK, s, c.wrapping_add(1), 0, rtt));
            v.push(pkt(false, SYN | ACK, s, c.wrapping_add(1), 0, 1_000_000));
            v.push(pkt(false, SYN | ACK, s, c.wrapping_add(1), 0, 2_000_000));
            truth.synack_retransmissions += 2;
            "half_open"
        }
        Kind::BadSynAckAck => {
            let bad = c.wrapping_add(2);
            v.push(pkt(false, SYN | ACK, s, bad, 0, rtt));
            v.push(pkt(true, RST, bad, 0, 0, rtt));
            truth.bad_synack_acks += 1;
            "reset_during_handshake"
        }
        _ => {
            if kind == Kind::SynAckLost {
                // Captured next to the server: its SYN-ACK is lost after
                // the capture point, so the client repeats its SYN.
                v.push(pkt(false, SYN | ACK, s, c.wrapping_add(1), 0, rtt));
                v.push(pkt(true, SYN, c, 0, 0, 1_000_000));
                truth.syn_retransmissions += 1;
                truth.synack_retransmissions += 1;
            }
            v.push(pkt(false, SYN | ACK, s, c.wrapping_add(1), 0, rtt));
            established(kind, rng, gap, c, s, &mut v, truth)
        }
    };
    truth.attempts += 1;
    *truth.by_outcome.entry(outcome).or_default() += 1;
    v
}

/// Third ACK, a request, a response of full-size segments, then FINs (or a
/// RST after the first data).
fn established(
    kind: Kind,
    rng: &mut Rng,
    gap: u64,
    c: u32,
    s: u32,
    v: &mut Vec<Pkt>,
    truth: &mut SynthTruth,
) -> &'static str {
    let (mut cs, mut ss) = (c.wrapping_add(1), s.wrapping_add(1));
    v.push(pkt(true, ACK, cs, ss, 0, gap));
    let req = 100 + rng.below(400) as u16;
    v.push(pkt(true, ACK | PSH, cs, ss, req, 10));
    cs = cs.wrapping_add(u32::from(req));
    let segs = 1 + rng.below(48);
    for i in 0..segs {
        let len = if i + 1 == segs {
            1 + rng.below(1460) as u16
        } else {
            1460
        };
        v.push(pkt(false, ACK, ss, cs, len, gap));
        ss = ss.wrapping_add(u32::from(len));
        if i % 2 == 1 {
            v.push(pkt(true, ACK, cs, ss, 0, gap / 4));
        }
        if kind == Kind::ResetAfter {
            v.push(pkt(false, RST | ACK, ss, cs, 0, gap));
            return "reset_after_establishment";
        }
    }
    if kind == Kind::BadChecksum
        && let Some(p) = v.iter_mut().rev().find(|p| p.len > 0)
    {
        p.corrupt = true;
        truth.bad_checksums += 1;
    }
    if kind == Kind::Duplicate
        && let Some(p) = v.iter_mut().rev().find(|p| p.len > 0)
    {
        p.twice = true;
        truth.duplicates += 1;
    }
    v.push(pkt(false, FIN | ACK, ss, cs, 0, gap));
    v.push(pkt(true, FIN | ACK, cs, ss.wrapping_add(1), 0, gap));
    v.push(pkt(
        false,
        ACK,
        ss.wrapping_add(1),
        cs.wrapping_add(1),
        0,
        gap,
    ));
    "closed"
}

fn endpoints(n: u64, v6: bool) -> ((IpAddr, u16), (IpAddr, u16)) {
    let port = 1024 + (n % 60_000) as u16;
    let host = n / 60_000;
    let server_port = if n.is_multiple_of(3) { 80 } else { 443 };
    if v6 {
        let c = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, (host >> 16) as u16, host as u16);
        let s = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 1 + (n % 7) as u16);
        ((c.into(), port), (s.into(), server_port))
    } else {
        let h = host as u32;
        let c = Ipv4Addr::new(10, (h >> 16) as u8, (h >> 8) as u8, h as u8);
        let s = Ipv4Addr::new(192, 0, 2, 1 + (n % 7) as u8);
        ((c.into(), port), (s.into(), server_port))
    }
}

/// Write a classic pcap (Ethernet, microseconds) and return what it holds.
pub fn write(out: impl Write, cfg: &SynthConfig) -> io::Result<SynthTruth> {
    let mut w = io::BufWriter::with_capacity(1 << 20, out);
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&65535u32.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    w.write_all(&header)?;
    let mut truth = SynthTruth {
        bytes: 24,
        ..SynthTruth::default()
    };
    let mut rng = Rng(cfg.seed);
    let mut flows: Vec<Flow> = Vec::new();
    // Earliest next segment first: (time, flow), negated for the max-heap.
    let mut heap: BinaryHeap<(std::cmp::Reverse<u64>, usize)> = BinaryHeap::new();
    let mut started = 0u64;
    let start_us = 1_700_000_000u64 * 1_000_000;
    let mut buf = vec![0u8; 14 + 60 + 60 + 1500];
    let payload = [0x61u8; 1460];
    let mut new_flow = |rng: &mut Rng, truth: &mut SynthTruth| {
        let kind = if cfg.scan {
            Kind::Scan
        } else if rng.below(1000) < u64::from(cfg.anomaly_per_mille) {
            ANOMALIES[rng.below(ANOMALIES.len() as u64) as usize]
        } else {
            Kind::Normal
        };
        let v6 = rng.below(1000) < u64::from(cfg.ipv6_per_mille);
        let (client, server) = endpoints(started, v6);
        started += 1;
        Flow {
            client,
            server,
            script: script(kind, rng, cfg.gap_us.max(1), truth),
            next: 0,
        }
    };
    for i in 0..cfg.concurrent.max(1) {
        flows.push(new_flow(&mut rng, &mut truth));
        heap.push((std::cmp::Reverse(start_us + i as u64 * 7), i));
    }
    let mut stopping = false;
    while let Some((std::cmp::Reverse(t), i)) = heap.pop() {
        let Some(flow) = flows.get_mut(i) else {
            continue;
        };
        let Some(p) = flow.script.get(flow.next).copied() else {
            if truth.bytes < cfg.target_bytes && !stopping {
                *flow = new_flow(&mut rng, &mut truth);
                heap.push((std::cmp::Reverse(t + 1 + rng.below(50)), i));
            }
            continue;
        };
        flow.next += 1;
        let n = frame(&mut buf, flow, &p, &payload)?;
        let frame = buf.get(..n).unwrap_or_default();
        for _ in 0..if p.twice { 2 } else { 1 } {
            let mut rec = [0u8; 16];
            rec[0..4].copy_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
            rec[4..8].copy_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
            rec[8..12].copy_from_slice(&(n as u32).to_le_bytes());
            rec[12..16].copy_from_slice(&(n as u32).to_le_bytes());
            w.write_all(&rec)?;
            w.write_all(frame)?;
            truth.bytes += 16 + n as u64;
            truth.frames += 1;
        }
        if truth.bytes >= cfg.target_bytes {
            // Let the flows in progress finish so every attempt is whole.
            stopping = true;
        }
        let delay = flow.script.get(flow.next).map_or(1, |q| q.delay_us.max(1));
        heap.push((std::cmp::Reverse(t + delay), i));
    }
    w.flush()?;
    Ok(truth)
}

/// One Ethernet frame for `p` into `buf`; returns its length.
fn frame(buf: &mut [u8], flow: &Flow, p: &Pkt, payload: &[u8]) -> io::Result<usize> {
    let (src, dst) = if p.from_client {
        (flow.client, flow.server)
    } else {
        (flow.server, flow.client)
    };
    let v6 = src.0.is_ipv6();
    let eth: [u8; 14] = [
        2,
        0,
        0,
        0,
        0,
        if p.from_client { 2 } else { 1 },
        2,
        0,
        0,
        0,
        0,
        if p.from_client { 1 } else { 2 },
        if v6 { 0x86 } else { 0x08 },
        if v6 { 0xdd } else { 0x00 },
    ];
    let (head, rest) = buf.split_at_mut(14);
    head.copy_from_slice(&eth);
    let ts = (p.seq >> 8, p.ack >> 8);
    let options = TcpOptions {
        mss: p.syn_opts.then_some(1460),
        window_scale: p.syn_opts.then_some(7),
        sack_permitted: p.syn_opts,
        timestamps: (p.flags & RST == 0).then_some(ts),
        ..TcpOptions::default()
    };
    let repr = TcpRepr {
        src_port: src.1,
        dst_port: dst.1,
        seq: SeqNum(p.seq),
        ack: SeqNum(p.ack),
        flags: TcpFlags(p.flags),
        window: if p.syn_opts { 64240 } else { 502 },
        urgent: 0,
        options,
        payload: payload.get(..usize::from(p.len)).unwrap_or_default(),
    };
    let ip = IpHeader::new(src.0, dst.0);
    let n = emit_segment(rest, &ip, &repr, OptionLayout::Linux)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if p.corrupt {
        // Flip a bit of the TCP checksum field.
        if let Some(b) = rest.get_mut(ip.header_len() + 16) {
            *b ^= 0x40;
        }
    }
    Ok(14 + n)
}

/// One hand-made segment as an IP packet (for tests and examples), its
/// payload `payload_len` bytes of filler.
#[allow(clippy::too_many_arguments)]
pub fn ip_segment(
    src: std::net::SocketAddr,
    dst: std::net::SocketAddr,
    flags: TcpFlags,
    seq: u32,
    ack: u32,
    payload_len: usize,
    options: TcpOptions,
) -> io::Result<Vec<u8>> {
    ip_packet(
        src,
        dst,
        flags,
        seq,
        ack,
        options,
        &vec![0x62u8; payload_len],
    )
}

/// One hand-made segment as an IP packet, with this payload.
#[allow(clippy::too_many_arguments)]
pub fn ip_packet(
    src: std::net::SocketAddr,
    dst: std::net::SocketAddr,
    flags: TcpFlags,
    seq: u32,
    ack: u32,
    options: TcpOptions,
    payload: &[u8],
) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 60 + 60 + payload.len()];
    let repr = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags,
        window: 64240,
        urgent: 0,
        options,
        payload,
    };
    let n = emit_segment(
        &mut buf,
        &IpHeader::new(src.ip(), dst.ip()),
        &repr,
        OptionLayout::Linux,
    )
    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    buf.truncate(n);
    Ok(buf)
}

/// A classic pcap of raw IP packets (LINKTYPE_RAW) at the given times.
pub fn raw_pcap(frames: &[(f64, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0xa1b2_c3d4u32.to_le_bytes(), [2, 0, 4, 0], [0; 4], [0; 4]] {
        v.extend_from_slice(&x);
    }
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&101u32.to_le_bytes());
    for (t, p) in frames {
        let us = (t * 1e6).round() as u64;
        v.extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&(p.len() as u32).to_le_bytes());
        v.extend_from_slice(&(p.len() as u32).to_le_bytes());
        v.extend_from_slice(p);
    }
    v
}

/// Where each whole record of a classic little-endian pcap (as [`write()`]
/// and [`raw_pcap`] make them) ends, walked apart from the reader: what
/// tests of a cut file compare the reader's frames and offsets with.
pub fn record_ends(b: &[u8]) -> Vec<usize> {
    let (mut at, mut ends) = (24usize, Vec::new());
    while let Some(len) = b.get(at + 8..at + 12).and_then(|w| w.try_into().ok()) {
        let end = at
            .saturating_add(16)
            .saturating_add(u32::from_le_bytes(len) as usize);
        if end > b.len() {
            break;
        }
        ends.push(end);
        at = end;
    }
    ends
}

/// pcapng blocks, written by hand for tests of the reader (several
/// interfaces, resolutions, offsets).
pub mod pcapng {
    /// A block: type, length, body padded to 4 bytes, length again.
    fn block(kind: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len().div_ceil(4) * 4) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(&kind.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(body);
        b.resize(len as usize - 4, 0);
        b.extend_from_slice(&len.to_le_bytes());
        b
    }

    /// A section header (little-endian, version 1.0, length unknown).
    pub fn shb() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        block(0x0A0D_0D0A, &body)
    }

    /// An interface of raw IP (LINKTYPE_RAW) with `if_tsresol` and `if_tsoffset`.
    pub fn idb(tsresol: u8, tsoffset: i64) -> Vec<u8> {
        idb_of(101, tsresol, tsoffset)
    }

    /// The same with another link type.
    pub fn idb_of(linktype: u16, tsresol: u8, tsoffset: i64) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&linktype.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&262_144u32.to_le_bytes());
        body.extend_from_slice(&9u16.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&[tsresol, 0, 0, 0]);
        body.extend_from_slice(&14u16.to_le_bytes());
        body.extend_from_slice(&8u16.to_le_bytes());
        body.extend_from_slice(&tsoffset.to_le_bytes());
        body.extend_from_slice(&[0, 0, 0, 0]);
        block(1, &body)
    }

    /// An enhanced packet block: `ticks` in the interface's resolution.
    pub fn epb(iface: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&iface.to_le_bytes());
        body.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ticks as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        block(6, &body)
    }
}
