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
    let client_isn = syn.seq;
    let t0 = syn.at_ns;
    let server_isn = pkts
        .iter()
        .find(|p| !p.out && p.flags & 0x002 != 0)
        .map_or(0, |p| p.seq);
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
        "// from its ISN {client_isn}, the server's from {server_isn}; times are the capture's."
    );
    if origin.client.is_ipv6() {
        s.push_str("--ip_version=ipv6\n");
    }
    s.push_str("0     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
    s.push_str("+0    fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n");
    s.push_str("+0    connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n");
    let mut prev = t0;
    let mut prev_out = true;
    let mut first_out = true;
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
        prev = p.at_ns;
        prev_out = p.out;
        let letters = crate::packet::flags_text(p.flags);
        let (mine, theirs) = if p.out {
            (client_isn, server_isn)
        } else {
            (server_isn, client_isn)
        };
        let start = p.seq.wrapping_sub(mine);
        let span = format!("{start}:{}({})", start.wrapping_add(p.len), p.len);
        let ack = if p.flags & 0x010 != 0 {
            format!(" ack {}", p.ack.wrapping_sub(theirs))
        } else {
            String::new()
        };
        let ecn = match p.tos & 3 {
            1 => "[ect1] ",
            2 => "[ect0] ",
            3 => "[ce] ",
            _ => "",
        };
        let line = if p.out {
            let opts = if first_out {
                options(&p.options)?
            } else {
                " <...>".into()
            };
            first_out = false;
            format!("{:<5} > {letters} {span}{ack}{opts}", format!("+{dt}"))
        } else {
            format!(
                "{:<5} < {ecn}{letters} {span}{ack} win {}{}",
                format!("+{dt}"),
                p.win,
                options(&p.options)?
            )
        };
        let _ = writeln!(s, "{line}");
        let ends = (p.out && p.flags == 0x010 && p.len == 0) || (!p.out && p.flags & 0x004 != 0);
        if !p.out && p.flags & 0x004 != 0 && p.flags & 0x010 != 0 {
            s.push_str("+0    getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0\n");
        }
        if ends {
            break;
        }
    }
    Ok(s)
}
