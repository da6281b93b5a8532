//! `analyze --format packetdrill`: a packetdrill script per attempt, its
//! client the system under test, from the attempt's own frames (read in a
//! second pass over the file), for `synack script` to replay.

use std::collections::{HashMap, HashSet};

use synack_capture::Attempt;
use synack_script::write::{Origin, Seg, script};

/// Attempts kept for scripts; the rest are counted, not written.
pub const MAX_SCRIPTS: usize = 1000;

/// Every kept attempt's script, in order, or `None` when the file cannot
/// be read again (standard input cannot).
pub fn of_file(
    path: &std::path::Path,
    name: &str,
    kept: &[(u64, Attempt)],
    left_out: usize,
) -> Option<String> {
    if path.as_os_str() == "-" {
        eprintln!("synack: {name}: --format packetdrill reads its file twice: give a file, not -");
        return None;
    }
    let wanted: HashSet<u64> = kept
        .iter()
        .flat_map(|(_, a)| a.steps.iter().map(|s| s.frame))
        .collect();
    let mut frames: HashMap<u64, (i64, Vec<u8>)> = HashMap::new();
    let read = crate::input::open(path).and_then(|mut o| {
        synack_capture::reader::read(o.source(), name, |f| {
            if wanted.contains(&f.number)
                && let Some(ip) = synack_capture::link::ip_packet(f.linktype, f.data)
            {
                frames.insert(f.number, (f.ts_ns, ip.to_vec()));
            }
        })
        .map_err(|e| e.to_string())
    });
    if let Err(e) = read {
        eprintln!("synack: {name}: {e}");
        return None;
    }
    let mut out = String::new();
    for (n, a) in kept {
        let segs: Vec<Seg> = a
            .steps
            .iter()
            .filter_map(|s| {
                let (at_ns, bytes) = frames.get(&s.frame)?;
                Some(Seg {
                    at_ns: *at_ns,
                    from_client: s.from == "client",
                    bytes: bytes.clone(),
                })
            })
            .collect();
        let first = a.steps.first().map_or(0, |s| s.frame);
        let last = a.steps.last().map_or(0, |s| s.frame);
        let origin = Origin {
            what: format!("attempt {n} of {name}, frames {first}-{last}"),
            client: a.client,
            server: a.server,
        };
        match script(&origin, &segs) {
            Ok(s) => out.push_str(&s),
            Err(why) => out.push_str(&format!("// attempt {n} of {name}: no script: {why}\n")),
        }
        out.push('\n');
    }
    if left_out > 0 {
        out.push_str(&format!(
            "// {left_out} more attempts: at most {MAX_SCRIPTS} scripts are written per file\n"
        ));
    }
    Some(out)
}
