//! One stream on several cores: the caller's thread reads and parses the
//! frames and deals each segment (and each ICMP error, by the 4-tuple it
//! quotes) to one of `threads - 1` trackers by a hash of its 4-tuple, so every
//! attempt stays on one thread; the attempts come back to the caller's
//! thread, which hands them to `each`. The capture's clock goes with every
//! batch, so attempts are handed out at the same capture times as in one
//! thread. What differs: the order attempts come out in (each thread's in
//! order of first frame), `tcp_stream` (tshark numbers conversations in
//! the order the whole file shows them, which no one thread sees: it is
//! `None`), and `peak_live` (the sum of each thread's peak, an upper bound).

use std::net::SocketAddr;
use std::sync::mpsc;

use crate::attempt::{Attempt, IcmpSeen, Seg};
use crate::reader::{self, CaptureError, Frame};
use crate::track::Tracker;
use crate::{Totals, icmp, segment};

/// Segments per batch sent to a thread.
const BATCH: usize = 512;

#[allow(clippy::large_enum_variant)] // moved in batches, never one by one
enum Item {
    Seg(Seg),
    Icmp(IcmpSeen),
}

/// A batch, with the capture's time at its end.
struct Batch {
    items: Vec<Item>,
    clock: f64,
}

/// What a thread counted.
struct Counts {
    unmatched: u64,
    peak_live: usize,
    evicted: u64,
}

fn worker(rx: mpsc::Receiver<Batch>, tx: mpsc::Sender<Vec<Attempt>>, max_live: usize) -> Counts {
    let mut t = Tracker::with_max_live(max_live);
    t.number_streams(false);
    for b in rx {
        for item in b.items {
            match item {
                Item::Seg(s) => t.add(&s),
                Item::Icmp(e) => t.add_icmp(&e),
            }
        }
        t.advance(b.clock);
        let out: Vec<Attempt> = t.take_ready().collect();
        if !out.is_empty() && tx.send(out).is_err() {
            break;
        }
    }
    let counts = Counts {
        unmatched: t.unmatched,
        peak_live: t.peak_live,
        evicted: t.evicted,
    };
    let mut rest = t.finish();
    loop {
        let chunk: Vec<Attempt> = rest.by_ref().take(BATCH).collect();
        if chunk.is_empty() || tx.send(chunk).is_err() {
            break;
        }
    }
    counts
}

/// [`crate::analyze_frames`] on `threads` threads (at least 2): this one
/// reads, `threads - 1` track (each holding `pass.max_live / (threads - 1)`
/// attempts at most).
pub(super) fn analyze_dealt<'a>(
    input: impl Into<reader::Source<'a>>,
    name: &str,
    pass: crate::Pass,
    threads: usize,
    mut keep: impl FnMut(&Frame<'_>) -> bool,
    mut each: impl FnMut(&Attempt),
) -> Result<Totals, CaptureError> {
    let threads = threads.max(2) - 1;
    let per_thread = (pass.max_live / threads).max(1);
    let part = |a: SocketAddr, b: SocketAddr| super::part(a, b, threads);
    std::thread::scope(|scope| {
        let (back_tx, back_rx) = mpsc::channel::<Vec<Attempt>>();
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for _ in 0..threads {
            let (tx, rx) = mpsc::sync_channel::<Batch>(8);
            let back = back_tx.clone();
            handles.push(scope.spawn(move || worker(rx, back, per_thread)));
            senders.push(tx);
        }
        drop(back_tx);
        let mut batches: Vec<Vec<Item>> = (0..threads).map(|_| Vec::with_capacity(BATCH)).collect();
        let (mut unreadable, mut filtered_out, mut clock) = (0u64, 0u64, 0f64);
        let send = |i: usize, items: Vec<Item>, clock: f64| {
            if let Some(tx) = senders.get(i) {
                let _ = tx.send(Batch { items, clock });
            }
        };
        let summary = reader::read(input, name, |f| {
            if !keep(&f) {
                filtered_out += 1;
                return;
            }
            clock = clock.max(f.ts);
            let (i, item) = match segment(&f, pass.checksums) {
                Some(s) => (part(s.src, s.dst), Item::Seg(s)),
                None => match icmp(&f) {
                    Some(e) => (part(e.quoted_src, e.quoted_dst), Item::Icmp(e)),
                    None => {
                        if f.truncated {
                            unreadable += 1;
                        }
                        return;
                    }
                },
            };
            if let Some(b) = batches.get_mut(i) {
                b.push(item);
                if b.len() >= BATCH {
                    let full = std::mem::replace(b, Vec::with_capacity(BATCH));
                    send(i, full, clock);
                    // Whatever came back so far goes out now.
                    while let Ok(v) = back_rx.try_recv() {
                        v.iter().for_each(&mut each);
                    }
                }
            }
        });
        for (i, b) in batches.into_iter().enumerate() {
            send(i, b, clock);
        }
        drop(senders);
        for v in back_rx {
            v.iter().for_each(&mut each);
        }
        let mut totals = Totals {
            summary: summary?,
            unreadable,
            filtered_out,
            ..Totals::default()
        };
        for h in handles {
            if let Ok(c) = h.join() {
                totals.unmatched += c.unmatched;
                totals.peak_live += c.peak_live;
                totals.evicted += c.evicted;
            }
        }
        Ok(totals)
    })
}
