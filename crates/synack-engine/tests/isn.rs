//! RFC 6528 ISNs, statistically (rule 42): on one 4-tuple they follow the
//! 4 µs clock exactly; across tuples, and across keys, they look random.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use core::net::SocketAddr;

use synack_engine::{Instant, IsnMode, isn};

const KEY: IsnMode = IsnMode::Rfc6528 {
    key: *b"0123456789abcdef",
};

fn tuple(port: u16) -> (SocketAddr, SocketAddr) {
    (
        SocketAddr::from(([10, 0, 0, 1], port)),
        SocketAddr::from(([10, 0, 0, 2], 80)),
    )
}

#[test]
fn rule_42_isn_on_one_tuple_increases_with_the_clock() {
    let (l, r) = tuple(40000);
    let base = isn::generate(&KEY, Instant::ZERO, l, r).get();
    for ms in [1u64, 7, 1000, 60_000, 3_600_000] {
        let later = isn::generate(&KEY, Instant::from_millis(ms), l, r).get();
        // 250 ticks per millisecond, modulo 2^32.
        assert_eq!(later.wrapping_sub(base), (ms * 250) as u32, "after {ms} ms");
    }
}

#[test]
fn rule_42_isns_across_tuples_look_uniform_and_unrelated() {
    let now = Instant::from_millis(123_456);
    let n = 4096usize;
    let isns: Vec<u32> = (0..n)
        .map(|i| {
            let (l, r) = tuple(10_000 + i as u16);
            isn::generate(&KEY, now, l, r).get()
        })
        .collect();
    // Top 4 bits: chi-square over 16 buckets (15 degrees of freedom; 37.7
    // is the 0.1 % critical value).
    let mut buckets = [0f64; 16];
    for v in &isns {
        buckets[(v >> 28) as usize] += 1.0;
    }
    let expect = n as f64 / 16.0;
    let chi2: f64 = buckets.iter().map(|b| (b - expect).powi(2) / expect).sum();
    assert!(chi2 < 37.7, "chi-square {chi2:.1}: {buckets:?}");
    // Every bit is set about half the time.
    for bit in 0..32 {
        let ones = isns.iter().filter(|v| *v >> bit & 1 == 1).count() as f64 / n as f64;
        assert!((0.45..0.55).contains(&ones), "bit {bit} set in {ones:.3}");
    }
    // Neighbouring ports give unrelated ISNs: their differences almost never repeat.
    let mut diffs: Vec<u32> = isns.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    diffs.sort_unstable();
    diffs.dedup();
    assert!(diffs.len() > n - 10, "{} distinct differences", diffs.len());
    // Another key: other ISNs for the same tuples at the same time.
    let other = IsnMode::Rfc6528 {
        key: *b"fedcba9876543210",
    };
    let same = (0..n)
        .filter(|i| {
            let (l, r) = tuple(10_000 + *i as u16);
            isn::generate(&other, now, l, r).get() == isns[*i]
        })
        .count();
    assert!(same <= 1, "{same} ISNs equal under another key");
}
