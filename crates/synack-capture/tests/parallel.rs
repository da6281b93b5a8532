//! Several threads find what one finds: the same attempts, with the same
//! outcomes, checks and diagnoses, on every public capture and on a
//! synthetic one with interleaved connections, IPv6 and anomalies. Only
//! the order, `tcp_stream` (unknown with threads) and `peak_live` may
//! differ.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::path::PathBuf;

use synack_capture::reader::Frame;
use synack_capture::synth::{self, SynthConfig};
use synack_capture::{Pass, Stats, analyze_frames, analyze_parallel, fold_parallel};

/// How the threads share the work.
#[derive(Clone, Copy, Debug)]
enum Way {
    /// Bytes in memory: every thread walks every frame (split).
    Split,
    /// A stream: one thread reads and deals the segments.
    Dealt,
    /// Bytes in memory with a frame filter: dealt too.
    Filtered,
}

/// Each attempt as JSON without `tcp_stream`, in order of first frame.
fn records(bytes: &[u8], threads: usize, way: Way) -> (Vec<String>, u64, u64) {
    let mut v = Vec::new();
    let each = |a: &synack_capture::Attempt| {
        let mut j = serde_json::to_value(a).unwrap();
        j.as_object_mut().unwrap().remove("tcp_stream");
        v.push((a.first_frame, j.to_string()));
    };
    let t = if threads == 1 {
        analyze_frames(
            bytes,
            "t",
            synack_capture::Pass::new(100_000),
            |_| true,
            each,
        )
        .unwrap()
    } else {
        let mut all = |_: &Frame<'_>| true;
        let (src, keep): (synack_capture::reader::Source<'_>, _) = match way {
            Way::Split => (bytes.into(), None),
            Way::Dealt => (synack_capture::reader::Source::stream(bytes), None),
            Way::Filtered => (
                bytes.into(),
                Some(&mut all as &mut dyn FnMut(&Frame<'_>) -> bool),
            ),
        };
        let mut told = 0;
        let t = analyze_parallel(
            src,
            "t",
            synack_capture::Pass::new(100_000),
            threads,
            keep,
            |end| told = told.max(end),
            each,
        )
        .unwrap();
        assert!(told as usize <= bytes.len());
        t
    };
    v.sort();
    (v.into_iter().map(|x| x.1).collect(), t.unmatched, t.evicted)
}

#[test]
fn threads_find_what_one_thread_finds() {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut synth_file = Vec::new();
    synth::write(
        &mut synth_file,
        &SynthConfig {
            target_bytes: 8 << 20,
            anomaly_per_mille: 300,
            ipv6_per_mille: 300,
            ..SynthConfig::default()
        },
    )
    .unwrap();
    files.push(("synthetic".into(), synth_file));
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures/public");
    if dir.is_dir() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                files.push((name, std::fs::read(&p).unwrap()));
            }
        }
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the public captures are missing"
        );
        eprintln!("SKIPPED the public captures: {} not found", dir.display());
    }
    for (name, bytes) in &files {
        let one = records(bytes, 1, Way::Split);
        assert!(!one.0.is_empty(), "{name}: no attempt");
        for (threads, way) in [
            (2, Way::Split),
            (3, Way::Split),
            (2, Way::Dealt),
            (3, Way::Filtered),
        ] {
            let many = records(bytes, threads, way);
            assert_eq!(
                one.0.len(),
                many.0.len(),
                "{name}, {threads} threads, {way:?}"
            );
            for (a, b) in one.0.iter().zip(&many.0) {
                assert_eq!(a, b, "{name}, {threads} threads, {way:?}");
            }
            assert_eq!(
                (one.1, one.2),
                (many.1, many.2),
                "{name}: unmatched, evicted"
            );
        }
        // A summary summed on each thread and merged is one thread's.
        let mut alone = Stats::default();
        analyze_frames(
            bytes,
            name,
            Pass::new(synack_capture::track::MAX_LIVE),
            |_| true,
            |a| alone.add(a),
        )
        .unwrap();
        // In memory each thread walks the file; from a stream one reads
        // and deals, and the others fold.
        for (threads, streamed) in [(2, false), (3, false), (2, true), (3, true)] {
            let fold = |s: &mut Stats, a: &synack_capture::Attempt| s.add(a);
            let input = if streamed {
                synack_capture::reader::Source::stream(&bytes[..])
            } else {
                synack_capture::reader::Source::Bytes(&bytes[..])
            };
            let (t, parts) = fold_parallel(
                input,
                name,
                Pass::new(synack_capture::track::MAX_LIVE),
                threads,
                |_| {},
                fold,
            )
            .unwrap();
            assert_eq!(t.threads, threads);
            assert_eq!(parts.len(), if streamed { threads - 1 } else { threads });
            let mut merged = Stats::default();
            for p in parts {
                merged.merge(p);
            }
            assert_eq!(
                merged.to_json(),
                alone.to_json(),
                "{name}, {threads} threads, streamed: {streamed}"
            );
        }
    }
}
