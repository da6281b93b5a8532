//! `synack bench analyze`: synack's capture analysis side by side with
//! `tshark -2`, tcpdump's SYN filter and a plain read of the same file, on a
//! data-heavy capture (many connections with full-size data) and an
//! attempt-heavy one (a SYN scan: one SYN per 4-tuple), with attempts per
//! second and the memory each attempt held takes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use synack_capture::synth::{self, SynthConfig};

#[derive(clap::Args)]
pub struct Args {
    /// The capture to analyse; without it a synthetic one is generated
    /// (many connections, full-size data, 5 % anomalies, 10 % IPv6).
    file: Option<PathBuf>,
    /// Size of the generated data-heavy capture in MB.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65536))]
    size_mb: u64,
    /// SYNs in the generated attempt-heavy capture (0: leave it out).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    scan_attempts: u64,
    /// Keep the generated capture at this path instead of deleting it.
    #[arg(long, value_name = "PATH")]
    keep: Option<PathBuf>,
    /// Rounds, each running synack (1 and 2 threads), tcpdump and a plain
    /// read once in turn; the best of each is reported (the machine is
    /// shared).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=50))]
    runs: u64,
    /// Leave tshark out (it takes about a minute per GB).
    #[arg(long)]
    no_tshark: bool,
}

struct Run {
    secs: f64,
    peak: u64,
    /// User and system CPU seconds, all threads.
    cpu: f64,
}

fn child(cmd: &mut Command) -> Result<Run, String> {
    let t = Instant::now();
    let mut c = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let u = synack_net::wait_usage(&mut c).map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    if u.code != 0 {
        return Err(format!("exit status {}", u.code));
    }
    Ok(Run {
        secs,
        peak: u.peak,
        cpu: u.cpu_s,
    })
}

fn raw_read(path: &Path) -> Result<f64, String> {
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 20];
    let t = Instant::now();
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(t.elapsed().as_secs_f64())
}

