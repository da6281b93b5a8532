//! `synack probe HOST:PORT`: tcping's loop with nmap's verdicts, and with
//! the right to capture, the probe's own handshake narrated.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use synack_explain::Lang;
use synack_live::probe::{Captured, Probe, ProbeConfig, Prober, Verdict, now_ns};
use synack_live::rtt::{RttSummary, summarize};
use synack_live::{duration, interrupted, on_interrupt};

use crate::explain::LangArg;
use crate::report;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  synack probe 192.0.2.1:80                  four probes, a line each, then a summary
  synack probe -c 1 -t 500ms 192.0.2.1:81    one probe, half a second to answer
  synack probe -v -c 1 192.0.2.1:80          as root: the probe's own handshake, step by step
  synack probe -c 2 --format jsonl 192.0.2.1:80   a record per probe, then the summary
  synack probe --lang zh -c 1 192.0.2.1:80   in Chinese

Verdicts in nmap's words: open (syn-ack), closed (reset, with the RST's TTL when captured),
filtered (no-response, admin-prohibited, host-unreach, net-unreach, port-unreach, …, with the
ICMP error's sender), error (no SYN left this host: no-route, local-error).
Without privilege a probe is the kernel's connect(): its time, the kernel's own RTT (TCP_INFO) and
the ICMP error the kernel passed on (IP_RECVERR, with its sender). As root or with CAP_NET_RAW
the probe also captures its frames (libpcap on `any`): the RTT on the wire, the RST's TTL, and
with -v every segment checked as `synack analyze -v` checks it.

Exit status (ping's): 0 at least one handshake, 1 none, 2 an error (bad arguments, a name that
does not resolve).")]
pub struct Args {
    /// HOST:PORT, or HOST PORT (`[2001:db8::1]:443` for IPv6 addresses);
    /// names are resolved once.
    target: String,
    /// The port, when TARGET is a host alone (`synack probe db01 5432`).
    port: Option<u16>,
    /// Probes to send (0: until Ctrl-C).
    #[arg(short = 'c', long, default_value_t = 4)]
    count: u64,
    /// Time between probes (500ms, 1s, 0.2).
    #[arg(short = 'i', long, default_value = "1s", value_parser = duration::parse)]
    interval: Duration,
    /// How long a probe waits for an answer.
    #[arg(short = 't', long, default_value = "2s", value_parser = duration::parse)]
    timeout: Duration,
    /// IPv4 addresses only.
    #[arg(short = '4', conflicts_with = "v6")]
    v4: bool,
    /// IPv6 addresses only.
    #[arg(short = '6')]
    v6: bool,
    /// Narrate each probe's captured handshake, every step and check.
    #[arg(short, long)]
    verbose: bool,
    /// Do not capture even when allowed (only the socket's view).
    #[arg(long)]
    no_capture: bool,
    /// Write the captured frames of every probe to a pcap file.
    #[arg(long, value_name = "FILE", conflicts_with = "no_capture")]
    pcap: Option<std::path::PathBuf>,
    /// `text` (a line per probe, then the summary), `jsonl` (a record per
    /// probe, then the summary) or `json` (one document); see
    /// docs/probe-json.md.
    #[arg(long, value_enum, default_value_t = Fmt::Text)]
    format: Fmt,
    /// Language of the text (default: from LC_ALL/LC_MESSAGES/LANG).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Fmt {
    Text,
    Json,
    Jsonl,
}

/// The address to probe, from `HOST:PORT` or `HOST` and `PORT`.
fn resolve(args: &Args) -> Result<SocketAddr, String> {
    let found: Vec<SocketAddr> = match args.port {
        Some(p) => (args.target.trim_matches(['[', ']']), p).to_socket_addrs(),
        None => args.target.to_socket_addrs(),
    }
    .map_err(|e| format!("{}: {e} (give HOST:PORT or HOST PORT)", args.target))?
    .collect();
    found
        .iter()
        .find(|a| (!args.v4 || a.is_ipv4()) && (!args.v6 || a.is_ipv6()))
        .copied()
        .ok_or_else(|| {
            format!(
                "{}: no {} address",
                args.target,
                if args.v6 { "IPv6" } else { "IPv4" }
            )
        })
}

fn ms(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.3} s", us / 1e6)
    } else {
        format!("{:.3} ms", us / 1000.0)
    }
}

