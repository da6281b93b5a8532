//! synack-capture: every TCP connection attempt in a pcap or pcapng file,
//! found in one streaming pass and checked step by step with the engine's
//! rule ids.

pub mod attempt;
mod beneath;
pub mod check;
mod defrag;
pub mod diagnose;
pub mod filter;
mod first_syn;
mod fold;
pub mod link;
pub mod narrate;
mod outcome;
mod overlay;
mod parallel;
pub mod ports;
mod prefetch;
pub mod reader;
pub mod stats;
pub mod synth;
mod table;
pub mod track;
mod wide;
mod window;
pub mod zeek;

use synack_wire::{TcpFlags, TcpPacket, parse_ip, parse_ip_truncated};

pub use attempt::{
    Attempt, ClockBack, IcmpSeen, Negotiated, Outcome, Rst, Seg, SegOptions, SideOptions, Stacked,
    Step,
};
pub use beneath::MAX_NETWORKS as MAX_TUNNEL_NETWORKS;
pub use beneath::Network;
pub use check::{Check, What};
pub use diagnose::{Confidence, Diagnosis, Id};
pub use filter::Filter;
pub use first_syn::LoneSyn;
pub use fold::{Fold, fold};
pub use parallel::{analyze_parallel, fold_parallel};
pub use reader::{CaptureError, ReadSummary};
pub use stats::{Stats, Summing};
pub use track::Tracker;

/// What one pass over a file found besides the attempts.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub summary: ReadSummary,
    /// Frames whose TCP header could not be read (cut off or malformed).
    pub unreadable: u64,
    /// TCP segments outside any attempt (connections already open).
    pub unmatched: u64,
    /// The most attempts held in memory at once.
    pub peak_live: usize,
    /// Attempts handed out before they were over, to keep memory bounded.
    pub evicted: u64,
    /// Frames a frame filter (`analyze -F`) left out.
    pub filtered_out: u64,
    /// IP packets put back together from fragments.
    pub reassembled: u64,
    /// Fragments of packets that never became whole (pieces missing or
    /// overlapping with different bytes).
    pub fragments_lost: u64,
    /// Packets taken out of tunnels (holding a TCP segment, an ICMP error
    /// or a fragment), by `synack_wire::tunnel::Tunnel::ALL`'s order.
    pub tunnelled: [u64; synack_wire::tunnel::Tunnel::ALL.len()],
    /// The networks tunnels carried (VXLAN's and Geneve's ids), the first
    /// 64 seen. An attempt in one of them carries it (`Attempt::network`),
    /// apart from one on the same 4-tuple elsewhere (tshark mixes them).
    pub tunnel_networks: Vec<(synack_wire::tunnel::Tunnel, u32)>,
    /// Threads the pass ran on (see [`analyze_parallel`]).
    pub threads: usize,
}

/// Everything found in one file, collected.
#[derive(Debug)]
pub struct Analysis {
    pub summary: ReadSummary,
    pub attempts: Vec<Attempt>,
    pub unreadable: u64,
}

/// What a segment's header says first: its ends and flags.
struct Early {
    src: std::net::SocketAddr,
    dst: std::net::SocketAddr,
    flags: synack_wire::TcpFlags,
}

/// The TCP segment in an IP packet; lenient with truncated frames. The
/// checksum is verified when `checksums` is set (otherwise never wrong).
/// Inlined: the caller gets the segment where it keeps it, not a copy.
#[inline(always)]
fn segment(frame: &reader::Frame<'_>, checksums: bool) -> Option<Seg> {
    segment_with(frame, checksums, |_| ()).map(|(s, ())| s)
}