fn which(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Generate a capture into `path`; returns what it holds, in words.
fn generate(path: &Path, cfg: &SynthConfig) -> Result<String, String> {
    let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let truth = synth::write(f, cfg).map_err(|e| e.to_string())?;
    Ok(format!(
        "{} frames, {} connection attempts",
        truth.frames, truth.attempts
    ))
}

pub fn run(args: &Args) -> Result<(), String> {
    if let Some(p) = &args.file {
        return measure(args, p);
    }
    let tmp = |what: &str| {
        std::env::temp_dir().join(format!("synack-bench-{what}-{}.pcap", std::process::id()))
    };
    let data = args.keep.clone().unwrap_or_else(|| tmp("data"));
    eprintln!(
        "generating {} MB of data-heavy capture in {} …",
        args.size_mb,
        data.display()
    );
    let made = generate(
        &data,
        &SynthConfig {
            target_bytes: args.size_mb << 20,
            ..SynthConfig::default()
        },
    )
    .map(|w| eprintln!("  {w}"));
    let result = made.and_then(|()| measure(args, &data));
    if args.keep.is_none() {
        let _ = std::fs::remove_file(&data);
    }
    result?;
    if args.scan_attempts == 0 {
        return Ok(());
    }
    let scan = tmp("scan");
    eprintln!(
        "generating an attempt-heavy capture of {} SYNs in {} …",
        args.scan_attempts,
        scan.display()
    );
    // A SYN frame takes 90 bytes of file with its record header.
    let made = generate(
        &scan,
        &SynthConfig {
            target_bytes: args.scan_attempts.saturating_mul(90),
            scan: true,
            concurrent: 1,
            ..SynthConfig::default()
        },
    )
    .map(|w| eprintln!("  {w}"));
    println!();
    let result = made.and_then(|()| measure(args, &scan));
    let _ = std::fs::remove_file(&scan);
    result
}

/// `synack analyze --summary` of `path` on `threads`, its arguments
/// after `cmd`'s.
fn synack_run(mut cmd: Command, path: &Path, threads: u16) -> Result<Run, String> {
    child(
        cmd.args(["analyze", "--summary", "--progress", "never", "--threads"])
            .arg(threads.to_string())
            .arg(path),
    )
}

/// `exe` held to one core by `taskset` (so no thread maps the file ahead
/// of it either): what one core does alone.
fn on_one_core(exe: &Path) -> Command {
    let mut c = Command::new("taskset");
    c.args(["-c", &first_cpu()]).arg(exe);
    c
}

fn tcpdump_run(path: &Path) -> Result<Run, String> {
    child(Command::new("tcpdump").args(["-n", "-r"]).arg(path).args([
        "-w",
        "/dev/null",
        "tcp[tcpflags] & tcp-syn != 0 or (ip6 and ip6[53] & 2 != 0)",
    ]))
}

/// The faster of two runs.
fn best(a: Option<Run>, b: Run) -> Option<Run> {
    match a {
        Some(a) if a.secs <= b.secs => Some(a),
        _ => Some(b),
    }
}

/// The best of each over `runs` rounds, each round running every one of
/// them once in turn (synack on one thread and on two, tcpdump, the
/// plain read): the machine's slow and fast moments fall on all of them
/// alike, so their ratios hold better than those of runs made apart.
fn rounds(exe: &Path, path: &Path, runs: u64) -> Result<Rounds, String> {
    let (tcpdump, taskset) = (which("tcpdump"), which("taskset"));
    let (mut one, mut core, mut two, mut dump) = (None, None, None, None);
    let mut read = f64::INFINITY;
    for i in 1..=runs {
        eprintln!(
            "round {i} of {runs}: synack on 1 thread{} and 2{} and a plain read …",
            if taskset { ", on one core" } else { "" },
            if tcpdump {
                ", tcpdump's SYN filter"
            } else {
                ""
            }
        );
        one = best(one, synack_run(Command::new(exe), path, 1)?);
        if taskset {
            core = best(core, synack_run(on_one_core(exe), path, 1)?);
        }
        two = best(two, synack_run(Command::new(exe), path, 2)?);
        if tcpdump {
            dump = best(dump, tcpdump_run(path)?);
        }
        read = read.min(raw_read(path)?);
    }
    match (one, two) {
        (Some(one), Some(two)) => Ok(Rounds {
            one,
            core,
            two,
            dump,
            read,
        }),
        _ => Err("no run".to_string()),
    }
}

/// The first CPU this process may run on (`Cpus_allowed_list`), "0" when
/// it cannot be read.
fn first_cpu() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .and_then(|l| l.trim().split([',', '-']).next().map(str::to_string))
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "0".to_string())
}

/// The best of each over the rounds.
struct Rounds {
    one: Run,
    /// One thread held to one core (`None`: no taskset here).
    core: Option<Run>,
    two: Run,
    dump: Option<Run>,
    read: f64,
}

fn tshark_run(path: &Path) -> Result<Option<Run>, String> {
    if !which("tshark") {
        return Ok(None);
    }
    eprintln!("tshark -2 handshake analysis (slow) …");
    child(
        Command::new("tshark")
            .args(["-n", "-2", "-r"])
            .arg(path)
            .args(["-Y", "tcp.flags.syn == 1", "-T", "fields"])
            .args(["-e", "tcp.stream", "-e", "tcp.completeness"])
            .args(["-e", "tcp.analysis.initial_rtt"]),
    )
    .map(Some)
}

/// What one capture gave every tool.
struct Measured {
    bytes: f64,
    frames: u64,
    attempts: u64,
    held: u64,
    /// synack's memory on a one-SYN capture.
    base: u64,
    /// Where the limit on attempts held was reached: a one-thread run
    /// held to half as many, its peak memory and its attempts held.
    half: Option<(u64, u64)>,
    runs: Rounds,
    tshark: Option<Run>,
}

