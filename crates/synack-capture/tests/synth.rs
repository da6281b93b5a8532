//! The analyser against the generator's own count of what it wrote: every
//! outcome, retransmission, bad checksum, duplicate and wrong ack; and the
//! table stays small when the capture is long.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::collections::BTreeMap;

use synack_capture::synth::{self, SynthConfig};
use synack_capture::{What, analyze_each};

fn run(
    cfg: &SynthConfig,
) -> (
    synth::SynthTruth,
    Vec<synack_capture::Attempt>,
    synack_capture::Totals,
) {
    let mut buf = Vec::new();
    let truth = synth::write(&mut buf, cfg).unwrap();
    assert_eq!(truth.bytes, buf.len() as u64);
    let mut attempts = Vec::new();
    let totals = analyze_each(&buf[..], "synth", |a| attempts.push(a.clone())).unwrap();
    (truth, attempts, totals)
}

#[test]
fn every_attempt_is_found_as_generated() {
    let cfg = SynthConfig {
        target_bytes: 24 << 20,
        seed: 7,
        anomaly_per_mille: 300,
        ..SynthConfig::default()
    };
    let (truth, attempts, totals) = run(&cfg);
    assert_eq!(totals.summary.frames, truth.frames);
    assert_eq!(totals.unmatched, 0);
    assert_eq!(attempts.len() as u64, truth.attempts);
    let mut by: BTreeMap<&str, u64> = BTreeMap::new();
    for a in &attempts {
        *by.entry(a.outcome.name()).or_default() += 1;
    }
    assert_eq!(by, truth.by_outcome);
    assert!(by.len() >= 6, "{by:?}");
    // The summary's totals are the attempts' own.
    let mut stats = synack_capture::Stats::default();
    let mut diagnoses: BTreeMap<(synack_capture::Id, &str), u64> = BTreeMap::new();
    for a in &attempts {
        stats.add(a);
        if let Some(d) = &a.diagnosis {
            *diagnoses.entry((d.id, d.reason)).or_default() += 1;
        }
    }
    let counted: BTreeMap<&str, u64> = stats.by_outcome().map(|(o, n)| (o.name(), n)).collect();
    assert_eq!(counted, by);
    assert_eq!(stats.diagnoses(), diagnoses);
    assert!(diagnoses.len() >= 4, "{diagnoses:?}");
    let json = stats.to_json();
    for (name, n) in &by {
        assert_eq!(json["outcomes"][name], *n, "{name}");
    }
    let sum = |f: fn(&synack_capture::Attempt) -> u64| attempts.iter().map(f).sum::<u64>();
    assert_eq!(
        sum(|a| a.syn_retransmissions as u64),
        truth.syn_retransmissions
    );
    assert_eq!(
        sum(|a| a.synack_retransmissions as u64),
        truth.synack_retransmissions
    );
    assert_eq!(sum(|a| a.bad_checksums), truth.bad_checksums);
    assert_eq!(sum(|a| a.duplicates), truth.duplicates);
    let bad_acks = attempts
        .iter()
        .filter(|a| a.checks.iter().any(|c| c.what == What::SynAckAck && !c.ok))
        .count() as u64;
    assert_eq!(bad_acks, truth.bad_synack_acks);
    // The client's RST to a bad SYN-ACK carries the exact seq: it passes.
    assert!(
        attempts
            .iter()
            .flat_map(|a| &a.checks)
            .any(|c| c.what == What::BadAckRst && c.ok)
    );
    // Closed connections pass every check.
    for a in attempts.iter().filter(|a| a.outcome.name() == "closed") {
        assert!(a.checks.iter().all(|c| c.ok), "{a:#?}");
        assert!(a.handshake_rtt_s.is_some_and(|r| r > 0.0));
        assert_eq!(a.conn_state, "SF");
    }
    assert!(attempts.iter().any(|a| a.ip_version == 6));
}

#[test]
fn memory_follows_live_connections_not_file_size() {
    // Few flows at once over a long capture: most attempts must have been
    // handed out long before the end.
    let cfg = SynthConfig {
        target_bytes: 64 << 20,
        seed: 3,
        concurrent: 32,
        anomaly_per_mille: 0,
        gap_us: 20_000,
        ..SynthConfig::default()
    };
    let (truth, attempts, totals) = run(&cfg);
    assert_eq!(attempts.len() as u64, truth.attempts);
    assert!(truth.attempts > 300, "{}", truth.attempts);
    assert!(
        (totals.peak_live as u64) < truth.attempts / 4,
        "peak {} of {} attempts",
        totals.peak_live,
        truth.attempts
    );
}

/// Without checksums (`analyze --no-checksums`) no segment is counted bad,
/// on one thread and on two, and nothing else changes.
#[test]
fn checksums_left_unchecked_are_never_bad() {
    let cfg = SynthConfig {
        target_bytes: 4 << 20,
        seed: 11,
        anomaly_per_mille: 300,
        ..SynthConfig::default()
    };
    let mut buf = Vec::new();
    let truth = synth::write(&mut buf, &cfg).unwrap();
    assert!(
        truth.bad_checksums > 0,
        "the generator made no bad checksum"
    );
    let mut pass = synack_capture::Pass::new(synack_capture::track::MAX_LIVE);
    pass.checksums = false;
    let outcomes = |threads: usize| {
        let mut seen = Vec::new();
        let each = |a: &synack_capture::Attempt| {
            seen.push((a.first_frame, a.outcome.name(), a.bad_checksums))
        };
        if threads == 1 {
            synack_capture::analyze_frames(&buf[..], "synth", pass, |_| true, each).unwrap();
        } else {
            synack_capture::analyze_parallel(&buf[..], "synth", pass, threads, None, |_| {}, each)
                .unwrap();
        }
        seen.sort_unstable();
        seen
    };
    let (one, two) = (outcomes(1), outcomes(2));
    assert_eq!(one.len() as u64, truth.attempts);
    assert!(one.iter().all(|a| a.2 == 0));
    assert_eq!(one, two);
}
