//! The summary of a capture, kept in bounded memory as attempts stream by:
//! counts by outcome, RTT percentiles from a log histogram (1 % buckets),
//! failed checks by kind.

use std::collections::BTreeMap;

use serde::Serialize;

use std::net::SocketAddr;

use smallvec::SmallVec;

use crate::attempt::{Attempt, Outcome};
use crate::check::What;
use crate::diagnose::Id;
use crate::filter::Filter;
use crate::first_syn::{Kind, LoneSyn};
use crate::fold::Fold;

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
    /// Of those, checksums offload left unfinished (the pseudo-header's sum).
    pub offloaded_checksums: u64,
    pub duplicates: u64,
    /// Segments seen again on another interface.
    pub copies: u64,
    pub port_reuse: u64,
    /// Attempts whose times go backward (no RTT across that).
    pub clock_back: u64,
    /// Attempts by diagnosis and reason, in the order first seen: a few
    /// dozen at most, found by a short scan rather than a map lookup that
    /// compares reasons as strings.
    diagnoses: Vec<(Id, &'static str, u64)>,
    /// Attempts of one SYN by kind, not yet in the totals
    /// ([`Stats::settle`] adds them).
    lone: Kinds,
}

/// A summary's fold: each attempt `filter` keeps added to the totals
/// (an attempt of one SYN by its kind), the others counted as left out.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summing<'a> {
    pub filter: Option<&'a Filter>,
}

impl Fold<Stats> for Summing<'_> {
    fn attempt(&self, s: &mut Stats, a: &Attempt) {
        if self.filter.is_none_or(|f| f.keeps(a)) {
            s.add(a);
        } else {
            s.left_out += 1;
        }
    }

    fn lone_syn(&self, s: &mut Stats, syn: &mut LoneSyn<'_>, n: u64) -> bool {
        s.add_lone(syn, n, self.filter);
        true
    }

    /// A filter reads each attempt's ends; without one, attempts of one SYN
    /// of a kind add the same wherever they were.
    fn counts_lone(&self) -> bool {
        self.filter.is_none()
    }

    fn end(&self, s: &mut Stats) {
        s.settle();
    }
}

#[derive(Serialize)]
struct Anomaly<'a> {
    what: What,
    rule: u8,
    count: u64,
    example: &'a str,
}

/// What one attempt adds to the totals, but for its ends and first frame
/// (the example of a failed check).
#[derive(Debug, Clone)]
struct Share {
    outcome: Outcome,
    rtt: Option<f64>,
    failed: SmallVec<[What; 4]>,
    syn_retransmissions: u64,
    synack_retransmissions: u64,
    bad_checksums: u64,
    offloaded_checksums: u64,
    duplicates: u64,
    copies: u64,
    port_reuse: bool,
    clock_back: bool,
    diagnosis: Option<(Id, &'static str)>,
}

impl Share {
    fn of(a: &Attempt) -> Share {
        Share {
            outcome: a.outcome,
            rtt: a.handshake_rtt_s,
            failed: a.checks.iter().filter(|c| !c.ok).map(|c| c.what).collect(),
            syn_retransmissions: a.syn_retransmissions as u64,
            synack_retransmissions: a.synack_retransmissions as u64,
            bad_checksums: a.bad_checksums,
            offloaded_checksums: a.offloaded_checksums,
            duplicates: a.duplicates,
            copies: a.copies,
            port_reuse: a.port_reuse,
            clock_back: a.clock_back.is_some(),
            diagnosis: a.diagnosis.as_ref().map(|d| (d.id, d.reason)),
        }
    }
}

/// Attempts of one SYN, counted by kind: a scan's are a handful of kinds,
/// each worked out once and added to the totals when the pass ends
/// ([`Stats::settle`]). Past [`Kinds::MAX`] kinds the others are worked
/// out and added one by one.
#[derive(Debug, Clone, Default)]
struct Kinds(Vec<OfKind>);

#[derive(Debug, Clone)]
struct OfKind {
    kind: Kind,
    share: Share,
    /// Attempts of the kind not yet in the totals.
    n: u64,
    /// Of those, the one with the earliest first frame, and its ends (an
    /// example for a failed check; only kept when the share has one).
    first: Option<(u64, (SocketAddr, SocketAddr))>,
}

impl Kinds {
    const MAX: usize = 64;
}

impl Stats {
    pub fn add(&mut self, a: &Attempt) {
        self.take(&Share::of(a), 1, (a.first_frame, (a.client, a.server)));
    }

