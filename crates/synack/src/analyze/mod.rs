//! `synack analyze FILE…`: every TCP connection attempt in captures, found,
//! checked and reported in one streaming pass per file.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use synack_capture::reader::{Frame, Source};
use synack_capture::{Filter, Stats};
use synack_explain::Lang;

use crate::explain::LangArg;
use crate::input::Input;
use crate::progress::{Bar, Progress};
use crate::report;

mod html;
mod packetdrill;
mod sink;

use sink::Sink;

#[derive(Clone, clap::Args)]
#[command(after_help = "Examples:
  synack analyze trace.pcapng                     summary, then one line per connection attempt
  synack analyze -v trace.pcapng                  every step and every check, with its RFC rule
  synack analyze --lang zh trace.pcapng           the report in Chinese
  synack analyze --summary big.pcap               counts, RTT percentiles, diagnoses and anomalies only
  synack analyze --summary *.pcap                 a summary per file, several files at once
  synack analyze --filter outcome=half_open,port=443 trace.pcap
  synack analyze -F 'host 10.0.0.1 and port 443' trace.pcap   tcpdump's filter language (libpcap)
  synack analyze --ports trace.pcap               nmap's view: open, closed, filtered, with reasons
  synack analyze --format jsonl *.pcap | jq 'select(.diagnosis.id==\"icmp\")'
  synack analyze --format zeek trace.pcap > conn.log   zeek's conn.log, for zeek-cut
  synack analyze --format html trace.pcap > trace.html   every attempt drawn, failures first
  synack analyze trace.pcap.zst                   gzip, zstd and xz captures are read as they are
  tcpdump -U -w - 'tcp[tcpflags] & tcp-syn != 0' | synack analyze -   a live capture through stdin

Every failed or odd attempt gets a diagnosis (why: …) with the frames it rests on and how sure it
is: reset, icmp, no-response (and what the SYN schedule suggests), synack-lost-or-ack-dropped
(accept queue full), syn-cookie, one-sided-capture, crafted-mistake (wrong ack, missing SYN flag,
two headers in one packet), port-reuse, simultaneous-open, half-open.
Outcomes: established, closed, reset_after_establishment, reset_during_handshake, refused,
unreachable, no_answer, half_open, simultaneous_open, one_sided. conn_state and history follow
zeek's conn.log. Each step is checked with the rule ids of synack's engine (docs/rules.md):
ack = ISN + 1, flag combinations, options the SYN offered, ECN, timestamps, the third ACK seen.
JSON records and the diagnosis vocabulary are described in docs/analyze-json.md.

