//! The sequence diagram as a standalone SVG, for slides and notes: the two
//! ends' timelines, an arrow per frame (a cross where the link lost it),
//! each side's state as it changes. Every element drawn for a moment of
//! the run carries that moment (`data-t`, µs) so a page can step through.

use std::fmt::Write as _;

use synack_engine::sim::Side;

use crate::diagram::{Row, rows};
use crate::text::side_name;
use crate::words::Lang;
use synack_trace::Trace;

const WIDTH: u32 = 960;
const LEFT: u32 = 300;
const RIGHT: u32 = 780;
const ROW: u32 = 26;
const TOP: u32 = 70;

/// `s` safe inside XML text and attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

fn x_of(side: Side) -> u32 {
    match side {
        Side::A => LEFT,
        Side::B => RIGHT,
    }
}

/// The rows under the headings: a frame's arrow or a state change each,
/// in time order; returns them and the y below the last.
fn body(trace: &Trace) -> (String, u32) {
    let mut body = String::new();
    let mut y = TOP;
    let mut state = trace.initial;
    let kernel = crate::timeline::kernel_side(trace);
    let mut kernel_state = "";
    for (at, _, row) in rows(trace) {
        let t = at.as_micros();
        let time = esc(crate::text::clock(at).trim());
        match row {
            Row::Arrow(rec) => {
                if frame_row(&mut body, trace, rec, y, t, &time) {
                    y += ROW + 6;
                }
            }
            Row::Kernel(name) if name != kernel_state => {
                kernel_state = name;
                let side = kernel.unwrap_or(Side::B);
                y = state_row(&mut body, y, t, &time, side, &format!("{name} (Linux)"));
            }
            Row::Kernel(_) => {}
            Row::State(side, after) => {
                let i = usize::from(side == Side::B);
                if after != state[i] {
                    state[i] = after;
                    y = state_row(&mut body, y, t, &time, side, after.rfc_name());
                }
            }
        }
    }
    (body, y)
}

/// One frame's arrow at `y`, labelled; false when the bytes are neither a
/// segment nor an ICMP error (nothing drawn).
fn frame_row(
    out: &mut String,
    trace: &Trace,
    rec: &synack_engine::sim::LinkRecord,
    y: u32,
    t: u64,
    time: &str,
) -> bool {
    let Some((label, lost)) = crate::diagram::label(trace, rec) else {
        return false;
    };
    let index = trace
        .link
        .iter()
        .position(|r| std::ptr::eq(r, rec))
        .unwrap_or(0);
    let (x1, x2) = (x_of(rec.from), x_of(rec.from.other()));
    // A lost frame stops short of the far timeline, with a cross.
    let x2 = match (lost, x2 > x1) {
        (false, _) => x2,
        (true, true) => x1 + (x2 - x1) * 7 / 10,
        (true, false) => x1 - (x1 - x2) * 7 / 10,
    };
    let (cls, mark, cross) = if lost {
        (
            "frame lost",
            "",
            format!(
                "<text class=\"cross\" x=\"{x2}\" y=\"{}\" text-anchor=\"middle\">✕</text>",
                y + ROW / 2 + 5
            ),
        )
    } else {
        ("frame", " marker-end=\"url(#head)\"", String::new())
    };
    let _ = writeln!(
        out,
        "<g class=\"row\" data-t=\"{t}\" data-frame=\"{index}\"><text class=\"time\" x=\"8\" y=\"{}\">{time}</text>\
<line class=\"{cls}\" x1=\"{x1}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{}\"{mark}/>\
<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>{cross}</g>",
        y + 4,
        y + ROW / 2,
        (x1 + x2) / 2,
        y - 4,
        esc(&label),
    );
    true
}

/// The SVG element alone (no XML declaration), to embed in a page.
pub fn element(trace: &Trace, lang: Lang) -> String {
    let (body, y) = body(trace);
    let height = y + 30;
    let (left, right) = (
        format!("{} {}", side_name(Side::A, lang), trace.client),
        format!("{} {}", side_name(Side::B, lang), trace.server),
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ladder\" width=\"{WIDTH}\" height=\"{height}\" \
viewBox=\"0 0 {WIDTH} {height}\" font-family=\"DejaVu Sans Mono, Noto Sans Mono CJK SC, monospace\" font-size=\"12\">"
    );
    let _ = writeln!(
        out,
        "<title>{}</title>\n<defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" \
markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#333\"/></marker></defs>",
        esc(&format!("synack: {}", trace.scenario))
    );
    let _ = writeln!(
        out,
        "<style>.frame{{stroke:#333;stroke-width:1.4}} .lost{{stroke:#c22;stroke-dasharray:5 3}} .cross{{fill:#c22;font-size:16px}} \
.label{{fill:#111}} .time{{fill:#666}} .state{{fill:#05a;font-weight:bold}} .life{{stroke:#999;stroke-width:1}} \
.head{{font-weight:bold}} .future{{opacity:.12}} .now line{{stroke-width:3}}</style>"
    );
    let _ = writeln!(
        out,
        "<text class=\"head\" x=\"{LEFT}\" y=\"20\" text-anchor=\"middle\">{}</text>\
<text class=\"head\" x=\"{RIGHT}\" y=\"20\" text-anchor=\"middle\">{}</text>",
        esc(&left),
        esc(&right)
    );
    // A capture shows no states: they were never observed.
    if !matches!(trace.peer, synack_trace::Peer::Capture { .. }) {
        let _ = writeln!(
            out,
            "<text class=\"state\" x=\"{LEFT}\" y=\"40\" text-anchor=\"middle\">{}</text>\
<text class=\"state\" x=\"{RIGHT}\" y=\"40\" text-anchor=\"middle\">{}</text>",
            trace.initial[0].rfc_name(),
            trace.initial[1].rfc_name()
        );
    }
    let _ = writeln!(
        out,
        "<line class=\"life\" x1=\"{LEFT}\" y1=\"48\" x2=\"{LEFT}\" y2=\"{y}\"/><line class=\"life\" x1=\"{RIGHT}\" \
y1=\"48\" x2=\"{RIGHT}\" y2=\"{y}\"/>"
    );
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

/// A state change on `side`'s timeline; returns the next row's y.
fn state_row(out: &mut String, y: u32, t: u64, time: &str, side: Side, name: &str) -> u32 {
    let (x, anchor) = match side {
        Side::A => (LEFT - 8, "end"),
        Side::B => (RIGHT + 8, "start"),
    };
    let _ = writeln!(
        out,
        "<g class=\"row\" data-t=\"{t}\"><text class=\"time\" x=\"8\" y=\"{y}\">{time}</text>\
<text class=\"state\" x=\"{x}\" y=\"{y}\" text-anchor=\"{anchor}\">{}</text></g>",
        esc(name)
    );
    y + ROW - 6
}

/// A standalone SVG file.
pub fn render(trace: &Trace, lang: Lang) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
        element(trace, lang)
    )
}