/// A probe's line: number, time since the first probe, target, verdict,
/// reason, and what backs it; `open_before` is the last probe of this run
/// that got a handshake.
fn line(n: u64, p: &Probe, open_before: Option<u64>, since_ns: i64, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let state = match (p.state, zh) {
        (v, false) => v.name(),
        (Verdict::Open, true) => "开放",
        (Verdict::Closed, true) => "关闭",
        (Verdict::Filtered, true) => "被过滤",
        (Verdict::Error, true) => "出错",
    };
    let at = since_ns.max(0) as f64 / 1e9;
    let mut l = format!(
        "probe {n}  +{at:.3} s  {}  {state} ({})",
        p.target, p.reason
    );
    if zh {
        l = format!(
            "探测 {n}  +{at:.3} s  {}  {state}（{}）",
            p.target, p.reason
        );
    }
    l.push_str(&evidence(p, zh));
    if let (Some(k), "no-response") = (open_before, p.reason) {
        l.push_str(&if zh {
            format!("\n  注意：本次运行的第 {k} 次探测与该端口完成了握手；全连接队列已满的监听者（Linux）会不作回答地丢弃 SYN，SYN 限速也会如此")
        } else {
            format!("\n  note: probe {k} of this run completed a handshake with this port; a listener whose accept queue is full drops SYNs without answering (Linux), as a SYN rate limit does")
        });
    }
    if let Some(d) = &p.disagreement {
        l.push_str(if zh { "\n  注意：" } else { "\n  note: " });
        l.push_str(d);
    }
    l
}

/// What the verdict rests on, in the line's language.
fn evidence(p: &Probe, zh: bool) -> String {
    let src = |s: &str| match (s, zh) {
        ("wire", false) => "on the wire",
        ("wire", true) => "线上实测",
        ("kernel", false) => "the kernel's TCP_INFO",
        ("kernel", true) => "内核 TCP_INFO",
        (_, false) => "connect() time",
        (_, true) => "connect() 用时",
    };
    let mut e = String::new();
    if let Some((us, from)) = p.rtt_us() {
        e += &format!("  rtt {} ({})", ms(us), src(from));
    }
    if let Some(t) = p.rst_ttl {
        e += &if zh {
            format!("，RST 的 TTL {t}")
        } else {
            format!(", RST TTL {t}")
        };
    }
    if let Some(i) = &p.icmp {
        e += &icmp_text(p, i, zh);
    }
    if p.state == Verdict::Filtered && p.icmp.is_none() {
        e += &if zh {
            format!("  {} 内无应答", ms(p.connect_us))
        } else {
            format!("  nothing came back in {}", ms(p.connect_us))
        };
    }
    if let Some(n) = p.syn_retransmissions.filter(|n| *n > 0) {
        e += &if zh {
            format!("，SYN 重传 {n} 次")
        } else {
            format!(", SYN sent again {n}×")
        };
    }
    if let Some(err) = &p.error.as_ref().filter(|_| p.state == Verdict::Error) {
        e += &if zh {
            format!("  {err}：没有 SYN 发出")
        } else {
            format!("  {err}: no SYN left this host")
        };
    }
    e
}

/// The ICMP error and its sender, in the line's language.
fn icmp_text(p: &Probe, i: &synack_live::probe::IcmpReport, zh: bool) -> String {
    let unknown = if zh { "未知" } else { "unknown" };
    let from = i
        .from
        .map_or_else(|| unknown.to_string(), |a| a.to_string());
    let kind = if i.v6 { "ICMPv6" } else { "ICMP" };
    let (t, c, after) = (i.icmp_type, i.code, ms(p.connect_us));
    if zh {
        format!("  {after} 后 {from} 发来 {kind} 类型 {t} 代码 {c}")
    } else {
        format!("  from {from}: {kind} type {t} code {c}, after {after}")
    }
}

/// The run so far.
#[derive(Default, serde::Serialize)]
struct Summary {
    target: String,
    sent: u64,
    /// Probes that got any answer: a SYN-ACK, a RST or an ICMP error.
    answered: u64,
    open: u64,
    closed: u64,
    filtered: u64,
    errors: u64,
    /// Probes without a handshake, in % of those sent.
    loss_pct: f64,
    /// Over the handshakes (open), µs.
    rtt: Option<RttSummary>,
    #[serde(skip)]
    rtts: Vec<f64>,
}

