//! How many threads `synack analyze` takes when `--threads` is not given:
//! a summary of a large file is summed up on the cores it may use, and
//! says so, as is one of a stream; anything else stays on one thread
//! (per-attempt records keep their `tcp_stream` and their order).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

fn synack(args: &[&str], file: &Path) -> Output {
    common::synack_ok(
        args.iter()
            .map(std::ffi::OsStr::new)
            .chain([file.as_os_str()]),
    )
}

/// The file's object of a `--format json` summary.
fn summary(args: &[&str], file: &Path) -> Value {
    let mut all = vec![
        "analyze",
        "--summary",
        "--format",
        "json",
        "--progress",
        "never",
    ];
    all.extend_from_slice(args);
    let v: Value = serde_json::from_slice(&synack(&all, file).stdout).unwrap();
    v["files"][0].clone()
}

/// A generated data-heavy capture of `mb` megabytes.
fn capture(dir: &Path, mb: u64) -> PathBuf {
    let path = dir.join(format!("data-{mb}.pcap"));
    let cfg = synack_capture::synth::SynthConfig {
        target_bytes: mb << 20,
        ..Default::default()
    };
    synack_capture::synth::write(std::fs::File::create(&path).unwrap(), &cfg).unwrap();
    path
}

#[test]
fn a_summary_of_a_large_file_or_a_stream_takes_the_cores() {
    let dir = std::env::temp_dir().join(format!("synack-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (big, small) = (capture(&dir, 40), capture(&dir, 4));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));

    let auto = summary(&[], &big);
    let one = summary(&["--threads", "1"], &big);
    assert_eq!(auto["threads"], cores);
    assert_eq!(one["threads"], 1);
    // The same counts, outcomes and diagnoses; only the peak held is then
    // each thread's summed (an upper bound).
    for k in [
        "summary",
        "frames",
        "evicted_attempts",
        "segments_outside_attempts",
    ] {
        assert_eq!(auto[k], one[k], "{k}");
    }
    assert!(auto["summary"]["attempts"].as_u64().unwrap() > 1000);
    assert!(auto["peak_attempts_in_memory"].as_u64() >= one["peak_attempts_in_memory"].as_u64());

    // Asked for, taken; a small file takes one.
    assert_eq!(summary(&["--threads", "3"], &big)["threads"], 3);
    assert_eq!(summary(&[], &small)["threads"], 1);

    // A stream (here a compressed file, whose size is not known before it
    // is read) takes the cores whatever its size: one reads, the others
    // track, with the same summary.
    let gz = dir.join("small.pcap.gz");
    let packed = Command::new("gzip").arg("-c").arg(&small).output().unwrap();
    assert!(packed.status.success());
    std::fs::write(&gz, &packed.stdout).unwrap();
    let streamed = summary(&[], &gz);
    let alone = summary(&[], &small);
    assert_eq!(streamed["threads"], cores);
    assert_eq!(streamed["summary"], alone["summary"]);
    assert_eq!(streamed["evicted_attempts"], alone["evicted_attempts"]);

    // The text summary names the threads when there are several.
    let text = synack(&["analyze", "--summary", "--progress", "never"], &big);
    let head = String::from_utf8_lossy(&text.stdout);
    let head = head.lines().next().unwrap_or_default();
    assert_eq!(
        head.contains(&format!(" on {cores} threads)")),
        cores > 1,
        "{head}"
    );
    let text = synack(&["analyze", "--summary", "--threads", "1"], &big);
    assert!(!String::from_utf8_lossy(&text.stdout).contains(" threads)"));

    // Records of their own stay on one thread: tshark's stream numbers
    // are known.
    let jsonl = synack(&["analyze", "--format", "jsonl"], &big);
    let records: Vec<Value> = String::from_utf8_lossy(&jsonl.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(records.len() > 1000);
    assert!(records.iter().all(|r| r["tcp_stream"].is_u64()));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Several files are summed up at once, a file per core, and reported in
/// the order given, as one after another would be: a file that cannot be
/// read in the middle is said so and the others are still reported, and
/// the JSON document holds an object per file read.
#[test]
fn several_files_are_summed_up_at_once_and_reported_in_order() {
    let dir = std::env::temp_dir().join(format!("synack-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A large one first, so that the small ones after it end before it.
    let mut files = vec![capture(&dir, 24)];
    files.push(dir.join("missing.pcap"));
    files.extend((1..=4).map(|mb| capture(&dir, mb)));
    let run = |extra: &[&str], format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_synack"))
            .args([
                "analyze",
                "--summary",
                "--progress",
                "never",
                "--format",
                format,
            ])
            .args(extra)
            .args(&files)
            .env("LANG", "C")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(stderr.contains("missing.pcap"), "{stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The time each took is the only difference.
    let timeless = |t: String| {
        t.lines()
            .map(|l| l.split(" read in ").next().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    let (at_once, in_turn) = (run(&[], "text"), run(&["--threads", "1"], "text"));
    assert_eq!(timeless(at_once.clone()), timeless(in_turn));
    let heads: Vec<&str> = at_once
        .lines()
        .filter(|l| l.contains(" frames, "))
        .collect();
    let names: Vec<String> = files
        .iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(heads.len(), names.len(), "{at_once}");
    for (h, n) in heads.iter().zip(&names) {
        assert!(h.starts_with(&format!("{n}: ")), "{h} is not {n}'s");
    }
    let json: Value = serde_json::from_str(&run(&[], "json")).unwrap();
    let read: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(read, names);
    std::fs::remove_dir_all(&dir).unwrap();
}