/// A frame's IP packet, parsed, and its TCP header's 20 fixed bytes:
/// `None` when it holds no TCP segment the tracker takes (such a frame
/// moves no clock either).
#[inline]
fn tcp_part<'a>(
    frame: &reader::Frame<'a>,
) -> Option<(&'a [u8], synack_wire::ip::IpTcp<'a>, &'a [u8; 20])> {
    let ip = link::ip_packet(frame.linktype, frame.data)?;
    let p = if frame.truncated {
        parse_ip_truncated(ip)
    } else {
        parse_ip(ip, false)
    }
    .ok()?;
    let (hdr, _) = p.tcp.split_first_chunk::<20>()?;
    // A data offset under 5 words puts the header's end inside its fixed
    // part: no segment (`parallel/split.rs` tells it apart the same way).
    if hdr[12] >> 4 < 5 {
        return None;
    }
    Some((ip, p, hdr))
}

/// The two ends of a frame's TCP segment, when it is one the tracker
/// takes.
pub(crate) fn segment_ends(
    frame: &reader::Frame<'_>,
) -> Option<(std::net::SocketAddr, std::net::SocketAddr)> {
    let (_, p, hdr) = tcp_part(frame)?;
    let h = Fixed::of(hdr);
    Some((
        std::net::SocketAddr::new(p.ip.src, h.src_port),
        std::net::SocketAddr::new(p.ip.dst, h.dst_port),
    ))
}

/// The same, `early` told the segment's ends and flags as soon as they are
/// read, before the checksum and the options: time for the cache to fetch
/// what the segment will need next. What `early` returns comes back with
/// the segment.
#[inline(always)]
fn segment_with<R>(
    frame: &reader::Frame<'_>,
    checksums: bool,
    early: impl FnOnce(&Early) -> R,
) -> Option<(Seg, R)> {
    let (ip, p, hdr) = tcp_part(frame)?;
    let t = p.tcp;
    // A header cut short still has its 20 fixed bytes (its data offset
    // says at least that many: `tcp_part`); options may be partial.
    let hl = usize::from(hdr[12] >> 4) * 4;
    let h = Fixed::of(hdr);
    let src = std::net::SocketAddr::new(p.ip.src, h.src_port);
    let dst = std::net::SocketAddr::new(p.ip.dst, h.dst_port);
    let told = early(&Early {
        src,
        dst,
        flags: h.flags,
    });
    let (options, payload_len, bad_checksum, stacked) = match TcpPacket::new_checked(t) {
        Ok(pk) => (
            SegOptions::raw(pk.options()),
            pk.payload().len(),
            checksums && !frame.truncated && !wide::checksum_ok(t, p.ip.src, p.ip.dst),
            stacked(pk.payload()),
        ),
        Err(_) => (SegOptions::raw(t.get(20..hl.min(t.len()))?), 0, false, None),
    };
    let checksum_offloaded = bad_checksum && offloaded(t, p.ip.src, p.ip.dst);
    // Cut by the snap length: the IP length still tells how much data there was.
    let payload_len = if frame.truncated {
        wire_len(ip)
            .map(|l| l.saturating_sub(p.tcp_offset + hl))
            .unwrap_or(payload_len)
    } else {
        payload_len
    };
    let ip_len = wire_len(ip).unwrap_or(ip.len());
    let seg = Seg {
        frame: frame.number,
        ts: frame.ts,
        ns: frame.ts_ns,
        iface: frame.interface,
        src,
        dst,
        flags: h.flags,
        seq: synack_wire::SeqNum(h.seq),
        ack: synack_wire::SeqNum(h.ack),
        window: h.window,
        payload_len,
        ip_len,
        options,
        bad_checksum,
        checksum_offloaded,
        stacked,
    };
    Some((seg, told))
}

/// Whether a TCP segment whose checksum is wrong holds the pseudo-header's
/// sum there: left for the network card (checksum offload), captured on
/// the sending host before the card finished it. Off the path of every
/// segment whose checksum is right.
#[cold]
fn offloaded(tcp: &[u8], src: std::net::IpAddr, dst: std::net::IpAddr) -> bool {
    let Some(&[hi, lo]) = tcp.get(16..18) else {
        return false;
    };
    let field = u16::from_be_bytes([hi, lo]);
    synack_wire::checksum::pseudo_only(src, dst, synack_wire::tcp::PROTOCOL, tcp.len(), field)
}

