//! Bytes in memory on `n` threads: each walks every frame, which is cheap
//! (a record header, an IP header, two ports), and takes the conversations
//! whose hash is its own, checksums and all; another's frame only moves its
//! tracker's clock, so attempts are handed out at the same capture times as
//! on one thread. The caller's thread is thread 0: it lends its attempts to
//! `each` as they end, and the others' as they come back; their boxes go
//! back to the thread that made them, to be made again (no allocation or
//! copy per attempt, and each thread frees only what it allocated).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use synack_wire::{parse_icmp, parse_ip_truncated};

use crate::attempt::Attempt;
use crate::reader::{self, CaptureError, Frame, Mapped, Source};
use crate::track::Hand;
use crate::{Live, Pass, Totals, link};

type Batch = Vec<Box<Attempt>>;

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
    match plain_tcp(ip) {
        Some(h) => super::share(h, n),
        None => parsed_owner(ip, n),
    }
}

/// [`owner`] the long way: the packet parsed.
fn parsed_owner(ip: &[u8], n: usize) -> usize {
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

/// The conversation hash of an IPv4 packet without options or an IPv6 one
/// without extension headers, carrying TCP, unfragmented, with the ports
/// in it, read from the bytes where they are: what [`super::part`] gives
/// for the addresses `parse_ip_truncated` would find in it. `None` for
/// anything else (which then takes the parsing way).
#[inline]
fn plain_tcp(ip: &[u8]) -> Option<u64> {
    let be16 = |i: usize| Some(u16::from_be_bytes([*ip.get(i)?, *ip.get(i + 1)?]));
    let (a, b, tcp) = match *ip.first()? {
        0x45 => {
            let whole = usize::from(be16(2)?).min(ip.len()) >= 24;
            let unfragmented = be16(6)? & 0x3fff == 0;
            if !whole || !unfragmented || *ip.get(9)? != 6 {
                return None;
            }
            (ip.get(12..16)?, ip.get(16..20)?, 20)
        }
        v if v >> 4 == 6 => {
            if (40 + usize::from(be16(4)?)).min(ip.len()) < 44 || *ip.get(6)? != 6 {
                return None;
            }
            (ip.get(8..24)?, ip.get(24..40)?, 40)
        }
        _ => return None,
    };
    let (sport, dport) = (be16(tcp)?, be16(tcp + 2)?);
    Some(super::end_hash(a, sport).wrapping_add(super::end_hash(b, dport)))
}

/// One thread's pass: its own frames into its tracker, the others' as the
/// time; `hand` gets its attempts, `tick` is called every [`EVERY`] frames
/// with how far it came.
fn walk(
    bytes: &[u8],
    name: &str,
    pass: Pass,
    (me, n): (usize, usize),
    mut tick: impl FnMut(u64),
    hand: &mut impl Hand,
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
            live.frame_to(&f, hand);
        } else {
            live.tick_to(f.ts, hand);
        }
    })?;
    let mut t = live.finish_to(hand);
    t.summary = summary;
    Ok(t)
}

/// A worker's attempts, sent to thread 0 [`BATCH`] at a time; the boxes
/// thread 0 sends back are made again.
struct Send {
    tx: mpsc::Sender<(usize, Batch)>,
    back: mpsc::Receiver<Batch>,
    me: usize,
    batch: Batch,
    pool: Batch,
}

impl Send {
    fn flush(&mut self) {
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let _ = self.tx.send((self.me, full));
    }
}

impl Hand for Send {
    fn hand(&mut self, a: Box<Attempt>) -> Option<Box<Attempt>> {
        self.batch.push(a);
        if self.batch.len() >= BATCH {
            self.flush();
        }
        if self.pool.is_empty() {
            while let Ok(v) = self.back.try_recv() {
                self.pool.extend(v);
            }
        }
        self.pool.pop()
    }
}

/// Thread 0's attempts lent to `each`, and between two of them the
/// others' that came back, whose boxes are returned.
struct Lend<'a, F> {
    each: F,
    rx: &'a mpsc::Receiver<(usize, Batch)>,
    back: &'a [mpsc::Sender<Batch>],
}

impl<F: FnMut(&Attempt)> Lend<'_, F> {
    fn theirs(&mut self, (from, v): (usize, Batch)) {
        v.iter().for_each(|a| (self.each)(a));
        if let Some(tx) = self.back.get(from) {
            let _ = tx.send(v);
        }
    }
}

