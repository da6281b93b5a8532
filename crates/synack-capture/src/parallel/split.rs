//! Bytes in memory on `n` threads: each walks every frame, which is cheap
//! (a record header, an IP header, two ports), and takes the conversations
//! whose hash is its own, checksums and all; another's frame only moves its
//! tracker's clock, so attempts are handed out at the same capture times as
//! on one thread. The caller's thread is thread 0: it lends its attempts to
//! `each` as they end, and the others' as they come back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use synack_wire::{parse_icmp, parse_ip_truncated};

use crate::attempt::Attempt;
use crate::reader::{self, CaptureError, Frame, Mapped, Source};
use crate::{Live, Pass, Totals, link};

/// Attempts sent back per message.
const BATCH: usize = 256;
/// Frames between two looks at the others' progress.
const EVERY: u64 = 4096;

/// The thread of `n` whose frame this is: by its TCP 4-tuple, or by the one
/// an ICMP error quotes; 0 for anything else (so thread 0 counts it, as one
/// thread would).
fn owner(f: &Frame<'_>, n: usize) -> usize {
    let Some(ip) = link::ip_packet(f.linktype, f.data) else {
        return 0;
    };
    if let Ok(p) = parse_ip_truncated(ip) {
        let Some(&[a, b, c, d]) = p.tcp.get(..4) else {
            return 0;
        };
        let src = std::net::SocketAddr::new(p.ip.src, u16::from_be_bytes([a, b]));
        let dst = std::net::SocketAddr::new(p.ip.dst, u16::from_be_bytes([c, d]));
        return super::part(src, dst, n);
    }
    match parse_icmp(ip, false) {
        Ok(e) => super::part(e.quoted_src, e.quoted_dst, n),
        Err(_) => 0,
    }
}

/// One thread's pass: its own frames into its tracker, the others' as the
/// time; `each` gets its attempts, `tick` is called every [`EVERY`] frames
/// with how far it came.
fn walk(
    bytes: &[u8],
    name: &str,
    pass: Pass,
    (me, n): (usize, usize),
    mut tick: impl FnMut(u64),
    each: &mut impl FnMut(&Attempt),
) -> Result<Totals, CaptureError> {
    let mut live = Live::new((pass.max_live / n).max(1)).unnumbered();
    if !pass.checksums {
        live = live.without_checksums();
    }
    let summary = reader::read(Source::Bytes(bytes), name, |f| {
        if f.number.is_multiple_of(EVERY) {
            tick(f.end);
        }
        if owner(&f, n) == me {
            live.frame(&f, each);
        } else {
            live.tick(f.ts, each);
        }
    })?;
    let mut t = live.finish(each);
    t.summary = summary;
    Ok(t)
}

/// How far each thread has walked, and what of a mapped file was released
/// behind the slowest; any thread releases when it looks.
struct Walked<'a> {
    at: Vec<AtomicU64>,
    released: AtomicU64,
    map: Option<&'a Mapped>,
}

/// How far a thread may run ahead of the slowest: what is mapped between
/// them stays resident, so this bounds the memory a mapped file takes.
const LEAD: u64 = 32 << 20;

impl Walked<'_> {
    fn slowest(&self) -> u64 {
        self.at
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .min()
            .unwrap_or(u64::MAX)
    }

    fn at(&self, me: usize, end: u64) {
        if let Some(p) = self.at.get(me) {
            p.store(end, Ordering::Relaxed);
        }
        // The slowest never waits, so it always catches up.
        while self.map.is_some() && end != u64::MAX && end > self.slowest().saturating_add(LEAD) {
            std::thread::yield_now();
        }
        let (Some(m), slowest) = (self.map, self.slowest()) else {
            return;
        };
        let slowest = slowest.min(m.bytes().len() as u64);
        let from = self.released.load(Ordering::Relaxed);
        if slowest > from
            && self
                .released
                .compare_exchange(from, slowest, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let cut = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
            m.release(cut(from), cut(slowest));
        }
    }
}

/// See the module comment. `map`, when the bytes are a mapped file, has its
/// pages released behind the slowest thread.
pub(super) fn analyze_split(
    bytes: &[u8],
    map: Option<&Mapped>,
    name: &str,
    pass: Pass,
    n: usize,
    mut progress: impl FnMut(u64),
    mut each: impl FnMut(&Attempt),
) -> Result<Totals, CaptureError> {
    let walked = Walked {
        at: (0..n).map(|_| AtomicU64::new(0)).collect(),
        released: AtomicU64::new(0),
        map,
    };
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<Vec<Attempt>>();
        let walked = &walked;
        let others: Vec<_> = (1..n)
            .map(|me| {
                let tx = tx.clone();
                scope.spawn(move || {
                    let mut batch = Vec::with_capacity(BATCH);
                    let mut send = |a: &Attempt| {
                        batch.push(a.clone());
                        if batch.len() >= BATCH {
                            let _ = tx.send(std::mem::take(&mut batch));
                        }
                    };
                    let t = walk(
                        bytes,
                        name,
                        pass,
                        (me, n),
                        |end| walked.at(me, end),
                        &mut send,
                    );
                    let _ = tx.send(batch);
                    walked.at(me, u64::MAX);
                    t
                })
            })
            .collect();
        drop(tx);
        let tick = |end: u64| {
            walked.at(0, end);
            progress(end);
        };
        // Thread 0 lends its own attempts, and the others' between frames.
        let mut lend = |a: &Attempt| {
            each(a);
            while let Ok(v) = rx.try_recv() {
                v.iter().for_each(&mut each);
            }
        };
        let mine = walk(bytes, name, pass, (0, n), tick, &mut lend);
        walked.at(0, u64::MAX);
        for v in rx {
            v.iter().for_each(&mut each);
        }
        let mut totals = mine?;
        for h in others {
            if let Ok(Ok(t)) = h.join() {
                totals.unreadable += t.unreadable;
                totals.unmatched += t.unmatched;
                totals.peak_live += t.peak_live;
                totals.evicted += t.evicted;
            }
        }
        Ok(totals)
    })
}
