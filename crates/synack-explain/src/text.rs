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

use crate::style::Style;
use crate::timeline::{self, Item};
use crate::words::{Lang, rule_summary, state_gloss};
use synack_trace::{ObsCause, Observation, Trace};

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
    /// The last segment received on each connection (by its source and
    /// destination), to explain the next ack on that connection.
    last_rx: Vec<SegInfo>,
    /// Whether the ACK-flag note is true of this run: every segment after
    /// the first SYN has the flag (no bare RST).
    ack_note_true: bool,
    /// synack's listener just answered with a SYN cookie.
    cookie_pending: bool,
    /// Link fates of each side's transmissions, in order.
    fates: [Vec<Fate>; 2],
    sent: [usize; 2],
    flag_vs_field_told: bool,
    /// Whether each side already sent its SYN (later ones are retransmissions).
    /// Half-open passive connections on the server so far (its SYN queue).
    syn_queue: u32,
    /// SYNs each side sent so far (seq, ports): a repeat is a retransmission.
    syn_sent: Vec<(Side, u32, u16, u16, bool)>,
    /// The kernel's last reported state (Linux peer).
    kernel_state_now: State,
    /// What was said already (a segment's options, an ISN's origin, a
    /// rule's text): said once per run unless the style is verbose.
    told: std::cell::RefCell<std::collections::HashSet<String>>,
}

