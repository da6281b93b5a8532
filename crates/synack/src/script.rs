//! `synack script FILE.pkt…`: packetdrill scripts run against the Linux
//! kernel (a namespace of their own, over tun0) and against synack's
//! engine, each event narrated, pass/fail/unsupported per script and peer.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use synack_explain::Lang;
use synack_script::report::{Report, Verdict};
use synack_script::settings::Settings;
use synack_script::{Peers, compare, narrate};

use crate::explain::LangArg;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  synack script packetdrill/passive/open-v4.pkt                 the kernel listens; every event narrated
  synack script --peer engine packetdrill/passive/open-v4.pkt   the same script against synack's engine
  synack script --peer both --format jsonl packetdrill/passive/*.pkt   a record per script and peer
  synack script --lang zh packetdrill/active/refused.pkt         in Chinese

The language is packetdrill's: `<` packets are injected into the system under test, `>` packets
are expected from it, and calls run on its sockets, each at its time (`0.1`, `+0.1`, `*`,
`0.1~0.2`). The system's sequence numbers and TS values are relative, fixed by the first packet
it sends; the remote side's are used as written. The kernel runs as root, in a network namespace
made for the run: tun0 with 192.168.0.1 (fd3d:a0b:17d6::1), packets from 192.0.2.1
(fd3d:fa7b:d17d::1), port 8080, and the namespace's tcp_rmem/tcp_wmem at Linux's defaults.
Back-quoted commands run inside that namespace; a sysctl outside net.* is refused. The engine
runs with its Linux profile on a virtual clock; for a kernel run it runs alongside as the model,
and each event says whether it did the same.

Exit status: 0 every script passed, 1 some failed, 2 bad arguments, or scripts that could not be
parsed, are unsupported or could not be run and none failed.")]
pub struct Args {
    /// packetdrill scripts.
    #[arg(required = true, value_name = "FILE.pkt")]
    files: Vec<PathBuf>,
    /// The system under test: `linux` (the kernel, with the engine beside
    /// it as the model), `engine`, or `both` (each reported, and where they part).
    #[arg(long, value_enum, default_value_t = PeerArg::Linux)]
    peer: PeerArg,
    /// `text` (each event narrated), `jsonl` (a record per script and
    /// peer), `json` (one document), `table` (with `--peer both`: the
    /// Markdown table of the scripts the two run differently, as in
    /// packetdrill/DIFFERENCES.md).
    #[arg(long, value_enum, default_value_t = Fmt::Text)]
    format: Fmt,
    /// Language of the text (default: from LC_ALL/LC_MESSAGES/LANG).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// The least timing tolerance in µs (packetdrill's --tolerance_usecs;
    /// 12.5 % of the time since the previous event counts when more).
    #[arg(long, value_name = "N")]
    tolerance_usecs: Option<i64>,
    /// Run the scripts over IPv6 (packetdrill's --ip_version=ipv6), unless
    /// a script says otherwise.
    #[arg(short = '6', long)]
    ipv6: bool,
    /// Write every packet of every run (both ways) to a pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Show every event's sockets, changed or not.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PeerArg {
    Linux,
    Engine,
    Both,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Fmt {
    Text,
    Json,
    Jsonl,
    Table,
}

impl Args {
    /// Whether the run needs a network namespace (the kernel as a peer).
    pub fn wants_linux(&self) -> bool {
        self.peer != PeerArg::Engine
    }
}

/// One script's outcome: its reports, or why it did not parse.
enum Outcome {
    Ran(Vec<Report>),
    Unparsable(String, String),
}

#[derive(Default)]
struct Tally {
    pass: usize,
    fail: usize,
    other: usize,
}

/// Argument checks, and the settings the command line gives.
fn settings(a: &Args) -> Result<Settings, String> {
    if let Some(t) = a.tolerance_usecs
        && t < 0
    {
        return Err(format!(
            "--tolerance-usecs {t}: a tolerance cannot be negative"
        ));
    }
    if a.format == Fmt::Table && a.peer != PeerArg::Both {
        return Err(
            "--format table compares the kernel with the engine: it needs --peer both".into(),
        );
    }
    let defaults = Settings::default();
    Ok(Settings {
        v6: a.ipv6,
        tolerance_us: a.tolerance_usecs.unwrap_or(defaults.tolerance_us),
    })
}

/// Read, parse and run one file.
fn one(
    file: &std::path::Path,
    settings: &Settings,
    peers: Peers,
) -> (String, Option<String>, Outcome) {
    let name = file.display().to_string();
    match std::fs::read_to_string(file) {
        Err(e) => (
            name.clone(),
            None,
            Outcome::Unparsable(name, format!("cannot read it: {e}")),
        ),
        Ok(src) => {
            let outcome = match synack_script::check(&name, &src, settings, peers) {
                Ok(reports) => Outcome::Ran(reports),
                Err(e) => Outcome::Unparsable(name.clone(), e.to_string()),
            };
            (name, Some(src), outcome)
        }
    }
}

pub fn run(a: &Args) -> Result<u8, String> {
    let settings = settings(a)?;
    // A bad --pcap path is found before any run.
    let mut pcap = match &a.pcap {
        Some(p) => Some(open_pcap(p)?),
        None => None,
    };
    let peers = match a.peer {
        PeerArg::Linux => Peers::Linux,
        PeerArg::Engine => Peers::Engine,
        PeerArg::Both => Peers::Both,
    };
    let lang = LangArg::or_env(a.lang);
    let mut tally = Tally::default();
    let mut records = Vec::new();
    let mut rows = Vec::new();
    let mut out = std::io::stdout().lock();
    // Progress on a terminal: which script of how many is running (a kernel
    // run takes as long as its script says).
    let show = a.files.len() > 1 && std::io::stderr().is_terminal();
    for (i, file) in a.files.iter().enumerate() {
        if show {
            eprint!(
                "\rsynack: script {}/{}: {:<50.50}",
                i + 1,
                a.files.len(),
                file.display()
            );
        }
        let (name, src, outcome) = one(file, &settings, peers);
        crate::progress::clear(show);
        if let (Outcome::Ran(reports), Some(src)) = (&outcome, src)
            && let [linux, engine] = reports.as_slice()
        {
            rows.push((name, src, compare::parting(linux, engine)));
        }
        count(&outcome, &mut tally);
        if let (Some(w), Outcome::Ran(reports)) = (&mut pcap, &outcome) {
            write_frames(w, reports).map_err(|e| format!("writing the pcap: {e}"))?;
        }
        let written = match a.format {
            Fmt::Text => text(&mut out, &outcome, lang, a.verbose),
            Fmt::Jsonl => jsonl(&mut out, &outcome),
            Fmt::Table => Ok(()),
            Fmt::Json => {
                records.extend(json_records(&outcome));
                Ok(())
            }
        };
        if let Err(e) = written {
            return closed_pipe(e, &tally);
        }
    }
    let written = match a.format {
        Fmt::Text => summary(&mut out, &tally, lang),
        Fmt::Jsonl => Ok(()),
        Fmt::Table => write!(out, "{}", compare::table(&rows)),
        Fmt::Json => writeln!(
            out,
            "{}",
            serde_json::json!({
                "scripts": records,
                "summary": {"pass": tally.pass, "fail": tally.fail, "other": tally.other},
            })
        ),
    };
    if let Err(e) = written {
        return closed_pipe(e, &tally);
    }
    if let Some(w) = &mut pcap {
        w.flush().map_err(|e| format!("writing the pcap: {e}"))?;
    }
    Ok(status(&tally))
}

fn status(t: &Tally) -> u8 {
    if t.fail > 0 {
        1
    } else if t.other > 0 {
        2
    } else {
        0
    }
}

fn closed_pipe(e: std::io::Error, t: &Tally) -> Result<u8, String> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(status(t))
    } else {
        Err(format!("writing the report: {e}"))
    }
}

fn count(o: &Outcome, t: &mut Tally) {
    match o {
        Outcome::Unparsable(..) => t.other += 1,
        Outcome::Ran(reports) => {
            for r in reports {
                match r.result {
                    Verdict::Pass => t.pass += 1,
                    Verdict::Fail => t.fail += 1,
                    Verdict::Unsupported | Verdict::Error => t.other += 1,
                }
            }
        }
    }
}

fn text(out: &mut impl Write, o: &Outcome, lang: Lang, verbose: bool) -> std::io::Result<()> {
    match o {
        Outcome::Unparsable(name, why) => match lang {
            Lang::En => writeln!(out, "{name}: cannot be parsed: {why}\n"),
            Lang::Zh => writeln!(out, "{name}：无法解析：{why}\n"),
        },
        Outcome::Ran(reports) => {
            for r in reports {
                writeln!(out, "{}", narrate::report(r, lang, verbose))?;
            }
            if let [linux, engine] = reports.as_slice() {
                match (compare::parting(linux, engine), lang) {
                    (None, Lang::En) => {
                        writeln!(out, "the kernel and the engine ran this script alike\n")?
                    }
                    (None, Lang::Zh) => writeln!(out, "内核和引擎对这个脚本的结果相同\n")?,
                    (Some(p), Lang::En) => writeln!(
                        out,
                        "the kernel and the engine part at line {}:\n  linux:  {}\n  engine: {}\n",
                        p.line, p.linux, p.engine
                    )?,
                    (Some(p), Lang::Zh) => writeln!(
                        out,
                        "内核和引擎在第 {} 行分开：\n  linux：{}\n  engine：{}\n",
                        p.line, p.linux, p.engine
                    )?,
                }
            }
            Ok(())
        }
    }
}

fn json_records(o: &Outcome) -> Vec<serde_json::Value> {
    match o {
        Outcome::Unparsable(name, why) => vec![serde_json::json!({
            "script": name, "peer": null, "result": "unparsable", "events": [], "mismatch": null, "error": why,
        })],
        Outcome::Ran(reports) => reports
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect(),
    }
}

fn jsonl(out: &mut impl Write, o: &Outcome) -> std::io::Result<()> {
    for v in json_records(o) {
        writeln!(out, "{v}")?;
    }
    Ok(())
}

fn summary(out: &mut impl Write, t: &Tally, lang: Lang) -> std::io::Result<()> {
    match lang {
        Lang::En => writeln!(
            out,
            "{} passed, {} failed, {} unsupported, unparsable or not run",
            t.pass, t.fail, t.other
        ),
        Lang::Zh => writeln!(
            out,
            "{} 个通过，{} 个失败，{} 个不支持、无法解析或未运行",
            t.pass, t.fail, t.other
        ),
    }
}

type Pcap = synack_net::pcap::PcapWriter<std::io::BufWriter<std::fs::File>>;

fn open_pcap(p: &std::path::Path) -> Result<Pcap, String> {
    let f = std::fs::File::create(p).map_err(|e| format!("--pcap {}: {e}", p.display()))?;
    synack_net::pcap::PcapWriter::new(std::io::BufWriter::new(f))
        .map_err(|e| format!("--pcap {}: {e}", p.display()))
}

fn write_frames(w: &mut Pcap, reports: &[Report]) -> std::io::Result<()> {
    for r in reports {
        let base = r.started.unwrap_or(std::time::UNIX_EPOCH);
        for (at, bytes) in &r.frames {
            let t = base + std::time::Duration::from_micros(u64::try_from(*at).unwrap_or(0));
            w.write(t, bytes)?;
        }
    }
    Ok(())
}