/// A payload that is itself an IP packet carrying TCP, as when a crafting
/// tool is given two headers for one packet. Only a payload that begins
/// like an IP header carrying TCP (version 4 with a 20-byte header and
/// protocol 6, or version 6 whose next header is TCP or an extension
/// header) is parsed, so data pays two comparisons: text beginning with
/// `a`–`o` (0x61–0x6f) looks like version 6 by its first byte alone.
fn stacked(payload: &[u8]) -> Option<attempt::Stacked> {
    let like_ip = match payload.first()? {
        0x45 => payload.get(9) == Some(&6),
        v if v >> 4 == 6 => matches!(payload.get(6), Some(0 | 6 | 43 | 44 | 51 | 60)),
        _ => false,
    };
    if !like_ip {
        return None;
    }
    let p = parse_ip_truncated(payload).ok()?;
    let (hdr, _) = p.tcp.split_first_chunk::<20>()?;
    let h = Fixed::of(hdr);
    Some(attempt::Stacked {
        src: std::net::SocketAddr::new(p.ip.src, h.src_port),
        dst: std::net::SocketAddr::new(p.ip.dst, h.dst_port),
        flags: h.flags,
        seq: h.seq,
        ack: h.ack,
    })
}

/// The fields of a TCP header's fixed 20 bytes, as they are (a header cut
/// short by the snap length still has them; the flag bits are kept raw).
struct Fixed {
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
}

impl Fixed {
    fn of(h: &[u8; 20]) -> Fixed {
        let be16 = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        let be32 = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        Fixed {
            src_port: be16(0),
            dst_port: be16(2),
            seq: be32(4),
            ack: be32(8),
            flags: TcpFlags(be16(12) & 0x0fff),
            window: be16(14),
        }
    }
}

/// An ICMP destination unreachable quoting a TCP segment.
fn icmp(frame: &reader::Frame<'_>) -> Option<attempt::IcmpSeen> {
    let ip = link::ip_packet(frame.linktype, frame.data)?;
    let e = synack_wire::parse_icmp(ip, false).ok()?;
    Some(attempt::IcmpSeen {
        frame: frame.number,
        ts: frame.ts,
        from: e.ip.src,
        v6: e.v6,
        code: e.code,
        reason: e.reason,
        quoted_src: e.quoted_src,
        quoted_dst: e.quoted_dst,
        quoted_seq: e.quoted_seq.get(),
    })
}

/// The IP packet's length as sent (IPv4 total length, IPv6 40 + payload).
fn wire_len(ip: &[u8]) -> Option<usize> {
    let field = |i: usize| {
        Some(usize::from(u16::from_be_bytes([
            *ip.get(i)?,
            *ip.get(i + 1)?,
        ])))
    };
    match ip.first()? >> 4 {
        4 => field(2),
        6 => Some(40 + field(4)?),
        _ => None,
    }
}

/// Analyse one capture in one pass, lending each attempt to `each` as soon
/// as it is over (see [`track`]); a caller that keeps one clones it. A damaged tail is reported in
/// `summary.damaged_at` and everything before it is still analysed.
pub fn analyze_each<'a>(
    input: impl Into<reader::Source<'a>>,
    name: &str,
    each: impl FnMut(&Attempt),
) -> Result<Totals, CaptureError> {
    analyze_each_within(input, name, track::MAX_LIVE, each)
}

/// [`analyze_each`], holding at most `max_live` attempts at once: past that
/// the oldest is handed out early, marked `evicted`.
pub fn analyze_each_within<'a>(
    input: impl Into<reader::Source<'a>>,
    name: &str,
    max_live: usize,
    each: impl FnMut(&Attempt),
) -> Result<Totals, CaptureError> {
    analyze_frames(input, name, Pass::new(max_live), |_| true, each)
}

