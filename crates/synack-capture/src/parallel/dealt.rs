//! One stream on several cores: the caller's thread reads and parses the
//! frames and deals each segment (and each ICMP error, by the 4-tuple it
//! quotes) to one of `threads - 1` trackers by a hash of its 4-tuple, so every
//! attempt stays on one thread; the attempts come back to the caller's
//! thread, which hands them to `each` (or, for a summary, each thread
//! folds its own, and only the sums come back). The capture's clock goes with every
//! batch, so attempts are handed out at the same capture times as in one
//! thread. What differs: the order attempts come out in (each thread's in
//! order of first frame), `tcp_stream` (tshark numbers conversations in
//! the order the whole file shows them, which no one thread sees: it is
//! `None`), and `peak_live` (the sum of each thread's peak, an upper bound).

use std::net::SocketAddr;
use std::sync::mpsc;

use crate::attempt::{Attempt, IcmpSeen, Seg};
use crate::beneath::{Beneath, Found, Zone};
use crate::fold::{Fold, Folding};
use crate::reader::{self, CaptureError, Frame};
use crate::track::Tracker;
use crate::{Totals, icmp, segment};

/// Segments per batch sent to a thread.
const BATCH: usize = 512;

/// A segment or an ICMP error, with its overlay network (0: none).
#[allow(clippy::large_enum_variant)] // moved in batches, never one by one
enum Item {
    Seg(Seg, Zone),
    Icmp(IcmpSeen, Zone),
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

impl Counts {
    fn of(t: &Tracker) -> Counts {
        Counts {
            unmatched: t.unmatched,
            peak_live: t.peak_live,
            evicted: t.evicted,
        }
    }
}

/// A tracking thread's tracker: it sees some conversations only, so it
/// does not number them.
fn tracker(max_live: usize) -> Tracker {
    let mut t = Tracker::with_max_live(max_live);
    t.number_streams(false);
    t
}

/// A tracking thread's loop: the segments of each batch added, then
/// `ended` is given the tracker (to take the attempts that are over);
/// the tracker when the batches stop.
fn track(
    rx: mpsc::Receiver<Batch>,
    mut t: Tracker,
    mut ended: impl FnMut(&mut Tracker),
) -> Tracker {
    for b in rx {
        for item in b.items {
            match item {
                Item::Seg(s, 0) => t.add(&s),
                Item::Seg(s, zone) => t.add_in(&s, zone),
                Item::Icmp(e, zone) => t.add_icmp_in(&e, zone),
            }
        }
        t.advance(b.clock);
        ended(&mut t);
    }
    t
}

/// A tracking thread whose attempts go back to the reading thread.
fn sending(rx: mpsc::Receiver<Batch>, tx: mpsc::Sender<Vec<Attempt>>, max_live: usize) -> Counts {
    let t = track(rx, tracker(max_live), |t| {
        let out: Vec<Attempt> = t.take_ready().collect();
        if !out.is_empty() {
            let _ = tx.send(out);
        }
    });
    let counts = Counts::of(&t);
    let mut rest = t.finish();
    loop {
        let chunk: Vec<Attempt> = rest.by_ref().take(BATCH).collect();
        if chunk.is_empty() || tx.send(chunk).is_err() {
            break;
        }
    }
    counts
}

/// A tracking thread that folds its attempts into a state of its own,
/// where they end (no attempt crosses threads).
fn folding<S: Default>(
    rx: mpsc::Receiver<Batch>,
    max_live: usize,
    fold: &impl Fold<S>,
) -> (Counts, S) {
    let mut hand = Folding::new(fold);
    let mut t = tracker(max_live);
    t.count_lone_syns(&hand);
    let t = track(rx, t, |t| t.hand_ready(&mut hand));
    let counts = Counts::of(&t);
    t.finish_hand(&mut hand);
    (counts, hand.into_state())
}

/// Read `input` on this thread and deal its segments to `senders` by
/// 4-tuple, in batches; `between` is called after each full batch sent.
fn deal<'a>(
    input: impl Into<reader::Source<'a>>,
    name: &str,
    checksums: bool,
    senders: &[mpsc::SyncSender<Batch>],
    mut keep: impl FnMut(&Frame<'_>) -> bool,
    mut between: impl FnMut(),
) -> Result<Totals, CaptureError> {
    let n = senders.len();
    let part = |a: SocketAddr, b: SocketAddr| super::part(a, b, n);
    let mut batches: Vec<Vec<Item>> = (0..n).map(|_| Vec::with_capacity(BATCH)).collect();
    let (mut unreadable, mut filtered_out, mut clock) = (0u64, 0u64, 0f64);
    let mut beneath = Beneath::default();
    let send = |i: usize, items: Vec<Item>, clock: f64| {
        if let Some(tx) = senders.get(i) {
            let _ = tx.send(Batch { items, clock });
        }
    };
    // A segment (which moves the clock, as on one thread) or an ICMP error.
    let item_of = |f: &Frame<'_>, zone: Zone| match segment(f, checksums) {
        Some(s) => Some((part(s.src, s.dst), Item::Seg(s, zone), true)),
        None => icmp(f).map(|e| (part(e.quoted_src, e.quoted_dst), Item::Icmp(e, zone), false)),
    };
    let summary = reader::read(input, name, |f| {
        if !keep(&f) {
            filtered_out += 1;
            return;
        }
        let found = item_of(&f, 0).or_else(|| {
            let mut got = None;
            let mut take = |g: &Frame<'_>, zone| {
                got = item_of(g, zone);
                got.is_some()
            };
            if let Found::Nothing = beneath.open(&f, &mut take) {
                unreadable += u64::from(f.truncated);
            }
            got
        });
        let Some((i, item, clocked)) = found else {
            return;
        };
        if clocked {
            clock = clock.max(f.ts);
        }
        if let Some(b) = batches.get_mut(i) {
            b.push(item);
            if b.len() >= BATCH {
                let full = std::mem::replace(b, Vec::with_capacity(BATCH));
                send(i, full, clock);
                between();
            }
        }
    });
    for (i, b) in batches.into_iter().enumerate() {
        send(i, b, clock);
    }
    beneath.finish();
    Ok(Totals {
        summary: summary?,
        unreadable,
        filtered_out,
        reassembled: beneath.defrag.reassembled,
        fragments_lost: beneath.defrag.lost,
        tunnelled: beneath.tunnelled,
        tunnel_networks: beneath.networks,
        ..Totals::default()
    })
}

