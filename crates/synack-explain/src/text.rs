//! Narration, one block per step, from the step records of a [`Trace`]:
//! what arrived or fired, the check made, the state change, what was sent
//! (with the seq/ack arithmetic), and the rule that applied.

use std::fmt::Write as _;

use synack_engine::sim::{Fate, Side};
use synack_engine::{
    Action, Cause, Check, CloseReason, DropReason, Event, Reply, SegInfo, State, Step, TimerKind,
    UserCall,
};
use synack_wire::TcpFlags;

use crate::scenario::Trace;
use crate::style::Style;
use crate::timeline::{self, Item};
use crate::words::{Lang, rule_summary, state_gloss};

/// Side name, e.g. `client` / `客户端`.
pub fn side_name(side: Side, lang: Lang) -> &'static str {
    match side {
        Side::A => lang.t("client", "客户端"),
        Side::B => lang.t("server", "服务器"),
    }
}

pub fn state_name(s: State, lang: Lang) -> String {
    match lang {
        Lang::En => s.rfc_name().to_string(),
        Lang::Zh => format!("{}（{}）", s.rfc_name(), state_gloss(s)),
    }
}

/// `SYN+ACK`, `RST+ACK`, `PSH+ACK`.
pub fn flag_words(f: TcpFlags) -> String {
    let names: Vec<&str> = f.names().collect();
    if names.is_empty() {
        "no flags".into()
    } else {
        names.join("+")
    }
}

/// A time for a fixed-width column: `  20.000 ms`, or seconds past 10 s.
pub fn clock(at: synack_engine::Instant) -> String {
    let ms = at.as_micros() as f64 / 1000.0;
    if ms < 10_000.0 {
        format!("{ms:>8.3} ms")
    } else {
        format!("{:>8.3} s ", ms / 1000.0)
    }
}

/// Renders the steps of one trace.
pub struct Narrator<'a> {
    trace: &'a Trace,
    lang: Lang,
    style: Style,
    /// Per side: the last segment received, to explain the next ack.
    last_rx: [Option<SegInfo>; 2],
    /// Link fates of each side's transmissions, in order.
    fates: [Vec<Fate>; 2],
    sent: [usize; 2],
    flag_vs_field_told: bool,
    /// Whether each side already sent its SYN (later ones are retransmissions).
    /// Half-open passive connections on the server so far (its SYN queue).
    syn_queue: u32,
    /// SYNs each side sent so far (seq, ports): a repeat is a retransmission.
    syn_sent: Vec<(Side, u32, u16, u16)>,
    /// The kernel's last reported state (Linux peer).
    kernel_state_now: State,
}

