//! The step records as JSON, schema `synack.explain/1` (documented in
//! `docs/explain-json.md`). Fields are only ever added within a version.

use serde::Serialize;
use synack_engine::sim::{Fate, Side};
use synack_engine::{Action, Cause, Check, SegInfo, Step, TcbVars, TimerKind, UserCall};

use synack_trace::{ObsCause, Profile, Trace};

use crate::Answer;
use crate::words::{Lang, rule_summary};

pub const SCHEMA: &str = "synack.explain/1";

#[derive(Serialize)]
struct Doc {
    schema: &'static str,
    scenario: &'static str,
    profile: &'static str,
    peer: JPeer,
    /// Kernel socket states as the kernel reported them (Linux peer only).
    kernel_states: Vec<JKernelState>,
    /// Settings the lab made or read (Linux peer only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    settings: Vec<JSetting>,
    client: String,
    server: String,
    client_isn: Option<u32>,
    server_isn: Option<u32>,
    link_delay_us: u64,
    end_us: u64,
    steps: Vec<JStep>,
    link: Vec<JLink>,
    events: Vec<JEvent>,
    /// The closing question and answer (absent when the run has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<JAnswer>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum JPeer {
    Sim,
    Linux {
        kernel_side: &'static str,
        release: String,
    },
    Device {
        side: &'static str,
        device: String,
    },
    Capture {
        file: String,
    },
}

#[derive(Serialize)]
struct JKernelState {
    /// When sock_diag reported it.
    t_us: u64,
    state: &'static str,
    accepted: bool,
    local: String,
    remote: String,
    /// What came right before: `frame` (index into `link`), `call`, or
    /// `poll` (it happened after `since_us`).
    cause: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    frame: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    since_us: Option<u64>,
    /// The socket's pending timer (TIME_WAIT's remaining time, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    timer_ms: Option<u64>,
    /// A listener's accept queue and backlog (`ss -lnt` Recv-Q / Send-Q).
    #[serde(skip_serializing_if = "Option::is_none")]
    accept_queue: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backlog: Option<u32>,
}

#[derive(Serialize)]
struct JSetting {
    name: String,
    value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<String>,
}

#[derive(Serialize)]
struct JAnswer {
    question_en: String,
    answer_en: String,
    question_zh: String,
    answer_zh: String,
}

