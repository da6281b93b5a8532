//! `synack analyze FILE…`: every TCP connection attempt in captures, found,
//! checked and reported in one streaming pass per file.

use std::io::{IsTerminal, Write};

use synack_capture::Filter;
use synack_capture::{Attempt, Stats, Totals};
use synack_explain::Lang;

use crate::progress::{Progress, Spool};
use crate::report;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  synack analyze trace.pcapng                     summary, then one line per connection attempt
  synack analyze -v trace.pcapng                  every step and every check, with its RFC rule
  synack analyze --lang zh trace.pcapng           the report in Chinese
  synack analyze --summary big.pcap               counts, RTT percentiles and anomalies only
  synack analyze --filter outcome=half_open,port=443 trace.pcap
  synack analyze --format jsonl *.pcap | jq 'select(.outcome==\"refused\")'
  synack analyze --format html trace.pcap > trace.html   every attempt drawn, failures first

Outcomes: established, closed, reset_after_establishment, reset_during_handshake, refused,
no_answer, half_open, simultaneous_open. conn_state and history follow zeek's conn.log.
Each step is checked with the rule ids of synack's engine (docs/rules.md): ack = ISN + 1,
flag combinations, options the SYN offered, ECN, timestamps, the third ACK actually seen.
JSON records are described in docs/analyze-json.md.

