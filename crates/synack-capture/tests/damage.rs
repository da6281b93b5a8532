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

/// A stream that gives `good` bytes, then fails as a decoder or a disk does.
struct Failing<'a> {
    good: &'a [u8],
    kind: std::io::ErrorKind,
}

impl std::io::Read for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.good.is_empty() {
            return Err(std::io::Error::new(self.kind, "the decoder gave up"));
        }
        let n = buf.len().min(self.good.len()).min(1000);
        buf[..n].copy_from_slice(&self.good[..n]);
        self.good = &self.good[n..];
        Ok(n)
    }
}

/// A read error part-way through a stream (a cut-off compressed file, a
/// failing disk) is the damage: the frames before it are analysed, the
/// offset is the end of the last whole record, and its kind says whether
/// the bytes ran out or the reading failed. With nothing read before it,
/// the error is the answer.
#[test]
fn a_stream_that_fails_part_way_keeps_what_came_before() {
    let mut cap = Vec::new();
    let cfg = synack_capture::synth::SynthConfig {
        target_bytes: 300_000,
        ..Default::default()
    };
    synack_capture::synth::write(&mut cap, &cfg).unwrap();
    let ends = synack_capture::synth::record_ends(&cap);
    assert_eq!(
        ends.last(),
        Some(&cap.len()),
        "the generator writes whole records"
    );
    for cut in [cap.len() / 3, cap.len() / 3 + 5, 70_000] {
        let whole_before = ends.iter().filter(|&&e| e <= cut).count();
        let last_end = ends.iter().copied().filter(|&e| e <= cut).max().unwrap();
        for (kind, want) in [
            (std::io::ErrorKind::UnexpectedEof, "ends-early"),
            (std::io::ErrorKind::Other, "unreadable"),
        ] {
            let src = synack_capture::reader::Source::stream(Failing {
                good: &cap[..cut],
                kind,
            });
            let s = synack_capture::reader::read(src, "cut", |_| {}).unwrap();
            assert_eq!(s.frames, whole_before as u64, "cut at {cut}");
            let (at, why) = s.damaged_at.expect("the failure is the damage");
            assert_eq!((at, why.id()), (last_end as u64, want), "cut at {cut}");
            if let synack_capture::reader::Damage::Unreadable(text) = why {
                assert_eq!(text, "the decoder gave up");
            }
        }
    }
    // The same bytes cut without an error: the file ends inside a frame.
    let cut = cap.len() / 3 + 5;
    let s = synack_capture::reader::read(&cap[..cut], "cut", |_| {}).unwrap();
    let (_, why) = s.damaged_at.unwrap();
    assert_eq!(why, synack_capture::reader::Damage::EndsInsideFrame);
    // Failing before a byte came: no capture, the error itself.
    let src = synack_capture::reader::Source::stream(Failing {
        good: &[],
        kind: std::io::ErrorKind::Other,
    });
    let e = synack_capture::reader::read(src, "none", |_| {}).unwrap_err();
    assert!(matches!(e, synack_capture::CaptureError::Io(_)), "{e}");
}

/// The same through pcapng's reader: a real capture whose stream fails
/// half-way has as many frames as its bytes cut there, and the kind of the
/// failure.
#[test]
fn a_pcapng_stream_that_fails_part_way_keeps_what_came_before() {
    let Some(f) = files()
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with("synscan.pcapng"))
    else {
        return;
    };
    let bytes = std::fs::read(&f).unwrap();
    let cut = &bytes[..bytes.len() / 2];
    let plain = synack_capture::reader::read(cut, "cut", |_| {}).unwrap();
    let src = synack_capture::reader::Source::stream(Failing {
        good: cut,
        kind: std::io::ErrorKind::UnexpectedEof,
    });
    let failed = synack_capture::reader::read(src, "cut", |_| {}).unwrap();
    assert!(plain.frames > 500, "{}", plain.frames);
    assert_eq!(failed.frames, plain.frames);
    let ((a, plain_why), (b, failed_why)) = (plain.damaged_at.unwrap(), failed.damaged_at.unwrap());
    assert_eq!(a, b);
    assert_eq!(plain_why, synack_capture::reader::Damage::EndsInsideFrame);
    assert_eq!(failed_why, synack_capture::reader::Damage::EndsEarly);
}
