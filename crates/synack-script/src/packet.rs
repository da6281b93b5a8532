//! Script packets against live ones. The script's numbers for the system
//! under test (its sequence numbers, its TS values) are relative: the first
//! packet it sends fixes the offset, as in packetdrill. The remote side's
//! numbers are used as written. Inbound packets are built byte by byte in
//! the script's option order; outbound ones are compared field by field.

use std::net::SocketAddr;

use serde::Serialize;
use synack_wire::{IpHeader, SeqNum, TcpPacket, checksum, parse_ip};

use crate::ast::{Dir, EcnMark, Options, Packet, TcpOpt};

/// What the run has learned of the live numbers.
#[derive(Debug, Clone, Default)]
pub struct Map {
    /// The system's ISN: live seq = script seq + isn.
    pub isn: Option<u32>,
    /// live TS val = script val + ts_offset.
    pub ts_offset: Option<u32>,
    /// The system's address and port, once known.
    pub local: Option<SocketAddr>,
    /// The remote end packets come from.
    pub remote: Option<SocketAddr>,
}

/// The first field of an outbound packet that differs from the script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub field: String,
    pub expected: String,
    pub actual: String,
}

fn differ(field: &str, expected: impl ToString, actual: impl ToString) -> Difference {
    Difference {
        field: field.into(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    }
}

/// The options of a live packet, in order, as the script writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveOpt {
    Known(TcpOpt),
    Unknown(u8),
}

impl LiveOpt {
    pub fn text(&self) -> String {
        match self {
            LiveOpt::Known(o) => o.text(),
            LiveOpt::Unknown(k) => format!("option kind {k}"),
        }
    }
}