    /// `n` attempts of one SYN of `syn`'s kind (`syn` the earliest of
    /// them), counted by their kind as [`Stats::add`] would add each made,
    /// if `filter` keeps them (counted as left out otherwise; a filter
    /// comes with `n` = 1, it reads the ends). The totals have them only
    /// after [`Stats::settle`].
    pub(crate) fn add_lone(&mut self, syn: &mut LoneSyn<'_>, n: u64, filter: Option<&Filter>) {
        let kind = syn.kind();
        let i = match self.lone.0.iter().position(|k| k.kind == kind) {
            Some(i) => i,
            None => {
                let share = syn.with_attempt(Share::of);
                if self.lone.0.len() >= Kinds::MAX {
                    return self.take_now(&share, syn, n, filter);
                }
                self.lone.0.push(OfKind {
                    kind,
                    share,
                    n: 0,
                    first: None,
                });
                self.lone.0.len() - 1
            }
        };
        let Some(k) = self.lone.0.get_mut(i) else {
            return;
        };
        let frame = syn.first_frame();
        if let Some(f) = filter
            && !f.keeps_one(k.share.outcome, <[SocketAddr; 2]>::from(syn.ends()))
        {
            self.left_out += n;
            return;
        }
        k.n += n;
        if !k.share.failed.is_empty() && k.first.is_none_or(|(f, _)| frame < f) {
            k.first = Some((frame, syn.ends()));
        }
    }

    /// Lone SYNs of a kind past those counted, added now.
    fn take_now(&mut self, share: &Share, syn: &LoneSyn<'_>, n: u64, filter: Option<&Filter>) {
        let ends = syn.ends();
        if filter.is_none_or(|f| f.keeps_one(share.outcome, ends.into())) {
            self.take(share, n, (syn.first_frame(), ends));
        } else {
            self.left_out += n;
        }
    }

    /// Add the attempts of one SYN counted by kind to the totals.
    pub(crate) fn settle(&mut self) {
        let mut kinds = std::mem::take(&mut self.lone);
        for k in &mut kinds.0 {
            let n = std::mem::take(&mut k.n);
            let first = k.first.take();
            if n > 0 {
                let nowhere = (SocketAddr::from(([0; 4], 0)), SocketAddr::from(([0; 4], 0)));
                self.take(&k.share, n, first.unwrap_or((u64::MAX, nowhere)));
            }
        }
        self.lone = kinds;
    }