impl<F: FnMut(&Attempt)> Hand for Lend<'_, F> {
    fn hand(&mut self, a: Box<Attempt>) -> Option<Box<Attempt>> {
        (self.each)(&a);
        while let Ok(m) = self.rx.try_recv() {
            self.theirs(m);
        }
        Some(a)
    }
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
        let (tx, rx) = mpsc::channel::<(usize, Batch)>();
        let (back, backs): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::channel::<Batch>()).unzip();
        let walked = &walked;
        let others: Vec<_> = backs
            .into_iter()
            .enumerate()
            .skip(1)
            .map(|(me, back)| {
                let mut send = Send {
                    tx: tx.clone(),
                    back,
                    me,
                    batch: Vec::with_capacity(BATCH),
                    pool: Vec::new(),
                };
                scope.spawn(move || {
                    let t = walk(
                        bytes,
                        name,
                        pass,
                        (me, n),
                        |end| walked.at(me, end),
                        &mut send,
                    );
                    send.flush();
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
        let mut lend = Lend {
            each: &mut each,
            rx: &rx,
            back: &back,
        };
        let mine = walk(bytes, name, pass, (0, n), tick, &mut lend);
        walked.at(0, u64::MAX);
        for m in &rx {
            lend.theirs(m);
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

#[cfg(test)]
mod tests {
    use super::*;
    use synack_wire::{TcpFlags, TcpOptions};

    /// Every packet the bytes-only way takes gets the thread parsing gives
    /// it; the ones it must leave (fragments, IP options, not TCP, cut
    /// before the ports) it leaves.
    #[test]
    fn the_quick_owner_is_the_parsed_one() {
        let ends = [
            ("192.0.2.1:40000", "198.51.100.7:443"),
            ("10.1.2.3:1", "10.1.2.4:65535"),
            ("[2001:db8::1]:40000", "[2001:db8::2]:80"),
            ("[fe80::1:2:3:4]:9", "[2001:db8:ffff::9]:22"),
        ];
        let mut quick = 0;
        for (a, b) in ends {
            let (a, b) = (a.parse().unwrap(), b.parse().unwrap());
            for (src, dst) in [(a, b), (b, a)] {
                let p = crate::synth::ip_segment(
                    src,
                    dst,
                    TcpFlags::ACK,
                    1,
                    2,
                    10,
                    TcpOptions::default(),
                )
                .unwrap();
                let mut variants = vec![p.clone(), p[..p.len() - 10].to_vec()];
                if src.is_ipv4() {
                    let mut frag = p.clone();
                    frag[6] |= 0x20;
                    let mut udp = p.clone();
                    udp[9] = 17;
                    let mut cut = p.clone();
                    cut.truncate(22);
                    // A 24-byte header: the ports are elsewhere.
                    let mut options = p.clone();
                    options[0] = 0x46;
                    variants.extend([frag, udp, cut, options]);
                } else {
                    let mut ext = p.clone();
                    ext[6] = 60;
                    let mut cut = p.clone();
                    cut.truncate(42);
                    variants.extend([ext, cut]);
                }
                for (i, v) in variants.iter().enumerate() {
                    let fast = plain_tcp(v);
                    assert_eq!(fast.is_some(), i < 2, "{src} variant {i}");
                    for n in 2..6 {
                        if let Some(h) = fast {
                            quick += 1;
                            assert_eq!(
                                super::super::share(h, n),
                                parsed_owner(v, n),
                                "{src} variant {i}"
                            );
                            assert_eq!(parsed_owner(v, n), super::super::part(src, dst, n));
                        }
                    }
                }
            }
        }
        assert_eq!(quick, 4 * 2 * 2 * 4);
    }

    /// A scan's conversations (one address, ports counting up) spread
    /// evenly over the threads.
    #[test]
    fn conversations_spread_over_the_threads() {
        let dst: std::net::SocketAddr = "192.0.2.80:443".parse().unwrap();
        for n in [2, 3, 4] {
            let mut per = vec![0u32; n];
            for port in 1024..11024u16 {
                let src = std::net::SocketAddr::new([10, 0, 0, 1].into(), port);
                per[super::super::part(src, dst, n)] += 1;
            }
            let even = 10_000 / n as u32;
            assert!(
                per.iter().all(|&c| c.abs_diff(even) < even / 10),
                "{n}: {per:?}"
            );
        }
    }
}
