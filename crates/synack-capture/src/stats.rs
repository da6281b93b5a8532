//! The summary of a capture, kept in bounded memory as attempts stream by:
//! counts by outcome, RTT percentiles from a log histogram (1 % buckets),
//! failed checks by kind.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::attempt::{Attempt, Outcome};
use crate::check::What;
use crate::diagnose::Id;

/// RTTs from 0.1 µs up, each bucket 1 % wider than the one before.
const MIN_S: f64 = 1e-7;
const GROWTH: f64 = 1.01;
const BUCKETS: usize = 2800;

#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    n: u64,
    min: f64,
    max: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            n: 0,
            min: f64::INFINITY,
            max: 0.0,
        }
    }
}

impl Histogram {
    pub fn add(&mut self, v: f64) {
        if !v.is_finite() || v < 0.0 {
            return;
        }
        let i = if v <= MIN_S {
            0
        } else {
            ((v / MIN_S).ln() / GROWTH.ln()) as usize
        };
        if let Some(c) = self.counts.get_mut(i.min(BUCKETS - 1)) {
            *c += 1;
        }
        self.n += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn len(&self) -> u64 {
        self.n
    }

    /// Add `other`'s samples.
    pub fn merge(&mut self, other: &Histogram) {
        for (c, o) in self.counts.iter_mut().zip(&other.counts) {
            *c += o;
        }
        self.n += other.n;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The value below which a share `p` of the samples lie, within 1 %.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let rank = ((self.n as f64 * p).ceil() as u64).clamp(1, self.n);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                // The bucket's middle, kept inside what was observed.
                let mid = MIN_S * GROWTH.powf(i as f64 + 0.5);
                return Some(mid.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    pub fn max(&self) -> Option<f64> {
        (self.n > 0).then_some(self.max)
    }
}

/// Totals over every attempt of a file.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub attempts: u64,
    /// Attempts a filter (`analyze --filter`) left out of the counts.
    pub left_out: u64,
    /// Attempts by outcome, in the order of [`Outcome::ALL`] (an array,
    /// not a map: every attempt of a scan counts here).
    by_outcome: [u64; Outcome::ALL.len()],
    pub rtt: Histogram,
    /// Failed checks by kind: how many, and the attempt that had one
    /// with the earliest first frame (its ends, that frame), so that any
    /// number of threads name the same one.
    anomalies: BTreeMap<What, (u64, String, u64)>,
    pub syn_retransmissions: u64,
    pub synack_retransmissions: u64,
    pub bad_checksums: u64,
    pub duplicates: u64,
    /// Segments seen again on another interface.
    pub copies: u64,
    pub port_reuse: u64,
    /// Attempts by diagnosis and reason, in the order first seen: a few
    /// dozen at most, found by a short scan rather than a map lookup that
    /// compares reasons as strings.
    diagnoses: Vec<(Id, &'static str, u64)>,
}

#[derive(Serialize)]
struct Anomaly<'a> {
    what: What,
    rule: u8,
    count: u64,
    example: &'a str,
}

impl Stats {
    pub fn add(&mut self, a: &Attempt) {
        self.attempts += 1;
        if let Some(n) = self.by_outcome.get_mut(a.outcome as usize) {
            *n += 1;
        }
        if let Some(r) = a.handshake_rtt_s {
            self.rtt.add(r);
        }
        for c in a.checks.iter().filter(|c| !c.ok) {
            let e = self
                .anomalies
                .entry(c.what)
                .or_insert_with(|| (0, String::new(), u64::MAX));
            e.0 += 1;
            if a.first_frame < e.2 {
                e.1 = format!("{} -> {}", a.client, a.server);
                e.2 = a.first_frame;
            }
        }
        self.syn_retransmissions += a.syn_retransmissions as u64;
        self.synack_retransmissions += a.synack_retransmissions as u64;
        self.bad_checksums += a.bad_checksums;
        self.duplicates += a.duplicates;
        self.copies += a.copies;
        self.port_reuse += u64::from(a.port_reuse);
        if let Some(d) = &a.diagnosis {
            self.count_diagnosis(d.id, d.reason, 1);
        }
    }

    fn count_diagnosis(&mut self, id: Id, reason: &'static str, n: u64) {
        match self
            .diagnoses
            .iter_mut()
            .find(|e| e.0 == id && e.1 == reason)
        {
            Some(e) => e.2 += n,
            None => self.diagnoses.push((id, reason, n)),
        }
    }

    /// Add `other`'s totals (another thread's share of the same file).
    pub fn merge(&mut self, other: Stats) {
        self.attempts += other.attempts;
        self.left_out += other.left_out;
        for (n, o) in self.by_outcome.iter_mut().zip(other.by_outcome) {
            *n += o;
        }
        self.rtt.merge(&other.rtt);
        for (what, (n, example, first)) in other.anomalies {
            let e = self
                .anomalies
                .entry(what)
                .or_insert((0, String::new(), u64::MAX));
            e.0 += n;
            if first < e.2 {
                (e.1, e.2) = (example, first);
            }
        }
        self.syn_retransmissions += other.syn_retransmissions;
        self.synack_retransmissions += other.synack_retransmissions;
        self.bad_checksums += other.bad_checksums;
        self.duplicates += other.duplicates;
        self.copies += other.copies;
        self.port_reuse += other.port_reuse;
        for (id, reason, n) in other.diagnoses {
            self.count_diagnosis(id, reason, n);
        }
    }

    /// Attempts by outcome, in [`Outcome`]'s order, those with none left
    /// out.
    pub fn by_outcome(&self) -> impl Iterator<Item = (Outcome, u64)> + '_ {
        Outcome::ALL
            .iter()
            .zip(self.by_outcome)
            .filter(|(_, n)| *n > 0)
            .map(|(o, n)| (*o, n))
    }

    /// Attempts by diagnosis and reason, in order of id, then reason.
    pub fn diagnoses(&self) -> BTreeMap<(Id, &'static str), u64> {
        self.diagnoses
            .iter()
            .map(|&(id, reason, n)| ((id, reason), n))
            .collect()
    }

    /// Diagnoses by id (reasons summed), most frequent first.
    pub fn top_diagnoses(&self) -> Vec<(Id, u64)> {
        let mut by: BTreeMap<Id, u64> = BTreeMap::new();
        for &(id, _, n) in &self.diagnoses {
            *by.entry(id).or_default() += n;
        }
        let mut v: Vec<_> = by.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Failed checks, most frequent first.
    pub fn top_anomalies(&self) -> Vec<(What, u64, &str)> {
        let mut v: Vec<_> = self
            .anomalies
            .iter()
            .map(|(w, (n, ex, _))| (*w, *n, ex.as_str()))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    pub fn to_json(&self) -> serde_json::Value {
        let outcomes: serde_json::Map<String, serde_json::Value> = Outcome::ALL
            .iter()
            .map(|o| {
                let n = self.by_outcome.get(*o as usize).copied().unwrap_or(0);
                (o.name().to_string(), n.into())
            })
            .collect();
        let anomalies: Vec<Anomaly<'_>> = self
            .top_anomalies()
            .into_iter()
            .map(|(what, count, example)| Anomaly {
                what,
                rule: what.rule().id(),
                count,
                example,
            })
            .collect();
        serde_json::json!({
            "attempts": self.attempts,
            "attempts_left_out": self.left_out,
            "outcomes": outcomes,
            "handshake_rtt_s": {
                "count": self.rtt.len(),
                "p50": self.rtt.percentile(0.5),
                "p90": self.rtt.percentile(0.9),
                "p99": self.rtt.percentile(0.99),
                "max": self.rtt.max(),
            },
            "anomalies": anomalies,
            "diagnoses": self
                .diagnoses()
                .iter()
                .map(|((id, reason), n)| serde_json::json!({"id": id, "reason": reason, "count": n}))
                .collect::<Vec<_>>(),
            "syn_retransmissions": self.syn_retransmissions,
            "synack_retransmissions": self.synack_retransmissions,
            "bad_checksums": self.bad_checksums,
            "duplicates": self.duplicates,
            "copies": self.copies,
            "port_reuse": self.port_reuse,
        })
    }
}
