//! `synack watch -i IFACE`: a live capture through the same tracker as
//! `synack analyze`, each attempt reported when it is over.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use synack_capture::reader::Frame;
use synack_capture::{Attempt, Live, Outcome, Stats, Totals};
use synack_explain::Lang;
use synack_live::pcap_out::PcapOut;
use synack_live::{Capture, duration, interrupted, on_interrupt};

use crate::explain::LangArg;
use crate::report;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  synack watch -i eth0                           each handshake as it ends, until Ctrl-C
  synack watch -i any -F 'tcp port 443'          tcpdump's filter language
  synack watch -i eth0 --format jsonl -w live.pcap   records as they come, and the packets kept
  synack watch -i eth0 -c 10 -v                  the first ten attempts, every step checked
  synack watch -i lo --for 2s                    two seconds, then the summary

An attempt is reported when it is over, as `synack analyze` decides it on a file: 2 s after its
close or reset (late segments still belong to it), after --idle of silence, when its ports are
reused, or at Ctrl-C (which also prints the summary: outcomes, RTT percentiles, diagnoses). The
same attempts come from `synack analyze --no-checksums` on the -w file, frame numbers included.
Checksums are not checked: the host's own segments are captured before the NIC fills them in.
Needs root or CAP_NET_RAW, and libpcap (tcpdump and tshark install it).

Exit status: 0 the capture ran, 2 it could not start (no such interface, no privilege).")]
pub struct Args {
    /// The interface (`any` for all).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    interface: String,
    /// A tcpdump filter expression; only TCP and ICMP errors matter, so
    /// `tcp or icmp or icmp6` is the default.
    #[arg(short = 'F', long = "bpf", value_name = "EXPR")]
    bpf: Option<String>,
    /// `text` (analyze's lines, the summary at the end) or `jsonl` (a
    /// record per attempt as it is reported, then the summary; see
    /// docs/probe-json.md).
    #[arg(long, value_enum, default_value_t = Fmt::Text)]
    format: Fmt,
    /// Also write every captured frame to a pcap file.
    #[arg(short = 'w', value_name = "FILE")]
    write: Option<std::path::PathBuf>,
    /// An attempt silent for this long is over (300s by default, zeek's
    /// and analyze's; shorter reports unanswered SYNs sooner but splits a
    /// connection idle for longer).
    #[arg(long, default_value = "300s", value_parser = duration::parse)]
    idle: Duration,
    /// Stop after this many attempts printed (the summary counts every
    /// attempt seen).
    #[arg(short = 'c', long, value_name = "N")]
    count: Option<u64>,
    /// Stop after this long.
    #[arg(long = "for", value_name = "DURATION", value_parser = duration::parse)]
    run_for: Option<Duration>,
    /// Attempts held at once; past this the oldest is reported, evicted.
    #[arg(long, value_name = "N", default_value_t = synack_capture::track::MAX_LIVE)]
    max_attempts: usize,
    /// Every step and every check of each attempt.
    #[arg(short, long)]
    verbose: bool,
    /// Language of the text (default: from LC_ALL/LC_MESSAGES/LANG).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// A progress line on stderr (`auto`: when it is a terminal).
    #[arg(long, value_enum, default_value_t = When::Auto)]
    progress: When,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Fmt {
    Text,
    Jsonl,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum When {
    Auto,
    Always,
    Never,
}

/// Where attempts go as they are reported, and what is counted.
struct Report<'a> {
    args: &'a Args,
    lang: Lang,
    out: std::io::StdoutLock<'static>,
    stats: Stats,
    reported: u64,
    failing: u64,
    error: Option<std::io::Error>,
}

impl Report<'_> {
    fn attempt(&mut self, a: Attempt) {
        self.reported += 1;
        if !matches!(a.outcome, Outcome::Established | Outcome::Closed) {
            self.failing += 1;
        }
        self.stats.add(&a);
        // Past -c the summary still counts them; they are not printed.
        if self.error.is_some() || self.args.count.is_some_and(|c| self.reported > c) {
            return;
        }
        let r = match self.args.format {
            Fmt::Text => self.out.write_all(
                report::attempt(self.reported, &a, self.args.verbose, self.lang).as_bytes(),
            ),
            Fmt::Jsonl => serde_json::to_writer(
                &mut self.out,
                &serde_json::json!({"interface": self.args.interface, "attempt": a}),
            )
            .map_err(std::io::Error::other)
            .and_then(|()| self.out.write_all(b"\n")),
        };
        self.error = r.and_then(|()| self.out.flush()).err();
    }

    fn done(&self) -> bool {
        self.error.is_some() || self.args.count.is_some_and(|c| self.reported >= c)
    }
}

/// tcpdump's names for the link types a capture on Linux gives.
fn link_name(linktype: i32) -> String {
    match linktype {
        1 => "Ethernet".into(),
        113 => "Linux cooked v1".into(),
        276 => "Linux cooked v2".into(),
        101 | 12 => "raw IP".into(),
        0 => "BSD loopback".into(),
        n => format!("link type {n}"),
    }
}

fn epoch_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The live capture and what follows every frame.
struct Watch {
    cap: Capture,
    live: Live,
    pcap: Option<PcapOut<std::io::BufWriter<std::fs::File>>>,
    frames: u64,
    bytes: u64,
    ended: Vec<Attempt>,
}