/// Walk a TCP header's option bytes (already bounded by the data offset).
pub fn live_options(mut b: &[u8]) -> Vec<LiveOpt> {
    let mut out = Vec::new();
    while let Some((&kind, rest)) = b.split_first() {
        match kind {
            0 => {
                out.push(LiveOpt::Known(TcpOpt::Eol));
                break;
            }
            1 => {
                out.push(LiveOpt::Known(TcpOpt::Nop));
                b = rest;
                continue;
            }
            _ => {}
        }
        let Some(&len) = rest.first() else { break };
        let len = usize::from(len);
        let Some(body) = b.get(2..len.max(2)) else {
            out.push(LiveOpt::Unknown(kind));
            break;
        };
        out.push(decode(kind, body));
        b = b.get(len.max(2)..).unwrap_or(&[]);
    }
    out
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn decode(kind: u8, body: &[u8]) -> LiveOpt {
    let known = match (kind, body.len()) {
        (2, 2) => body
            .try_into()
            .ok()
            .map(|b: [u8; 2]| TcpOpt::Mss(u16::from_be_bytes(b))),
        (3, 1) => body.first().map(|&w| TcpOpt::Wscale(w)),
        (4, 0) => Some(TcpOpt::SackOk),
        (5, n) if n % 8 == 0 && n > 0 => Some(TcpOpt::Sack(
            (0..n / 8)
                .filter_map(|k| Some((be32(body, 8 * k)?, be32(body, 8 * k + 4)?)))
                .collect(),
        )),
        (8, 8) => be32(body, 0)
            .zip(be32(body, 4))
            .map(|(val, ecr)| TcpOpt::Ts { val, ecr }),
        (34, _) => Some(TcpOpt::FastOpen {
            cookie: body.to_vec(),
            exp: false,
        }),
        (254, n) if n >= 2 && body.get(..2) == Some(&[0xF9, 0x89][..]) => Some(TcpOpt::FastOpen {
            cookie: body.get(2..).unwrap_or(&[]).to_vec(),
            exp: true,
        }),
        _ => None,
    };
    known.map_or(LiveOpt::Unknown(kind), LiveOpt::Known)
}

fn encode(o: &TcpOpt, map: &Map, out: &mut Vec<u8>) {
    match o {
        TcpOpt::Nop => out.push(1),
        TcpOpt::Eol => out.push(0),
        TcpOpt::Mss(m) => {
            out.extend_from_slice(&[2, 4]);
            out.extend_from_slice(&m.to_be_bytes());
        }
        TcpOpt::Wscale(w) => out.extend_from_slice(&[3, 3, *w]),
        TcpOpt::SackOk => out.extend_from_slice(&[4, 2]),
        TcpOpt::Sack(blocks) => {
            out.extend_from_slice(&[5, (2 + 8 * blocks.len()) as u8]);
            let isn = map.isn.unwrap_or(0);
            for (l, r) in blocks {
                out.extend_from_slice(&l.wrapping_add(isn).to_be_bytes());
                out.extend_from_slice(&r.wrapping_add(isn).to_be_bytes());
            }
        }
        TcpOpt::Ts { val, ecr } => {
            out.extend_from_slice(&[8, 10]);
            out.extend_from_slice(&val.to_be_bytes());
            let ecr = if *ecr == 0 {
                0
            } else {
                ecr.wrapping_add(map.ts_offset.unwrap_or(0))
            };
            out.extend_from_slice(&ecr.to_be_bytes());
        }
        TcpOpt::FastOpen { cookie, exp: false } => {
            out.extend_from_slice(&[34, (2 + cookie.len()) as u8]);
            out.extend_from_slice(cookie);
        }
        TcpOpt::FastOpen { cookie, exp: true } => {
            out.extend_from_slice(&[254, (4 + cookie.len()) as u8, 0xF9, 0x89]);
            out.extend_from_slice(cookie);
        }
    }
}

fn ecn_bits(m: EcnMark) -> u8 {
    match m {
        EcnMark::NoEcn => 0,
        EcnMark::Ect1 => 1,
        EcnMark::Ect0 | EcnMark::Ect01 => 2,
        EcnMark::Ce => 3,
    }
}

/// The IP packet for an inbound script packet, from `map.remote` to
/// `map.local`.
pub fn build(p: &Packet, map: &Map) -> Result<Vec<u8>, String> {
    let (Some(src), Some(dst)) = (map.remote, map.local) else {
        return Err("the addresses are not known yet (no socket was bound or connected)".into());
    };
    let mut opts = Vec::new();
    if let Options::List(list) = &p.options {
        for o in list {
            encode(o, map, &mut opts);
        }
    }
    while opts.len() % 4 != 0 {
        opts.push(0);
    }
    if opts.len() > 40 {
        return Err(format!(
            "the options take {} bytes; TCP has room for 40",
            opts.len()
        ));
    }
    let win = u16::try_from(p.win.unwrap_or(0)).map_err(|_| {
        format!(
            "win {} does not fit the 16-bit window field",
            p.win.unwrap_or(0)
        )
    })?;
    let tcp_len = 20 + opts.len() + p.len() as usize;
    let mut ip = IpHeader::new(src.ip(), dst.ip());
    ip.ttl = p.ip.ttl.unwrap_or(64);
    ip.tos = p.ip.tos.unwrap_or(0) & !3 | p.ip.ecn.map_or(0, ecn_bits);
    let mut buf = vec![0u8; ip.header_len() + tcp_len];
    let hl = ip
        .emit(&mut buf, tcp_len)
        .map_err(|e| format!("IP header: {e}"))?;
    let ack = match p.ack {
        Some(a) => a.wrapping_add(map.isn.unwrap_or(0)),
        None => 0,
    };
    let mut tcp = Vec::with_capacity(tcp_len);
    tcp.extend_from_slice(&src.port().to_be_bytes());
    tcp.extend_from_slice(&dst.port().to_be_bytes());
    tcp.extend_from_slice(&p.start.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    let words = ((20 + opts.len()) / 4) as u8;
    tcp.push(words << 4 | ((p.flags >> 8) & 1) as u8);
    tcp.push((p.flags & 0xff) as u8);
    tcp.extend_from_slice(&win.to_be_bytes());
    tcp.extend_from_slice(&[0, 0]);
    tcp.extend_from_slice(&p.urg.unwrap_or(0).to_be_bytes());
    tcp.extend_from_slice(&opts);
    tcp.resize(tcp_len, 0);
    let sum = checksum::finish(checksum::sum(
        checksum::pseudo_header(src.ip(), dst.ip(), 6, tcp_len as u32),
        &tcp,
    ));
    if let Some(c) = tcp.get_mut(16..18) {
        c.copy_from_slice(&sum.to_be_bytes());
    }
    if let Some(t) = buf.get_mut(hl..) {
        t.copy_from_slice(&tcp);
    }
    Ok(buf)
}

/// A live TCP packet's fields, read once.
#[derive(Debug, Clone)]
pub struct Live {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub tos: u8,
    pub seq: u32,
    pub ack: u32,
    pub flags: u16,
    pub window: u16,
    pub urgent: u16,
    pub payload: u32,
    pub options: Vec<LiveOpt>,
}

impl Live {
    pub fn parse(bytes: &[u8]) -> Option<Live> {
        let ip = parse_ip(bytes, false).ok()?;
        let t = TcpPacket::new_checked(ip.tcp).ok()?;
        Some(Live {
            src: SocketAddr::new(ip.ip.src, t.src_port()),
            dst: SocketAddr::new(ip.ip.dst, t.dst_port()),
            tos: ip.ip.tos,
            seq: t.seq().0,
            ack: t.ack().0,
            flags: t.flags().0 & 0x1ff,
            window: t.window(),
            urgent: t.urgent(),
            payload: t.payload().len() as u32,
            options: live_options(t.options()),
        })
    }

    /// The flags in packetdrill's letters.
    pub fn flags_text(&self) -> String {
        flags_text(self.flags)
    }
}

/// packetdrill's flag letters, in the order it writes them.
const LETTERS: [(u16, char); 8] = [
    (0x002, 'S'),
    (0x001, 'F'),
    (0x004, 'R'),
    (0x008, 'P'),
    (0x020, 'U'),
    (0x040, 'E'),
    (0x080, 'W'),
    (0x010, '.'),
];

/// The flag bit a letter stands for.
pub fn flag_bit(letter: char) -> Option<u16> {
    LETTERS.iter().find(|(_, c)| *c == letter).map(|(b, _)| *b)
}

/// Letters back to bits (unknown letters count for nothing).
pub fn flag_bits(letters: &str) -> u16 {
    letters.chars().filter_map(flag_bit).fold(0, |a, b| a | b)
}

pub fn flags_text(bits: u16) -> String {
    let s: String = LETTERS
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, c)| *c)
        .collect();
    if s.is_empty() { "-".into() } else { s }
}

