//! Several threads find what one finds: the same attempts, with the same
//! outcomes, checks and diagnoses, on every public capture and on a
//! synthetic one with interleaved connections, IPv6 and anomalies. Only
//! the order, `tcp_stream` (unknown with threads) and `peak_live` may
//! differ.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::path::PathBuf;

use synack_capture::reader::Frame;
use synack_capture::synth::{self, SynthConfig};
use synack_capture::{Filter, Pass, Stats, Summing, analyze_frames, analyze_parallel, fold};

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
        summaries_are_one_threads(name, bytes);
    }
}

/// A summary summed on each thread and merged is one thread's, every
/// attempt made and added; and so is one summed by [`Summing`], which
/// takes an attempt of one SYN by its kind without making it, with a
/// `--filter` too.
fn summaries_are_one_threads(name: &str, bytes: &[u8]) {
    let filter: Filter = "outcome=no_answer,outcome=refused,port=80,port=443"
        .parse()
        .unwrap();
    for filter in [None, Some(&filter)] {
        let mut alone = Stats::default();
        analyze_frames(
            bytes,
            name,
            Pass::new(synack_capture::track::MAX_LIVE),
            |_| true,
            |a| {
                if filter.is_none_or(|f| f.keeps(a)) {
                    alone.add(a);
                } else {
                    alone.left_out += 1;
                }
            },
        )
        .unwrap();
        let every = |s: &mut Stats, a: &synack_capture::Attempt| {
            if filter.is_none_or(|f| f.keeps(a)) {
                s.add(a);
            } else {
                s.left_out += 1;
            }
        };
        let summing = Summing { filter };
        // In memory each thread walks the file; from a stream one reads
        // and deals, and the others fold.
        for (threads, streamed) in [(1, false), (2, false), (3, false), (2, true), (3, true)] {
            let input = || {
                if streamed {
                    synack_capture::reader::Source::stream(bytes)
                } else {
                    synack_capture::reader::Source::Bytes(bytes)
                }
            };
            let how = Pass::new(synack_capture::track::MAX_LIVE);
            let merged = |(t, parts): (synack_capture::Totals, Vec<Stats>)| {
                assert_eq!(t.threads, threads);
                let tracking = if streamed || threads == 1 {
                    threads.max(2) - 1
                } else {
                    threads
                };
                assert_eq!(parts.len(), tracking);
                let mut m = Stats::default();
                for p in parts {
                    m.merge(p);
                }
                (m.to_json(), m.left_out)
            };
            let want = (alone.to_json(), alone.left_out);
            let by_each = merged(fold(input(), name, how, threads, |_| {}, &every).unwrap());
            let by_kind = merged(fold(input(), name, how, threads, |_| {}, &summing).unwrap());
            let at = format!("{name}, {threads} threads, streamed: {streamed}, {filter:?}");
            assert_eq!(by_each, want, "{at}");
            assert_eq!(by_kind, want, "{at}, by kind");
        }
    }
}

/// Only a TCP segment moves the capture's clock, as on one thread: a
/// frame of another protocol, or one whose TCP header is cut or claims
/// fewer than its 20 fixed bytes, stamped
/// late (a capture's timestamps need not rise) must not end, on another
/// thread or at a tracking thread's batch, an attempt whose next SYN
/// comes after it, nor stretch how long an unanswered SYN was watched.
#[test]
fn only_segments_move_the_clock_on_every_thread() {
    use synack_wire::{TcpFlags, TcpOptions};
    let (c, s) = ("10.0.0.1", "10.0.0.2");
    let at = |port: u16| -> (std::net::SocketAddr, std::net::SocketAddr) {
        (
            format!("{c}:{port}").parse().unwrap(),
            format!("{s}:80").parse().unwrap(),
        )
    };
    let seg = |port: u16, from_client: bool, flags: TcpFlags, seq: u32, ack: u32| {
        let (a, b) = at(port);
        let (src, dst) = if from_client { (a, b) } else { (b, a) };
        synth::ip_segment(src, dst, flags, seq, ack, 0, TcpOptions::default()).unwrap()
    };
    // An IPv4 header of `proto` and `len` bytes in all, between the ends.
    let other = |proto: u8, len: u16| {
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        p[2..4].copy_from_slice(&len.to_be_bytes());
        p.resize(usize::from(len), 0);
        p
    };
    let mut frames = Vec::new();
    for port in 40_000..40_016 {
        let t = f64::from(port - 40_000) * 0.001;
        frames.push((t, seg(port, true, TcpFlags::SYN, 1000, 0)));
    }
    frames.push((1000.0, other(17, 28)));
    frames.push((2000.0, other(6, 30)));
    // A whole TCP header whose data offset is below 5 words: no segment.
    for (t, words) in [(3000.0, 0u8), (4000.0, 4)] {
        let mut bogus = seg(40_100, true, TcpFlags::ACK, 1, 1);
        bogus[20 + 12] = words << 4;
        frames.push((t, bogus));
    }
    for port in 40_000..40_008 {
        let t = 0.5 + f64::from(port - 40_000) * 0.001;
        frames.push((t, seg(port, true, TcpFlags::SYN, 1000, 0)));
        frames.push((
            t + 0.0002,
            seg(port, false, TcpFlags::RST | TcpFlags::ACK, 0, 1001),
        ));
    }
    let bytes = synth::raw_pcap(&frames);
    let one = records(&bytes, 1, Way::Split);
    assert_eq!(one.0.len(), 16, "a refused attempt or a lone SYN per port");
    assert!(
        one.0
            .iter()
            .filter(|r| r.contains("\"outcome\":\"refused\""))
            .count()
            == 8
    );
    for way in [Way::Split, Way::Dealt] {
        for threads in [2, 3] {
            let many = records(&bytes, threads, way);
            assert_eq!(many.0, one.0, "{threads} threads, {way:?}");
        }
    }
}

