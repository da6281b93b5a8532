//! The README's transcripts are what synack prints: each `synack analyze`
//! of a public capture and each `synack explain --peer sim` is run again
//! and compared line by line. A line `…` stands for any lines, a `…`
//! within a line for any text, and the read time is left out. A
//! transcript of a file made by the kernel lab (its ISNs differ every run)
//! is named here and not run; `probe` goes out on a live network and is
//! not run either.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::Path;

/// Transcripts of captures the lab makes anew each run.
const MADE_BY_THE_LAB: &[&str] = &["u.pcap"];

/// One `$ synack analyze …` line and the lines shown after it.
struct Transcript {
    args: Vec<String>,
    /// `| grep -v WORD`: output lines holding it are dropped.
    without: Option<String>,
    lines: Vec<String>,
}

/// The transcripts of `synack analyze` in the fenced blocks of `text`.
fn transcripts(text: &str) -> Vec<Transcript> {
    let mut found: Vec<Transcript> = Vec::new();
    let mut in_block = false;
    let mut current: Option<Transcript> = None;
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            found.extend(current.take());
            continue;
        }
        if !in_block {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            found.extend(current.take());
            current = command(cmd);
        } else if let Some(t) = current.as_mut() {
            t.lines.push(line.to_string());
        }
    }
    for t in &mut found {
        while t.lines.last().is_some_and(|l| l.trim().is_empty()) {
            t.lines.pop();
        }
    }
    found
}

/// A transcript begun by `cmd` when it runs `synack analyze`.
fn command(cmd: &str) -> Option<Transcript> {
    let (run, pipe) = match cmd.split_once(" | ") {
        Some((run, pipe)) => (run, Some(pipe)),
        None => (cmd, None),
    };
    let words = common::shell_words(run);
    let sub = words.get(1).map(String::as_str);
    if words.first().map(String::as_str) != Some("synack")
        || !matches!(sub, Some("analyze" | "explain"))
    {
        return None;
    }
    let without = pipe.map(|p| {
        let w = common::shell_words(p);
        assert_eq!(
            w.get(..2),
            Some(&["grep".to_string(), "-v".to_string()][..]),
            "a README transcript pipes into something this test does not run: {cmd}"
        );
        w.get(2).cloned().expect("grep -v WORD")
    });
    Some(Transcript {
        args: words.into_iter().skip(1).collect(),
        without,
        lines: Vec::new(),
    })
}

/// The public capture a README file name stands for (`synscan.pcapng` is
/// `chrissanders-synscan.pcapng`).
fn capture_of(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    let suffix = format!("-{name}");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.ends_with(&suffix))
        })
}

/// "read in 0.06 s" made "read in _ s": the one figure that is the
/// machine's, not the capture's.
fn untimed(line: &str) -> String {
    match line.find("read in ") {
        Some(at) => {
            let (head, rest) = line.split_at(at + "read in ".len());
            let tail = rest
                .find(" s")
                .map_or(rest, |e| rest.get(e..).unwrap_or(""));
            format!("{head}_{tail}")
        }
        None => line.to_string(),
    }
}

/// `printed` as `shown` shows it: equal, but that a `…` in `shown` stands
/// for any text.
fn matches(shown: &str, printed: &str) -> bool {
    let mut pieces = shown.split('…');
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = printed.strip_prefix(first) else {
        return false;
    };
    let mut elided = false;
    for piece in pieces {
        elided = true;
        match rest.find(piece) {
            // The last piece ends the line.
            Some(_) if piece.is_empty() => rest = "",
            Some(at) => rest = rest.get(at + piece.len()..).unwrap_or(""),
            None => return false,
        }
    }
    rest.is_empty() || (elided && shown.ends_with('…'))
}

