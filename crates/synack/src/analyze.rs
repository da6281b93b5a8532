//! `synack analyze FILE…`: every TCP connection attempt in captures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use synack_capture::{Analysis, Attempt};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  synack analyze trace.pcapng                     summary, then one line per connection attempt
  synack analyze --format jsonl *.pcap | jq 'select(.outcome==\"refused\")'

Exit status: 0 every file was read (a damaged tail is reported, what came before is analysed),
1 a file could not be read at all, 2 bad arguments.")]
pub struct Args {
    /// pcap or pcapng files.
    #[arg(required = true)]
    files: Vec<std::path::PathBuf>,
    /// `text` report, `json` (one document), or `jsonl` (one record per attempt).
    #[arg(long, value_enum, default_value_t = Fmt::Text)]
    format: Fmt,
    /// Keep only attempts matching all of: `outcome=refused`, `port=80`,
    /// `host=192.0.2.1` (client or server), comma-separated.
    #[arg(long, value_parser = parse_filter)]
    filter: Option<Filter>,
}

#[derive(Clone, Default)]
struct Filter {
    outcome: Option<String>,
    port: Option<u16>,
    host: Option<std::net::IpAddr>,
}

fn parse_filter(s: &str) -> Result<Filter, String> {
    let mut f = Filter::default();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: expected key=value"))?;
        match k.trim() {
            "outcome" => f.outcome = Some(v.trim().replace('-', "_")),
            "port" => {
                f.port = Some(
                    v.trim()
                        .parse()
                        .map_err(|_| format!("`{v}`: a port is 0..=65535"))?,
                )
            }
            "host" => {
                f.host = Some(
                    v.trim()
                        .parse()
                        .map_err(|_| format!("`{v}`: not an IP address"))?,
                )
            }
            other => return Err(format!("`{other}`: filter keys are outcome, port, host")),
        }
    }
    Ok(f)
}

impl Filter {
    fn keeps(&self, a: &Attempt) -> bool {
        let ends: Vec<std::net::SocketAddr> = [&a.client, &a.server]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        let outcome = serde_json::to_value(a.outcome).ok();
        self.outcome
            .as_ref()
            .is_none_or(|o| outcome.as_ref().and_then(|v| v.as_str()) == Some(o.as_str()))
            && self.port.is_none_or(|p| ends.iter().any(|e| e.port() == p))
            && self.host.is_none_or(|h| ends.iter().any(|e| e.ip() == h))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Fmt {
    Text,
    Json,
    Jsonl,
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(i).copied()
}

fn text(name: &str, a: &Analysis) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name}: {} frames ({}), {} connection attempts",
        a.summary.frames,
        a.summary.format,
        a.attempts.len()
    );
    if let Some((at, why)) = &a.summary.damaged_at {
        let _ = writeln!(
            out,
            "  damaged at byte {at}: {why}; everything before it is analysed"
        );
    }
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for x in &a.attempts {
        *by.entry(format!("{:?}", x.outcome)).or_default() += 1;
    }
    for (k, v) in &by {
        let _ = writeln!(out, "  {k:<24} {v}");
    }
    let mut rtts: Vec<f64> = a
        .attempts
        .iter()
        .filter_map(|x| x.handshake_rtt_s)
        .collect();
    rtts.sort_by(f64::total_cmp);
    if let (Some(p50), Some(p90), Some(max)) =
        (percentile(&rtts, 0.5), percentile(&rtts, 0.9), rtts.last())
    {
        let _ = writeln!(
            out,
            "  handshake RTT: p50 {:.3} ms, p90 {:.3} ms, max {:.3} ms ({} handshakes)",
            p50 * 1e3,
            p90 * 1e3,
            max * 1e3,
            rtts.len()
        );
    }
    for x in &a.attempts {
        let _ = writeln!(out, "  {}", line(x));
    }
    out
}

fn line(x: &Attempt) -> String {
    let mut l = format!(
        "{} -> {}  {:?}  {} {}  SYN {:?} SYN-ACK {:?} ACK {:?}",
        x.client,
        x.server,
        x.outcome,
        x.conn_state,
        x.history,
        x.syn_frames,
        x.synack_frames,
        x.ack_frame
    );
    if x.bad_checksums > 0 {
        let _ = write!(l, "  bad checksums: {}", x.bad_checksums);
    }
    if x.syn_retransmissions + x.synack_retransmissions > 0 {
        let _ = write!(
            l,
            "  retransmitted: SYN ×{} SYN-ACK ×{}",
            x.syn_retransmissions, x.synack_retransmissions
        );
    }
    if let Some(r) = x.handshake_rtt_s {
        let _ = write!(l, "  RTT {:.3} ms", r * 1e3);
    }
    l
}

/// Returns the exit code.
pub fn run(args: &Args) -> Result<u8, String> {
    let mut code = 0;
    let mut docs = Vec::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in &args.files {
        let name = path.display().to_string();
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("synack: {name}: {e}");
                code = 1;
                continue;
            }
        };
        let a = match synack_capture::analyze(std::io::BufReader::new(file), &name) {
            Ok(mut a) => {
                if let Some(f) = &args.filter {
                    a.attempts.retain(|x| f.keeps(x));
                }
                a
            }
            Err(e) => {
                eprintln!("synack: {e}");
                code = 1;
                continue;
            }
        };
        let written = match args.format {
            Fmt::Text => out.write_all(text(&name, &a).as_bytes()),
            Fmt::Jsonl => a.attempts.iter().try_for_each(|x| {
                let mut v = serde_json::to_value(x).unwrap_or_default();
                v["file"] = name.clone().into();
                writeln!(out, "{v}")
            }),
            Fmt::Json => {
                docs.push(serde_json::json!({
                    "file": name,
                    "format": a.summary.format,
                    "frames": a.summary.frames,
                    "damaged_at": a.summary.damaged_at.as_ref().map(|(at, why)| serde_json::json!({"byte": at, "reason": why})),
                    "attempts": a.attempts,
                }));
                Ok(())
            }
        };
        if let Err(e) = written {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(code);
            }
            return Err(format!("writing output: {e}"));
        }
    }
    if args.format == Fmt::Json {
        let doc = serde_json::json!({ "schema": "synack.analyze/0", "files": docs });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    }
    Ok(code)
}