impl Summary {
    fn add(&mut self, p: &Probe) {
        self.sent += 1;
        if matches!(p.state, Verdict::Open | Verdict::Closed) || p.icmp.is_some() {
            self.answered += 1;
        }
        match p.state {
            Verdict::Open => self.open += 1,
            Verdict::Closed => self.closed += 1,
            Verdict::Filtered => self.filtered += 1,
            Verdict::Error => self.errors += 1,
        }
        if let (Verdict::Open, Some((us, _))) = (p.state, p.rtt_us()) {
            self.rtts.push(us);
        }
        self.rtt = summarize(&self.rtts);
        self.loss_pct = if self.sent == 0 {
            0.0
        } else {
            100.0 * (self.sent - self.open) as f64 / self.sent as f64
        };
    }

    fn text(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        let Summary {
            target: t,
            sent: n,
            answered: a,
            open: o,
            closed: c,
            filtered: f,
            errors: e,
            loss_pct: l,
            ..
        } = self;
        let mut s = if zh {
            format!(
                "--- {t} 探测统计 ---\n发出 {n} 次，有应答 {a}：开放 {o}，关闭 {c}，被过滤 {f}，出错 {e}；{l:.1}% 未完成握手\n"
            )
        } else {
            let probes = if *n == 1 { "probe" } else { "probes" };
            format!(
                "--- {t} probe statistics ---\n{n} {probes}, {a} answered: {o} open, {c} closed, {f} filtered, {e} errors; {l:.1}% without a handshake\n"
            )
        };
        match &self.rtt {
            Some(r) => {
                s += &format!(
                    "rtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms, p50 {:.3} ms, p90 {:.3} ms\n",
                    r.min_us / 1e3,
                    r.avg_us / 1e3,
                    r.max_us / 1e3,
                    r.mdev_us / 1e3,
                    r.p50_us / 1e3,
                    r.p90_us / 1e3
                )
            }
            None => {
                s += if zh {
                    "rtt 未知：没有完成的握手\n"
                } else {
                    "rtt unknown: no handshake completed\n"
                }
            }
        }
        s
    }
}

#[derive(serde::Serialize)]
struct Record<'a, T: serde::Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    item: &'a T,
}

/// Where each probe goes as it ends.
struct Out<'a> {
    args: &'a Args,
    lang: Lang,
    out: Box<dyn Write + 'a>,
    pcap: Option<synack_live::pcap_out::PcapOut<std::io::BufWriter<std::fs::File>>>,
    probes: Vec<serde_json::Value>,
    /// When the first probe's SYN was asked for (ns since the epoch).
    first_ns: Option<i64>,
}

/// Why output stopped: the reader went away (`| head`), or an error.
enum Stop {
    ClosedPipe,
    Failed(String),
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Stop {
        match e.kind() {
            std::io::ErrorKind::BrokenPipe => Stop::ClosedPipe,
            _ => Stop::Failed(e.to_string()),
        }
    }
}

impl From<serde_json::Error> for Stop {
    fn from(e: serde_json::Error) -> Stop {
        match e.io_error_kind() {
            Some(k) => std::io::Error::from(k).into(),
            None => Stop::Failed(e.to_string()),
        }
    }
}

