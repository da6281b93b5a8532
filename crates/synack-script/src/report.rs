//! What a run found, per script and peer: the result, each event as it
//! happened (live numbers, states before and after, the engine's rules),
//! and the first mismatch. Serialized as the JSON records of
//! `synack script --format json|jsonl`.

use serde::Serialize;

use crate::packet::Difference;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    /// The Linux kernel, in a namespace of its own, over TUN.
    Linux,
    /// synack's engine with its Linux profile, on a virtual clock.
    Engine,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Peer::Linux => "linux",
            Peer::Engine => "engine",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Unsupported,
    /// The run could not be made (no namespace, no TUN device).
    Error,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unsupported => "unsupported",
            Verdict::Error => "error",
        }
    }
}

/// A socket of the system under test, as its states are named on Linux.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Socket {
    pub local: String,
    pub remote: String,
    pub state: String,
}

/// A packet as it crossed the device, in the script's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub flags: String,
    /// Live sequence number, and relative to the system's ISN when it is
    /// the system's packet.
    pub seq: u32,
    pub rel_seq: Option<u32>,
    pub ack: u32,
    pub rel_ack: Option<u32>,
    pub len: u32,
    pub win: u16,
    pub options: String,
    pub ecn: &'static str,
}

/// A packet after the script's last event, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Extra {
    pub at_us: i64,
    pub packet: Seen,
}

/// A checklist rule the engine applied during the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    pub id: u8,
    pub summary: &'static str,
    /// The test the engine made, in the script's numbers: its own counted
    /// from its ISN, the peer's as the script writes them.
    pub check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Inbound,
    Outbound,
    Syscall,
    Shell,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRecord {
    pub line: u32,
    pub kind: Kind,
    /// The script's line.
    pub text: String,
    /// When the script wanted it and when it happened, µs since the start.
    pub expected_us: Option<i64>,
    pub at_us: i64,
    pub tolerance_us: i64,
    pub packet: Option<Seen>,
    /// A call's result: `0`, `-1 ECONNREFUSED`.
    pub returned: Option<String>,
    /// For socket() and accept(): the descriptor the script calls it (the
    /// live one is in `returned`).
    pub script_fd: Option<i64>,
    pub states_before: Vec<Socket>,
    pub states_after: Vec<Socket>,
    /// The engine's rules for this event (for a kernel run, the model's
    /// when it did the same).
    pub rules: Vec<RuleRef>,
    /// For a kernel run: whether synack's model did the same here.
    pub model: Option<ModelNote>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ModelNote {
    /// The model passed this event too: it did what the script checks.
    pub agrees: bool,
    /// The model's mismatch at this event.
    pub mismatch: Option<String>,
    /// The model had stopped at this earlier line.
    pub stopped_at: Option<u32>,
    /// The model could not run the script at all.
    pub unsupported: bool,
    /// What the script does not check but the two did differently: the
    /// model's window and the kernel's; the options (TS values aside).
    pub win: Option<(u16, u16)>,
    pub options: Option<(String, String)>,
    /// The sockets' states after the event, when they differ: [engine,
    /// kernel] (sockets only bound, which the engine does not have, aside).
    pub states: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MismatchKind {
    /// A packet came, at the wrong time.
    Timing,
    /// A packet came with a field that differs.
    Field,
    /// No packet came in time.
    Missing,
    /// A call returned something else, or blocked when it should not.
    Call,
    /// A shell command failed.
    Shell,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub line: u32,
    pub kind: MismatchKind,
    /// packetdrill's way of saying it.
    pub message: String,
    #[serde(flatten)]
    pub difference: Option<Difference>,
    pub expected_us: Option<i64>,
    pub at_us: Option<i64>,
    pub tolerance_us: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unsupported {
    pub line: u32,
    pub construct: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub script: String,
    pub peer: Peer,
    pub result: Verdict,
    pub events: Vec<EventRecord>,
    pub mismatch: Option<Mismatch>,
    pub unsupported: Option<Unsupported>,
    pub error: Option<String>,
    /// Packets the system sent after the script's last event (not checked,
    /// as packetdrill does not).
    pub extra: Vec<Extra>,
    /// Every packet both ways, µs since the start, for `--pcap`.
    #[serde(skip)]
    pub frames: Vec<(i64, Vec<u8>)>,
    /// The wall clock at the script's time 0.
    #[serde(skip)]
    pub started: Option<std::time::SystemTime>,
}

impl Report {
    pub fn new(script: &str, peer: Peer) -> Report {
        Report {
            script: script.into(),
            peer,
            result: Verdict::Pass,
            events: Vec::new(),
            mismatch: None,
            unsupported: None,
            error: None,
            extra: Vec::new(),
            frames: Vec::new(),
            started: None,
        }
    }
}
