//! Real captures cut short or with bytes flipped: the analysis never panics,
//! never loops, and a cut file still yields what came before the cut.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::files;

/// A fixed xorshift so failures reproduce.
fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn truncated_and_flipped_captures_never_panic() {
    let mut seed = 0x5eed_u64;
    for f in files() {
        let bytes = std::fs::read(&f).unwrap();
        let whole = synack_capture::analyze(&bytes[..], "whole").unwrap();
        for _ in 0..60 {
            let cut = (rng(&mut seed) as usize) % bytes.len();
            if let Ok(a) = synack_capture::analyze(&bytes[..cut], "cut") {
                // Never more frames than the whole file.
                assert!(a.summary.frames <= whole.summary.frames);
            }
            let mut flipped = bytes.clone();
            for _ in 0..4 {
                let i = (rng(&mut seed) as usize) % flipped.len();
                flipped[i] ^= (rng(&mut seed) as u8) | 1;
            }
            let _ = synack_capture::analyze(&flipped[..], "flipped");
        }
    }
}

#[test]
fn a_cut_file_reports_where_and_keeps_what_came_before() {
    let Some(f) = files()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("synscan"))
    else {
        return;
    };
    let bytes = std::fs::read(&f).unwrap();
    let a = synack_capture::analyze(&bytes[..bytes.len() / 2 + 7], "half").unwrap();
    assert!(a.summary.frames > 500, "{}", a.summary.frames);
    assert!(a.summary.damaged_at.is_some());
}