    /// `n` attempts of the same share; `first`: the earliest first frame
    /// among them, with its ends.
    fn take(
        &mut self,
        a: &Share,
        n: u64,
        (first_frame, (client, server)): (u64, (SocketAddr, SocketAddr)),
    ) {
        self.attempts += n;
        if let Some(c) = self.by_outcome.get_mut(a.outcome as usize) {
            *c += n;
        }
        if let Some(r) = a.rtt {
            (0..n).for_each(|_| self.rtt.add(r));
        }
        for what in &a.failed {
            let e = self
                .anomalies
                .entry(*what)
                .or_insert_with(|| (0, String::new(), u64::MAX));
            e.0 += n;
            if first_frame < e.2 {
                e.1 = format!("{client} -> {server}");
                e.2 = first_frame;
            }
        }
        self.syn_retransmissions += a.syn_retransmissions * n;
        self.synack_retransmissions += a.synack_retransmissions * n;
        self.bad_checksums += a.bad_checksums * n;
        self.offloaded_checksums += a.offloaded_checksums * n;
        self.duplicates += a.duplicates * n;
        self.copies += a.copies * n;
        self.port_reuse += u64::from(a.port_reuse) * n;
        self.clock_back += u64::from(a.clock_back) * n;
        if let Some((id, reason)) = a.diagnosis {
            self.count_diagnosis(id, reason, n);
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
    pub fn merge(&mut self, mut other: Stats) {
        other.settle();
        self.settle();
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
        self.offloaded_checksums += other.offloaded_checksums;
        self.duplicates += other.duplicates;
        self.copies += other.copies;
        self.port_reuse += other.port_reuse;
        self.clock_back += other.clock_back;
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
            "offloaded_checksums": self.offloaded_checksums,
            "duplicates": self.duplicates,
            "copies": self.copies,
            "port_reuse": self.port_reuse,
            "clock_back": self.clock_back,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attempt::Seg;
    use crate::first_syn::FirstSyn;
    use crate::table::Spares;
    use synack_wire::{FastOpenCookie, SeqNum, TcpFlags, TcpOptions};

    /// SYNs of every kind the compact form holds: flags, options, data, a
    /// bad checksum.
    fn kinds() -> Vec<(TcpFlags, Option<TcpOptions>, usize, bool)> {
        let f = |x: &[TcpFlags]| x.iter().fold(TcpFlags::SYN, |a, b| a | *b);
        let flags = [
            f(&[]),
            f(&[TcpFlags::ECE, TcpFlags::CWR]),
            f(&[TcpFlags::ECE]),
            f(&[TcpFlags::AE, TcpFlags::ECE, TcpFlags::CWR]),
            f(&[TcpFlags::FIN]),
            f(&[TcpFlags::RST]),
            f(&[TcpFlags::PSH, TcpFlags::URG]),
        ];
        let full = TcpOptions {
            mss: Some(1460),
            window_scale: Some(15),
            sack_permitted: true,
            timestamps: Some((7, 0)),
            ..TcpOptions::default()
        };
        let tfo = |c: &[u8]| TcpOptions {
            fast_open: FastOpenCookie::new(c),
            mss: Some(536),
            ..TcpOptions::default()
        };
        let options = [
            None,
            Some(TcpOptions::default()),
            Some(full),
            Some(tfo(&[])),
            Some(tfo(&[1; 8])),
        ];
        let mut v = Vec::new();
        for fl in flags {
            for o in options {
                for (payload, bad) in [(0, false), (100, false), (0, true)] {
                    v.push((fl, o, payload, bad));
                }
            }
        }
        v
    }

    /// Attempts of one SYN of a kind add to a summary, by their kind,
    /// what each adds made: whatever their ends (either family, the client
    /// the lower end or the higher), ISN, frame, times, interface and how
    /// long after the SYN they were handed out, evicted or not, a reused
    /// port or not, kept by a filter or not. More kinds than are kept
    /// (`Kinds::MAX`) are added too.
    #[test]
    fn lone_syns_of_a_kind_add_the_same() {
        let ends: [(&str, &str); 4] = [
            ("192.0.2.1:40000", "198.51.100.7:80"),
            ("198.51.100.9:1", "192.0.2.200:443"),
            ("[2001:db8::1]:0", "[2001:db8::2]:65535"),
            ("[2001:db8::9]:5000", "[2001:db8::2]:80"),
        ];
        let filter: Filter = "outcome=no_answer,port=80".parse().unwrap_or_default();
        let all = kinds();
        assert!(all.len() * 4 > Kinds::MAX);
        for filter in [None, Some(&filter)] {
            let (mut by_kind, mut made) = (Stats::default(), Stats::default());
            let mut spares = Spares::default();
            let mut frame = 1;
            for (flags, options, payload, bad) in &all {
                for (reused, evicted) in [(false, false), (true, false), (false, true)] {
                    for (i, (c, s)) in ends.iter().enumerate() {
                        let (c, s): (SocketAddr, SocketAddr) = (
                            c.parse().unwrap_or(([0; 4], 0).into()),
                            s.parse().unwrap_or(([0; 4], 0).into()),
                        );
                        frame += 3;
                        let ns =
                            1_700_000_000_000_000_000 + i64::try_from(frame).unwrap_or(0) * 999;
                        let seg = Seg {
                            frame,
                            ts: ns as f64 / 1e9,
                            ns,
                            iface: u32::try_from(i).unwrap_or(0),
                            src: c,
                            dst: s,
                            flags: *flags,
                            seq: SeqNum([0, u32::MAX, 1, 0x8000_0000][i]),
                            ack: SeqNum(0),
                            window: 64_240,
                            payload_len: *payload,
                            ip_len: 60 + payload,
                            options: (*options).into(),
                            bad_checksum: *bad,
                            checksum_offloaded: *bad && frame % 2 == 0,
                            stacked: None,
                        };
                        let key = if i % 2 == 0 { (c, s) } else { (s, c) };
                        let Some(syn) = FirstSyn::of(&seg, key, Some(frame), reused) else {
                            panic!("no compact form of {seg:?}");
                        };
                        let now = seg.ts + [0.0, 0.5, 3.0, 400.0][i];
                        let mut lone = LoneSyn::new(&syn, key, (evicted, now), &mut spares);
                        by_kind.add_lone(&mut lone, 1, filter);
                        let mut a = syn.attempt(key);
                        a.evicted = evicted;
                        a.finish(now);
                        if filter.is_none_or(|f| f.keeps(&a)) {
                            made.add(&a);
                        } else {
                            made.left_out += 1;
                        }
                    }
                }
            }
            assert_eq!(by_kind.lone.0.len(), Kinds::MAX);
            by_kind.settle();
            // Some kept, and, without the filter, more than one diagnosis;
            // with it, some left out.
            assert!(by_kind.attempts > 0);
            assert!(by_kind.top_diagnoses().len() > 1 || filter.is_some());
            assert!(by_kind.left_out > 0 || filter.is_none());
            assert_eq!(
                (by_kind.to_json(), by_kind.left_out),
                (made.to_json(), made.left_out),
                "{filter:?}"
            );
        }
    }
}
