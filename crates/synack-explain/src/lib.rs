//! synack-explain: everything a person reads about a handshake, rendered
//! from an observed trace (`synack_trace::Trace`): the narration (English
//! and Chinese), a sequence diagram, the JSON document and tcpdump-style
//! lines. It knows no scenario: the closing answer comes in with the trace.

#![forbid(unsafe_code)]

mod diagram;
mod html;
mod json;
pub mod layout;
mod notes;
mod style;
mod svg;
mod tcpdump;
mod text;
mod timeline;
mod words;

pub use html::{CaptureSection, capture_page};
pub use json::SCHEMA;
pub use style::Style;
pub use synack_trace::{Peer, Profile, Trace};

/// A closing question and its answer.
pub type Answer = (String, String);
pub use text::{clock, flag_words, side_name, state_name};
pub use words::{Lang, rule_summary, unreachable as unreachable_words};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Tcpdump,
    /// The sequence diagram as a standalone SVG.
    Svg,
    /// One self-contained page: the diagram, every step, the answer.
    Html,
}

/// The text report in pieces, so a caller can pause between steps.
pub struct Report {
    pub header: String,
    pub diagram: String,
    pub steps: Vec<String>,
    pub answer: String,
    /// The diagram's heading and its rows with their times, and each
    /// step's time: to draw the diagram along with the steps (`--step`).
    pub diagram_head: String,
    pub diagram_rows: Vec<(synack_engine::Instant, String)>,
    pub step_times: Vec<synack_engine::Instant>,
}

impl Report {
    pub fn new(trace: &Trace, answer: &Answer, lang: Lang, style: Style) -> Report {
        let peer = match (&trace.peer, lang) {
            (Peer::Sim, Lang::En) => {
                format!("simulated link {} ms one way", trace.delay.as_millis())
            }
            (Peer::Sim, Lang::Zh) => format!("模拟链路单程 {} 毫秒", trace.delay.as_millis()),
            (Peer::Linux { release, .. }, Lang::En) => {
                format!(
                    "the peer is the Linux {release} kernel's TCP, over a TUN device in a private network namespace"
                )
            }
            (Peer::Device { device, .. }, Lang::En) => {
                format!("the peer is reached through the TUN device {device}")
            }
            (Peer::Device { device, .. }, Lang::Zh) => format!("经 TUN 设备 {device} 连接对端"),
            (Peer::Capture { file }, Lang::En) => format!("frames read from {file}"),
            (Peer::Capture { file }, Lang::Zh) => format!("读自 {file} 的帧"),
            (Peer::Linux { release, .. }, Lang::Zh) => {
                format!("对端是 Linux {release} 内核的 TCP，经私有网络命名空间中的 TUN 设备")
            }
        };
        let title = match lang {
            Lang::En => format!(
                "TCP three-way handshake, step by step: scenario \"{}\" ({} profile, {peer})",
                trace.scenario,
                profile_name(trace.profile),
            ),
            Lang::Zh => format!(
                "TCP 三次握手逐步讲解：场景“{}”（{} 配置，{peer}）",
                trace.scenario,
                profile_name(trace.profile),
            ),
        };
        let (q, a) = answer;
        let width = style.width;
        let fit = |t: String| match width {
            Some(w) => layout::fit(&t, w),
            None => t,
        };
        let (diagram_head, diagram_rows) = diagram::parts(trace, lang, style);
        let blocks = text::Narrator::new(trace, lang, style).blocks();
        Report {
            header: fit(style.strong(&title) + "\n"),
            diagram: diagram_head.clone()
                + &diagram_rows
                    .iter()
                    .map(|(_, r)| r.as_str())
                    .collect::<String>(),
            step_times: blocks.iter().map(|(at, _)| *at).collect(),
            steps: blocks.into_iter().map(|(_, b)| fit(b)).collect(),
            diagram_head,
            diagram_rows,
            answer: format!(
                "{}\n{}\n",
                fit(style.strong(q)),
                layout::wrap(a, width.unwrap_or(100))
            ),
        }
    }

    /// The diagram and the answer only (`--brief`).
    pub fn to_brief(&self) -> String {
        format!("{}\n{}\n{}", self.header, self.diagram, self.answer)
    }

    pub fn to_text(&self) -> String {
        let mut out = self.header.clone();
        out.push('\n');
        out += &self.diagram;
        out.push('\n');
        for s in &self.steps {
            out += s;
        }
        out.push('\n');
        out += &self.answer;
        out
    }
}

pub fn profile_name(p: Profile) -> &'static str {
    match p {
        Profile::Rfc => "RFC",
        Profile::LinuxCompat => "Linux",
    }
}

/// Render a trace in one format; `answers` are the English and Chinese
/// ones (JSON carries both).
pub fn render(
    trace: &Trace,
    answers: &[Answer; 2],
    format: Format,
    lang: Lang,
    style: Style,
) -> String {
    let [en, zh] = answers;
    let answer = if lang == Lang::Zh { zh } else { en };
    match format {
        Format::Text => Report::new(trace, answer, lang, style).to_text(),
        Format::Json => json::render(trace, answers),
        Format::Tcpdump => tcpdump::render(trace),
        Format::Svg => svg::render(trace, lang),
        Format::Html => html::render(trace, answer, lang),
    }
}
