//! A sequence diagram for the terminal: two timelines, an arrow per
//! segment (✕ where the link lost it), and each side's state as it changes.

use std::fmt::Write as _;

use synack_engine::sim::{Fate, Side};
use synack_engine::{Action, State};

use crate::style::Style;
use crate::text::side_name;
use crate::words::Lang;
use synack_trace::Trace;

const COL: usize = 14;
/// The arrows' width with room to spare; narrower terminals get less, down
/// to 24.
const MID: usize = 44;
/// The time column and its gap.
const TIME: usize = 13;
/// The longest state label on the right: `ESTABLISHED (Linux)`.
const RIGHT: usize = 19;

/// How wide the arrows are for `style`'s width.
fn mid(style: Style) -> usize {
    style
        .width
        .map_or(MID, |w| w.saturating_sub(TIME + COL + RIGHT).clamp(24, MID))
}

/// `s` padded with spaces to `w` display columns (CJK counts two).
fn pad(s: &str, w: usize) -> String {
    let n = crate::layout::cols(s);
    if n >= w {
        s.to_string()
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
}

fn arrow(label: &str, to_right: bool, lost: bool, mid: usize) -> String {
    let body = format!(" {label} ");
    let len = body.chars().count();
    let dashes = mid.saturating_sub(len + 3);
    let (l, r) = (dashes / 2, dashes - dashes / 2);
    let line = |n: usize| "─".repeat(n);
    match (to_right, lost) {
        (true, false) => format!("{}{body}{}─►", line(l + 1), line(r)),
        (true, true) => format!("{}{body}{}✕ ", line(l + 1), line(r)),
        (false, false) => format!("◄─{}{body}{}", line(l), line(r + 1)),
        (false, true) => format!(" ✕{}{body}{}", line(l), line(r + 1)),
    }
}

/// Arrows come from the link (every segment, including ones no engine
/// made: an old duplicate, a spoofed SYN); states from the steps and, for
/// the kernel, from its reports. At equal times a state comes first.
pub(crate) enum Row<'a> {
    State(Side, State),
    Kernel(&'a str),
    Arrow(&'a synack_engine::sim::LinkRecord),
}

/// The diagram's heading, and its rows with their times (to draw it step by
/// step).
pub fn parts(
    trace: &Trace,
    lang: Lang,
    style: Style,
) -> (String, Vec<(synack_engine::Instant, String)>) {
    let mut head = String::new();
    let mut lines: Vec<(synack_engine::Instant, String)> = Vec::new();
    let out = &mut head;
    let left = format!("{} {}", side_name(Side::A, lang), trace.client);
    let right = format!("{} {}", side_name(Side::B, lang), trace.server);
    let mid = mid(style);
    // The server's heading starts over its timeline, or earlier when the
    // terminal is too narrow for it there.
    let right_at = style.width.map_or(COL + mid, |w| {
        (COL + mid).min(w.saturating_sub(TIME + crate::layout::cols(&right)))
    });
    let _ = writeln!(
        out,
        "{:>11}  {}{}",
        "",
        pad(&left, right_at.max(crate::layout::cols(&left) + 1)),
        right
    );
    let mut state = trace.initial;
    let _ = writeln!(
        out,
        "{:>11}  {}{}{}",
        "",
        pad(state[0].rfc_name(), COL),
        " ".repeat(mid),
        state[1].rfc_name()
    );
    let kernel = crate::timeline::kernel_side(trace);
    let mut kernel_state = "";
    for (at, _, row) in rows(trace) {
        let time = crate::text::clock(at);
        let mut line = String::new();
        match row {
            Row::Arrow(rec) => {
                if let Some(a) = arrow_row(trace, style, mid, rec) {
                    // A label longer than the arrows' width starts the
                    // arrow in the client's state column (empty on this row).
                    let over = match style.width {
                        Some(_) => crate::layout::cols(&a).saturating_sub(mid),
                        None => 0,
                    };
                    let _ = writeln!(line, "{time}  {}{a}", " ".repeat(COL.saturating_sub(over)));
                }
            }
            Row::Kernel(name) if name != kernel_state => {
                kernel_state = name;
                let side = kernel.unwrap_or(Side::B);
                state_row(
                    &mut line,
                    style,
                    mid,
                    &time,
                    side,
                    &format!("{name} (Linux)"),
                );
            }
            Row::Kernel(_) => {}
            Row::State(side, after) => {
                let i = usize::from(side == Side::B);
                if after != state[i] {
                    state[i] = after;
                    state_row(&mut line, style, mid, &time, side, after.rfc_name());
                }
            }
        }
        if !line.is_empty() {
            lines.push((at, line));
        }
    }
    (head, lines)
}

/// Everything the diagram draws, in time order.
pub(crate) fn rows(trace: &Trace) -> Vec<(synack_engine::Instant, u8, Row<'_>)> {
    let mut rows = Vec::new();
    for item in crate::timeline::items(trace) {
        match item {
            crate::timeline::Item::KernelState(k) => {
                // The diagram follows the heading's connection; the
                // listener and other sockets are in the narration.
                if is_main(trace, k) {
                    let (at, rank) = kernel_when(trace, k);
                    rows.push((at, rank, Row::Kernel(k.state)));
                }
            }
            crate::timeline::Item::Step(side, step) => {
                if !matches!(step.action, Action::Transmitted) {
                    rows.push((step.at, 0, Row::State(side, step.after.state)));
                }
            }
            crate::timeline::Item::KernelSent(_) => {}
        }
    }
    rows.extend(trace.link.iter().map(|r| (r.sent_at, 2, Row::Arrow(r))));
    rows.sort_by_key(|(at, rank, _)| (*at, *rank));
    rows
}

/// One frame's label (flags and numbers, or the ICMP error), and whether
/// the link lost it; `None` for bytes that are neither.
pub(crate) fn label(trace: &Trace, rec: &synack_engine::sim::LinkRecord) -> Option<(String, bool)> {
    let Ok(p) = synack_wire::parse_segment(&rec.bytes, false) else {
        let e = synack_wire::parse_icmp(&rec.bytes, false).ok()?;
        let label = format!(
            "[ICMP] {} seq={}",
            crate::words::unreachable_token(e.reason),
            e.quoted_seq.get()
        );
        return Some((label, false));
    };
    let seg = synack_engine::SegInfo::new(
        std::net::SocketAddr::new(p.ip.src, p.tcp.src_port),
        std::net::SocketAddr::new(p.ip.dst, p.tcp.dst_port),
        &p.tcp,
    );
    let lost = matches!(rec.fate, Fate::Dropped { .. });
    let mut label = format!("[{}] seq={}", seg.flags.tcpdump(), seg.seq);
    if seg.flags.ack() {
        let _ = write!(label, " ack={}", seg.ack);
    }
    if seg.payload_len > 0 {
        let _ = write!(label, " len={}", seg.payload_len);
    }
    // Another connection than the one in the heading: name its client end
    // (a second port, a spoofed address).
    let other = if rec.from == Side::A {
        seg.src
    } else {
        seg.dst
    };
    if other != trace.client {
        let _ = write!(
            label,
            " {}",
            if other.ip() == trace.client.ip() {
                format!(":{}", other.port())
            } else {
                other.to_string()
            }
        );
    }
    Some((label, lost))
}

/// One segment's arrow, labelled with its flags and numbers.
fn arrow_row(
    trace: &Trace,
    style: Style,
    mid: usize,
    rec: &synack_engine::sim::LinkRecord,
) -> Option<String> {
    let (label, lost) = label(trace, rec)?;
    let a = arrow(&label, rec.from == Side::A, lost, mid);
    Some(if lost { style.bad(&a) } else { a })
}

fn state_row(out: &mut String, style: Style, mid: usize, time: &str, side: Side, name: &str) {
    let line = match side {
        Side::A => format!("{time}  {}", style.strong(name)),
        Side::B => format!("{time}  {}{}", " ".repeat(COL + mid), style.strong(name)),
    };
    let _ = writeln!(out, "{line}");
}

/// Whether an observation is of the connection in the diagram's heading.
fn is_main(trace: &Trace, k: &synack_trace::Observation) -> bool {
    let ends = [trace.client, trace.server];
    ends.contains(&k.local) && ends.contains(&k.remote)
}

/// Where a kernel state belongs in time: at the frame that caused it (after
/// a frame the kernel received, before one it sent), else when observed.
fn kernel_when(trace: &Trace, k: &synack_trace::Observation) -> (synack_engine::Instant, u8) {
    match k.cause {
        synack_trace::ObsCause::Frame(i) => match trace.link.get(i) {
            Some(r) if Some(r.from) == trace.kernel_side() => (r.sent_at, 1),
            Some(r) => (r.sent_at, 3),
            None => (k.at, 1),
        },
        _ => (k.at, 1),
    }
}