/// Where `shown` departs from `printed`, if it does.
fn compare(shown: &[String], printed: &[String]) -> Result<(), String> {
    let (mut at, mut skipping) = (0, false);
    for line in shown {
        let line = untimed(line);
        if line == "…" {
            skipping = true;
            continue;
        }
        let found = printed
            .get(at..)
            .unwrap_or(&[])
            .iter()
            .position(|p| matches(&line, &untimed(p)));
        match found {
            Some(0) => at += 1,
            Some(k) if skipping => at += k + 1,
            _ => {
                let next = printed.get(at).map_or("(nothing)", String::as_str);
                return Err(format!("README shows\n  {line}\nsynack prints\n  {next}"));
            }
        }
        skipping = false;
    }
    if !skipping && at < printed.len() {
        return Err(format!(
            "synack prints {} line(s) more (from `{}`); end the transcript with `…`",
            printed.len() - at,
            printed.get(at).map_or("", String::as_str)
        ));
    }
    Ok(())
}

/// What synack prints for `t`, as the README would show it; `None` for a
/// file the lab makes.
fn printed_for(t: &Transcript, dir: &Path) -> Option<Vec<String>> {
    let mut args = t.args.clone();
    let mut shown_as = None;
    if args.first().map(String::as_str) == Some("explain") {
        assert!(
            args.windows(2).any(|w| w == ["--peer", "sim"]),
            "README: `synack {}` must say --peer sim to be the same on every machine",
            args.join(" ")
        );
    } else {
        let name = args.last().expect("a file").clone();
        let Some(path) = capture_of(dir, &name) else {
            assert!(
                MADE_BY_THE_LAB.contains(&name.as_str()),
                "README runs synack on {name}, which is neither a public capture nor one the lab makes"
            );
            return None;
        };
        if let Some(last) = args.last_mut() {
            *last = path.display().to_string();
        }
        shown_as = Some((path.display().to_string(), name));
    }
    let text = String::from_utf8(common::synack_ok(&args).stdout).expect("UTF-8");
    let mut printed: Vec<String> = text
        .lines()
        .filter(|l| t.without.as_ref().is_none_or(|w| !l.contains(w.as_str())))
        .map(|l| match &shown_as {
            Some((path, name)) => l.replace(path, name),
            None => l.to_string(),
        })
        .collect();
    while printed.last().is_some_and(|l| l.trim().is_empty()) {
        printed.pop();
    }
    Some(printed)
}

#[test]
fn the_readme_transcripts_are_what_synack_prints() {
    let Some(dir) = common::public_captures() else {
        return;
    };
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md");
    let all = transcripts(&readme);
    let mut checked = 0;
    for t in &all {
        let Some(printed) = printed_for(t, &dir) else {
            continue;
        };
        if let Err(why) = compare(&t.lines, &printed) {
            panic!("README: `synack {}`:\n{why}", t.args.join(" "));
        }
        checked += 1;
    }
    // The handshake explained, the scan, its port table, and the crafted
    // SYN with data.
    assert!(
        checked >= 4,
        "only {checked} of {} transcripts run",
        all.len()
    );
}

#[test]
fn a_transcript_that_departs_from_the_output_is_caught() {
    let printed: Vec<String> = ["a: 1 frames (read in 0.01 s)", "b", "c", "d"]
        .map(String::from)
        .to_vec();
    let shown = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(
        compare(
            &shown(&["a: 1 frames (read in 9.99 s)", "b", "c", "d"]),
            &printed
        )
        .is_ok()
    );
    assert!(
        compare(
            &shown(&["a: 1 frames (read in 0.01 s)", "…", "d"]),
            &printed
        )
        .is_ok()
    );
    assert!(compare(&shown(&["…", "c…", "…"]), &printed).is_ok());
    assert!(matches("x [rule 14: …]", "x [rule 14: SYN-ACK options]"));
    assert!(matches("a … c … e", "a b c d e"));
    assert!(!matches("a … c", "a b d"));
    assert!(!matches("a … c", "a b c d"));
    // A line changed, a line missing without `…`, the end cut without `…`.
    assert!(compare(&shown(&["a: 2 frames (read in 0.01 s)", "…"]), &printed).is_err());
    assert!(
        compare(
            &shown(&["a: 1 frames (read in 0.01 s)", "c", "…"]),
            &printed
        )
        .is_err()
    );
    assert!(compare(&shown(&["…", "b"]), &printed).is_err());
}
