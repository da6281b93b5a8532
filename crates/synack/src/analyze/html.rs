//! `synack analyze --format html`: a capture's attempts drawn, one ladder
//! diagram per attempt from its own frames, failures first.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use synack_capture::{Attempt, Network, Outcome, Packet, ReadSummary};
use synack_engine::sim::{Fate, LinkRecord, Side};
use synack_engine::{Instant, State};
use synack_explain::{CaptureSection, Lang};
use synack_trace::{IsnOrigin, Peer, Profile, Trace};

/// Attempts drawn at most; the page says how many more there were.
pub const MAX_ATTEMPTS: usize = 1000;
/// Packets kept for drawing at most.
pub const MAX_PACKETS: usize = 200_000;

/// The two ends of a packet, in either direction: TCP from its header,
/// an ICMP error from the segment it quotes.
fn ends(bytes: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    if let Ok(p) = synack_wire::parse_segment(bytes, false) {
        return Some((
            SocketAddr::new(p.ip.src, p.tcp.src_port),
            SocketAddr::new(p.ip.dst, p.tcp.dst_port),
        ));
    }
    let e = synack_wire::parse_icmp(bytes, false).ok()?;
    // The error travels back to the quoted segment's sender.
    Some((e.quoted_dst, e.quoted_src))
}

/// A conversation: its overlay network and its ends, the lower first.
type Conversation = (Option<Network>, SocketAddr, SocketAddr);

fn key(network: Option<Network>, a: SocketAddr, b: SocketAddr) -> Conversation {
    if a <= b {
        (network, a, b)
    } else {
        (network, b, a)
    }
}

/// A failure is an attempt that never became a connection.
fn failed(o: Outcome) -> bool {
    matches!(
        o,
        Outcome::Refused
            | Outcome::NoAnswer
            | Outcome::HalfOpen
            | Outcome::ResetDuringHandshake
            | Outcome::Unreachable
    )
}

/// The trace of one attempt: its frames from its first one up to the next
/// attempt on the same 4-tuple in the same network.
fn trace_of(file: &str, a: &Attempt, frames: &[&Packet], until: u64) -> Option<Trace> {
    let (client, server) = (a.client, a.server);
    let at = |ts: f64| Instant::from_micros(((ts - a.start_time).max(0.0) * 1e6) as u64);
    let mut nth = [0usize; 2];
    let link: Vec<LinkRecord> = frames
        .iter()
        .filter(|p| p.frame >= a.first_frame && p.frame < until)
        .map(|p| {
            let from = match ends(&p.bytes) {
                Some((src, _)) if src == client => Side::A,
                _ => Side::B,
            };
            let i = usize::from(from == Side::B);
            nth[i] += 1;
            LinkRecord {
                sent_at: at(p.ts),
                from,
                nth: nth[i],
                fate: Fate::Delivered,
                deliver_at: None,
                bytes: p.bytes.clone(),
            }
        })
        .collect();
    let end = link.last().map_or(Instant::from_micros(0), |r| r.sent_at);
    Some(Trace {
        scenario: "capture",
        profile: Profile::Rfc,
        peer: Peer::Capture {
            file: file.to_string(),
        },
        started_at: std::time::UNIX_EPOCH + Duration::from_secs_f64(a.start_time.max(0.0)),
        client,
        server,
        delay: Duration::ZERO,
        end,
        steps: Vec::new(),
        link,
        events: Vec::new(),
        kernel: Vec::new(),
        settings: Vec::new(),
        initial: [State::Closed, State::Closed],
        isn: [IsnOrigin::Unknown, IsnOrigin::Unknown],
        syn_backlog: None,
    })
}

/// The page for `file`: `attempts` (numbered as the report numbers them)
/// drawn from `packets`; `more` attempts were left out.
pub fn page(
    file: &str,
    lang: Lang,
    attempts: &[(u64, Attempt)],
    packets: &[Packet],
    (more, read): (usize, &ReadSummary),
    verbose: bool,
) -> String {
    let mut by_tuple: HashMap<Conversation, Vec<&Packet>> = HashMap::new();
    for p in packets {
        if let Some((s, d)) = ends(&p.bytes) {
            by_tuple.entry(key(p.network, s, d)).or_default().push(p);
        }
    }
    // The next attempt on the same tuple ends this one's frames.
    let mut starts: HashMap<Conversation, Vec<u64>> = HashMap::new();
    for (_, a) in attempts {
        starts
            .entry(key(a.network, a.client, a.server))
            .or_default()
            .push(a.first_frame);
    }
    let sections = attempts
        .iter()
        .filter_map(|(n, a)| {
            let conversation = key(a.network, a.client, a.server);
            let frames = by_tuple.get(&conversation).map_or(&[][..], Vec::as_slice);
            let until = starts
                .get(&conversation)
                .and_then(|v| v.iter().copied().filter(|f| *f > a.first_frame).min())
                .unwrap_or(u64::MAX);
            Some(CaptureSection {
                title: format!(
                    "#{n} {} → {}{}: {}",
                    a.client,
                    a.server,
                    crate::report::in_network(a.network, lang),
                    synack_capture::narrate::outcome(a.outcome, lang)
                ),
                failed: failed(a.outcome),
                text: crate::report::attempt(*n, a, verbose, lang),
                trace: trace_of(file, a, frames, until)?,
            })
        })
        .collect();
    let mut notes = crate::report::read_notes(read, lang);
    if more > 0 {
        notes.push(match lang {
            Lang::En => format!("{more} more attempts are not drawn."),
            Lang::Zh => format!("另有 {more} 次尝试未画出。"),
        });
    }
    synack_explain::capture_page(file, lang, &notes, sections)
}

/// The page for a file whose attempts were `drawn` (and `left_out`): a
/// second pass over it for the frames themselves. `None`, said on stderr,
/// when it cannot be read again.
pub fn of_file(
    path: &std::path::Path,
    name: &str,
    lang: Lang,
    drawn: &mut [(u64, Attempt)],
    left_out: usize,
    read: &ReadSummary,
    verbose: bool,
) -> Option<String> {
    let packets = if path.as_os_str() == "-" {
        Err("--format html reads its file twice: give a file, not -".to_string())
    } else {
        crate::input::open(path).and_then(|mut o| {
            synack_capture::packets(o.source(), name, MAX_PACKETS).map_err(|e| e.to_string())
        })
    };
    match packets {
        Ok((packets, _)) => {
            drawn.sort_by_key(|(_, a)| a.first_frame);
            Some(page(name, lang, drawn, &packets, (left_out, read), verbose))
        }
        Err(e) => {
            eprintln!("synack: {name}: {e}");
            None
        }
    }
}