/// A summary counts attempts of one SYN by kind in the tracker, as they
/// leave (evicted, idle, replaced by a reused port, or still held at the
/// end), and adds each kind's count once: the summary is the one that adds
/// every attempt made, on one thread and on several, however few
/// attempts may be held.
#[test]
fn one_syn_attempts_counted_in_the_tracker_add_as_each_would() {
    use synack_wire::{TcpFlags, TcpOptions};
    let mss = TcpOptions {
        mss: Some(1460),
        sack_permitted: true,
        ..TcpOptions::default()
    };
    let mut frames = Vec::new();
    let mut t = 0.0;
    for i in 0..400u32 {
        let port = 30_000 + u16::try_from(i % 37).unwrap();
        let (c, s): (std::net::SocketAddr, std::net::SocketAddr) = if i % 5 == 0 {
            (
                format!("[2001:db8::{}]:{port}", i % 3 + 1).parse().unwrap(),
                "[2001:db8::ff]:443".parse().unwrap(),
            )
        } else {
            (
                format!("10.0.{}.1:{port}", i % 3).parse().unwrap(),
                "10.9.9.9:80".parse().unwrap(),
            )
        };
        // Some kinds fail a check, whose example is the earliest of its kind.
        let flags = match (i % 7, i % 13) {
            (_, 0) => TcpFlags::SYN | TcpFlags::FIN,
            (0, _) => TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR,
            _ => TcpFlags::SYN,
        };
        let opts = if i % 3 == 0 {
            TcpOptions::default()
        } else {
            mss
        };
        // Ports repeat with a new ISN (a reused port); now and then an
        // answer, and a silence past the idle timeout.
        t += if i == 250 { 400.0 } else { 0.01 };
        // Data on some SYNs, of many lengths: more kinds than are counted.
        let data = usize::try_from(i % 2 * (i % 80)).unwrap();
        let syn = synth::ip_segment(c, s, flags, i * 7919, 0, data, opts).unwrap();
        frames.push((t, syn));
        if i % 11 == 5 {
            let synack = TcpFlags::SYN | TcpFlags::ACK;
            let ack = (i * 7919).wrapping_add(1);
            let p = synth::ip_segment(s, c, synack, 5000, ack, 0, mss).unwrap();
            frames.push((t + 0.001, p));
        }
    }
    let crafted = synth::raw_pcap(&frames);
    let mut scan = Vec::new();
    let cfg = SynthConfig {
        target_bytes: 90 * 3000,
        scan: true,
        ipv6_per_mille: 200,
        ..SynthConfig::default()
    };
    synth::write(&mut scan, &cfg).unwrap();
    for (name, bytes) in [("crafted", crafted.as_slice()), ("scan", scan.as_slice())] {
        for max in [synack_capture::track::MAX_LIVE, 5] {
            let pass = Pass::new(max);
            let every = |s: &mut Stats, a: &synack_capture::Attempt| s.add(a);
            for (threads, streamed) in [(1, false), (2, false), (3, true)] {
                let input = || {
                    if streamed {
                        synack_capture::reader::Source::stream(bytes)
                    } else {
                        synack_capture::reader::Source::Bytes(bytes)
                    }
                };
                let merged = |(t, parts): (synack_capture::Totals, Vec<Stats>)| {
                    let mut m = Stats::default();
                    for p in parts {
                        m.merge(p);
                    }
                    (m, t.evicted)
                };
                let (want, evicted) =
                    merged(fold(input(), name, pass, threads, |_| {}, &every).unwrap());
                let by_kind = Summing::default();
                let (got, _) =
                    merged(fold(input(), name, pass, threads, |_| {}, &by_kind).unwrap());
                let at = format!("{name}, at most {max} held, {threads} threads");
                assert!(want.attempts > 200, "{at}");
                assert!(evicted > 0 || max > 5, "{at}: nothing evicted");
                assert_eq!(got.to_json(), want.to_json(), "{at}");
                if name == "crafted" && max > 5 {
                    let json = want.to_json().to_string();
                    assert!(json.contains("\"example\""), "{at}: no failed check");
                    assert!(want.port_reuse > 0, "{at}: no reused port");
                }
            }
        }
    }
}