/// How a pass reads a file.
#[derive(Debug, Clone, Copy)]
pub struct Pass {
    /// The most attempts held at once (the oldest is evicted past it).
    pub max_live: usize,
    /// Check TCP checksums (a capture made on the sending host holds its
    /// segments before the NIC filled the checksum in: no use there).
    pub checksums: bool,
}

impl Pass {
    pub fn new(max_live: usize) -> Pass {
        Pass {
            max_live,
            checksums: true,
        }
    }
}

/// [`analyze_each_within`], with only the frames `keep` says yes to (a
/// tcpdump filter expression, say): the others are not seen at all.
pub fn analyze_frames<'a>(
    input: impl Into<reader::Source<'a>>,
    name: &str,
    pass: Pass,
    mut keep: impl FnMut(&reader::Frame<'_>) -> bool,
    mut each: impl FnMut(&Attempt),
) -> Result<Totals, CaptureError> {
    let mut live = Live::new(pass.max_live);
    live.checksums = pass.checksums;
    let mut filtered_out = 0;
    let summary = reader::read(input, name, |f| {
        if !keep(&f) {
            filtered_out += 1;
            return;
        }
        live.frame(&f, &mut each);
    })?;
    let mut t = live.finish(&mut each);
    t.summary = summary;
    t.filtered_out = filtered_out;
    Ok(t)
}

/// Frames one at a time, as a file's pass or a live capture hands them
/// over: the tracker, and what fitted no attempt.
pub struct Live {
    tracker: Tracker,
    unreadable: u64,
    checksums: bool,
    beneath: beneath::Beneath,
}

impl Live {
    /// At most `max_live` attempts held at once.
    pub fn new(max_live: usize) -> Live {
        Live {
            tracker: Tracker::with_max_live(max_live),
            unreadable: 0,
            checksums: true,
            beneath: beneath::Beneath::default(),
        }
    }

    /// Leave `tcp_stream` unknown (a tracker that sees only some of the
    /// conversations cannot number them as tshark does).
    pub(crate) fn unnumbered(mut self) -> Live {
        self.tracker.number_streams(false);
        self
    }

    /// Do not check TCP checksums: on a live capture the segments this
    /// host sends are seen before the NIC fills their checksum in
    /// (offload), so a wrong one says nothing (Wireshark's default too).
    pub fn without_checksums(mut self) -> Live {
        self.checksums = false;
        self
    }

    /// Count attempts of one SYN by kind for a `hand` that sums them up
    /// ([`track::Hand::counts_lone`]).
    pub(crate) fn count_lone_syns(&mut self, hand: &impl track::Hand) {
        self.tracker.count_lone_syns(hand);
    }

    /// An attempt silent for `secs` is over (300 s by default, zeek's).
    pub fn idle_after(mut self, secs: f64) -> Live {
        self.tracker.idle_s = secs;
        self
    }

    /// One frame; the attempts it ended are handed to `each`.
    pub fn frame(&mut self, f: &reader::Frame<'_>, each: &mut impl FnMut(&Attempt)) {
        self.frame_to(f, &mut track::Lend(each));
    }

    /// The same, the attempts given to `hand`.
    pub(crate) fn frame_to(&mut self, f: &reader::Frame<'_>, hand: &mut impl track::Hand) {
        frame(
            f,
            &mut self.tracker,
            (&mut self.unreadable, &mut self.beneath),
            self.checksums,
            hand,
        );
    }

    /// A frame found beneath another, in overlay network `zone`: its
    /// segment or ICMP error in; whether it held one.
    pub(crate) fn beneath_to(
        &mut self,
        g: &reader::Frame<'_>,
        zone: beneath::Zone,
        hand: &mut impl track::Hand,
    ) -> bool {
        take_beneath(g, zone, &mut self.tracker, self.checksums, hand)
    }

    /// Time passed with no frame (`now`: seconds since the epoch): the
    /// attempts over by then are handed to `each`.
    pub fn tick(&mut self, now: f64, each: &mut impl FnMut(&Attempt)) {
        self.tick_to(now, &mut track::Lend(each));
    }