fn measure(args: &Args, path: &Path) -> Result<(), String> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len() as f64;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // Out of the page cache and read back in, as a capture on disk would
    // be (pages a program just wrote may be cached in 4 KB pieces, which
    // made a mapped read several times dearer in the kernel); every tool
    // then reads from memory.
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Err(e) = synack_net::evict_cached(&file) {
        eprintln!("{}: left in the page cache as it is ({e})", path.display());
    }
    raw_read(path)?;
    let (frames, attempts, held, evicted) = counts_of(&exe, path)?;
    let m = Measured {
        bytes,
        frames,
        attempts,
        held,
        runs: rounds(&exe, path, args.runs)?,
        base: baseline_rss(&exe)?,
        half: if evicted {
            per_held(&exe, path, held)?
        } else {
            None
        },
        tshark: if args.no_tshark {
            None
        } else {
            tshark_run(path)?
        },
    };
    table(&m, path, args.no_tshark);
    ratios(&m);
    Ok(())
}

/// A row per tool: seconds, MB/s, packets/s, peak memory.
fn table(m: &Measured, path: &Path, no_tshark: bool) {
    println!(
        "capture: {} ({:.0} MB, {} frames)",
        path.display(),
        m.bytes / 1e6,
        m.frames
    );
    println!(
        "{:<40} {:>9} {:>9} {:>10} {:>13} {:>12}",
        "", "seconds", "CPU s", "MB/s", "packets/s", "peak memory"
    );
    let row = |name: &str, r: Option<&Run>, secs: f64| {
        let (cpu, peak) = r.map_or(("-".to_string(), "-".to_string()), |r| {
            (
                format!("{:.3}", r.cpu),
                format!("{:.0} MB", r.peak as f64 / 1e6),
            )
        });
        println!(
            "{name:<40} {secs:>9.3} {cpu:>9} {:>10.0} {:>13.0} {peak:>12}",
            m.bytes / 1e6 / secs,
            m.frames as f64 / secs
        );
    };
    row(
        "synack analyze --threads 1",
        Some(&m.runs.one),
        m.runs.one.secs,
    );
    match &m.runs.core {
        Some(c) => row("synack analyze, held to one core", Some(c), c.secs),
        None => println!("synack on one core: not run (no taskset)"),
    }
    row(
        "synack analyze --threads 2",
        Some(&m.runs.two),
        m.runs.two.secs,
    );
    match &m.tshark {
        Some(t) => row("tshark -2 (handshake fields)", Some(t), t.secs),
        None if no_tshark => println!("tshark: not run (--no-tshark)"),
        None => println!("tshark: not run (not installed)"),
    }
    match &m.runs.dump {
        Some(t) => row("tcpdump SYN filter", Some(t), t.secs),
        None => println!("tcpdump: not installed (apt install tcpdump)"),
    }
    row("raw read", None, m.runs.read);
}

