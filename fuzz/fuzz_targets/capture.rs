//! Any bytes as a pcap or pcapng file, through what `synack analyze` uses:
//! one thread, its words and its summary; two threads walking the bytes,
//! and a stream dealt to a thread that sums up, which must find as many
//! attempts; and the summary `--summary` makes, attempts of one SYN taken
//! by their kind, which must be the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synack_capture::reader::Source;
use synack_capture::{Pass, Stats, Summing, narrate, track::MAX_LIVE};
use synack_explain::Lang;

fuzz_target!(|data: &[u8]| {
    let mut stats = Stats::default();
    let one = synack_capture::analyze_each(data, "fuzz", |a| {
        // The report is built from these; they must be usable.
        let _ = a.outcome.name();
        assert!(a.history.len() <= 200, "history bounded: {}", a.history);
        for lang in [Lang::En, Lang::Zh] {
            a.checks.iter().for_each(|c| drop(narrate::check(c, lang)));
            a.steps.iter().for_each(|s| drop(narrate::step(s, lang)));
            a.diagnosis
                .iter()
                .for_each(|d| drop(narrate::diagnosis(d, lang)));
            a.clock_back
                .iter()
                .for_each(|c| drop(narrate::clock_back(c, lang)));
        }
        stats.add(a);
    });
    let _ = stats.to_json();
    let Ok(_) = one else { return };
    let mut two = 0u64;
    let split = synack_capture::analyze_parallel(
        data,
        "fuzz",
        Pass::new(MAX_LIVE),
        2,
        None,
        |_| {},
        |_| two += 1,
    );
    assert!(split.is_ok());
    assert_eq!(two, stats.attempts, "two threads walking the bytes");
    let count = |n: &mut u64, _: &synack_capture::Attempt| *n += 1;
    let dealt = synack_capture::fold_parallel(
        Source::stream(data),
        "fuzz",
        Pass::new(MAX_LIVE),
        2,
        |_| {},
        &count,
    );
    let counted: u64 = dealt.map_or(0, |(_, parts)| parts.iter().sum());
    assert_eq!(counted, stats.attempts, "a stream dealt to a thread");
    // A summary that takes attempts of one SYN by their kind is the one
    // that adds every attempt made.
    let summing = Summing::default();
    let by_kind = synack_capture::fold(data, "fuzz", Pass::new(MAX_LIVE), 1, |_| {}, &summing);
    let by_kind = by_kind.ok().and_then(|(_, mut parts)| parts.pop());
    assert_eq!(
        by_kind.map(|s| s.to_json()),
        Some(stats.to_json()),
        "by kind"
    );
});