    /// The same, the attempts given to `hand`.
    pub(crate) fn tick_to(&mut self, now: f64, hand: &mut impl track::Hand) {
        self.tracker.advance(now);
        self.tracker.hand_ready(hand);
    }

    /// Attempts held now.
    pub fn held(&self) -> usize {
        self.tracker.live()
    }

    /// Everything still held, handed to `each`; the counts.
    pub fn finish(self, each: &mut impl FnMut(&Attempt)) -> Totals {
        self.finish_to(&mut track::Lend(each))
    }

    /// The same, the attempts given to `hand`.
    pub(crate) fn finish_to(mut self, hand: &mut impl track::Hand) -> Totals {
        self.beneath.finish();
        let t = &self.tracker;
        let totals = Totals {
            unreadable: self.unreadable,
            reassembled: self.beneath.defrag.reassembled,
            fragments_lost: self.beneath.defrag.lost,
            tunnelled: self.beneath.tunnelled,
            tunnel_networks: std::mem::take(&mut self.beneath.networks),
            unmatched: t.unmatched,
            peak_live: t.peak_live,
            evicted: t.evicted,
            threads: 1,
            ..Totals::default()
        };
        self.tracker.finish_hand(hand);
        totals
    }
}

/// One frame into the tracker; attempts it ended given to `hand`.
fn frame(
    f: &reader::Frame<'_>,
    tracker: &mut Tracker,
    rest: (&mut u64, &mut beneath::Beneath),
    checksums: bool,
    hand: &mut impl track::Hand,
) {
    if !tcp_frame(f, tracker, checksums, hand) {
        not_segment(f, tracker, rest, checksums, hand);
    }
}

/// A frame that holds no TCP segment: an ICMP error, or a segment or an
/// error beneath it (fragments, tunnels). Out of line, the way of few
/// frames: `tcp_frame` is inlined once.
#[inline(never)]
fn not_segment(
    f: &reader::Frame<'_>,
    tracker: &mut Tracker,
    (unreadable, beneath): (&mut u64, &mut beneath::Beneath),
    checksums: bool,
    hand: &mut impl track::Hand,
) {
    if let Some(e) = icmp(f) {
        tracker.add_icmp(&e);
        return;
    }
    let mut take = |g: &reader::Frame<'_>, zone| take_beneath(g, zone, tracker, checksums, hand);
    if let beneath::Found::Nothing = beneath.open(f, &mut take)
        && f.truncated
    {
        *unreadable += 1;
    }
}

/// A frame found beneath another, in overlay network `zone` (0: none):
/// its segment or ICMP error into the tracker; whether it held one.
fn take_beneath(
    g: &reader::Frame<'_>,
    zone: beneath::Zone,
    tracker: &mut Tracker,
    checksums: bool,
    hand: &mut impl track::Hand,
) -> bool {
    if let Some(s) = segment(g, checksums) {
        tracker.add_in(&s, zone);
        tracker.hand_ready(hand);
    } else if let Some(e) = icmp(g) {
        tracker.add_icmp_in(&e, zone);
    } else {
        return false;
    }
    true
}

/// A frame holding a TCP segment into the tracker: whether it held one.
#[inline(always)]
fn tcp_frame(
    f: &reader::Frame<'_>,
    tracker: &mut Tracker,
    checksums: bool,
    hand: &mut impl track::Hand,
) -> bool {
    // A SYN usually begins an attempt, whose bucket in the table nothing
    // has read for long (in a scan, waiting for it was a sixth of the
    // pass): ask for it while the checksum is computed. Its key is kept
    // for the lookup.
    let early = |e: &Early| {
        (e.flags.syn() && !e.flags.ack()).then(|| {
            let key = tracker.key(e.src, e.dst);
            tracker.prefetch(&key);
            key
        })
    };
    let Some((s, key)) = segment_with(f, checksums, early) else {
        return false;
    };
    match key {
        Some(key) => tracker.add_keyed(&s, key),
        None => tracker.add(&s),
    }
    tracker.hand_ready(hand);
    true
}

