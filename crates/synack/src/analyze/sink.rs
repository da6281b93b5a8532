//! Where each format puts a file's attempts: the text report (summary
//! first, so attempts are spooled), one JSON document, JSON Lines, an HTML
//! page, zeek's conn.log, or nmap's port table (`--ports`).

use std::io::Write;

use synack_capture::ports::Ports;
use synack_capture::{Attempt, Stats, Totals};
use synack_explain::Lang;

use super::{Fmt, html, packetdrill};
use crate::progress::Spool;
use crate::report;

/// One file's output while its attempts stream by.
pub(super) enum Sink {
    Text {
        spool: Spool,
        verbose: bool,
    },
    Json,
    /// A record per attempt, or with `summary` one per file of its counts.
    Jsonl {
        summary: bool,
    },
    Html {
        drawn: Vec<(u64, Attempt)>,
        left_out: usize,
    },
    Zeek,
    Packetdrill {
        kept: Vec<(u64, Attempt)>,
        left_out: usize,
    },
    Ports {
        ports: Ports,
        format: Fmt,
    },
}

#[derive(serde::Serialize)]
struct Record<'a, T: serde::Serialize> {
    file: &'a str,
    #[serde(flatten)]
    item: &'a T,
}

/// A JSON writer's error as the I/O error it was (a closed pipe stays a
/// closed pipe, which ends the run quietly as text output does).
fn json_io(e: serde_json::Error) -> std::io::Error {
    match e.io_error_kind() {
        Some(k) => std::io::Error::from(k),
        None => std::io::Error::other(e),
    }
}

fn jsonl<T: serde::Serialize>(out: &mut dyn Write, file: &str, item: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &Record { file, item }).map_err(json_io)?;
    out.write_all(b"\n")
}

/// Seconds since the epoch, now (zeek's #open and #close lines).
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

impl Sink {
    pub(super) fn new(format: Fmt, ports: bool, verbose: bool, summary: bool) -> Sink {
        match (format, ports) {
            (f, true) => Sink::Ports {
                ports: Ports::default(),
                format: f,
            },
            (Fmt::Text, false) => Sink::Text {
                spool: Spool::default(),
                verbose,
            },
            (Fmt::Json, false) => Sink::Json,
            (Fmt::Jsonl, false) => Sink::Jsonl { summary },
            (Fmt::Html, false) => Sink::Html {
                drawn: Vec::new(),
                left_out: 0,
            },
            (Fmt::Zeek, false) => Sink::Zeek,
            (Fmt::Packetdrill, false) => Sink::Packetdrill {
                kept: Vec::new(),
                left_out: 0,
            },
        }
    }

    /// Before the file's first attempt. `objects` counts the files already
    /// in the JSON document.
    pub(super) fn begin(
        &mut self,
        out: &mut dyn Write,
        name: &str,
        objects: &mut usize,
    ) -> std::io::Result<()> {
        match self {
            Sink::Json
            | Sink::Ports {
                format: Fmt::Json, ..
            } => {
                let sep = if *objects == 0 { "" } else { "," };
                *objects += 1;
                write!(
                    out,
                    "{sep}\n{{\"file\":{},\"attempts\":[",
                    serde_json::Value::from(name)
                )
            }
            Sink::Zeek => out.write_all(synack_capture::zeek::header(now()).as_bytes()),
            _ => Ok(()),
        }
    }

