//! What a script says, as parsed: options, then events in order. Times are
//! in microseconds; sequence numbers as written (the runner maps them).

use serde::Serialize;

/// A place in the script, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// `--name=value` lines at the top.
    pub options: Vec<(String, String)>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub pos: Pos,
    pub time: Time,
    pub action: Action,
}

/// When an event happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    /// `0.100`: since the script started.
    At(i64),
    /// `+0.1`: since the previous event.
    After(i64),
    /// `*`: any time.
    Any,
    /// `0.1~0.2` or `+0.1~+0.2`: within a window; `relative` for `+`.
    Range { lo: i64, hi: i64, relative: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Packet(Packet),
    Syscall(Syscall),
    /// A back-quoted shell command.
    Shell(String),
    /// A construct this runner does not take; the script is `unsupported`.
    Unsupported(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// `<`: injected into the system under test.
    In,
    /// `>`: expected from it.
    Out,
}

/// ECN codepoint of the IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EcnMark {
    NoEcn,
    Ect0,
    Ect1,
    /// `ect01`: either ECT codepoint.
    Ect01,
    Ce,
}

impl EcnMark {
    pub fn name(self) -> &'static str {
        match self {
            EcnMark::NoEcn => "noecn",
            EcnMark::Ect0 => "ect0",
            EcnMark::Ect1 => "ect1",
            EcnMark::Ect01 => "ect01",
            EcnMark::Ce => "ce",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpInfo {
    pub ecn: Option<EcnMark>,
    pub tos: Option<u8>,
    pub ttl: Option<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub dir: Dir,
    pub ip: IpInfo,
    /// TCP flag bits, as `synack_wire::TcpFlags`.
    pub flags: u16,
    /// The letters as written (`S.`), for messages.
    pub flags_text: String,
    pub start: u32,
    pub end: u32,
    pub ack: Option<u32>,
    pub win: Option<u32>,
    pub urg: Option<u16>,
    pub options: Options,
}

impl Packet {
    pub fn len(&self) -> u32 {
        self.end.wrapping_sub(self.start)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Options {
    /// No `<…>`: no options at all.
    None,
    /// `<...>`: any options, not checked.
    Any,
    List(Vec<TcpOpt>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOpt {
    Nop,
    Eol,
    Mss(u16),
    Wscale(u8),
    SackOk,
    Sack(Vec<(u32, u32)>),
    Ts {
        val: u32,
        ecr: u32,
    },
    /// `FO` (kind 34) and `FOEXP` (kind 254, magic 0xF989); no cookie
    /// bytes is a cookie request.
    FastOpen {
        cookie: Vec<u8>,
        exp: bool,
    },
}

impl TcpOpt {
    /// As packetdrill writes it.
    pub fn text(&self) -> String {
        match self {
            TcpOpt::Nop => "nop".into(),
            TcpOpt::Eol => "eol".into(),
            TcpOpt::Mss(m) => format!("mss {m}"),
            TcpOpt::Wscale(w) => format!("wscale {w}"),
            TcpOpt::SackOk => "sackOK".into(),
            TcpOpt::Sack(b) => {
                let blocks: Vec<String> = b.iter().map(|(l, r)| format!("{l}:{r}")).collect();
                format!("sack {}", blocks.join(" "))
            }
            TcpOpt::Ts { val, ecr } => format!("TS val {val} ecr {ecr}"),
            TcpOpt::FastOpen { cookie, exp } => {
                let name = if *exp { "FOEXP" } else { "FO" };
                let hex: String = cookie.iter().map(|b| format!("{b:02x}")).collect();
                if hex.is_empty() {
                    name.into()
                } else {
                    format!("{name} {hex}")
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Syscall {
    pub name: String,
    pub args: Vec<Expr>,
    pub ret: Expr,
    /// `-1 ECONNREFUSED (…)`: the errno's name.
    pub errno: Option<String>,
    /// `...0.2`: the call blocks and returns at this time (absolute µs, or
    /// since the call's start when the event time is relative).
    pub end: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `...`: whatever fits (the default address, any buffer).
    Any,
    Int(i64),
    Word(String),
    Str(String),
    /// `a|b|c`.
    Or(Vec<Expr>),
    /// `[1]`, `[]`.
    Array(Vec<Expr>),
    /// `{name=value, …}`.
    Struct(Vec<(String, Expr)>),
    /// `htons(8080)`, `inet_addr("…")`.
    Call(String, Vec<Expr>),
}