impl Out<'_> {
    fn probe(&mut self, n: u64, p: &Probe, open_before: Option<u64>) -> Result<(), Stop> {
        self.frames(p).map_err(Stop::Failed)?;
        match self.args.format {
            Fmt::Text => {
                let first = *self.first_ns.get_or_insert(p.time_ns);
                let l = line(n, p, open_before, p.time_ns - first, self.lang);
                writeln!(self.out, "{l}")?;
                if self.args.verbose {
                    self.narrate(n, p)?;
                }
            }
            Fmt::Jsonl => {
                let item = with_attempt(p, open_before);
                let r = Record {
                    kind: "probe",
                    item: &item,
                };
                serde_json::to_writer(&mut self.out, &r)?;
                writeln!(self.out)?;
            }
            Fmt::Json => self.probes.push(with_attempt(p, open_before)),
        }
        Ok(self.out.flush()?)
    }

    fn narrate(&mut self, n: u64, p: &Probe) -> std::io::Result<()> {
        match (&p.attempt, &p.captured) {
            (Some(a), _) => write!(self.out, "{}", report::attempt(n, a, true, self.lang)),
            (None, Captured::Unavailable(why)) => writeln!(self.out, "  (no capture: {why})"),
            (None, _) => writeln!(self.out, "  (no frames of this probe were captured)"),
        }
    }

    fn frames(&mut self, p: &Probe) -> Result<(), String> {
        let Some(path) = &self.args.pcap else {
            return Ok(());
        };
        if let Captured::Unavailable(why) = &p.captured {
            return Err(format!("--pcap needs a capture: {why}"));
        }
        let at = |e: std::io::Error| format!("{}: {e}", path.display());
        if self.pcap.is_none() {
            let f = std::fs::File::create(path).map_err(at)?;
            let w = synack_live::pcap_out::PcapOut::new(std::io::BufWriter::new(f), p.linktype);
            self.pcap = Some(w.map_err(at)?);
        }
        if let Some(w) = self.pcap.as_mut() {
            for f in &p.frames {
                w.frame(f.ts_ns, &f.data, f.wire_len).map_err(at)?;
            }
        }
        Ok(())
    }

    fn summary(&mut self, s: &Summary) -> Result<(), Stop> {
        match self.args.format {
            Fmt::Text => write!(self.out, "\n{}", s.text(self.lang))?,
            Fmt::Jsonl => {
                serde_json::to_writer(
                    &mut self.out,
                    &Record {
                        kind: "summary",
                        item: s,
                    },
                )?;
                writeln!(self.out)?;
            }
            Fmt::Json => {
                let doc = serde_json::json!({"schema": "synack.probe/1", "probes": self.probes, "summary": s});
                writeln!(self.out, "{doc}")?;
            }
        }
        Ok(self.out.flush()?)
    }
}

/// A probe's JSON, with the captured attempt as `synack analyze` writes it
/// and the last earlier probe that got a handshake.
fn with_attempt(p: &Probe, open_before: Option<u64>) -> serde_json::Value {
    let mut v = serde_json::to_value(p).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("open_before".into(), open_before.into());
        if let Some(a) = &p.attempt {
            o.insert(
                "attempt".into(),
                serde_json::to_value(a).unwrap_or_default(),
            );
        }
    }
    v
}

/// Sleep `d`, or less if Ctrl-C comes.
fn pause(d: Duration) {
    let until = Instant::now() + d;
    while !interrupted() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// Returns the exit code.
pub fn run(args: &Args) -> Result<u8, String> {
    let target = resolve(args)?;
    let lang = LangArg::or_env(args.lang);
    on_interrupt();
    let mut prober = Prober::new(ProbeConfig {
        timeout: args.timeout,
        capture: !args.no_capture,
    });
    let stdout = std::io::stdout();
    let mut out = Out {
        args,
        lang,
        out: Box::new(stdout.lock()),
        pcap: None,
        probes: Vec::new(),
        first_ns: None,
    };
    let mut sum = Summary {
        target: target.to_string(),
        ..Summary::default()
    };
    let (mut n, mut open_before, mut last_syn) = (0, None, 0);
    while (args.count == 0 || n < args.count) && !interrupted() {
        // As ping's: the interval runs from one SYN to the next.
        if n > 0 {
            let since = Duration::from_nanos(u64::try_from(now_ns() - last_syn).unwrap_or(0));
            pause(args.interval.saturating_sub(since));
        }
        let Some(p) = prober.probe(target).map_err(|e| e.to_string())? else {
            break;
        };
        last_syn = p.time_ns;
        n += 1;
        sum.add(&p);
        if let Err(e) = out.probe(n, &p, open_before) {
            return quiet_on_closed_pipe(e);
        }
        if p.state == Verdict::Open {
            open_before = Some(n);
        }
    }
    if let Err(e) = out.summary(&sum) {
        return quiet_on_closed_pipe(e);
    }
    Ok(if sum.open > 0 { 0 } else { 1 })
}

/// A reader that went away (`| head`) ends the run without an error.
fn quiet_on_closed_pipe(e: Stop) -> Result<u8, String> {
    match e {
        Stop::ClosedPipe => Ok(0),
        Stop::Failed(e) => Err(e),
    }
}