/// The ratios, the scaling, and attempts per second with their memory.
fn ratios(m: &Measured) {
    let (one, two) = (m.runs.one.secs, m.runs.two.secs);
    if let Some(t) = &m.tshark {
        println!("synack/tshark ratio: {:.2}", t.secs / one);
    }
    if let Some(t) = &m.runs.dump {
        println!("synack/tcpdump ratio: {:.2}", t.secs / one);
        if let Some(c) = &m.runs.core {
            println!("synack/tcpdump ratio, one core: {:.2}", t.secs / c.secs);
        }
    }
    println!("synack/raw-read ratio: {:.2}", m.runs.read / one);
    println!(
        "2-thread scaling: {:.2} (1 thread {one:.3} s, 2 threads {two:.3} s, {} cores here)",
        one / two,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if let Some(t) = &m.runs.dump {
        println!("synack/tcpdump ratio, 2 threads: {:.2}", t.secs / two);
    }
    // Per second on one core where it could be held to one.
    let (secs, on) = m
        .runs
        .core
        .as_ref()
        .map_or((one, ""), |c| (c.secs, " on one core"));
    let margin = match m.half {
        Some((peak, held)) if held < m.held => format!(
            "; {} bytes each at the margin (holding {held}: {:.1} MB)",
            m.runs.one.peak.saturating_sub(peak) / (m.held - held),
            peak as f64 / 1e6
        ),
        _ => String::new(),
    };
    println!(
        "attempts: {}, {:.0} per second{on}; at most {} held at once, {} bytes each \
         (peak memory {:.1} MB over the {:.1} MB of a one-SYN run){margin}",
        m.attempts,
        m.attempts as f64 / secs,
        m.held,
        m.runs.one.peak.saturating_sub(m.base) / m.held.max(1),
        m.runs.one.peak as f64 / 1e6,
        m.base as f64 / 1e6
    );
}

/// synack's JSON summary of `path` on one thread (its peak of attempts
/// held is exact; several threads' are summed), `extra` arguments added,
/// with the run's figures.
fn summary_run(
    exe: &Path,
    path: &Path,
    extra: &[&str],
) -> Result<(serde_json::Value, Run), String> {
    let t = Instant::now();
    let c = Command::new(exe)
        .args(["analyze", "--summary", "--format", "json"])
        .args(["--progress", "never", "--threads", "1"])
        .args(extra)
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut c = c;
    let mut out = Vec::new();
    if let Some(mut o) = c.stdout.take() {
        o.read_to_end(&mut out).map_err(|e| e.to_string())?;
    }
    let u = synack_net::wait_usage(&mut c).map_err(|e| e.to_string())?;
    let run = Run {
        secs: t.elapsed().as_secs_f64(),
        peak: u.peak,
        cpu: u.cpu_s,
    };
    let v: serde_json::Value = serde_json::from_slice(&out).map_err(|e| e.to_string())?;
    Ok((v["files"][0].clone(), run))
}

/// A number of a JSON summary.
fn count(f: &serde_json::Value, path: &Path) -> Result<u64, String> {
    f.as_u64()
        .ok_or_else(|| format!("{}: not analysed", path.display()))
}

/// What synack's own JSON summary says of the file: frames, attempts, the
/// most attempts held at once, and whether that was the limit (some were
/// evicted).
fn counts_of(exe: &Path, path: &Path) -> Result<(u64, u64, u64, bool), String> {
    let (f, _) = summary_run(exe, path, &[])?;
    Ok((
        count(&f["frames"], path)?,
        count(&f["summary"]["attempts"], path)?,
        count(&f["peak_attempts_in_memory"], path)?,
        count(&f["evicted_attempts"], path)? > 0,
    ))
}

/// For the memory each attempt held takes at the margin, where the
/// limit on attempts held was reached: the peak memory of a run held to
/// half as many by `--max-attempts` (both then evict all along, the same
/// way), with its attempts held; what does not grow with the attempts (the
/// program, the file's pages mapped ahead of the reading) cancels out of
/// the difference. `None` when too few are held to halve.
fn per_held(exe: &Path, path: &Path, held: u64) -> Result<Option<(u64, u64)>, String> {
    if held < 2 {
        return Ok(None);
    }
    let half = (held / 2).to_string();
    let (f, run) = summary_run(exe, path, &["--max-attempts", &half])?;
    Ok(Some((
        run.peak,
        count(&f["peak_attempts_in_memory"], path)?,
    )))
}

/// synack's peak memory on a capture of one SYN: what the process needs
/// before it holds any attempt.
fn baseline_rss(exe: &Path) -> Result<u64, String> {
    let path = std::env::temp_dir().join(format!("synack-bench-one-{}.pcap", std::process::id()));
    generate(
        &path,
        &SynthConfig {
            target_bytes: 1,
            scan: true,
            concurrent: 1,
            ..SynthConfig::default()
        },
    )?;
    let r = child(
        Command::new(exe)
            .args(["analyze", "--summary", "--progress", "never"])
            .arg(&path),
    );
    let _ = std::fs::remove_file(&path);
    Ok(r?.peak)
}