Exit status: 0 every file was read (a damaged tail is reported, what came before is analysed),
1 a file could not be read at all, 2 bad arguments.")]
pub struct Args {
    /// pcap or pcapng files.
    #[arg(required = true)]
    files: Vec<std::path::PathBuf>,
    /// `text` report, `json` (one document), `jsonl` (one record per
    /// attempt), or `html` (one page, a diagram per attempt, failures first;
    /// one file only).
    #[arg(long, value_enum, default_value_t = Fmt::Text)]
    format: Fmt,
    /// Keep only matching attempts: `outcome=refused`, `port=80`,
    /// `host=192.0.2.1` (client or server), comma-separated; a key given
    /// twice matches either value (`port=80,port=443`), different keys must
    /// all match.
    #[arg(long, value_parser = parse_filter)]
    filter: Option<Filter>,
    /// Attempts held in memory at once (about 3 KB each); past this the
    /// oldest still open is reported early, marked evicted.
    #[arg(long, value_name = "N", default_value_t = synack_capture::track::MAX_LIVE)]
    max_attempts: usize,
    /// Text: every step (frame, time, flags, seq/ack) and every check, passed
    /// or not, with its rule.
    #[arg(short, long)]
    verbose: bool,
    /// Only the summary (text), or only the summary object per file (json).
    #[arg(long, conflicts_with = "verbose")]
    summary: bool,
    /// Language of the text report (default: from LC_ALL/LC_MESSAGES/LANG).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// Progress on stderr: `auto` draws it when stderr is a terminal.
    #[arg(long, value_enum, default_value_t = When::Auto)]
    progress: When,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LangArg {
    En,
    Zh,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum When {
    Auto,
    Always,
    Never,
}

fn parse_filter(s: &str) -> Result<Filter, String> {
    s.parse()
        .map_err(|e: synack_capture::filter::FilterError| e.to_string())
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Fmt {
    Text,
    Json,
    Jsonl,
    /// One self-contained page: a ladder diagram per attempt, failures first.
    Html,
}

#[derive(serde::Serialize)]
struct Record<'a> {
    file: &'a str,
    #[serde(flatten)]
    attempt: &'a Attempt,
}

/// A JSON writer's error as the I/O error it was (a closed pipe stays a
/// closed pipe, which ends the run quietly as text output does).
fn json_io(e: serde_json::Error) -> std::io::Error {
    match e.io_error_kind() {
        Some(k) => std::io::Error::from(k),
        None => std::io::Error::other(e),
    }
}

/// One file's pass; returns `None` when the file could not be read at all.
fn one_file(
    args: &Args,
    lang: Lang,
    path: &std::path::Path,
    out: &mut dyn Write,
    json_objects: &mut usize,
) -> Result<Option<()>, std::io::Error> {
    let name = path.display().to_string();
    let (file, size) = match crate::input::open(path) {
        Ok(o) => (o.input, o.size),
        Err(e) => {
            eprintln!("synack: {name}: {e}");
            return Ok(None);
        }
    };
    let show = match args.progress {
        When::Always => true,
        When::Never => false,
        When::Auto => std::io::stderr().is_terminal(),
    };
    let input = Progress::new(file, size, show);
    let mut stats = Stats::default();
    let mut spool = Spool::default();
    let mut n = 0u64;
    let mut err: Option<std::io::Error> = None;
    let mut drawn: Vec<(u64, Attempt)> = Vec::new();
    let mut not_drawn = 0usize;
    if args.format == Fmt::Json {
        let sep = if *json_objects == 0 { "" } else { "," };
        *json_objects += 1;
        write!(
            out,
            "{sep}\n{{\"file\":{},\"attempts\":[",
            serde_json::Value::from(name.as_str())
        )?;
    }
    let started = std::time::Instant::now();
    let result = synack_capture::analyze_each_within(
        std::io::BufReader::with_capacity(1 << 20, input),
        &name,
        args.max_attempts,
        |a| {
            if err.is_some() || !args.filter.as_ref().is_none_or(|f| f.keeps(&a)) {
                return;
            }
            n += 1;
            stats.add(&a);
            if args.summary {
                return;
            }
            let r = match args.format {
                Fmt::Text => spool.write_all(report::attempt(n, &a, args.verbose, lang).as_bytes()),
                Fmt::Jsonl => serde_json::to_writer(
                    &mut *out,
                    &Record {
                        file: &name,
                        attempt: &a,
                    },
                )
                .map_err(json_io)
                .and_then(|()| out.write_all(b"\n")),
                Fmt::Json => out
                    .write_all(if n == 1 { b"\n" } else { b",\n" })
                    .and_then(|()| serde_json::to_writer(&mut *out, &a).map_err(json_io)),
                Fmt::Html if drawn.len() < crate::analyze_html::MAX_ATTEMPTS => {
                    drawn.push((n, a));
                    Ok(())
                }
                Fmt::Html => {
                    not_drawn += 1;
                    Ok(())
                }
            };
            if let Err(e) = r {
                err = Some(e);
            }
        },
    );
    crate::progress::clear(show);
    if let Some(e) = err {
        return Err(e);
    }
    let totals = match result {
        Ok(t) => t,
        Err(e) => {
            eprintln!("synack: {e}");
            if args.format == Fmt::Json {
                write!(
                    out,
                    "],\"error\":{}}}",
                    serde_json::Value::from(e.to_string())
                )?;
            }
            return Ok(None);
        }
    };
    if let Some((at, why)) = &totals.summary.damaged_at {
        eprintln!("synack: {name}: damaged at byte {at}: {why}; everything before it is analysed");
    }
    let secs = started.elapsed().as_secs_f64();
    match args.format {
        Fmt::Text => {
            out.write_all(report::summary(&name, &totals, &stats, lang, size, secs).as_bytes())?;
            spool.copy_to(out)?;
        }
        Fmt::Jsonl => {}
        Fmt::Html => {
            // A second pass over the file for the frames themselves.
            let packets = if path.as_os_str() == "-" {
                Err("--format html reads its file twice: give a file, not -".to_string())
            } else {
                crate::input::open(path).and_then(|o| {
                    synack_capture::packets(o.input, &name, crate::analyze_html::MAX_PACKETS)
                        .map_err(|e| e.to_string())
                })
            };
            let (packets, _) = match packets {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("synack: {name}: {e}");
                    return Ok(None);
                }
            };
            drawn.sort_by_key(|(_, a)| a.first_frame);
            let page =
                crate::analyze_html::page(&name, lang, &drawn, &packets, not_drawn, args.verbose);
            out.write_all(page.as_bytes())?;
        }
        Fmt::Json => {
            let tail = file_json(&totals, &stats);
            let body = tail.to_string();
            // `{"format":…}` minus its opening brace continues the object.
            write!(out, "],{}", body.strip_prefix('{').unwrap_or(&body))?;
        }
    }
    Ok(Some(()))
}

fn file_json(t: &Totals, s: &Stats) -> serde_json::Value {
    serde_json::json!({
        "format": t.summary.format,
        "frames": t.summary.frames,
        "damaged_at": t.summary.damaged_at.as_ref().map(|(at, why)| serde_json::json!({"byte": at, "reason": why})),
        "unreadable_frames": t.unreadable,
        "segments_outside_attempts": t.unmatched,
        "peak_attempts_in_memory": t.peak_live,
        "evicted_attempts": t.evicted,
        "summary": s.to_json(),
    })
}

/// Returns the exit code.
pub fn run(args: &Args) -> Result<u8, String> {
    let lang = match args.lang {
        Some(LangArg::En) => Lang::En,
        Some(LangArg::Zh) => Lang::Zh,
        None => Lang::from_env(),
    };
    if args.format == Fmt::Html && args.files.len() > 1 {
        clap::Error::raw(
            clap::error::ErrorKind::ArgumentConflict,
            "--format html draws one capture per page: give one file\n",
        )
        .exit();
    }
    let mut code = 0;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut written = || -> std::io::Result<()> {
        if args.format == Fmt::Json {
            write!(out, "{{\"schema\":\"{}\",\"files\":[", report::SCHEMA)?;
        }
        let mut objects = 0;
        for path in &args.files {
            if one_file(args, lang, path, &mut out, &mut objects)?.is_none() {
                code = 1;
            }
        }
        if args.format == Fmt::Json {
            writeln!(out, "\n]}}")?;
        }
        out.flush()
    };
    match written() {
        Ok(()) => Ok(code),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code),
        Err(e) => Err(format!("writing output: {e}")),
    }
}