fn idx(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

impl<'a> Narrator<'a> {
    pub fn new(trace: &'a Trace, lang: Lang, style: Style) -> Self {
        let fates = |s: Side| {
            trace
                .link
                .iter()
                .filter(|r| r.from == s)
                .map(|r| r.fate)
                .collect()
        };
        Narrator {
            trace,
            lang,
            style,
            last_rx: [None, None],
            fates: [fates(Side::A), fates(Side::B)],
            sent: [0, 0],
            flag_vs_field_told: false,
            syn_sent: Vec::new(),
            syn_queue: 0,
            kernel_state_now: State::Closed,
        }
    }

    fn t<'s>(&self, en: &'s str, zh: &'s str) -> &'s str {
        self.lang.t(en, zh)
    }

    /// Parentheses: ` (` `)` in English, full-width in Chinese.
    fn parens(&self) -> (&'static str, &'static str) {
        match self.lang {
            Lang::En => (" (", ")"),
            Lang::Zh => ("（", "）"),
        }
    }

    fn isn(&self, side: Side) -> Option<u32> {
        // Relative numbers only make sense with one connection.
        if self.trace.connections > 1 {
            return None;
        }
        match side {
            Side::A => Some(self.trace.client_isn),
            Side::B => self.trace.server_isn,
        }
    }

    /// One block per segment sent, and one per group of decisions taken on
    /// the same cause by the same side (e.g. "options agreed" and "send ACK"
    /// on one SYN-ACK), in order.
    pub fn blocks(mut self) -> Vec<String> {
        let trace = self.trace;
        let items = timeline::items(trace);
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(item) = items.get(i) {
            let (side, first) = match item {
                Item::Step(side, first) => (*side, *first),
                Item::KernelSent(rec) => {
                    out.push(self.kernel_sent(rec));
                    i += 1;
                    continue;
                }
                Item::KernelState(k) => {
                    out.push(self.kernel_state(k));
                    i += 1;
                    continue;
                }
            };
            let mut group = vec![first];
            i += 1;
            if !matches!(first.cause, Cause::Sent(_)) {
                while let Some(Item::Step(s, st)) = items.get(i) {
                    if *s != side || st.cause != first.cause || st.at != first.at {
                        break;
                    }
                    group.push(*st);
                    i += 1;
                }
            }
            out.push(self.block(side, &group));
        }
        out
    }

    fn kernel_head(&self, side: Side, at: synack_engine::Instant) -> String {
        let what = match self.trace.peer {
            crate::Peer::Device { .. } => self.t(" (peer)", "（对端）"),
            _ => self.t(" (Linux kernel)", "（Linux 内核）"),
        };
        let who = format!("{}{what}", side_name(side, self.lang));
        let who = match side {
            Side::A => self.style.client(&who),
            Side::B => self.style.server(&who),
        };
        format!("[{}] {who}", clock(at))
    }

    /// A segment the kernel sent, as captured on the TUN device.
    fn kernel_sent(&mut self, rec: &synack_engine::sim::LinkRecord) -> String {
        let mut out = self.kernel_head(rec.from, rec.sent_at);
        let Ok(p) = synack_wire::parse_segment(&rec.bytes, false) else {
            return out + "\n";
        };
        let seg = SegInfo::new(
            std::net::SocketAddr::new(p.ip.src, p.tcp.src_port),
            std::net::SocketAddr::new(p.ip.dst, p.tcp.dst_port),
            &p.tcp,
        );
        let mut v = synack_engine::TcbVars::none(self.kernel_state_now);
        v.iss = synack_wire::SeqNum(self.isn(rec.from).unwrap_or(0));
        v.irs = synack_wire::SeqNum(self.isn(rec.from.other()).unwrap_or(0));
        self.sent_block(&mut out, rec.from, &v, &seg);
        out
    }

    /// The kernel's socket state, read from the kernel.
    fn kernel_state(&mut self, k: &crate::scenario::KernelSample) -> String {
        let side = timeline::kernel_side(self.trace).unwrap_or(Side::B);
        let server = side == Side::B;
        self.kernel_state_now = match k.state.as_str() {
            "SYN_SENT" => State::SynSent,
            "SYN_RECV" | "NEW_SYN_RECV" => State::SynReceived,
            "ESTABLISHED" => State::Established,
            "FIN_WAIT1" => State::FinWait1,
            "FIN_WAIT2" => State::FinWait2,
            "CLOSE_WAIT" => State::CloseWait,
            "CLOSING" => State::Closing,
            "LAST_ACK" => State::LastAck,
            "TIME_WAIT" => State::TimeWait,
            _ => State::Closed,
        };
        let gloss = match (k.state.as_str(), server, k.accepted) {
            ("SYN_RECV" | "NEW_SYN_RECV", _, _) => self.t(
                "a half-open connection, waiting in the listener's SYN queue",
                "半连接：在监听套接字的半连接队列（SYN 队列）中等待",
            ),
            ("ESTABLISHED", true, false) => self.t(
                "complete, waiting in the accept queue until the application calls accept()",
                "连接已建立：在全连接队列（accept 队列）中等待应用调用 accept()",
            ),
            ("ESTABLISHED", true, true) => self.t(
                "accept() has taken it off the accept queue and handed it to the application",
                "accept() 已把它从全连接队列取出交给应用",
            ),
            ("ESTABLISHED", _, _) => self.t("established", "连接已建立"),
            ("SYN_SENT", _, _) => self.t("connect() has sent its SYN", "connect() 已发出 SYN"),
            ("TIME_WAIT", _, _) => self.t(
                "waiting 2·MSL (60 s on Linux)",
                "等待 2MSL（Linux 上是 60 秒）",
            ),
            ("CLOSED", _, _) => self.t(
                "the kernel holds no socket for this connection",
                "内核中已没有这个连接的套接字",
            ),
            _ => "",
        };
        let sep = self.t(": ", "：");
        format!(
            "{}  {} {}{}{}\n    {}\n",
            self.kernel_head(side, k.at),
            self.t("socket state", "套接字状态"),
            self.style.strong(&k.state),
            if gloss.is_empty() { "" } else { sep },
            gloss,
            self.style.dim(self.t(
                "read from the kernel itself (/proc/net/tcp)",
                "从内核读取（/proc/net/tcp）"
            ))
        )
    }

    fn head(&self, side: Side, step: &Step) -> String {
        let time = clock(step.at);
        let who = side_name(side, self.lang);
        let who = match side {
            Side::A => self.style.client(who),
            Side::B => self.style.server(who),
        };
        format!("[{time}] {who}")
    }

    fn block(&mut self, side: Side, group: &[&Step]) -> String {
        let (Some(step), Some(last)) = (group.first(), group.last()) else {
            return String::new();
        };
        let mut out = self.head(side, step);
        if let Cause::Sent(seg) = &step.cause {
            self.sent_block(&mut out, side, &step.after, seg);
            return out;
        }
        // State line.
        let (b, a) = (step.before.state, last.after.state);
        if b != a {
            let (open, close) = self.parens();
            let _ = write!(
                out,
                "  {} → {}   {open}Linux{}{} → {}{close}",
                state_name(b, self.lang),
                self.style.strong(&state_name(a, self.lang)),
                self.t(": ", "："),
                b.linux_name(),
                a.linux_name()
            );
        } else {
            let _ = write!(
                out,
                "  {} {}",
                self.t("in", "处于"),
                state_name(b, self.lang)
            );
        }
        if side == Side::B {
            for s in group {
                let (from, to) = (s.before.state, s.after.state);
                if from == State::Listen && to == State::SynReceived {
                    self.syn_queue += 1;
                } else if from == State::SynReceived && to != State::SynReceived {
                    self.syn_queue = self.syn_queue.saturating_sub(1);
                }
            }
            // `ss -lt` shows the same count as Recv-Q of the listener.
            if self.trace.scenario == crate::Scenario::SynFlood
                && self.trace.peer == crate::Peer::Sim
            {
                let _ = write!(
                    out,
                    "   [{} {}/{}]",
                    self.t("SYN queue", "半连接队列"),
                    self.syn_queue,
                    crate::more::FLOOD_BACKLOG
                );
            }
        }
        out.push('\n');
        let _ = writeln!(out, "    {}", self.cause(side, &step.cause));
        for step in group {
            if let Some(check) = &step.check {
                let _ = writeln!(out, "    {}", self.check(check));
            }
            let _ = writeln!(out, "    {}", self.action(step));
            let _ = writeln!(
                out,
                "      {}",
                self.style.dim(&format!(
                    "{} {}{}{}{}{}{}",
                    self.t("rule", "规则"),
                    step.rule.id(),
                    self.t(": ", "："),
                    rule_summary(step.rule, self.lang),
                    self.parens().0,
                    step.rule.source(),
                    self.parens().1
                ))
            );
        }
        if let Cause::Received(seg) = &step.cause {
            self.last_rx[idx(side)] = Some(*seg);
        }
        out
    }

    fn cause(&self, side: Side, cause: &Cause) -> String {
        match cause {
            Cause::Received(seg) => format!(
                "{} {}",
                self.t("receives", "收到"),
                self.segment(seg, side.other())
            ),
            Cause::Sent(seg) => self.segment(seg, side),
            Cause::Timer(TimerKind::Retransmit) => self
                .t(
                    "its retransmission timer expires: nothing acknowledged what it sent",
                    "重传定时器超时：发出的报文段没有得到确认",
                )
                .into(),
            Cause::Timer(TimerKind::TimeWait) => self
                .t(
                    "the TIME-WAIT timer (2·MSL) expires",
                    "TIME-WAIT 定时器（2MSL）到期",
                )
                .into(),
            Cause::User(UserCall::Connect) => self
                .t("the application calls connect()", "应用程序调用 connect()")
                .into(),
            Cause::User(UserCall::Listen) => self
                .t("the application calls listen()", "应用程序调用 listen()")
                .into(),
            Cause::User(UserCall::Close) => self
                .t("the application calls close()", "应用程序调用 close()")
                .into(),
            Cause::User(UserCall::Abort) => self
                .t("the application aborts the connection", "应用程序中止连接")
                .into(),
            Cause::User(UserCall::Send { bytes }) => match self.lang {
                Lang::En => format!("the application sends {bytes} bytes"),
                Lang::Zh => format!("应用程序发送 {bytes} 字节数据"),
            },
            Cause::Malformed(e) => format!("{}: {e}", self.t("malformed packet", "格式错误的报文")),
        }
    }

    /// `SYN+ACK [S.] seq=5000 (relative 0) ack=1001 (relative 1) win=…`.
    pub fn segment(&self, s: &SegInfo, from: Side) -> String {
        let mut t = format!(
            "{} [{}]",
            self.style.strong(&flag_words(s.flags)),
            s.flags.tcpdump()
        );
        let rel = |v: u32, isn: Option<u32>| isn.map(|i| v.wrapping_sub(i));
        let _ = write!(t, " seq={}", s.seq);
        let (open, close) = self.parens();
        if let Some(r) =
            rel(s.seq.get(), self.isn(from)).filter(|_| !(s.flags.rst() && s.seq.get() == 0))
        {
            let _ = write!(t, "{open}{} {r}{close}", self.t("relative", "相对"));
        }
        if s.flags.ack() {
            let _ = write!(t, " ack={}", s.ack);
            if let Some(r) = rel(s.ack.get(), self.isn(from.other())) {
                let _ = write!(t, "{open}{} {r}{close}", self.t("relative", "相对"));
            }
        }
        let _ = write!(t, " win={}", s.window);
        if s.payload_len > 0 {
            let _ = write!(
                t,
                " {}",
                match self.lang {
                    Lang::En => format!("data={} bytes", s.payload_len),
                    Lang::Zh => format!("数据={} 字节", s.payload_len),
                }
            );
        }
        let o = &s.options;
        let mut opts = Vec::new();
        if let Some(m) = o.mss {
            opts.push(format!("MSS {m}"));
        }
        if o.sack_permitted {
            opts.push(self.t("SACK permitted", "允许 SACK").into());
        }
        if let Some((v, e)) = o.timestamps {
            opts.push(format!(
                "{} TSval={v} TSecr={e}",
                self.t("timestamps", "时间戳")
            ));
        }
        if let Some(w) = o.window_scale {
            let mult = 1u32 << w.min(14);
            opts.push(format!(
                "{} {w}{open}×{mult}{close}",
                self.t("window scale", "窗口扩大因子")
            ));
        }
        if let Some(c) = o.fast_open {
            opts.push(if c.is_request() {
                self.t("Fast Open cookie request", "Fast Open cookie 请求")
                    .into()
            } else {
                let hex: String = c.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
                format!("{} {hex}", self.t("Fast Open cookie", "Fast Open cookie"))
            });
        }
        if !opts.is_empty() {
            let sep = self.t(", ", "，");
            let _ = write!(t, " {}{}", self.t("options: ", "选项："), opts.join(sep));
        }
        t
    }

    fn check(&self, c: &Check) -> String {
        let ok = |ok: bool| {
            if ok {
                self.t("acceptable", "可接受")
            } else {
                self.t("NOT acceptable", "不可接受")
            }
        };
        match *c {
            Check::AckAcceptable {
                lo,
                ack,
                hi,
                ok: good,
            } => match self.lang {
                Lang::En => format!(
                    "check: ACK bit set and SND.UNA < SEG.ACK ≤ SND.NXT → {lo} < {ack} ≤ {hi}: {}",
                    ok(good)
                ),
                Lang::Zh => format!(
                    "检查：ACK 标志位为 1，且 SND.UNA < SEG.ACK ≤ SND.NXT → {lo} < {ack} ≤ {hi}：{}",
                    ok(good)
                ),
            },
            Check::SeqAcceptable {
                rcv_nxt,
                rcv_wnd,
                seq,
                len,
                ok: good,
            } => {
                let end = rcv_nxt.add(rcv_wnd);
                match self.lang {
                    Lang::En => format!(
                        "check (RFC 9293 Table 6): RCV.NXT ≤ SEG.SEQ < RCV.NXT+RCV.WND → {rcv_nxt} ≤ {seq} < {end} (SEG.LEN {len}): {}",
                        ok(good)
                    ),
                    Lang::Zh => format!(
                        "检查（RFC 9293 表 6）：RCV.NXT ≤ SEG.SEQ < RCV.NXT+RCV.WND → {rcv_nxt} ≤ {seq} < {end}（SEG.LEN {len}）：{}",
                        ok(good)
                    ),
                }
            }
            Check::RstExact {
                rcv_nxt,
                seq,
                ok: good,
            } => match self.lang {
                Lang::En => format!(
                    "check (RFC 5961): a RST resets only if SEG.SEQ = RCV.NXT → {seq} {} {rcv_nxt}",
                    if good { "=" } else { "≠" }
                ),
                Lang::Zh => format!(
                    "检查（RFC 5961）：只有 SEG.SEQ = RCV.NXT 的 RST 才复位连接 → {seq} {} {rcv_nxt}",
                    if good { "=" } else { "≠" }
                ),
            },
            Check::FinInOrder {
                rcv_nxt,
                fin_seq,
                ok: good,
            } => match self.lang {
                Lang::En => format!(
                    "check: the FIN is at RCV.NXT? {fin_seq} vs {rcv_nxt}: {}",
                    ok(good)
                ),
                Lang::Zh => format!(
                    "检查：FIN 是否正好在 RCV.NXT？{fin_seq} 对 {rcv_nxt}：{}",
                    ok(good)
                ),
            },
        }
    }

    fn reply(&self, r: Reply) -> &'static str {
        match r {
            Reply::Syn => "SYN",
            Reply::SynAck => "SYN-ACK",
            Reply::Ack => "ACK",
            Reply::ChallengeAck => self.lang.t("a challenge ACK", "挑战 ACK"),
            Reply::Rst => "RST",
            Reply::RstAck => "RST+ACK",
            Reply::Fin => "FIN",
            Reply::Data => self.lang.t("data", "数据"),
        }
    }

    fn action(&self, step: &Step) -> String {
        let arrow = "→";
        match step.action {
            Action::Send(r) => match self.lang {
                Lang::En => format!("{arrow} sends {}", self.reply(r)),
                Lang::Zh if self.reply(r).is_ascii() => format!("{arrow} 发送 {}", self.reply(r)),
                Lang::Zh => format!("{arrow} 发送{}", self.reply(r)),
            },
            Action::Retransmit {
                reply,
                attempt,
                next_timeout,
            } => match self.lang {
                Lang::En => format!(
                    "{arrow} retransmits {} (transmission {attempt}); the timer now waits {:.0} s",
                    self.reply(reply),
                    next_timeout.as_secs_f64()
                ),
                Lang::Zh => format!(
                    "{arrow} 重传 {}（第 {attempt} 次发送）；定时器改为等待 {:.0} 秒",
                    self.reply(reply),
                    next_timeout.as_secs_f64()
                ),
            },
            Action::Transmitted => String::new(),
            Action::Drop(reason) => format!("{arrow} {}", self.drop_reason(reason)),
            Action::Enter => match self.lang {
                Lang::En => format!("{arrow} enters {}", step.after.state.rfc_name()),
                Lang::Zh => format!("{arrow} 进入 {}", step.after.state.rfc_name()),
            },
            Action::Deliver { bytes } => match self.lang {
                Lang::En => format!(
                    "{arrow} accepts {bytes} bytes in order; RCV.NXT moves to {}",
                    step.after.rcv_nxt
                ),
                Lang::Zh => format!(
                    "{arrow} 按序接收 {bytes} 字节；RCV.NXT 前进到 {}",
                    step.after.rcv_nxt
                ),
            },
            Action::Acked { bytes } => match self.lang {
                Lang::En => format!(
                    "{arrow} {bytes} bytes of its data are acknowledged; SND.UNA = {}",
                    step.after.snd_una
                ),
                Lang::Zh => format!(
                    "{arrow} 自己的 {bytes} 字节数据被确认；SND.UNA = {}",
                    step.after.snd_una
                ),
            },
            Action::ClampShift { from } => match self.lang {
                Lang::En => format!("{arrow} window scale {from} is above 14: uses 14"),
                Lang::Zh => format!("{arrow} 窗口扩大因子 {from} 超过 14：按 14 处理"),
            },
            Action::Delete(reason) => format!("{arrow} {}", self.close_reason(reason)),
            Action::Listen => self.t("→ listens", "→ 开始监听").into(),
            Action::Negotiated(n) => {
                let yes = |b: bool| {
                    if b {
                        self.t("yes", "是")
                    } else {
                        self.t("no", "否")
                    }
                };
                let ws = if n.window_scaling {
                    match self.lang {
                        Lang::En => format!(
                            "on (peer's windows ×{}, ours ×{})",
                            1u32 << n.snd_shift,
                            1u32 << n.rcv_shift
                        ),
                        Lang::Zh => format!(
                            "启用（对方窗口 ×{}，本方 ×{}）",
                            1u32 << n.snd_shift,
                            1u32 << n.rcv_shift
                        ),
                    }
                } else {
                    self.t("off", "不启用").into()
                };
                let ecn = if n.ecn {
                    self.t(", ECN on", "，ECN：启用")
                } else {
                    ""
                };
                match self.lang {
                    Lang::En => format!(
                        "{arrow} options agreed: segments up to MSS {} bytes, window scaling {ws}, SACK {}, timestamps {}{ecn}",
                        n.send_mss,
                        yes(n.sack),
                        yes(n.timestamps)
                    ),
                    Lang::Zh => format!(
                        "{arrow} 协商结果：报文段最大 {} 字节（MSS），窗口扩大{ws}，SACK：{}，时间戳：{}{ecn}",
                        n.send_mss,
                        yes(n.sack),
                        yes(n.timestamps)
                    ),
                }
            }
            Action::Report(ev) => format!("{arrow} {}", self.report(ev)),
            Action::Ignore => self.t("→ ignores it", "→ 忽略").into(),
            Action::Note(n) => crate::notes::note(n, self.lang),
        }
    }

    fn drop_reason(&self, r: DropReason) -> &'static str {
        let l = self.lang;
        match r {
            DropReason::Malformed => l.t("drops the malformed packet", "丢弃格式错误的报文"),
            DropReason::RstIgnored => l.t(
                "drops the RST without reply (a RST is never answered)",
                "丢弃 RST，不回复（永远不对 RST 回复）",
            ),
            DropReason::BadRst => l.t(
                "drops the RST: it does not acknowledge our SYN",
                "丢弃该 RST：它没有确认我们的 SYN",
            ),
            DropReason::NoSynNoRst => l.t(
                "drops it: neither SYN nor RST",
                "丢弃：既不是 SYN 也不是 RST",
            ),
            DropReason::NoControl => {
                l.t("drops it: no SYN, ACK or RST", "丢弃：没有 SYN、ACK 或 RST")
            }
            DropReason::NoAckBit => l.t("drops it: the ACK bit is off", "丢弃：ACK 标志位为 0"),
            DropReason::OutOfWindow => l.t(
                "drops it: outside the receive window",
                "丢弃：不在接收窗口内",
            ),
            DropReason::RateLimited => l.t(
                "sends nothing: the reply is rate limited",
                "不回复：回复受速率限制",
            ),
            DropReason::IllegalFlags => {
                l.t("drops it: illegal flag combination", "丢弃：标志位组合非法")
            }
            DropReason::SynData => l.t(
                "does not acknowledge the data on the SYN (no Fast Open)",
                "不确认 SYN 携带的数据（未启用 Fast Open）",
            ),
            DropReason::OutOfOrder => l.t("drops it: out of order", "丢弃：乱序"),
            DropReason::DataIgnored => l.t(
                "ignores the data: this direction is closed",
                "忽略数据：该方向已关闭",
            ),
            DropReason::DuplicateAck => l.t("ignores a duplicate ACK", "忽略重复 ACK"),
            DropReason::MissingTimestamp => l.t(
                "drops it: timestamps were agreed but it has none",
                "丢弃：已协商时间戳但报文段没有",
            ),
        }
    }

    fn close_reason(&self, r: CloseReason) -> &'static str {
        let l = self.lang;
        match r {
            CloseReason::Refused => l.t("deletes the connection: refused", "删除连接：被拒绝"),
            CloseReason::Reset => l.t(
                "deletes the connection: reset by the peer",
                "删除连接：被对方复位",
            ),
            CloseReason::TimedOut => l.t("gives up and deletes the connection", "放弃，删除连接"),
            CloseReason::Closed => l.t(
                "deletes the connection: closed normally",
                "删除连接：正常关闭",
            ),
            CloseReason::Aborted => l.t("deletes the connection", "删除连接"),
            CloseReason::BackToListen => l.t(
                "drops the half-open connection; the listener stays",
                "丢弃半连接，监听套接字不受影响",
            ),
        }
    }

    fn report(&self, ev: Event) -> &'static str {
        let l = self.lang;
        match ev {
            Event::Connected => l.t("tells the application: connected", "通知应用：连接成功"),
            Event::Accepted => l.t(
                "the connection is ready for accept()",
                "连接可以被 accept() 取走",
            ),
            Event::Refused => l.t(
                "tells the application: connection refused (ECONNREFUSED)",
                "通知应用：连接被拒绝（ECONNREFUSED）",
            ),
            Event::TimedOut => l.t(
                "tells the application: connection timed out (ETIMEDOUT)",
                "通知应用：连接超时（ETIMEDOUT）",
            ),
            Event::Reset => l.t(
                "tells the application: connection reset (ECONNRESET)",
                "通知应用：连接被复位（ECONNRESET）",
            ),
            Event::Readable => l.t("data can be read", "有数据可读"),
            Event::PeerClosed => l.t("the peer has finished sending", "对方已发送完毕"),
            Event::Closed => l.t(
                "tells the application: closed normally",
                "通知应用：连接正常关闭",
            ),
        }
    }

    /// A transmission: the segment as it left, the arithmetic behind its
    /// numbers, and its fate on the link.
    fn sent_block(
        &mut self,
        out: &mut String,
        side: Side,
        v: &synack_engine::TcbVars,
        seg: &SegInfo,
    ) {
        let _ = writeln!(
            out,
            "  {} {}",
            self.t("sends", "发出"),
            self.segment(seg, side)
        );
        for line in self.arithmetic(side, v, seg) {
            let _ = writeln!(out, "    {line}");
        }
        let i = idx(side);
        let fate = self.fates[i].get(self.sent[i]).copied();
        self.sent[i] += 1;
        let kernel = timeline::kernel_side(self.trace);
        // The kernel learns only from what arrives; explain its acks from that.
        if kernel == Some(side.other()) && !matches!(fate, Some(Fate::Dropped { .. })) {
            self.last_rx[idx(side.other())] = Some(*seg);
        }
        match fate {
            Some(Fate::Dropped { .. }) => {
                let msg = if kernel.is_some() {
                    self.t(
                        "✕ lost: the driver drops this segment on the TUN device (injected loss)",
                        "✕ 丢失：驱动在 TUN 设备上丢弃了这个报文段（人为注入的丢包）",
                    )
                } else {
                    self.t(
                        "✕ lost: the simulated link drops this segment",
                        "✕ 丢失：模拟链路丢弃了这个报文段",
                    )
                };
                let _ = writeln!(out, "    {}", self.style.bad(msg));
            }
            Some(Fate::Duplicated) => {
                let _ = writeln!(
                    out,
                    "    {}",
                    self.t("(the link delivers it twice)", "（链路把它投递了两次）")
                );
            }
            _ => {}
        }
    }

    fn arithmetic(&mut self, side: Side, v: &synack_engine::TcbVars, seg: &SegInfo) -> Vec<String> {
        let mut lines = Vec::new();
        let me = side_name(side, self.lang);
        let peer = side_name(side.other(), self.lang);
        let f = seg.flags;
        if f.rst() {
            let rx = self.last_rx[idx(side)];
            if f.ack() && seg.seq.get() == 0 {
                if let Some(rx) = rx {
                    lines.push(match self.lang {
                        Lang::En => format!(
                            "seq = 0 and ack = {} = the segment's seq {} + SEG.LEN {}: a segment without ACK is answered this way",
                            seg.ack, rx.seq, rx.seg_len()
                        ),
                        Lang::Zh => format!(
                            "seq = 0，ack = {} = 对方报文段的 seq {} + SEG.LEN {}：对不带 ACK 的报文段就这样回复",
                            seg.ack, rx.seq, rx.seg_len()
                        ),
                    });
                }
            } else if rx.is_some_and(|rx| rx.flags.ack() && rx.ack == seg.seq)
                && v.state != State::Established
            {
                lines.push(match self.lang {
                    Lang::En => format!(
                        "seq = {} = the ack field of the segment it answers, so the receiver can match it to its own SND.NXT",
                        seg.seq
                    ),
                    Lang::Zh => format!("seq = {} = 所回复报文段的确认号，对方据此与自己的 SND.NXT 对上", seg.seq),
                });
            } else {
                lines.push(match self.lang {
                    Lang::En => format!("seq = SND.NXT = {}", seg.seq),
                    Lang::Zh => format!("seq = SND.NXT = {}", seg.seq),
                });
            }
            return lines;
        }
        let key = (side, seg.seq.get(), seg.src.port(), seg.dst.port());
        let repeated = f.syn() && self.syn_sent.contains(&key);
        if f.syn() && !repeated {
            self.syn_sent.push(key);
        }
        if repeated {
            lines.push(match self.lang {
                Lang::En => format!(
                    "the same {} again, seq = ISN {} unchanged: a retransmission never picks a new ISN",
                    flag_words(f),
                    seg.seq
                ),
                Lang::Zh => format!("又是同一个 {}，seq 仍是 ISN {}：重传不会换新的 ISN", flag_words(f), seg.seq),
            });
            return lines;
        }
        if f.syn() {
            let fixed = self.trace.isn_fixed[idx(side)];
            lines.push(match (self.lang, fixed) {
                (Lang::En, false) => format!(
                    "seq = {} is the {me}'s initial sequence number (ISN): RFC 6528 derives it from a 4 µs clock plus a keyed hash of the addresses and ports, so it is unpredictable",
                    seg.seq
                ),
                (Lang::En, true) => format!(
                    "seq = {} is the {me}'s initial sequence number (ISN), fixed with --isn (normally RFC 6528 picks an unpredictable one)",
                    seg.seq
                ),
                (Lang::Zh, false) => format!(
                    "seq = {} 是{me}的初始序列号 ISN：按 RFC 6528 由 4 微秒时钟加上地址和端口的带密钥散列得出，无法预测",
                    seg.seq
                ),
                (Lang::Zh, true) => format!(
                    "seq = {} 是{me}的初始序列号 ISN，由 --isn 指定（平常由 RFC 6528 生成，无法预测）",
                    seg.seq
                ),
            });
            if f.ack() {
                let peer_isn = v.irs;
                lines.push(match self.lang {
                    Lang::En => format!(
                        "ack = {} = {peer} ISN {peer_isn} + 1, because a SYN consumes one sequence number",
                        seg.ack
                    ),
                    Lang::Zh => format!("ack = {} = {peer} ISN {peer_isn} + 1，因为 SYN 占用一个序列号", seg.ack),
                });
            } else {
                lines.push(
                    self.t(
                        "the ACK flag is off, so the ack field carries nothing yet: there is nothing to acknowledge",
                        "ACK 标志位为 0，确认号字段还没有意义：此时没有什么可确认的",
                    )
                    .into(),
                );
            }
            return lines;
        }
        if !f.ack() {
            return lines;
        }
        // seq
        if seg.seq == v.iss.add(1) && f.fin() || seg.seq == v.iss.add(1) && seg.payload_len == 0 {
            lines.push(match self.lang {
                Lang::En => format!(
                    "seq = {} = ISN {} + 1: the SYN used up sequence number {}",
                    seg.seq, v.iss, v.iss
                ),
                Lang::Zh => format!(
                    "seq = {} = ISN {} + 1：序列号 {} 已被 SYN 占用",
                    seg.seq, v.iss, v.iss
                ),
            });
        } else {
            lines.push(match self.lang {
                Lang::En => format!("seq = SND.NXT = {}: the next byte this side sends", seg.seq),
                Lang::Zh => format!("seq = SND.NXT = {}：本方要发送的下一个字节", seg.seq),
            });
        }
        // ack
        if let Some(rx) = self.last_rx[idx(side)] {
            if rx.seq.add(rx.seg_len()) == seg.ack && rx.seg_len() > 0 {
                let mut parts = Vec::new();
                if rx.flags.syn() {
                    parts.push("SYN 1".to_string());
                }
                if rx.payload_len > 0 {
                    parts.push(match self.lang {
                        Lang::En => format!("{} data bytes", rx.payload_len),
                        Lang::Zh => format!("{} 字节数据", rx.payload_len),
                    });
                }
                if rx.flags.fin() {
                    parts.push("FIN 1".to_string());
                }
                lines.push(match self.lang {
                    Lang::En => format!(
                        "ack = {} = {peer}'s seq {} + {} ({}): the next sequence number the {me} expects",
                        seg.ack,
                        rx.seq,
                        rx.seg_len(),
                        parts.join(" + ")
                    ),
                    Lang::Zh => format!(
                        "ack = {} = {peer}的 seq {} + {}（{}）：{me}期望收到的下一个序列号",
                        seg.ack,
                        rx.seq,
                        rx.seg_len(),
                        parts.join(" + ")
                    ),
                });
            } else {
                lines.push(match self.lang {
                    Lang::En => format!(
                        "ack = RCV.NXT = {}: everything before it has arrived",
                        seg.ack
                    ),
                    Lang::Zh => format!("ack = RCV.NXT = {}：之前的字节都已收到", seg.ack),
                });
            }
        }
        if !self.flag_vs_field_told {
            self.flag_vs_field_told = true;
            lines.push(
                self.t(
                    "note: the ACK *flag* (a bit) says the ack *field* is valid; the ack field (a number) is the next byte expected. Every segment after the first SYN has the flag set.",
                    "注意：ACK 标志位（一个比特）表示确认号字段有效；确认号（一个数）是期望收到的下一个字节。第一个 SYN 之后的每个报文段都置 ACK 标志位。",
                )
                .into(),
            );
        }
        lines
    }
}