Exit status: 0 every file was read (a damaged tail is reported, what came before is analysed),
1 a file could not be read at all, 2 bad arguments.")]
pub struct Args {
    /// pcap or pcapng files (gzip, zstd or xz compressed too), or `-` for
    /// standard input; each is reported on its own.
    #[arg(required = true)]
    files: Vec<std::path::PathBuf>,
    /// `text` report, `json` (one document), `jsonl` (one record per
    /// attempt), `html` (one page, a diagram per attempt, failures first;
    /// one file only), or `zeek` (conn.log).
    #[arg(long, value_enum, default_value_t = Fmt::Text)]
    format: Fmt,
    /// Keep only matching attempts: `outcome=refused`, `port=80`,
    /// `host=192.0.2.1` (client or server), comma-separated; a key given
    /// twice matches either value (`port=80,port=443`), different keys must
    /// all match.
    #[arg(long, value_parser = parse_filter)]
    filter: Option<Filter>,
    /// A tcpdump filter expression (`host 10.0.0.1 and port 443`), compiled
    /// by libpcap as tcpdump compiles it; frames it rejects are not seen at
    /// all. Needs libpcap at run time (tcpdump and tshark install it).
    #[arg(short = 'F', long = "bpf", value_name = "EXPR")]
    bpf: Option<String>,
    /// nmap's view instead of one line per attempt: per host and port the
    /// state (open, closed, filtered), its reason (syn-ack, reset,
    /// no-response, admin-prohibited, …), attempts and RTT.
    #[arg(long, conflicts_with_all = ["summary", "verbose"])]
    ports: bool,
    /// Attempts held in memory at once (an attempt that is one SYN so far
    /// takes about 170 bytes, one with more segments a few KB); past this
    /// the oldest still open is reported early, marked evicted. Per file:
    /// several files summed up at once hold as many each (threads on one
    /// file share them).
    #[arg(long, value_name = "N", default_value_t = synack_capture::track::MAX_LIVE, value_parser = at_least_one)]
    max_attempts: usize,
    /// Threads, each taking the conversations of its share of 4-tuples: on
    /// a file, every thread walks all frames; on standard input, a
    /// compressed file or with -F, one reads and deals the segments out.
    /// On two cores here a summary runs 1.3-1.9x as fast on a file
    /// (data-heavy or attempt-heavy) and 1.3x as fast on a zstd-compressed
    /// SYN scan (one thread decompresses, the other tracks; the
    /// decompressing takes longer). With more than 1,
    /// attempts come out per thread in order of first frame, and
    /// `tcp_stream` is unknown (null). Default: for --summary without -F,
    /// the cores synack may use, up to 4, on a file of 32 MB or more or on
    /// a stream (the summary is the same but for its peak of attempts
    /// held, then each thread's summed); for --summary of several files,
    /// a file per core instead (up to 4 at once, each on one thread,
    /// reported in the order given); otherwise 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: Option<u16>,
    /// Do not check TCP checksums: a capture made on the host that sent
    /// the segments (tcpdump, `synack watch -w`) holds them before the NIC
    /// filled the checksum in, so they look wrong (Wireshark does not check
    /// by default either).
    #[arg(long)]
    no_checksums: bool,
    /// Text: every step (frame, time, flags, seq/ack) and every check, passed
    /// or not, with its rule.
    #[arg(short, long)]
    verbose: bool,
    /// Only the summary (text), or only the summary object per file (json;
    /// jsonl: a line per file with it).
    #[arg(long, conflicts_with = "verbose")]
    summary: bool,
    /// Language of the text report (default: from LC_ALL/LC_MESSAGES/LANG).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// Progress on stderr: `auto` draws it when stderr is a terminal.
    #[arg(long, value_enum, default_value_t = When::Auto)]
    progress: When,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum When {
    Auto,
    Always,
    Never,
}

/// A count of attempts to hold: none held would report every attempt at
/// its first segment.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => {
            Err("at least 1: holding none would end every attempt at its first segment".into())
        }
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
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
    /// zeek's conn.log: TSV with the #fields header (zeek-cut reads it).
    Zeek,
    /// A packetdrill script per attempt, its client the system under test:
    /// `synack script` replays it against the kernel.
    Packetdrill,
}

/// Whether progress is drawn: `auto` draws it when stderr is a terminal.
fn shown(when: When) -> bool {
    match when {
        When::Always => true,
        When::Never => false,
        When::Auto => std::io::stderr().is_terminal(),
    }
}

/// Files summed up at once: by default, a summary of several files without
/// -F takes a file per core ([`cores`]), each on one thread.
fn files_at_once(args: &Args) -> usize {
    if !args.summary || args.files.len() < 2 || args.bpf.is_some() || args.threads.is_some() {
        return 1;
    }
    cores().min(args.files.len())
}

/// The cores this process may use, up to 4: what a default pass takes
/// (each thread walks every frame of a file, so more would gain less; two
/// were measured).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// A file's summary, made on a thread of its own: its place in the
/// order given, what its pass returned, what it wrote, and whether that
/// is a JSON object.
type Summed = (usize, std::io::Result<Option<()>>, Vec<u8>, bool);