#[derive(Serialize)]
struct JStep {
    t_us: u64,
    side: &'static str,
    conn: Option<u32>,
    local: String,
    remote: String,
    cause: JCause,
    action: JAction,
    rule: JRule,
    before: JTcb,
    after: JTcb,
    check: Option<JCheck>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum JCause {
    Received {
        segment: JSeg,
    },
    Sent {
        segment: JSeg,
    },
    Timer {
        timer: &'static str,
    },
    User {
        call: &'static str,
        bytes: Option<u32>,
    },
    Malformed {
        error: String,
    },
    /// An ICMP destination-unreachable error quoting `quoted_local` →
    /// `quoted_remote` at `quoted_seq`.
    Icmp {
        from: String,
        v6: bool,
        code: u8,
        reason: String,
        quoted_local: String,
        quoted_remote: String,
        quoted_seq: u32,
    },
}

#[derive(Serialize)]
struct JSeg {
    src: String,
    dst: String,
    /// tcpdump letters, e.g. `S.`.
    flags: String,
    flag_names: Vec<&'static str>,
    flags_raw: u16,
    seq: u32,
    /// The ack field; meaningful only when `flag_names` has ACK.
    ack: u32,
    window: u16,
    payload_len: u32,
    /// SEG.LEN: payload plus one each for SYN and FIN.
    seg_len: u32,
    options: JOptions,
}

#[derive(Serialize)]
struct JOptions {
    mss: Option<u16>,
    window_scale: Option<u8>,
    window_multiplier: Option<u32>,
    sack_permitted: bool,
    tsval: Option<u32>,
    tsecr: Option<u32>,
    /// Fast Open: `""` for a cookie request, else the cookie in hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    fast_open: Option<String>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum JAction {
    Send {
        reply: String,
    },
    Transmitted,
    Retransmit {
        reply: String,
        attempt: u32,
        next_timeout_ms: u64,
    },
    Drop {
        reason: String,
    },
    Enter,
    Deliver {
        bytes: u32,
    },
    Acked {
        bytes: u32,
    },
    ClampShift {
        from: u8,
    },
    Delete {
        reason: String,
    },
    Listen,
    Negotiated {
        send_mss: u16,
        window_scaling: bool,
        snd_shift: u8,
        rcv_shift: u8,
        sack: bool,
        timestamps: bool,
        ecn: bool,
    },
    Report {
        event: String,
    },
    Ignore,
    Note {
        note: &'static str,
        #[serde(flatten)]
        values: std::collections::BTreeMap<&'static str, u32>,
    },
}

#[derive(Serialize)]
struct JRule {
    id: u8,
    source: &'static str,
    summary_en: &'static str,
    summary_zh: &'static str,
}

#[derive(Serialize)]
struct JTcb {
    state: &'static str,
    linux_state: &'static str,
    iss: u32,
    irs: u32,
    snd_una: u32,
    snd_nxt: u32,
    snd_wnd: u32,
    rcv_nxt: u32,
    rcv_wnd: u32,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum JCheck {
    IcmpInFlight {
        una: u32,
        seq: u32,
        nxt: u32,
        ok: bool,
    },
    AckAcceptable {
        lo: u32,
        ack: u32,
        hi: u32,
        ok: bool,
    },
    SeqAcceptable {
        rcv_nxt: u32,
        rcv_wnd: u32,
        seq: u32,
        len: u32,
        ok: bool,
    },
    RstExact {
        rcv_nxt: u32,
        seq: u32,
        ok: bool,
    },
    FinInOrder {
        rcv_nxt: u32,
        fin_seq: u32,
        ok: bool,
    },
}

#[derive(Serialize)]
struct JLink {
    t_us: u64,
    from: &'static str,
    nth: usize,
    /// `tcp`, or `icmp` for a destination-unreachable error (then `flags`
    /// is empty, `seq` is the quoted segment's, and `icmp` says why).
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    icmp: Option<JIcmp>,
    flags: String,
    seq: u32,
    ack: u32,
    payload_len: usize,
    fate: &'static str,
    deliver_us: Option<u64>,
}

#[derive(Serialize)]
struct JIcmp {
    v6: bool,
    code: u8,
    reason: String,
    quoted_src: String,
    quoted_dst: String,
}

#[derive(Serialize)]
struct JEvent {
    t_us: u64,
    side: &'static str,
    conn: u32,
    event: String,
}

fn side(s: Side) -> &'static str {
    match s {
        Side::A => "client",
        Side::B => "server",
    }
}

fn snake<T: std::fmt::Debug>(v: T) -> String {
    let dbg = format!("{v:?}");
    let mut out = String::new();
    for (i, c) in dbg.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn seg(s: &SegInfo) -> JSeg {
    JSeg {
        src: s.src.to_string(),
        dst: s.dst.to_string(),
        flags: s.flags.tcpdump().to_string(),
        flag_names: s.flags.names().collect(),
        flags_raw: s.flags.0,
        seq: s.seq.get(),
        ack: s.ack.get(),
        window: s.window,
        payload_len: s.payload_len,
        seg_len: s.seg_len(),
        options: JOptions {
            mss: s.options.mss,
            window_scale: s.options.window_scale,
            window_multiplier: s.options.window_scale.map(|w| 1u32 << w.min(14)),
            sack_permitted: s.options.sack_permitted,
            tsval: s.options.timestamps.map(|t| t.0),
            tsecr: s.options.timestamps.map(|t| t.1),
            fast_open: s
                .options
                .fast_open
                .map(|c| c.as_bytes().iter().map(|b| format!("{b:02x}")).collect()),
        },
    }
}

fn tcb(v: &TcbVars) -> JTcb {
    JTcb {
        state: v.state.rfc_name(),
        linux_state: v.state.linux_name(),
        iss: v.iss.get(),
        irs: v.irs.get(),
        snd_una: v.snd_una.get(),
        snd_nxt: v.snd_nxt.get(),
        snd_wnd: v.snd_wnd,
        rcv_nxt: v.rcv_nxt.get(),
        rcv_wnd: v.rcv_wnd,
    }
}

fn cause(c: &Cause) -> JCause {
    match c {
        Cause::Received(x) => JCause::Received { segment: seg(x) },
        Cause::Sent(x) => JCause::Sent { segment: seg(x) },
        Cause::Timer(k) => JCause::Timer {
            timer: match k {
                TimerKind::Retransmit => "retransmit",
                TimerKind::TimeWait => "time_wait",
                TimerKind::DelayedAck => "delayed_ack",
            },
        },
        Cause::User(c) => {
            let (call, bytes) = match c {
                UserCall::Connect => ("connect", None),
                UserCall::Listen => ("listen", None),
                UserCall::Close => ("close", None),
                UserCall::Abort => ("abort", None),
                UserCall::Send { bytes } => ("send", Some(*bytes)),
            };
            JCause::User { call, bytes }
        }
        Cause::Malformed(e) => JCause::Malformed {
            error: e.to_string(),
        },
        Cause::Icmp(i) => JCause::Icmp {
            from: i.from.to_string(),
            v6: i.v6,
            code: i.code,
            reason: snake(i.reason)
                .split('{')
                .next()
                .unwrap_or("")
                .trim()
                .to_string(),
            quoted_local: i.quoted.local.to_string(),
            quoted_remote: i.quoted.remote.to_string(),
            quoted_seq: i.quoted_seq.get(),
        },
    }
}

fn action(a: Action) -> JAction {
    match a {
        Action::Send(r) => JAction::Send { reply: snake(r) },
        Action::Transmitted => JAction::Transmitted,
        Action::Retransmit {
            reply,
            attempt,
            next_timeout,
        } => JAction::Retransmit {
            reply: snake(reply),
            attempt,
            next_timeout_ms: next_timeout.as_millis() as u64,
        },
        Action::Drop(r) => JAction::Drop { reason: snake(r) },
        Action::Enter => JAction::Enter,
        Action::Deliver { bytes } => JAction::Deliver { bytes },
        Action::Acked { bytes } => JAction::Acked { bytes },
        Action::ClampShift { from } => JAction::ClampShift { from },
        Action::Delete(r) => JAction::Delete { reason: snake(r) },
        Action::Listen => JAction::Listen,
        Action::Negotiated(n) => JAction::Negotiated {
            send_mss: n.send_mss,
            window_scaling: n.window_scaling,
            snd_shift: n.snd_shift,
            rcv_shift: n.rcv_shift,
            sack: n.sack,
            timestamps: n.timestamps,
            ecn: n.ecn,
        },
        Action::Note(n) => {
            let (note, values) = crate::notes::fields(n);
            JAction::Note {
                note,
                values: values.into_iter().collect(),
            }
        }
        Action::Report(e) => JAction::Report { event: snake(e) },
        Action::Ignore => JAction::Ignore,
    }
}

fn check(c: Check) -> JCheck {
    match c {
        Check::AckAcceptable { lo, ack, hi, ok } => JCheck::AckAcceptable {
            lo: lo.get(),
            ack: ack.get(),
            hi: hi.get(),
            ok,
        },
        Check::SeqAcceptable {
            rcv_nxt,
            rcv_wnd,
            seq,
            len,
            ok,
        } => JCheck::SeqAcceptable {
            rcv_nxt: rcv_nxt.get(),
            rcv_wnd,
            seq: seq.get(),
            len,
            ok,
        },
        Check::RstExact { rcv_nxt, seq, ok } => JCheck::RstExact {
            rcv_nxt: rcv_nxt.get(),
            seq: seq.get(),
            ok,
        },
        Check::FinInOrder {
            rcv_nxt,
            fin_seq,
            ok,
        } => JCheck::FinInOrder {
            rcv_nxt: rcv_nxt.get(),
            fin_seq: fin_seq.get(),
            ok,
        },
        Check::IcmpInFlight { una, seq, nxt, ok } => JCheck::IcmpInFlight {
            una: una.get(),
            seq: seq.get(),
            nxt: nxt.get(),
            ok,
        },
    }
}

fn step(s: Side, st: &Step) -> JStep {
    JStep {
        t_us: st.at.as_micros(),
        side: side(s),
        conn: st.conn.map(|c| c.index()),
        local: st.tuple.local.to_string(),
        remote: st.tuple.remote.to_string(),
        cause: cause(&st.cause),
        action: action(st.action),
        rule: JRule {
            id: st.rule.id(),
            source: st.rule.source(),
            summary_en: rule_summary(st.rule, Lang::En),
            summary_zh: rule_summary(st.rule, Lang::Zh),
        },
        before: tcb(&st.before),
        after: tcb(&st.after),
        check: st.check.map(check),
    }
}

/// One frame of the link, for JSON.
fn link(r: &synack_engine::sim::LinkRecord) -> Option<JLink> {
    let (kind, icmp, flags, seq, ack, payload_len) =
        match synack_wire::parse_segment(&r.bytes, false) {
            Ok(p) => (
                "tcp",
                None,
                p.tcp.flags.tcpdump().to_string(),
                p.tcp.seq.get(),
                p.tcp.ack.get(),
                p.tcp.payload.len(),
            ),
            Err(_) => {
                let e = synack_wire::parse_icmp(&r.bytes, false).ok()?;
                let icmp = JIcmp {
                    v6: e.v6,
                    code: e.code,
                    reason: crate::words::unreachable_token(e.reason),
                    quoted_src: e.quoted_src.to_string(),
                    quoted_dst: e.quoted_dst.to_string(),
                };
                ("icmp", Some(icmp), String::new(), e.quoted_seq.get(), 0, 0)
            }
        };
    Some(JLink {
        t_us: r.sent_at.as_micros(),
        from: side(r.from),
        nth: r.nth,
        kind,
        icmp,
        flags,
        seq,
        ack,
        payload_len,
        fate: match r.fate {
            Fate::Delivered => "delivered",
            Fate::Dropped { .. } => "dropped",
            Fate::Duplicated => "duplicated",
            Fate::Delayed => "delayed",
        },
        deliver_us: r.deliver_at.map(|t| t.as_micros()),
    })
}

pub fn render(trace: &Trace, answers: &[Answer; 2]) -> String {
    let link: Vec<JLink> = trace.link.iter().filter_map(link).collect();
    let [(q_en, a_en), (q_zh, a_zh)] = answers.clone();
    let doc = Doc {
        schema: SCHEMA,
        scenario: trace.scenario,
        profile: match trace.profile {
            Profile::Rfc => "rfc",
            Profile::LinuxCompat => "linux",
        },
        peer: match &trace.peer {
            crate::Peer::Sim => JPeer::Sim,
            crate::Peer::Capture { file } => JPeer::Capture { file: file.clone() },
            crate::Peer::Device { side: s, device } => JPeer::Device {
                side: side(*s),
                device: device.clone(),
            },
            crate::Peer::Linux {
                kernel_side,
                release,
            } => JPeer::Linux {
                kernel_side: side(*kernel_side),
                release: release.clone(),
            },
        },
        kernel_states: trace.kernel.iter().map(kernel_state).collect(),
        settings: trace
            .settings
            .iter()
            .map(|s| JSetting {
                name: s.name.clone(),
                value: s.value.clone(),
                default: s.default.clone(),
            })
            .collect(),
        client: trace.client.to_string(),
        server: trace.server.to_string(),
        client_isn: trace.first_isn(Side::A),
        server_isn: trace.first_isn(Side::B),
        link_delay_us: trace.delay.as_micros() as u64,
        end_us: trace.end.as_micros(),
        steps: trace.steps.iter().map(|(s, st)| step(*s, st)).collect(),
        link,
        events: trace
            .events
            .iter()
            .map(|e| JEvent {
                t_us: e.at.as_micros(),
                side: side(e.side),
                conn: e.conn.index(),
                event: snake(e.event),
            })
            .collect(),
        answer: (!q_en.is_empty()).then_some(JAnswer {
            question_en: q_en,
            answer_en: a_en,
            question_zh: q_zh,
            answer_zh: a_zh,
        }),
    };
    // Serialising plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn kernel_state(k: &synack_trace::Observation) -> JKernelState {
    let (cause, frame, call, since_us) = match k.cause {
        ObsCause::Frame(i) => ("frame", Some(i), None, None),
        ObsCause::Call(c) => ("call", None, Some(c), None),
        ObsCause::Poll { since } => ("poll", None, None, Some(since.as_micros())),
    };
    JKernelState {
        t_us: k.at.as_micros(),
        state: k.state,
        accepted: k.accepted,
        local: k.local.to_string(),
        remote: k.remote.to_string(),
        cause,
        frame,
        call,
        since_us,
        timer_ms: k.timer.map(|t| t.as_millis() as u64),
        accept_queue: k.queue.map(|q| q.0),
        backlog: k.queue.map(|q| q.1),
    }
}