fn idx(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

impl<'a> Narrator<'a> {
    pub fn new(trace: &'a Trace, lang: Lang, style: Style) -> Self {
        // The fates of each side's TCP segments (ICMP errors the link or a
        // firewall made are not a side's transmissions).
        let fates = |s: Side| {
            trace
                .link
                .iter()
                .filter(|r| r.from == s && synack_wire::parse_segment(&r.bytes, false).is_ok())
                .map(|r| r.fate)
                .collect()
        };
        Narrator {
            trace,
            lang,
            style,
            last_rx: Vec::new(),
            ack_note_true: !synack_trace::Findings::new(trace).bare_rst(),
            cookie_pending: false,
            fates: [fates(Side::A), fates(Side::B)],
            sent: [0, 0],
            flag_vs_field_told: false,
            syn_sent: Vec::new(),
            syn_queue: 0,
            kernel_state_now: State::Closed,
            told: Default::default(),
        }
    }

    /// Remember the last segment received on its connection.
    fn received(&mut self, seg: SegInfo) {
        self.last_rx
            .retain(|r| !(r.src == seg.src && r.dst == seg.dst));
        self.last_rx.push(seg);
    }

    /// The last segment received on the connection `sent` belongs to.
    fn rx_for(&self, sent: &SegInfo) -> Option<SegInfo> {
        self.last_rx
            .iter()
            .rev()
            .find(|r| r.src == sent.dst && r.dst == sent.src)
            .copied()
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

    /// Whether `key` is new here: true the first time (and always when
    /// verbose), so it is said in full once.
    fn first(&self, key: String) -> bool {
        self.told.borrow_mut().insert(key) || self.style.verbose
    }

    /// `fact`, with `why` after it the first time `key` comes up: the
    /// reason is said once per run.
    fn once(&self, key: &str, fact: String, why: &str) -> String {
        if self.first(key.to_string()) {
            fact + why
        } else {
            fact
        }
    }

    fn isn(&self, side: Side) -> Option<u32> {
        // Relative numbers only make sense with one connection.
        if self.trace.connections() > 1 {
            return None;
        }
        self.trace.first_isn(side)
    }

    /// One block per segment sent, and one per group of decisions taken on
    /// the same cause by the same side (e.g. "options agreed" and "send ACK"
    /// on one SYN-ACK), in order.
    pub fn blocks(mut self) -> Vec<(synack_engine::Instant, String)> {
        let trace = self.trace;
        let items = timeline::items(trace);
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(item) = items.get(i) {
            let at = item.at();
            let (side, first) = match item {
                Item::Step(side, first) => (*side, *first),
                Item::KernelSent(rec) => {
                    out.push((at, self.kernel_sent(rec)));
                    i += 1;
                    continue;
                }
                Item::KernelState(k) => {
                    out.push((at, self.kernel_state(k)));
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
            out.push((at, self.block(side, &group)));
        }
        out
    }

    fn kernel_head(&self, side: Side, at: synack_engine::Instant) -> String {
        let what = match self.trace.peer {
            crate::Peer::Device { .. } | crate::Peer::Capture { .. } => {
                self.t(" (peer)", "（对端）")
            }
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
            if let Ok(e) = synack_wire::parse_icmp(&rec.bytes, false) {
                out.push_str(&self.icmp_sent(&e));
            }
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

    /// Whether an ICMP error on the link quotes `seg`.
    fn rejected(&self, seg: &SegInfo) -> bool {
        self.trace.link.iter().any(|r| {
            synack_wire::parse_icmp(&r.bytes, false).is_ok_and(|e| {
                e.quoted_src == seg.src && e.quoted_dst == seg.dst && e.quoted_seq == seg.seq
            })
        })
    }

    /// An ICMP error the kernel sent instead of a segment.
    fn icmp_sent(&self, e: &synack_wire::IcmpError) -> String {
        let what = crate::words::unreachable(e.reason, self.lang);
        let v = if e.v6 { "v6" } else { "" };
        let (q, d, seq) = (e.quoted_src, e.quoted_dst, e.quoted_seq.get());
        match self.lang {
            Lang::En => format!(
                "  sends ICMP{v} destination unreachable, code {} ({what}), to {}: it quotes the segment {q} → {d} \
seq={seq}, which no socket received",
                e.code, e.ip.dst
            ),
            Lang::Zh => format!(
                "  发出 ICMP{v} 目的不可达，代码 {}（{what}），发往 {}：它引用了报文段 {q} → {d} seq={seq}，\
这个报文段没有被任何套接字收到",
                e.code, e.ip.dst
            ),
        }
    }

    /// The kernel's socket state, as sock_diag reported it, placed at the
    /// frame that caused it when the report came right after one.
    fn kernel_state(&mut self, k: &Observation) -> String {
        let side = timeline::kernel_side(self.trace).unwrap_or(Side::B);
        let main = [self.trace.client, self.trace.server];
        let is_main = main.contains(&k.local) && main.contains(&k.remote);
        if is_main {
            self.kernel_state_now = synack_trace::rfc_state(k.state);
        }
        // A socket the kernel's application accept()s comes from a listener.
        let from_listener = self
            .trace
            .kernel
            .iter()
            .any(|o| o.state == "LISTEN" && o.local.port() == k.local.port());
        let gloss = match (k.state, from_listener, k.accepted) {
            ("SYN_RECV", _, _) => self.t(
                "a half-open connection, waiting in the listener's SYN queue",
                "半连接：在监听套接字的半连接队列中等待",
            ),
            ("ESTABLISHED", true, false) => self.t(
                "complete, waiting in the accept queue until the application calls accept()",
                "连接已建立：在全连接队列中等待应用调用 accept()",
            ),
            ("ESTABLISHED", true, true) => self.t(
                "accept() has taken it off the accept queue and handed it to the application",
                "accept() 已把它从全连接队列取出交给应用",
            ),
            ("ESTABLISHED", false, _) => self.t(
                "established (the application's connect() returns)",
                "连接已建立（应用的 connect() 返回）",
            ),
            ("SYN_SENT", _, _) => self.t("connect() has sent its SYN", "connect() 已发出 SYN"),
            ("LISTEN", _, _) => self.t("listening", "监听中"),
            ("CLOSED", _, _) => self.t(
                "the kernel holds no socket for this connection",
                "内核中已没有这个连接的套接字",
            ),
            _ => "",
        };
        let mut extra = String::new();
        if let Some(t) = k.timer.filter(|_| k.state == "TIME_WAIT") {
            extra = match self.lang {
                Lang::En => format!(" ({} s left on its TIME-WAIT timer)", t.as_secs()),
                Lang::Zh => format!("（TIME-WAIT 定时器还剩 {} 秒）", t.as_secs()),
            };
        }
        if let Some((q, b)) = k.queue {
            extra = match self.lang {
                Lang::En => {
                    format!(" (accept queue {q}, backlog {b}: Recv-Q {q}, Send-Q {b} in ss -lnt)")
                }
                Lang::Zh => {
                    format!("（全连接队列 {q}，backlog {b}：即 ss -lnt 的 Recv-Q {q}、Send-Q {b}）")
                }
            };
        }
        let (at, source) = self.kernel_source(k);
        let who = if is_main {
            String::new()
        } else if k.state == "LISTEN" || k.queue.is_some() {
            format!(" {}", self.t("listener", "监听套接字"))
        } else {
            format!(" {} {}", self.t("socket to", "到"), k.remote)
        };
        let sep = self.t(": ", "：");
        format!(
            "{}  {}{who} {}{}{}{extra}\n    {}\n",
            self.kernel_head(side, at),
            self.t("socket state", "套接字状态"),
            self.style.strong(k.state),
            if gloss.is_empty() { "" } else { sep },
            gloss,
            self.style.dim(&source)
        )
    }

    /// When a kernel state began, and how we know.
    fn kernel_source(&self, k: &Observation) -> (synack_engine::Instant, String) {
        let when = clock(k.at).trim().to_string();
        match k.cause {
            ObsCause::Frame(i) => {
                let at = self.trace.link.get(i).map_or(k.at, |r| r.sent_at);
                let what = match self.lang {
                    Lang::En => format!(
                        "reported by the kernel (sock_diag, {when}) right after frame {} crossed the device",
                        i + 1
                    ),
                    Lang::Zh => format!(
                        "内核报告（sock_diag，{when}），紧接在第 {} 帧经过设备之后",
                        i + 1
                    ),
                };
                (at, what)
            }
            ObsCause::Call(c) => (
                k.at,
                match self.lang {
                    Lang::En => format!(
                        "reported by the kernel (sock_diag) right after the application's {c}"
                    ),
                    Lang::Zh => format!("内核报告（sock_diag），紧接在应用调用 {c} 之后"),
                },
            ),
            ObsCause::Poll { since } => (
                k.at,
                match self.lang {
                    Lang::En => format!(
                        "reported by the kernel (sock_diag); it changed between {} and {when}",
                        clock(since).trim()
                    ),
                    Lang::Zh => format!(
                        "内核报告（sock_diag）；变化发生在 {} 与 {when} 之间",
                        clock(since).trim()
                    ),
                },
            ),
        }
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
            if let Some(backlog) = self.trace.syn_backlog {
                let _ = write!(
                    out,
                    "   [{} {}/{}]",
                    self.t("SYN queue", "半连接队列"),
                    self.syn_queue,
                    backlog
                );
            }
        }
        out.push('\n');
        let _ = writeln!(out, "    {}", self.cause(side, &step.cause));
        for step in group {
            if matches!(
                step.action,
                Action::Note(synack_engine::Note::SynCookieSent { .. })
            ) {
                self.cookie_pending = true;
            }
            if let Some(check) = &step.check {
                let _ = writeln!(out, "    {}", self.check(check));
            }
            let _ = writeln!(out, "    {}", self.action(step));
            let line = if self.first(format!("rule {}", step.rule.id())) {
                format!(
                    "{} {}{}{}{}{}{}",
                    self.t("rule", "规则"),
                    step.rule.id(),
                    self.t(": ", "："),
                    rule_summary(step.rule, self.lang),
                    self.parens().0,
                    step.rule.source(),
                    self.parens().1
                )
            } else {
                format!("{} {}", self.t("rule", "规则"), step.rule.id())
            };
            let _ = writeln!(out, "      {}", self.style.dim(&line));
        }
        if let Cause::Received(seg) = &step.cause {
            self.received(*seg);
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
            Cause::Icmp(i) => match self.lang {
                Lang::En => format!(
                    "receives ICMP{} destination unreachable, code {} ({}), from {}, quoting its segment {} → {} seq={}",
                    if i.v6 { "v6" } else { "" },
                    i.code,
                    crate::words::unreachable(i.reason, self.lang),
                    i.from,
                    i.quoted.local,
                    i.quoted.remote,
                    i.quoted_seq.get()
                ),
                Lang::Zh => format!(
                    "收到 ICMP{} 目的不可达，代码 {}（{}），来自 {}，引用了它的报文段 {} → {} seq={}",
                    if i.v6 { "v6" } else { "" },
                    i.code,
                    crate::words::unreachable(i.reason, self.lang),
                    i.from,
                    i.quoted.local,
                    i.quoted.remote,
                    i.quoted_seq.get()
                ),
            },
            Cause::Timer(TimerKind::Retransmit) => self
                .t(
                    "its retransmission timer expires: nothing acknowledged what it sent",
                    "重传定时器超时：发出的报文段没有得到确认",
                )
                .into(),
            Cause::Timer(TimerKind::DelayedAck) => self
                .t(
                    "the delayed ACK's timer expires: nothing of its own came to carry the ACK of the FIN",
                    "延迟确认定时器到期：没有自己的报文段可以捎带对 FIN 的确认",
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
        let opts = self.option_words(s);
        if !opts.is_empty() {
            let key = format!(
                "options {} {} {} {} {} {} {:?}",
                s.src, s.dst, s.flags.0, s.seq, s.ack, s.payload_len, s.options
            );
            if self.first(key) {
                let sep = self.t(", ", "，");
                let _ = write!(t, " {}{}", self.t("options: ", "选项："), opts.join(sep));
            } else {
                let _ = write!(t, " {}", self.t("(options as above)", "（选项同上）"));
            }
        }
        t
    }

    /// The segment's options in words, in a fixed order.
    fn option_words(&self, s: &SegInfo) -> Vec<String> {
        let o = &s.options;
        let mut opts = Vec::new();
        if let Some(m) = o.mss {
            opts.push(format!("MSS {m}"));
        }
        if o.sack_permitted {
            opts.push(self.t("SACK permitted", "允许 SACK").into());
        }
        if let Some(blocks) = &o.sack {
            let list: Vec<String> = blocks
                .as_slice()
                .iter()
                .map(|(l, r)| format!("{l}-{r}"))
                .collect();
            // A first block below the ack reports a duplicate (RFC 2883).
            let dsack = blocks
                .as_slice()
                .first()
                .is_some_and(|&(l, _)| s.flags.ack() && synack_wire::SeqNum(l) < s.ack);
            opts.push(format!(
                "{} {}{}",
                self.t("SACK blocks", "SACK 块"),
                list.join(" "),
                if dsack { " (D-SACK)" } else { "" }
            ));
        }
        if let Some((v, e)) = o.timestamps {
            opts.push(format!(
                "{} TSval={v} TSecr={e}",
                self.t("timestamps", "时间戳")
            ));
        }
        if let Some(w) = o.window_scale {
            let mult = 1u32 << w.min(14);
            opts.push(match self.lang {
                Lang::En => format!("window scale {w} (×{mult})"),
                Lang::Zh => format!("窗口扩大（移位数 {w}，×{mult}）"),
            });
        }
        if let Some(c) = o.fast_open {
            opts.push(if c.is_request() {
                self.t("TFO cookie request", "TFO cookie 请求").into()
            } else {
                let hex: String = c.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
                format!("{} {hex}", self.t("Fast Open cookie", "TFO cookie"))
            });
        }
        opts
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
            Check::IcmpInFlight {
                una,
                seq,
                nxt,
                ok: good,
            } => match self.lang {
                Lang::En => format!(
                    "check (RFC 5927): the quoted sequence number is in flight, SND.UNA ≤ seq < SND.NXT → {una} ≤ {seq} < {nxt}: {}",
                    ok(good)
                ),
                Lang::Zh => format!(
                    "检查（RFC 5927）：引用的序列号在途中，即 SND.UNA ≤ seq < SND.NXT → {una} ≤ {seq} < {nxt}：{}",
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
                Lang::Zh => format!("{arrow} 窗口扩大移位数 {from} 超过 14：按 14 处理"),
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
                let said = match self.lang {
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
                };
                if self.first(said.clone()) {
                    said
                } else {
                    format!(
                        "{arrow} {}",
                        self.t("options agreed as above", "协商结果同上")
                    )
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
                "不确认 SYN 携带的数据（未启用 TFO）",
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
            DropReason::IcmpNotInFlight => l.t(
                "ignores it: the sequence number it quotes is not in flight (it could be forged)",
                "忽略：它引用的序列号不在途中（可能是伪造的）",
            ),
            DropReason::IcmpIgnored => l.t(
                "ignores it: path MTU discovery is not done here",
                "忽略：这里不做路径 MTU 发现",
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
            CloseReason::Unreachable(_) => l.t(
                "gives up the open on a hard error and deletes the connection",
                "遇到硬错误，放弃建立连接，删除连接",
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
            Event::Unreachable => l.t(
                "tells the application: the destination is unreachable (connect() fails)",
                "通知应用：目的不可达（connect() 失败）",
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
            self.received(*seg);
        }
        match fate {
            Some(Fate::Dropped { .. }) if self.rejected(seg) => {
                let msg = self.t(
                    "✕ rejected: a firewall at the far end answers it with an ICMP error instead",
                    "✕ 被拒绝：对端的防火墙改用 ICMP 错误回答它",
                );
                let _ = writeln!(out, "    {}", self.style.bad(msg));
            }
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

    /// Where the ISN on this SYN came from, as far as the trace knows.
    fn isn_line(&mut self, side: Side, seg: &SegInfo) -> String {
        let me = side_name(side, self.lang);
        let n = seg.seq;
        let kernel = timeline::kernel_side(self.trace) == Some(side);
        let cookie = if kernel {
            seg.flags.ack()
                && matches!(self.trace.peer, synack_trace::Peer::Linux { .. })
                && !synack_trace::Findings::new(self.trace).kernel_half_open(seg.dst)
        } else {
            std::mem::take(&mut self.cookie_pending)
        };
        if cookie {
            return match (self.lang, kernel) {
                (Lang::En, true) => format!(
                    "seq = {n} is a SYN cookie: the kernel kept no SYN_RECV socket for this SYN (sock_diag showed none); the ISS encodes the 4-tuple, a minute counter and the MSS"
                ),
                (Lang::Zh, true) => format!(
                    "seq = {n} 是 SYN cookie：内核没有为这个 SYN 保留 SYN_RECV 套接字（sock_diag 中没有）；这个初始序列号编码了四元组、分钟计数和 MSS"
                ),
                (Lang::En, false) => {
                    format!("seq = {n} is the {me}'s SYN cookie (see above), not a stored ISN")
                }
                (Lang::Zh, false) => {
                    format!("seq = {n} 是{me}的 SYN cookie（见上），不是保存下来的 ISN")
                }
            };
        }
        let i = idx(side);
        if !self.first(format!("isn {i} {:?}", self.trace.isn.get(i))) {
            return match self.lang {
                Lang::En => format!(
                    "seq = {n} is the {me}'s initial sequence number (ISN), made as told above"
                ),
                Lang::Zh => format!("seq = {n} 是{me}的初始序列号 ISN，生成方式同上"),
            };
        }
        match (self.trace.isn.get(i).copied(), self.lang) {
            (Some(synack_trace::IsnOrigin::Fixed), Lang::En) => format!(
                "seq = {n} is the {me}'s initial sequence number (ISN), fixed with --isn (normally RFC 6528 picks an unpredictable one)"
            ),
            (Some(synack_trace::IsnOrigin::Fixed), Lang::Zh) => {
                format!(
                    "seq = {n} 是{me}的初始序列号 ISN，由 --isn 指定（平常由 RFC 6528 生成，无法预测）"
                )
            }
            (Some(synack_trace::IsnOrigin::Rfc6528 { fresh_key: true }), Lang::En) => format!(
                "seq = {n} is the {me}'s initial sequence number (ISN): RFC 6528 derives it from a 4 µs clock plus a keyed hash of the addresses and ports, with a key made fresh for this run, so it is unpredictable"
            ),
            (Some(synack_trace::IsnOrigin::Rfc6528 { fresh_key: true }), Lang::Zh) => format!(
                "seq = {n} 是{me}的初始序列号 ISN：按 RFC 6528 由 4 微秒时钟加上地址和端口的带密钥哈希得出，密钥每次运行重新生成，无法预测"
            ),
            (Some(synack_trace::IsnOrigin::Rfc6528 { fresh_key: false }), Lang::En) => format!(
                "seq = {n} is the {me}'s initial sequence number (ISN): RFC 6528 (4 µs clock plus a keyed hash of the addresses and ports) under the fixed key of --seed, so it is reproducible rather than secret"
            ),
            (Some(synack_trace::IsnOrigin::Rfc6528 { fresh_key: false }), Lang::Zh) => format!(
                "seq = {n} 是{me}的初始序列号 ISN：按 RFC 6528（4 微秒时钟加地址和端口的带密钥哈希）生成，但密钥由 --seed 固定，所以可重现而不保密"
            ),
            (Some(synack_trace::IsnOrigin::Linux), Lang::En) => format!(
                "seq = {n} is the {me}'s initial sequence number (ISN), the Linux kernel's own choice: a keyed SipHash of the addresses and ports plus a clock of 64 ns ticks"
            ),
            (Some(synack_trace::IsnOrigin::Linux), Lang::Zh) => format!(
                "seq = {n} 是{me}的初始序列号 ISN，由 Linux 内核自己选择：地址和端口的带密钥 SipHash 加上每 64 纳秒一格的时钟"
            ),
            (_, Lang::En) => {
                format!("seq = {n} is the {me}'s initial sequence number (ISN), chosen by the peer")
            }
            (_, Lang::Zh) => format!("seq = {n} 是{me}的初始序列号 ISN，由对端选择"),
        }
    }

    /// The ack of a SYN-ACK, from the SYN it answers on the same connection.
    fn synack_ack_line(&self, side: Side, seg: &SegInfo) -> String {
        let peer = side_name(side.other(), self.lang);
        let ack = seg.ack;
        let Some(rx) = self.rx_for(seg).filter(|r| r.flags.syn()) else {
            return match self.lang {
                Lang::En => {
                    format!("ack = {ack}: the next sequence number expected from the {peer}")
                }
                Lang::Zh => format!("ack = {ack}：期望{peer}发送的下一个序列号"),
            };
        };
        let isn = rx.seq;
        let data = rx.payload_len;
        if data > 0 && isn.add(1 + data) == ack {
            return match self.lang {
                Lang::En => format!(
                    "ack = {ack} = {peer} ISN {isn} + 1 + {data} bytes: the SYN and the data it carried are both acknowledged"
                ),
                Lang::Zh => format!(
                    "ack = {ack} = {peer} ISN {isn} + 1 + {data} 字节：SYN 和它携带的数据都被确认"
                ),
            };
        }
        if isn.add(1) == ack {
            let held = if data > 0 {
                self.t(
                    " (the SYN's data is not acknowledged yet)",
                    "（SYN 携带的数据尚未被确认）",
                )
            } else {
                ""
            };
            let fact = format!("ack = {ack} = {peer} ISN {isn} + 1");
            let why = self.t(
                ", because a SYN consumes one sequence number",
                "，因为 SYN 占用一个序列号",
            );
            return self.once("why syn+1", fact, why) + held;
        }
        match self.lang {
            Lang::En => format!("ack = {ack}, not the SYN's seq {isn} + 1"),
            Lang::Zh => format!("ack = {ack}，不是 SYN 的 seq {isn} + 1"),
        }
    }

    /// The arithmetic behind a transmitted segment's numbers.
    fn arithmetic(&mut self, side: Side, v: &synack_engine::TcbVars, seg: &SegInfo) -> Vec<String> {
        let f = seg.flags;
        if f.rst() {
            return self.rst_line(v, seg).into_iter().collect();
        }
        if f.syn() {
            return self.syn_lines(side, seg);
        }
        if !f.ack() {
            return Vec::new();
        }
        let mut lines = vec![self.seq_line(v, seg)];
        lines.extend(self.ack_line(side, seg));
        if !self.flag_vs_field_told && self.ack_note_true {
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

    /// Where a RST's seq (and ack) come from; nothing for a RST+ACK with
    /// seq 0 whose cause was not seen.
    fn rst_line(&self, v: &synack_engine::TcbVars, seg: &SegInfo) -> Option<String> {
        let rx = self.rx_for(seg);
        if seg.flags.ack() && seg.seq.get() == 0 {
            let rx = rx?;
            return Some(match self.lang {
                Lang::En => format!(
                    "seq = 0 and ack = {} = the segment's seq {} + SEG.LEN {}: a segment without ACK is answered this way",
                    seg.ack,
                    rx.seq,
                    rx.seg_len()
                ),
                Lang::Zh => format!(
                    "seq = 0，ack = {} = 对方报文段的 seq {} + SEG.LEN {}：对不带 ACK 的报文段就这样回复",
                    seg.ack,
                    rx.seq,
                    rx.seg_len()
                ),
            });
        }
        if rx.is_some_and(|rx| rx.flags.ack() && rx.ack == seg.seq) && v.state != State::Established
        {
            let fact = match self.lang {
                Lang::En => format!(
                    "seq = {} = the ack field of the segment it answers",
                    seg.seq
                ),
                Lang::Zh => format!("seq = {} = 所回复报文段的确认号", seg.seq),
            };
            let why = self.t(
                ", so the receiver can match it to its own SND.NXT",
                "，对方据此与自己的 SND.NXT 对上",
            );
            return Some(self.once("why rst seq", fact, why));
        }
        Some(format!("seq = SND.NXT = {}", seg.seq))
    }

    /// A SYN or SYN-ACK: a retransmission, or its ISN and ack.
    fn syn_lines(&mut self, side: Side, seg: &SegInfo) -> Vec<String> {
        let f = seg.flags;
        let key = (side, seg.seq.get(), seg.src.port(), seg.dst.port(), f.ack());
        if self.syn_sent.contains(&key) {
            return vec![match self.lang {
                Lang::En => format!(
                    "the same {} again, seq = ISN {} unchanged: a retransmission never picks a new ISN",
                    flag_words(f),
                    seg.seq
                ),
                Lang::Zh => format!(
                    "又是同一个 {}，seq 仍是 ISN {}：重传不会换新的 ISN",
                    flag_words(f),
                    seg.seq
                ),
            }];
        }
        self.syn_sent.push(key);
        if f.ack() {
            let ack = self.synack_ack_line(side, seg);
            return vec![self.isn_line(side, seg), ack];
        }
        let mut v = vec![self.isn_line(side, seg)];
        if self.first("ack flag off".into()) {
            v.push(
                self.t(
                    "the ACK flag is off, so the ack field carries nothing yet: there is nothing to acknowledge",
                    "ACK 标志位为 0，确认号字段还没有意义：此时没有什么可确认的",
                )
                .into(),
            );
        }
        v
    }

    /// Where a synchronized segment's seq comes from.
    fn seq_line(&self, v: &synack_engine::TcbVars, seg: &SegInfo) -> String {
        let after_syn = seg.seq == v.iss.add(1) && (seg.flags.fin() || seg.payload_len == 0);
        if after_syn {
            let fact = format!("seq = {} = ISN {} + 1", seg.seq, v.iss);
            let why = match self.lang {
                Lang::En => format!(": the SYN used up sequence number {}", v.iss),
                Lang::Zh => format!("：序列号 {} 已被 SYN 占用", v.iss),
            };
            return self.once("why iss+1", fact, &why);
        }
        let fact = format!("seq = SND.NXT = {}", seg.seq);
        let why = self.t(
            ": the next byte this side sends",
            "：本方要发送的下一个字节",
        );
        self.once("why snd.nxt", fact, why)
    }

    /// Where a synchronized segment's ack comes from: the last segment
    /// received on its connection.
    fn ack_line(&self, side: Side, seg: &SegInfo) -> Option<String> {
        let me = side_name(side, self.lang);
        let peer = side_name(side.other(), self.lang);
        let rx = self.rx_for(seg)?;
        if rx.seq.add(rx.seg_len()) != seg.ack || rx.seg_len() == 0 {
            let why = self.t(": everything before it has arrived", "：之前的字节都已收到");
            return Some(self.once("why rcv.nxt", format!("ack = RCV.NXT = {}", seg.ack), why));
        }
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
        let parts = parts.join(" + ");
        let (fact, why) = match self.lang {
            Lang::En => (
                format!(
                    "ack = {} = {peer}'s seq {} + {} ({parts})",
                    seg.ack,
                    rx.seq,
                    rx.seg_len()
                ),
                format!(": the next sequence number the {me} expects"),
            ),
            Lang::Zh => (
                format!(
                    "ack = {} = {peer}的 seq {} + {}（{parts}）",
                    seg.ack,
                    rx.seq,
                    rx.seg_len()
                ),
                format!("：{me}期望收到的下一个序列号"),
            ),
        };
        Some(self.once(&format!("why ack {me}"), fact, &why))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn empty_trace() -> Trace {
        Trace {
            scenario: "test",
            profile: synack_trace::Profile::Rfc,
            peer: synack_trace::Peer::Sim,
            started_at: std::time::SystemTime::UNIX_EPOCH,
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:80".parse().unwrap(),
            delay: std::time::Duration::ZERO,
            steps: Vec::new(),
            link: Vec::new(),
            events: Vec::new(),
            kernel: Vec::new(),
            settings: Vec::new(),
            initial: [State::Closed, State::Listen],
            isn: [synack_trace::IsnOrigin::Fixed; 2],
            syn_backlog: None,
            end: synack_engine::Instant::ZERO,
        }
    }

    fn ack_with_sack(ack: u32, blocks: &[(u32, u32)]) -> SegInfo {
        let t = empty_trace();
        SegInfo {
            src: t.server,
            dst: t.client,
            seq: synack_wire::SeqNum(5001),
            ack: synack_wire::SeqNum(ack),
            flags: TcpFlags::ACK,
            window: 501,
            payload_len: 0,
            options: synack_wire::TcpOptions {
                sack: synack_wire::SackBlocks::new(blocks),
                ..Default::default()
            },
        }
    }

    #[test]
    fn sack_blocks_are_shown_and_a_duplicate_is_named() {
        let t = empty_trace();
        let n = Narrator::new(&t, Lang::En, Style::PLAIN);
        // A block below the ack reports data received twice (RFC 2883).
        let d = n.segment(&ack_with_sack(2000, &[(1000, 1001)]), Side::B);
        assert!(d.contains("SACK blocks 1000-1001 (D-SACK)"), "{d}");
        // A block above it is an ordinary SACK.
        let s = n.segment(&ack_with_sack(2000, &[(3000, 3100)]), Side::B);
        assert!(
            s.contains("SACK blocks 3000-3100") && !s.contains("D-SACK"),
            "{s}"
        );
    }
}