/// The summaries of `args.files`, `at_once` files at a time, each on a
/// thread of its own, written in the order given (progress, when shown,
/// counts the bytes of the files done); exit status 1 when a file could
/// not be read at all.
fn several(
    args: &Args,
    lang: Lang,
    at_once: usize,
    out: &mut dyn Write,
    objects: &mut usize,
) -> std::io::Result<u8> {
    let mut one = args.clone();
    one.threads = Some(1);
    one.progress = When::Never;
    let one = &one;
    let show = shown(args.progress);
    let sizes: Vec<u64> = args
        .files
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .collect();
    let mut bar = Bar::new(sizes.iter().sum(), show);
    let next = AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<Summed>();
    std::thread::scope(|scope| {
        for _ in 0..at_once {
            let (tx, next) = (tx.clone(), &next);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = args.files.get(i) else {
                        return;
                    };
                    let (mut buf, mut made) = (Vec::new(), 0);
                    let r = one_file(one, lang, path, &mut buf, &mut made, &mut None);
                    if tx.send((i, r, buf, made > 0)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // Each file's summary in turn, those done early kept till then.
        let mut early = std::collections::BTreeMap::new();
        let (mut code, mut turn, mut done) = (0, 0, 0u64);
        for (i, r, buf, object) in rx {
            early.insert(i, (r, buf, object));
            while let Some((r, buf, object)) = early.remove(&turn) {
                if object && *objects > 0 {
                    out.write_all(b",")?;
                }
                *objects += usize::from(object);
                if r?.is_none() {
                    code = 1;
                }
                crate::progress::clear(show);
                out.write_all(&buf)?;
                out.flush()?;
                done += sizes.get(turn).copied().unwrap_or(0);
                bar.at(done);
                turn += 1;
            }
        }
        crate::progress::clear(show);
        Ok(code)
    })
}

/// One file's pass; returns `None` when the file could not be read at all.
fn one_file(
    args: &Args,
    lang: Lang,
    path: &std::path::Path,
    out: &mut dyn Write,
    json_objects: &mut usize,
    frames: &mut Option<synack_live::Filter>,
) -> Result<Option<()>, std::io::Error> {
    let name = path.display().to_string();
    let mut opened = match crate::input::open(path) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("synack: {name}: {e}");
            return Ok(None);
        }
    };
    let show = shown(args.progress);
    let size = opened.size;
    let threads = threads(args, &opened, frames.is_some());
    let (input, read, mut bar) = reading(&mut opened, show);
    let mut stats = Stats::default();
    let mut sink = Sink::new(args.format, args.ports, args.verbose, args.summary);
    sink.begin(out, &name, json_objects)?;
    let mut n = 0u64;
    let mut err: Option<std::io::Error> = None;
    let started = std::time::Instant::now();
    let filtered = frames.is_some();
    let mut wanted = frame_filter(frames, &name);
    let at = |end: u64| {
        if let Some(b) = bar.as_mut() {
            b.at(end);
        }
    };
    let each = |a: &synack_capture::Attempt| {
        if err.is_some() {
            return;
        }
        if !kept(args, a) {
            stats.left_out += 1;
            return;
        }
        n += 1;
        stats.add(a);
        if args.summary {
            return;
        }
        if let Err(e) = sink.attempt(out, &name, n, a, lang) {
            err = Some(e);
        }
    };
    let keep = (filtered, &mut wanted as &mut dyn FnMut(&Frame<'_>) -> bool);
    let result = if args.summary && !filtered {
        summed(args, threads, &name, input, at).map(|(t, s)| {
            stats = s;
            t
        })
    } else {
        pass(args, threads, &name, input, keep, at, each)
    };
    if let Some(b) = bar.as_mut() {
        b.at(size);
    }
    crate::progress::clear(show);
    if let Some(e) = err {
        return Err(e);
    }
    let totals = match result {
        Ok(t) => t,
        Err(e) => {
            // A capture error names its file; a read error does not.
            match e {
                synack_capture::CaptureError::Io(_) => eprintln!("synack: {name}: {e}"),
                synack_capture::CaptureError::NotACapture(_) => eprintln!("synack: {e}"),
            }
            sink.failed(out, &e.to_string())?;
            return Ok(None);
        }
    };
    if let Some((at, why)) = &totals.summary.damaged_at {
        eprintln!(
            "synack: {name}: {}",
            crate::report::damaged(*at, why, Lang::En)
        );
    }
    let secs = started.elapsed().as_secs_f64();
    // What was read: the file's size, or what standard input or a
    // decompressor gave.
    let size = read
        .map_or(0, |r| r.load(std::sync::atomic::Ordering::Relaxed))
        .max(size);
    sink.end(
        out,
        path,
        &name,
        &totals,
        &stats,
        lang,
        (size, secs, args.verbose),
    )
}

/// Files smaller than this are summed up on one thread by default: a
/// second saves little there, and one thread's peak of attempts held is
/// exact.
const THREADS_FROM: u64 = 32 << 20;

/// The threads of a pass: `--threads`, or by default, for a summary
/// without -F of a mapped file of [`THREADS_FROM`] bytes or more or of a
/// stream (standard input, a compressed file: its size is not known
/// before), the [`cores`].
fn threads(args: &Args, opened: &crate::input::Opened, filtered: bool) -> usize {
    if let Some(n) = args.threads {
        return usize::from(n);
    }
    let small = matches!(opened.input, Input::Mapped(_)) && opened.size < THREADS_FROM;
    if !args.summary || filtered || small {
        return 1;
    }
    cores()
}

/// What a pass reads, with its progress: a stream is counted as it is read
/// (the counter gives its size after), a mapped file by the frames' ends
/// (the bar).
fn reading(
    opened: &mut crate::input::Opened,
    show: bool,
) -> (Source<'_>, Option<Arc<AtomicU64>>, Option<Bar>) {
    let size = opened.size;
    match &mut opened.input {
        Input::Mapped(m) => (Source::Mapped(m), None, Some(Bar::new(size, show))),
        Input::Stream(r) => {
            let p = Progress::new(std::mem::replace(r, Box::new(std::io::empty())), size, show);
            let counted = p.counter();
            (Source::stream(p), Some(counted), None)
        }
    }
}

/// The `-F` filter as a frame test: a link type it cannot be compiled for
/// passes nothing, said once.
fn frame_filter<'a>(
    frames: &'a mut Option<synack_live::Filter>,
    name: &'a str,
) -> impl FnMut(&synack_capture::reader::Frame<'_>) -> bool + 'a {
    let mut warned = false;
    move |f: &Frame<'_>| match frames.as_mut() {
        None => true,
        Some(bpf) => bpf
            .keeps(f.linktype, f.data, f.wire_len)
            .unwrap_or_else(|e| {
                if !std::mem::replace(&mut warned, true) {
                    eprintln!(
                        "synack: {name}: -F: link type {}: {e}; its frames are left out",
                        f.linktype
                    );
                }
                false
            }),
    }
}

/// How a pass reads the file, from the options.
fn settings(args: &Args) -> synack_capture::Pass {
    synack_capture::Pass {
        max_live: args.max_attempts,
        checksums: !args.no_checksums,
    }
}

/// Whether `--filter` keeps the attempt.
fn kept(args: &Args, a: &synack_capture::Attempt) -> bool {
    args.filter.as_ref().is_none_or(|f| f.keeps(a))
}

/// A summary: each thread sums its own attempts up (an attempt of one SYN
/// by its kind, without making it), and the sums are merged.
fn summed(
    args: &Args,
    threads: usize,
    name: &str,
    input: Source<'_>,
    at: impl FnMut(u64),
) -> Result<(synack_capture::Totals, Stats), synack_capture::CaptureError> {
    let how = settings(args);
    let fold = synack_capture::Summing {
        filter: args.filter.as_ref(),
    };
    let (totals, parts) = synack_capture::fold(input, name, how, threads, at, &fold)?;
    let mut stats = Stats::default();
    for p in parts {
        stats.merge(p);
    }
    Ok((totals, stats))
}

/// One pass over the file, on one thread or on `--threads`.
fn pass(
    args: &Args,
    threads: usize,
    name: &str,
    input: Source<'_>,
    (filtered, keep): (bool, &mut dyn FnMut(&Frame<'_>) -> bool),
    mut at: impl FnMut(u64),
    each: impl FnMut(&synack_capture::Attempt),
) -> Result<synack_capture::Totals, synack_capture::CaptureError> {
    let how = settings(args);
    if threads > 1 {
        let keep = filtered.then_some(keep);
        return synack_capture::analyze_parallel(input, name, how, threads, keep, at, each);
    }
    // The filter is a call through a pointer: frames skip it when there
    // is none (a few percent of a data-heavy pass).
    let keep = |f: &Frame<'_>| {
        if f.number.is_multiple_of(4096) {
            at(f.end);
        }
        !filtered || keep(f)
    };
    synack_capture::analyze_frames(input, name, how, keep, each)
}

/// Returns the exit code.
pub fn run(args: &Args) -> Result<u8, String> {
    let lang = LangArg::or_env(args.lang);
    if args.ports && matches!(args.format, Fmt::Html | Fmt::Zeek | Fmt::Packetdrill) {
        clap::Error::raw(
            clap::error::ErrorKind::ArgumentConflict,
            "--ports is a table: use it with --format text, json or jsonl\n",
        )
        .exit();
    }
    if args.summary && matches!(args.format, Fmt::Html | Fmt::Zeek | Fmt::Packetdrill) {
        clap::Error::raw(
            clap::error::ErrorKind::ArgumentConflict,
            "--summary is a file's counts: use it with --format text, json or jsonl\n",
        )
        .exit();
    }
    if args.format == Fmt::Html && args.files.len() > 1 {
        clap::Error::raw(
            clap::error::ErrorKind::ArgumentConflict,
            "--format html draws one capture per page: give one file\n",
        )
        .exit();
    }
    let mut frames = match &args.bpf {
        Some(expr) => match synack_live::Filter::new(expr) {
            Ok(f) => Some(f),
            Err(e) => clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("-F '{expr}': {e}\n"),
            )
            .exit(),
        },
        None => None,
    };
    let mut code = 0;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut written = || -> std::io::Result<()> {
        if args.format == Fmt::Json {
            write!(out, "{{\"schema\":\"{}\",\"files\":[", report::SCHEMA)?;
        }
        let mut objects = 0;
        let at_once = files_at_once(args);
        if at_once > 1 {
            code = several(args, lang, at_once, &mut out, &mut objects)?;
        } else {
            for path in &args.files {
                if one_file(args, lang, path, &mut out, &mut objects, &mut frames)?.is_none() {
                    code = 1;
                }
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