/// Compare an outbound packet with the script's; learn the system's ISN,
/// port and TS offset from it when they are not known yet.
pub fn check(p: &Packet, live: &Live, map: &mut Map) -> Result<(), Difference> {
    debug_assert_eq!(p.dir, Dir::Out);
    if let Some(remote) = map.remote
        && live.dst != remote
    {
        return Err(differ("destination", remote, live.dst));
    }
    match map.local {
        Some(l) if l.port() != 0 && l != live.src => return Err(differ("source", l, live.src)),
        _ => map.local = Some(live.src),
    }
    if p.flags != live.flags {
        return Err(differ("flags", &p.flags_text, live.flags_text()));
    }
    let isn = *map.isn.get_or_insert(live.seq.wrapping_sub(p.start));
    let rel = live.seq.wrapping_sub(isn);
    if rel != p.start {
        return Err(differ("seq", p.start, format!("{rel} (live {})", live.seq)));
    }
    if live.payload != p.len() {
        return Err(differ("length", p.len(), live.payload));
    }
    if let Some(a) = p.ack
        && live.ack != a
    {
        let delta = i64::from(SeqNum(live.ack).diff(SeqNum(a)));
        return Err(differ("ack", a, format!("{} ({delta:+})", live.ack)));
    }
    if let Some(w) = p.win
        && u32::from(live.window) != w
    {
        return Err(differ("win", w, live.window));
    }
    if let Some(u) = p.urg
        && live.urgent != u
    {
        return Err(differ("urg", u, live.urgent));
    }
    if let Some(m) = p.ip.ecn {
        let bits = live.tos & 3;
        let ok = match m {
            EcnMark::Ect01 => bits == 1 || bits == 2,
            m => bits == ecn_bits(m),
        };
        if !ok {
            let names = ["noecn", "ect1", "ect0", "ce"];
            let actual = names.get(usize::from(bits)).copied().unwrap_or("?");
            return Err(differ("ecn", m.name(), actual));
        }
    }
    check_options(&p.options, &live.options, map)
}

fn options_text(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        format!("<{}>", list.join(","))
    }
}

fn check_options(spec: &Options, live: &[LiveOpt], map: &mut Map) -> Result<(), Difference> {
    let want: &[TcpOpt] = match spec {
        Options::Any => return Ok(()),
        Options::None => &[],
        Options::List(l) => l,
    };
    let whole = || {
        (
            options_text(&want.iter().map(TcpOpt::text).collect::<Vec<_>>()),
            options_text(&live.iter().map(LiveOpt::text).collect::<Vec<_>>()),
        )
    };
    if want.len() != live.len() {
        let (w, l) = whole();
        return Err(differ("options", w, l));
    }
    for (w, l) in want.iter().zip(live) {
        let same = match (w, l) {
            (TcpOpt::Ts { val, ecr }, LiveOpt::Known(TcpOpt::Ts { val: lv, ecr: le })) => {
                // The system's clock is its own: the first TS val fixes the offset.
                map.ts_offset.get_or_insert(lv.wrapping_sub(*val));
                ecr == le
            }
            (TcpOpt::Sack(b), LiveOpt::Known(TcpOpt::Sack(lb))) => b == lb,
            (w, LiveOpt::Known(l)) => w == l,
            _ => false,
        };
        if !same {
            let (w, l) = whole();
            return Err(differ("options", w, l));
        }
    }
    Ok(())
}