/// Analyse one capture and collect every attempt, in order of first frame.
pub fn analyze<'a>(
    input: impl Into<reader::Source<'a>>,
    name: &str,
) -> Result<Analysis, CaptureError> {
    let mut attempts = Vec::new();
    let t = analyze_each(input, name, |a| attempts.push(a.clone()))?;
    attempts.sort_by_key(|a| a.first_frame);
    Ok(Analysis {
        summary: t.summary,
        attempts,
        unreadable: t.unreadable,
    })
}

/// One IP packet of a capture, as it was on the wire.
#[derive(Debug, Clone)]
pub struct Packet {
    /// 1-based frame number.
    pub frame: u64,
    /// Seconds since the Unix epoch.
    pub ts: f64,
    /// The IP packet (link-layer header removed).
    pub bytes: Vec<u8>,
    /// The overlay network it was carried in, as [`Attempt::network`].
    pub network: Option<Network>,
}

/// The IP packets of a capture's TCP segments and ICMP errors about TCP
/// (those in fragments and tunnels too, as the analysis finds them),
/// in order, for drawing (`analyze --format html`): at most `keep` of
/// them; the flag says whether some were left out.
pub fn packets<'a>(
    input: impl Into<reader::Source<'a>>,
    name: &str,
    keep: usize,
) -> Result<(Vec<Packet>, bool), CaptureError> {
    let mut out = Vec::new();
    let mut left_out = false;
    let mut beneath = beneath::Beneath::default();
    let mut add = |f: &reader::Frame<'_>, zone| {
        let Some(ip) = link::ip_packet(f.linktype, f.data) else {
            return false;
        };
        let tcp = parse_ip_truncated(ip).is_ok();
        if !tcp && synack_wire::parse_icmp(ip, false).is_err() {
            return false;
        }
        if out.len() >= keep {
            left_out = true;
        } else {
            out.push(Packet {
                frame: f.number,
                ts: f.ts,
                bytes: ip.to_vec(),
                network: Network::of_zone(zone),
            });
        }
        true
    };
    reader::read(input, name, |f| {
        if !add(&f, 0) {
            beneath.open(&f, &mut add);
        }
    })?;
    Ok((out, left_out))
}

#[cfg(test)]
mod tests {
    use super::stacked;

    /// An IP + TCP header (no payload) from 192.0.2.1:1000 to
    /// 192.0.2.2:80, or its IPv6 counterpart, with `next` as the protocol.
    fn header(v6: bool, next: u8) -> Vec<u8> {
        let mut p = if v6 {
            let mut h = vec![0x60, 0, 0, 0, 0, 20, next, 64];
            h.extend([0x20, 1, 0xd, 0xb8].iter().chain(&[0; 11]).chain(&[1]));
            h.extend([0x20, 1, 0xd, 0xb8].iter().chain(&[0; 11]).chain(&[2]));
            h
        } else {
            vec![
                0x45, 0, 0, 40, 0, 0, 0, 0, 64, next, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
            ]
        };
        p.extend([
            0x03, 0xe8, 0, 80, 0, 0, 0, 7, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff,
        ]);
        p.extend([0, 0, 0, 0]);
        p
    }

    #[test]
    fn a_payload_is_stacked_only_when_it_is_ip_carrying_tcp() {
        for v6 in [false, true] {
            let s = stacked(&header(v6, 6));
            assert_eq!(s.map(|s| (s.src.port(), s.seq)), Some((1000, 7)), "v6 {v6}");
            assert_eq!(stacked(&header(v6, 17)), None, "UDP, v6 {v6}");
        }
        // Text whose first byte reads as version 6 (or 4 with a 20-byte header).
        assert_eq!(stacked(&[b'a'; 1460]), None);
        assert_eq!(
            stacked(b"E\x00 plain text that is long enough to be a header"),
            None
        );
    }
}
