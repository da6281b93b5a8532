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

use std::net::SocketAddr;

use crate::attempt::Attempt;
use crate::reader::{CaptureError, Frame, Source};
use crate::{Pass, Totals};

/// Which of `n` threads a conversation belongs to.
fn part(a: SocketAddr, b: SocketAddr, n: usize) -> usize {
    let h = crate::table::flow_hash(&foldhash::fast::FixedState::with_seed(0x7ead), a, b);
    usize::try_from(h % n.max(1) as u64).unwrap_or(0)
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
    match (input.into(), keep) {
        (Source::Bytes(b), None) => {
            split::analyze_split(b, None, name, pass, threads, progress, each)
        }
        (Source::Mapped(m), None) => {
            split::analyze_split(m.bytes(), Some(m), name, pass, threads, progress, each)
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
    }
}