/// A thread's counts added to `totals`.
fn count(totals: &mut Totals, c: &Counts) {
    totals.unmatched += c.unmatched;
    totals.peak_live += c.peak_live;
    totals.evicted += c.evicted;
}

/// [`crate::analyze_frames`] on `threads` threads (at least 2): this one
/// reads, `threads - 1` track (holding `pass.max_live` attempts at most
/// between them, each its part).
pub(super) fn analyze_dealt<'a>(
    input: impl Into<reader::Source<'a>>,
    name: &str,
    pass: crate::Pass,
    threads: usize,
    keep: impl FnMut(&Frame<'_>) -> bool,
    mut each: impl FnMut(&Attempt),
) -> Result<Totals, CaptureError> {
    let threads = threads.max(2) - 1;
    std::thread::scope(|scope| {
        let (back_tx, back_rx) = mpsc::channel::<Vec<Attempt>>();
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for i in 0..threads {
            let (tx, rx) = mpsc::sync_channel::<Batch>(8);
            let back = back_tx.clone();
            let held = super::held_by(pass.max_live, i, threads);
            handles.push(scope.spawn(move || sending(rx, back, held)));
            senders.push(tx);
        }
        drop(back_tx);
        // Whatever came back so far goes out after each batch.
        let between = || {
            while let Ok(v) = back_rx.try_recv() {
                v.iter().for_each(&mut each);
            }
        };
        let read = deal(input, name, pass.checksums, &senders, keep, between);
        drop(senders);
        for v in back_rx {
            v.iter().for_each(&mut each);
        }
        let mut totals = read?;
        for h in handles {
            if let Ok(c) = h.join() {
                count(&mut totals, &c);
            }
        }
        Ok(totals)
    })
}

/// The same, each tracking thread folding its attempts with `fold` into
/// a state of its own (see [`super::fold_parallel`]); the states in
/// thread order.
pub(super) fn fold_dealt<'a, S: Default + Send>(
    input: impl Into<reader::Source<'a>>,
    name: &str,
    pass: crate::Pass,
    threads: usize,
    mut progress: impl FnMut(u64),
    fold: &impl Fold<S>,
) -> Result<(Totals, Vec<S>), CaptureError> {
    let threads = threads.max(2) - 1;
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for i in 0..threads {
            let (tx, rx) = mpsc::sync_channel::<Batch>(8);
            let held = super::held_by(pass.max_live, i, threads);
            handles.push(scope.spawn(move || folding(rx, held, fold)));
            senders.push(tx);
        }
        let tell = |f: &Frame<'_>| {
            if f.number.is_multiple_of(4096) {
                progress(f.end);
            }
            true
        };
        let read = deal(input, name, pass.checksums, &senders, tell, || {});
        drop(senders);
        let done: Vec<(Counts, S)> = handles.into_iter().filter_map(|h| h.join().ok()).collect();
        let mut totals = read?;
        let mut states = Vec::with_capacity(done.len());
        for (c, state) in done {
            count(&mut totals, &c);
            states.push(state);
        }
        Ok((totals, states))
    })
}