    /// The `n`th attempt kept.
    pub(super) fn attempt(
        &mut self,
        out: &mut dyn Write,
        name: &str,
        n: u64,
        a: &Attempt,
        lang: Lang,
    ) -> std::io::Result<()> {
        match self {
            Sink::Text { spool, verbose } => {
                spool.write_all(report::attempt(n, a, *verbose, lang).as_bytes())
            }
            Sink::Jsonl { .. } => jsonl(out, name, a),
            Sink::Json => {
                out.write_all(if n == 1 { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *out, a).map_err(json_io)
            }
            Sink::Html { drawn, left_out } => {
                if drawn.len() < html::MAX_ATTEMPTS {
                    drawn.push((n, a.clone()));
                } else {
                    *left_out += 1;
                }
                Ok(())
            }
            Sink::Zeek => out.write_all(synack_capture::zeek::line(name, a).as_bytes()),
            Sink::Packetdrill { kept, left_out } => {
                if kept.len() < packetdrill::MAX_SCRIPTS {
                    kept.push((n, a.clone()));
                } else {
                    *left_out += 1;
                }
                Ok(())
            }
            Sink::Ports { ports, .. } => {
                ports.add(a);
                Ok(())
            }
        }
    }

    /// The file could not be read after all: a JSON document says so in
    /// the file's object, which it closes.
    pub(super) fn failed(&self, out: &mut dyn Write, why: &str) -> std::io::Result<()> {
        match self {
            Sink::Json
            | Sink::Ports {
                format: Fmt::Json, ..
            } => write!(out, "],\"error\":{}}}", serde_json::Value::from(why)),
            _ => Ok(()),
        }
    }

    /// After the file's last attempt; `None` when the file turned out
    /// unreadable (HTML reads it twice).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn end(
        self,
        out: &mut dyn Write,
        path: &std::path::Path,
        name: &str,
        totals: &Totals,
        stats: &Stats,
        lang: Lang,
        (size, secs, verbose): (u64, f64, bool),
    ) -> std::io::Result<Option<()>> {
        let summary = || report::summary(name, totals, stats, lang, size, secs);
        match self {
            Sink::Text { mut spool, .. } => {
                out.write_all(summary().as_bytes())?;
                spool.copy_to(out)?;
            }
            Sink::Jsonl { summary: false } => {}
            Sink::Jsonl { summary: true } => jsonl(out, name, &counts(totals, stats))?,
            Sink::Json => json_tail(out, totals, stats, None)?,
            Sink::Zeek => out.write_all(synack_capture::zeek::footer(now()).as_bytes())?,
            Sink::Packetdrill { kept, left_out } => {
                let Some(scripts) = packetdrill::of_file(path, name, &kept, left_out) else {
                    return Ok(None);
                };
                out.write_all(scripts.as_bytes())?;
            }
            Sink::Html {
                mut drawn,
                left_out,
            } => {
                let read = &totals.summary;
                let Some(page) =
                    html::of_file(path, name, lang, &mut drawn, left_out, read, verbose)
                else {
                    return Ok(None);
                };
                out.write_all(page.as_bytes())?;
            }
            Sink::Ports { ports, format } => match format {
                Fmt::Json => json_tail(out, totals, stats, Some(&ports))?,
                Fmt::Jsonl => {
                    for r in ports.rows() {
                        jsonl(out, name, r)?;
                    }
                }
                _ => {
                    out.write_all(summary().as_bytes())?;
                    out.write_all(report::ports(&ports, lang).as_bytes())?;
                }
            },
        }
        Ok(Some(()))
    }
}

/// A file's counts and summary, as its JSON object ends with them.
fn counts(t: &Totals, s: &Stats) -> serde_json::Value {
    serde_json::json!({
        "format": t.summary.format,
        "frames": t.summary.frames,
        "damaged_at": t.summary.damaged_at.as_ref().map(|(at, why)| serde_json::json!({
            "byte": at,
            "kind": why.id(),
            "reason": synack_capture::narrate::damage(why, Lang::En),
        })),
        "unreadable_frames": t.unreadable,
        "unread_link_frames": t.summary.unread_links.iter().map(|&(lt, n)| serde_json::json!({
            "linktype": lt,
            "name": synack_capture::link::name(lt),
            "frames": n,
        })).collect::<Vec<_>>(),
        "reassembled_packets": t.reassembled,
        "fragments_not_reassembled": t.fragments_lost,
        "tunnelled_packets": synack_wire::tunnel::Tunnel::ALL.iter().zip(t.tunnelled)
            .filter(|&(_, n)| n > 0)
            .map(|(k, n)| (k.key().to_string(), serde_json::json!(n)))
            .collect::<serde_json::Map<_, _>>(),
        "tunnel_networks": t.tunnel_networks.iter()
            .map(|(k, id)| serde_json::json!({"kind": k.key(), "id": id}))
            .collect::<Vec<_>>(),
        "segments_outside_attempts": t.unmatched,
        "frames_filtered_out": t.filtered_out,
        "peak_attempts_in_memory": t.peak_live,
        "evicted_attempts": t.evicted,
        "threads": t.threads,
        "summary": s.to_json(),
    })
}

/// The rest of a file's JSON object after its attempts.
fn json_tail(
    out: &mut dyn Write,
    t: &Totals,
    s: &Stats,
    ports: Option<&Ports>,
) -> std::io::Result<()> {
    let mut tail = counts(t, s);
    if let (Some(p), Some(obj)) = (ports, tail.as_object_mut()) {
        let rows: Vec<_> = p.rows().collect();
        obj.insert("ports".into(), serde_json::to_value(rows).map_err(json_io)?);
    }
    let body = tail.to_string();
    // `{"format":…}` minus its opening brace continues the object.
    write!(out, "],{}", body.strip_prefix('{').unwrap_or(&body))
}
