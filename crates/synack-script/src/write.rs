//! A script from what happened: the packets of one connection attempt, seen
//! from its client, written as a packetdrill script whose system under test
//! is that client. Its own packets become `>` lines (flags, relative seq
//! and ack; options exact on the first SYN, where the TS offset is learned,
//! `<...>` after), the server's become `<` lines with every field, each at
//! its time since the previous event. The script stops where the handshake
//! does: the third ACK, a RST, or the last SYN. `synack script` replays it.

use std::fmt::Write;
use std::net::SocketAddr;

use crate::packet::LiveOpt;

/// One packet of the attempt: when (ns), whether the client sent it, its
/// IP bytes.
#[derive(Debug, Clone)]
pub struct Seg {
    pub at_ns: i64,
    pub from_client: bool,
    pub bytes: Vec<u8>,
}

/// What a script was written from, for its header comment.
#[derive(Debug, Clone)]
pub struct Origin {
    pub what: String,
    pub client: SocketAddr,
    pub server: SocketAddr,
}

struct Pkt {
    at_ns: i64,
    out: bool,
    flags: u16,
    seq: u32,
    ack: u32,
    win: u16,
    len: u32,
    tos: u8,
    options: Vec<LiveOpt>,
}

fn parse(s: &Seg) -> Option<Pkt> {
    let l = crate::packet::Live::parse(&s.bytes)?;
    Some(Pkt {
        at_ns: s.at_ns,
        out: s.from_client,
        flags: l.flags,
        seq: l.seq,
        ack: l.ack,
        win: l.window,
        len: l.payload,
        tos: l.tos,
        options: l.options,
    })
}

/// A client packet this soon after the server's is an answer to it.
const REPLY_NS: i64 = 200_000_000;

fn seconds(ns: i64) -> String {
    let us = (ns.max(0) + 500) / 1000;
    let s = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

fn options(opts: &[LiveOpt]) -> Result<String, String> {
    let mut parts = Vec::new();
    for o in opts {
        match o {
            LiveOpt::Known(k) => parts.push(k.text()),
            LiveOpt::Unknown(kind) => {
                return Err(format!(
                    "an option of kind {kind}, which the script language has no word for"
                ));
            }
        }
    }
    Ok(if parts.is_empty() {
        String::new()
    } else {
        format!(" <{}>", parts.join(","))
    })
}

/// Write the script. The client must have sent a SYN.
pub fn script(origin: &Origin, segs: &[Seg]) -> Result<String, String> {
    let pkts: Vec<Pkt> = segs.iter().filter_map(parse).collect();
    let syn = pkts
        .iter()
        .find(|p| p.out && p.flags & 0x012 == 0x002)
        .ok_or("the client's SYN is not in the capture: nothing to replay from")?;
    let isns = Isns {
        client: syn.seq,
        server: pkts
            .iter()
            .find(|p| !p.out && p.flags & 0x002 != 0)
            .map_or(0, |p| p.seq),
    };
    let t0 = syn.at_ns;
    let mut s = header(origin, isns);
    let (mut prev, mut prev_out, mut first_out) = (t0, true, true);
    for p in pkts.iter().filter(|p| p.at_ns >= t0) {
        let gap = p.at_ns - prev;
        // The client's answer to the server's packet: when it comes is the
        // system's own business, at most as late as in the capture. A
        // timer's packet (a second or so later) keeps its time.
        let dt = if p.out && !prev_out && gap < REPLY_NS {
            format!("0~+{}", seconds(gap))
        } else {
            seconds(gap)
        };
        (prev, prev_out) = (p.at_ns, p.out);
        let _ = writeln!(s, "{}", line(p, &dt, isns, first_out)?);
        first_out &= !p.out;
        if !p.out && p.flags & 0x014 == 0x014 {
            s.push_str("+0    getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0\n");
        }
        // The handshake is over: the third ACK, or a RST.
        if (p.out && p.flags == 0x010 && p.len == 0) || (!p.out && p.flags & 0x004 != 0) {
            break;
        }
    }
    Ok(s)
}

#[derive(Clone, Copy)]
struct Isns {
    client: u32,
    server: u32,
}

/// Where it comes from, the numbers' origins, the family, the client's
/// connect().
fn header(origin: &Origin, isns: Isns) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// {}: the client {} (the system under test) and",
        origin.what, origin.client
    );
    let _ = writeln!(
        s,
        "// the server {}, written by synack. The client's numbers count",
        origin.server
    );
    let _ = writeln!(
        s,
        "// from its ISN {}, the server's from {}; times are the capture's.",
        isns.client, isns.server
    );
    if origin.client.is_ipv6() {
        s.push_str("--ip_version=ipv6\n");
    }
    s.push_str("0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
    s.push_str("+0    fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n");
    s.push_str("+0    connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n");
    s
}

/// One packet's line: the client's (options exact only on its first, where
/// the TS offset is learned) or the server's (every field).
fn line(p: &Pkt, dt: &str, isns: Isns, first_out: bool) -> Result<String, String> {
    let letters = crate::packet::flags_text(p.flags);
    let (mine, theirs) = if p.out {
        (isns.client, isns.server)
    } else {
        (isns.server, isns.client)
    };
    let start = p.seq.wrapping_sub(mine);
    let span = format!("{start}:{}({})", start.wrapping_add(p.len), p.len);
    let ack = if p.flags & 0x010 != 0 {
        format!(" ack {}", p.ack.wrapping_sub(theirs))
    } else {
        String::new()
    };
    let at = format!("+{dt}");
    if p.out {
        let opts = if first_out {
            options(&p.options)?
        } else {
            " <...>".into()
        };
        return Ok(format!("{at:<5} > {letters} {span}{ack}{opts}"));
    }
    let ecn = match p.tos & 3 {
        1 => "[ect1] ",
        2 => "[ect0] ",
        3 => "[ce] ",
        _ => "",
    };
    Ok(format!(
        "{at:<5} < {ecn}{letters} {span}{ack} win {}{}",
        p.win,
        options(&p.options)?
    ))
}