impl Watch {
    fn open(args: &Args) -> Result<Watch, String> {
        let expr = args.bpf.as_deref().unwrap_or("tcp or icmp or icmp6");
        let cap = Capture::open(&args.interface, expr, 64, 100).map_err(|e| e.to_string())?;
        let pcap = match &args.write {
            Some(p) => Some(
                std::fs::File::create(p)
                    .map(std::io::BufWriter::new)
                    .and_then(|f| PcapOut::new(f, cap.linktype()))
                    .map_err(|e| format!("{}: {e}", p.display()))?,
            ),
            None => None,
        };
        let live = Live::new(args.max_attempts)
            .idle_after(args.idle.as_secs_f64())
            .without_checksums();
        Ok(Watch {
            cap,
            live,
            pcap,
            frames: 0,
            bytes: 0,
            ended: Vec::new(),
        })
    }

    /// Read a frame (or wait for one) and track it; the attempts it ended
    /// are left in `ended`. Whether there was a frame.
    fn step(&mut self) -> Result<bool, String> {
        let linktype = self.cap.linktype();
        let ended = &mut self.ended;
        let mut keep = |a: &Attempt| ended.push(a.clone());
        match self.cap.next_frame().map_err(|e| e.to_string())? {
            Some(f) => {
                self.frames += 1;
                self.bytes += u64::from(f.wire_len);
                if let Some(w) = self.pcap.as_mut() {
                    w.frame(f.ts_ns, f.data, f.wire_len)
                        .map_err(|e| format!("-w: {e}"))?;
                }
                // Numbered as the -w file numbers them, so the reports agree.
                let frame = Frame {
                    number: self.frames,
                    ts: f.ts_ns as f64 / 1e9,
                    ts_ns: f.ts_ns,
                    interface: 0,
                    linktype,
                    data: f.data,
                    truncated: f.data.len() < f.wire_len as usize,
                    wire_len: f.wire_len,
                    end: 0,
                };
                self.live.frame(&frame, &mut keep);
                Ok(true)
            }
            None => {
                self.live.tick(epoch_now(), &mut keep);
                Ok(false)
            }
        }
    }
}

fn progress(args: &Args, w: &Watch, rep: &Report<'_>) {
    let share = if rep.reported == 0 {
        0.0
    } else {
        100.0 * rep.failing as f64 / rep.reported as f64
    };
    eprint!(
        "\r\x1b[Kwatching {}: {} frames, {} attempts reported ({} failing, {share:.1}%), {} in progress",
        args.interface,
        w.frames,
        rep.reported,
        rep.failing,
        w.live.held()
    );
}

/// Returns the exit code.
pub fn run(args: &Args) -> Result<u8, String> {
    let lang = LangArg::or_env(args.lang);
    let mut w = Watch::open(args)?;
    on_interrupt();
    // As tcpdump does: the capture is up from this line on.
    eprintln!(
        "synack: watching {} ({}), Ctrl-C for the summary",
        args.interface,
        link_name(w.cap.linktype())
    );
    let show = match args.progress {
        When::Always => true,
        When::Never => false,
        When::Auto => std::io::stderr().is_terminal(),
    };
    let mut rep = Report {
        args,
        lang,
        out: std::io::stdout().lock(),
        stats: Stats::default(),
        reported: 0,
        failing: 0,
        error: None,
    };
    let (start, mut shown) = (Instant::now(), Instant::now());
    while !interrupted() && args.run_for.is_none_or(|d| start.elapsed() < d) && !rep.done() {
        w.step()?;
        for a in w.ended.drain(..) {
            rep.attempt(a);
        }
        if show && shown.elapsed() >= Duration::from_secs(1) {
            shown = Instant::now();
            progress(args, &w, &rep);
        }
    }
    // Frames already captured when the run was stopped still count.
    w.cap.set_wait(0);
    while !rep.done() && w.step()? {
        for a in w.ended.drain(..) {
            rep.attempt(a);
        }
    }
    if show {
        eprint!("\r\x1b[K");
    }
    finish(w, rep, start.elapsed().as_secs_f64())
}

/// Everything still held reported, then the summary.
fn finish(w: Watch, mut rep: Report<'_>, secs: f64) -> Result<u8, String> {
    let stats = w.cap.stats();
    let (frames, bytes) = (w.frames, w.bytes);
    let mut rest = Vec::new();
    let mut totals: Totals = w.live.finish(&mut |a| rest.push(a.clone()));
    for a in rest {
        rep.attempt(a);
    }
    totals.summary.frames = frames;
    totals.summary.format = "live capture";
    let zh = rep.lang == Lang::Zh;
    let r = match rep.args.format {
        Fmt::Text => {
            let mut s = report::summary(
                &rep.args.interface,
                &totals,
                &rep.stats,
                rep.lang,
                bytes,
                secs,
            );
            s += &if zh {
                format!(
                    "libpcap：收到 {} 帧，内核丢弃 {}，接口丢弃 {}\n",
                    stats.received, stats.dropped, stats.interface_dropped
                )
            } else {
                format!(
                    "libpcap: {} frames received, {} dropped by the kernel, {} by the interface\n",
                    stats.received, stats.dropped, stats.interface_dropped
                )
            };
            if stats.dropped + stats.interface_dropped > 0 {
                s += if zh {
                    "警告：有帧丢失，上面的尝试可能不完整（结果、重传和诊断都可能有误）\n"
                } else {
                    "warning: frames were lost, so the attempts above may be incomplete (outcomes, retransmissions and diagnoses may be wrong)\n"
                };
            }
            rep.out.write_all(format!("\n{s}").as_bytes())
        }
        Fmt::Jsonl => {
            let v = serde_json::json!({"interface": rep.args.interface, "summary": rep.stats.to_json(), "frames": frames, "capture": stats});
            writeln!(rep.out, "{v}")
        }
    };
    match rep.error.or(r.err()) {
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(0),
    }
}
