//! One capture on several cores, every attempt on one thread (chosen by a
//! hash of its 4-tuple), in one of two ways:
//! - `split.rs`, for bytes in memory (a mapped file): every thread walks
//!   all the frames and takes its own conversations' (the others only move
//!   its clock). Nothing is copied between threads but the attempts.
//! - `dealt.rs`, for a stream, or when a frame filter runs: the caller's
//!   thread reads and parses, and deals the segments to tracking threads.
//!
//! What differs from one thread either way: the order attempts come out in
//! (each thread's in order of first frame), `tcp_stream` (tshark numbers
//! conversations in the order the whole file shows them, which no one
//! thread sees: it is `None`), and `peak_live` (the sum of each thread's
//! peak, an upper bound).

mod dealt;
mod split;

use std::net::{IpAddr, SocketAddr};

use crate::attempt::Attempt;
use crate::fold::Fold;
use crate::reader::{CaptureError, Frame, Source};
use crate::{Pass, Totals};

/// Which of `n` threads a conversation belongs to: the two ends' hashes
/// added, so that either direction gives the same thread.
fn part(a: SocketAddr, b: SocketAddr, n: usize) -> usize {
    let end = |e: SocketAddr| match e.ip() {
        IpAddr::V4(x) => end_hash_v4(x.octets(), e.port()),
        IpAddr::V6(x) => end_hash_v6(x.octets(), e.port()),
    };
    share(end(a).wrapping_add(end(b)), n)
}

/// One end of a conversation (its address bytes and port), hashed: the
/// same from a parsed address as from the bytes of a header, so that
/// `split.rs` can find a frame's thread without parsing it.
#[inline]
fn end_hash_v4(ip: [u8; 4], port: u16) -> u64 {
    mix(u64::from(port), u64::from(u32::from_le_bytes(ip)))
}

/// [`end_hash_v4`] of an IPv6 end: the address in two words.
#[inline]
fn end_hash_v6(ip: [u8; 16], port: u16) -> u64 {
    let w = u128::from_le_bytes(ip);
    mix(mix(u64::from(port), w as u64), (w >> 64) as u64)
}

#[inline]
fn mix(x: u64, w: u64) -> u64 {
    let x = (x ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 29)
}

/// The thread of `n` for a conversation's hash: its place in `0..n` by
/// the high bits of `h × n` (a multiplication, where `h % n` is a
/// division on every frame of every thread).
/// Thread `i`'s part of `max` attempts held, of `n` threads: the parts
/// add up to `max` (at least one each).
fn held_by(max: usize, i: usize, n: usize) -> usize {
    let n = n.max(1);
    (max / n + usize::from(i < max % n)).max(1)
}

fn share(h: u64, n: usize) -> usize {
    let n = u128::try_from(n).unwrap_or(1);
    usize::try_from((u128::from(h) * n) >> 64).unwrap_or(0)
}

/// [`crate::analyze_frames`] on `threads` threads (at least 2), each
/// holding at most its share of `pass.max_live` attempts. Bytes in memory
/// are split when `filtered` is false (a frame filter is the caller's, on
/// the caller's thread); anything else is dealt. `progress` is told how
/// far the reading has come now and then.
pub fn analyze_parallel<'a>(
    input: impl Into<Source<'a>>,
    name: &str,
    pass: Pass,
    threads: usize,
    keep: Option<&mut dyn FnMut(&Frame<'_>) -> bool>,
    progress: impl FnMut(u64),
    each: impl FnMut(&Attempt),
) -> Result<Totals, CaptureError> {
    let threads = threads.max(2);
    let mut totals = match (input.into(), keep) {
        (Source::Bytes(bytes), None) => {
            let split = split::Split {
                bytes,
                map: None,
                name,
                pass,
            };
            split::analyze_split(split, threads, progress, each)
        }
        (Source::Mapped(m), None) => {
            let split = split::Split {
                bytes: m.bytes(),
                map: Some(m),
                name,
                pass,
            };
            split::analyze_split(split, threads, progress, each)
        }
        (src, keep) => {
            let mut keep = keep;
            let mut progress = progress;
            let keep = move |f: &Frame<'_>| {
                if f.number.is_multiple_of(4096) {
                    progress(f.end);
                }
                keep.as_mut().is_none_or(|k| k(f))
            };
            dealt::analyze_dealt(src, name, pass, threads, keep, each)
        }
    }?;
    totals.threads = threads;
    Ok(totals)
}

/// [`analyze_parallel`] for a caller that only sums the attempts up (a
/// summary): each tracking thread folds its own into a state of its own
/// with `fold`, where they end, and the states come back in thread order
/// for the caller to merge (one per thread on bytes in memory, where every
/// thread tracks; one fewer on a stream, whose reading takes a thread).
/// No attempt crosses threads. The order attempts are folded in differs
/// from one thread's.
pub fn fold_parallel<'a, S: Default + Send>(
    input: impl Into<Source<'a>>,
    name: &str,
    pass: Pass,
    threads: usize,
    progress: impl FnMut(u64),
    fold: &impl Fold<S>,
) -> Result<(Totals, Vec<S>), CaptureError> {
    let threads = threads.max(2);
    let (bytes, map) = match input.into() {
        Source::Bytes(b) => (b, None),
        Source::Mapped(m) => (m.bytes(), Some(m)),
        src => {
            let (mut totals, states) = dealt::fold_dealt(src, name, pass, threads, progress, fold)?;
            totals.threads = threads;
            return Ok((totals, states));
        }
    };
    let split = split::Split {
        bytes,
        map,
        name,
        pass,
    };
    let (mut totals, states) = split::fold_split(split, threads, progress, fold)?;
    totals.threads = threads;
    Ok((totals, states))
}

#[cfg(test)]
mod tests {
    /// The threads' parts of the attempts held add up to the limit, none
    /// empty, none more than one above another.
    #[test]
    fn the_parts_held_add_up_to_the_limit() {
        for max in [1, 2, 7, 100, 100_000, 99_999] {
            for n in 1..=7 {
                let parts: Vec<usize> = (0..n).map(|i| super::held_by(max, i, n)).collect();
                let (lo, hi) = (parts.iter().min(), parts.iter().max());
                assert!(lo >= Some(&1), "{max} {n}: {parts:?}");
                assert!(
                    hi.zip(lo).is_some_and(|(h, l)| h - l <= 1),
                    "{max} {n}: {parts:?}"
                );
                if max >= n {
                    assert_eq!(parts.iter().sum::<usize>(), max, "{max} {n}");
                }
            }
        }
    }
}
