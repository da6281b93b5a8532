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

use synack_wire::parse_icmp;

use crate::attempt::Attempt;
use crate::beneath::{Beneath, Found};
use crate::fold::{Fold, Folding};
use crate::reader::{self, CaptureError, Frame, Mapped, Source};
use crate::track::Hand;
use crate::{Live, Pass, Totals, link};

type Batch = Vec<Box<Attempt>>;

/// Attempts sent back per message.
const BATCH: usize = 256;
/// Frames between two looks at the others' progress.
const EVERY: u64 = 4096;

/// Whose a frame is, of `n` threads, and whether it moves the capture's
/// clock (a TCP segment the tracker takes does; on one thread nothing else
/// would, so here nothing else may).
#[derive(Clone, Copy)]
struct Owner {
    thread: usize,
    clock: bool,
}

/// A frame's [`Owner`]: by its TCP 4-tuple, or by the one an ICMP error
/// quotes; `None` for anything else (what is beneath it may have one).
#[inline(always)]
fn owner(f: &Frame<'_>, n: usize) -> Option<Owner> {
    match plain_ethernet_v4(f) {
        Some(h) => Some(Owner {
            thread: super::share(h, n),
            clock: true,
        }),
        None => any_owner(f, n),
    }
}

/// [`plain_tcp`] of an IPv4 packet in an untagged Ethernet frame (most
/// frames of most captures), read at fixed places with no call; `None`
/// for anything else, which [`any_owner`] then reads.
#[inline(always)]
fn plain_ethernet_v4(f: &Frame<'_>) -> Option<u64> {
    let (head, ip) = f.data.split_first_chunk::<14>()?;
    if f.linktype != 1 || head[12..] != [0x08, 0x00] {
        return None;
    }
    plain_v4(ip, f.truncated)
}

/// [`owner`] of any frame.
#[inline(never)]
fn any_owner(f: &Frame<'_>, n: usize) -> Option<Owner> {
    let ip = link::ip_packet(f.linktype, f.data)?;
    if let Some(h) = plain_tcp(ip, f.truncated) {
        return Some(Owner {
            thread: super::share(h, n),
            clock: true,
        });
    }
    if let Some((src, dst)) = crate::segment_ends(f) {
        return Some(Owner {
            thread: super::part(src, dst, n),
            clock: true,
        });
    }
    let e = parse_icmp(ip, false).ok()?;
    Some(Owner {
        thread: super::part(e.quoted_src, e.quoted_dst, n),
        clock: false,
    })
}

/// The conversation hash of an IPv4 packet without options or an IPv6 one
/// without extension headers, unfragmented, carrying a whole fixed TCP
/// header within its length (and, but for a frame cut by the snap
/// length, within the bytes captured) whose data offset is at least 5
/// words, read from the bytes where they are:
/// what [`super::part`] gives for the ends `crate::segment_ends` finds in
/// it, which finds a segment wherever this does. `None` for anything else
/// (which then takes the parsing way).
#[inline]
fn plain_tcp(ip: &[u8], truncated: bool) -> Option<u64> {
    if ip.first() == Some(&0x45) {
        plain_v4(ip, truncated)
    } else {
        plain_v6(ip, truncated)
    }
}

/// [`plain_tcp`] of an IPv4 packet.
#[inline(always)]
fn plain_v4(ip: &[u8], truncated: bool) -> Option<u64> {
    // Fixed-size headers up to the ports, read without a check per byte.
    let h = ip.first_chunk::<24>()?;
    let [0x45, _, l0, l1, _, _, f0, f1, _, 6, ..] = *h else {
        return None;
    };
    let whole = end(ip, truncated, be16([l0, l1]))? >= 40;
    let unfragmented = be16([f0, f1]) & 0x3fff == 0;
    if !whole || !unfragmented || !fixed_header_whole(ip, 20) {
        return None;
    }
    let (a, rest) = h.split_at(12).1.split_first_chunk::<4>()?;
    let (b, tcp) = rest.split_first_chunk::<4>()?;
    let (sport, dport) = ports(tcp)?;
    Some(super::end_hash_v4(*a, sport).wrapping_add(super::end_hash_v4(*b, dport)))
}

/// [`plain_tcp`] of an IPv6 packet.
#[inline(always)]
fn plain_v6(ip: &[u8], truncated: bool) -> Option<u64> {
    let h = ip.first_chunk::<44>()?;
    let (fixed, rest) = h.split_first_chunk::<8>()?;
    let [v, _, _, _, p0, p1, next, _] = *fixed;
    let whole = end(ip, truncated, 40 + be16([p0, p1]))? >= 60;
    if v >> 4 != 6 || next != 6 || !whole || !fixed_header_whole(ip, 40) {
        return None;
    }
    let (a, rest) = rest.split_first_chunk::<16>()?;
    let (b, tcp) = rest.split_first_chunk::<16>()?;
    let (sport, dport) = ports(tcp)?;
    Some(super::end_hash_v6(*a, sport).wrapping_add(super::end_hash_v6(*b, dport)))
}

/// The packet's end by the length it claims: within what was captured,
/// or cut at it when the frame was cut.
#[inline(always)]
fn end(ip: &[u8], truncated: bool, claimed: usize) -> Option<usize> {
    (claimed <= ip.len() || truncated).then(|| claimed.min(ip.len()))
}

#[inline(always)]
fn be16(b: [u8; 2]) -> usize {
    usize::from(u16::from_be_bytes(b))
}

/// Whether the TCP header at `at` claims at least its 20 fixed bytes (a
/// data offset of 5 words or more), as `tcp_part` requires of a segment.
#[inline]
fn fixed_header_whole(ip: &[u8], at: usize) -> bool {
    ip.get(at + 12).is_some_and(|b| b >> 4 >= 5)
}

/// A TCP header's source and destination ports.
#[inline]
fn ports(tcp: &[u8]) -> Option<(u16, u16)> {
    let [s0, s1, d0, d1] = *tcp.first_chunk::<4>()?;
    Some((u16::from_be_bytes([s0, s1]), u16::from_be_bytes([d0, d1])))
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
    let mut live = Live::new(super::held_by(pass.max_live, me, n)).unnumbered();
    if !pass.checksums {
        live = live.without_checksums();
    }
    live.count_lone_syns(hand);
    let mut beneath = Beneath::default();
    let take = |live: &mut Live, f: &Frame<'_>, o: Owner, hand: &mut _| {
        if o.thread == me {
            live.frame_to(f, hand);
        } else if o.clock {
            live.tick_to(f.ts, hand);
        }
    };
    let summary = reader::read(Source::Bytes(bytes), name, |f| {
        if f.number.is_multiple_of(EVERY) {
            tick(f.end);
        }
        // Neither a segment nor an ICMP error: what is beneath it (a
        // fragment, a tunnel) every thread looks at, to take a segment in
        // it if it is its own; failing that, thread 0 counts the frame, as
        // one thread would.
        let o = match owner(&f, n) {
            Some(o) => o,
            None => {
                let mut take_beneath = |g: &Frame<'_>, zone| {
                    let o = owner(g, n);
                    match o {
                        Some(o) if o.thread == me => _ = live.beneath_to(g, zone, hand),
                        Some(o) if o.clock => live.tick_to(g.ts, hand),
                        _ => {}
                    }
                    o.is_some()
                };
                match beneath.open(&f, &mut take_beneath) {
                    Found::Nothing => Owner {
                        thread: 0,
                        clock: false,
                    },
                    Found::Taken | Found::Held => return,
                }
            }
        };
        take(&mut live, &f, o, hand);
    })?;
    let mut t = live.finish_to(hand);
    beneath.finish();
    t.summary = summary;
    (t.reassembled, t.fragments_lost) = (beneath.defrag.reassembled, beneath.defrag.lost);
    t.tunnelled = beneath.tunnelled;
    t.tunnel_networks = beneath.networks;
    Ok(t)
}

/// A worker's attempts, sent to thread 0 [`BATCH`] at a time; the boxes
/// thread 0 sends back are made again.
struct Send {
    /// Dropped when done, so that thread 0's drain ends.
    tx: Option<mpsc::Sender<(usize, Batch)>>,
    back: mpsc::Receiver<Batch>,
    me: usize,
    batch: Batch,
    pool: Batch,
}

impl Send {
    fn flush(&mut self) {
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if let Some(tx) = &self.tx {
            let _ = tx.send((self.me, full));
        }
    }
}

impl Hand for Send {
    fn done(&mut self) {
        self.flush();
        self.tx = None;
    }

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
    /// Where the pages mapped ahead end, as the last release left them (a
    /// hint: two releases at once at worst map some pages twice).
    mapped: AtomicU64,
    map: Option<&'a Mapped>,
}

/// How far a thread may run ahead of the slowest: what is mapped between
/// them stays resident, so this bounds the memory a mapped file takes.
const LEAD: u64 = 32 << 20;

/// Bytes walked by every thread between two releases.
const RELEASE: u64 = reader::WINDOW as u64;

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
        let len = m.bytes().len() as u64;
        let slowest = slowest.min(len);
        let from = self.released.load(Ordering::Relaxed);
        // A release a window at a time (or at the end): each is two calls
        // into the kernel, and a scan's threads look every 400 KB.
        let due = slowest >= from.saturating_add(RELEASE) || (slowest == len && slowest > from);
        if due
            && self
                .released
                .compare_exchange(from, slowest, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let cut = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
            let mapped = cut(self.mapped.load(Ordering::Relaxed));
            let (_, mapped) = m.release_here(cut(from), cut(slowest), mapped);
            self.mapped.store(mapped as u64, Ordering::Relaxed);
        }
    }
}

/// What every thread of a split pass shares: the bytes, how far each
/// walked, the pass's settings.
#[derive(Clone, Copy)]
pub(super) struct Split<'a> {
    pub bytes: &'a [u8],
    /// The mapped file the bytes are, whose pages are released behind the
    /// slowest thread.
    pub map: Option<&'a Mapped>,
    pub name: &'a str,
    pub pass: Pass,
}

/// `split` on `workers.len() + 1` threads: worker `i` walks as thread
/// `i + 1` with its own hand, the caller's thread as thread 0 with `zero`,
/// then `drain` takes what the workers sent it. The totals summed, the
/// workers' hands given back.
fn on_threads<W: Hand + std::marker::Send, Z: Hand>(
    split: Split<'_>,
    workers: Vec<W>,
    zero: &mut Z,
    mut progress: impl FnMut(u64),
    drain: impl FnOnce(&mut Z),
) -> Result<(Totals, Vec<W>), CaptureError> {
    let n = workers.len() + 1;
    let Split {
        bytes, name, pass, ..
    } = split;
    let walked = Walked {
        at: (0..n).map(|_| AtomicU64::new(0)).collect(),
        released: AtomicU64::new(0),
        mapped: AtomicU64::new(0),
        map: split.map,
    };
    std::thread::scope(|scope| {
        let walked = &walked;
        let others: Vec<_> = workers
            .into_iter()
            .enumerate()
            .map(|(i, mut hand)| {
                let me = i + 1;
                scope.spawn(move || {
                    let t = walk(
                        bytes,
                        name,
                        pass,
                        (me, n),
                        |end| walked.at(me, end),
                        &mut hand,
                    );
                    hand.done();
                    walked.at(me, u64::MAX);
                    (t, hand)
                })
            })
            .collect();
        let tick = |end: u64| {
            walked.at(0, end);
            progress(end);
        };
        let mine = walk(bytes, name, pass, (0, n), tick, zero);
        walked.at(0, u64::MAX);
        drain(zero);
        let mut totals = mine?;
        let mut hands = Vec::with_capacity(n);
        for h in others {
            if let Ok((Ok(t), hand)) = h.join() {
                totals.unreadable += t.unreadable;
                totals.unmatched += t.unmatched;
                totals.peak_live += t.peak_live;
                totals.evicted += t.evicted;
                hands.push(hand);
            }
        }
        Ok((totals, hands))
    })
}

/// See the module comment: every attempt is lent to `each` on the caller's
/// thread.
pub(super) fn analyze_split(
    split: Split<'_>,
    n: usize,
    progress: impl FnMut(u64),
    mut each: impl FnMut(&Attempt),
) -> Result<Totals, CaptureError> {
    let (tx, rx) = mpsc::channel::<(usize, Batch)>();
    let (back, backs): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::channel::<Batch>()).unzip();
    let workers: Vec<Send> = backs
        .into_iter()
        .enumerate()
        .skip(1)
        .map(|(me, back)| Send {
            tx: Some(tx.clone()),
            back,
            me,
            batch: Vec::with_capacity(BATCH),
            pool: Vec::new(),
        })
        .collect();
    // The workers' senders are the only ones left: the drain ends with them.
    drop(tx);
    let mut lend = Lend {
        each: &mut each,
        rx: &rx,
        back: &back,
    };
    let drain = |lend: &mut Lend<'_, _>| {
        for m in lend.rx {
            lend.theirs(m);
        }
    };
    on_threads(split, workers, &mut lend, progress, drain).map(|(t, _)| t)
}

/// Each thread's attempts folded into a state of its own by `fold`, on the
/// thread where they ended: nothing of them crosses threads (lending them
/// all to one thread moved each attempt's 1.3 KB there and back, which on
/// a scan made two threads slower than one). The states in thread order.
pub(super) fn fold_split<S: Default + std::marker::Send>(
    split: Split<'_>,
    n: usize,
    progress: impl FnMut(u64),
    fold: &impl Fold<S>,
) -> Result<(Totals, Vec<S>), CaptureError> {
    let workers: Vec<Folding<'_, S, _>> = (1..n).map(|_| Folding::new(fold)).collect();
    let mut zero = Folding::new(fold);
    let (totals, hands) = on_threads(split, workers, &mut zero, progress, |_| {})?;
    let states = std::iter::once(zero.into_state())
        .chain(hands.into_iter().map(Folding::into_state))
        .collect();
    Ok((totals, states))
}

#[cfg(test)]
mod tests {
    use super::*;
    use synack_wire::{TcpFlags, TcpOptions};

    /// A segment `p` whole (variant 0), cut 10 bytes short (1), and in
    /// the forms the quick way must leave to parsing.
    fn variants(p: &[u8], v4: bool) -> Vec<Vec<u8>> {
        let mut variants = vec![p.to_vec(), p[..p.len() - 10].to_vec()];
        let with = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut v = p.to_vec();
            f(&mut v);
            v
        };
        if v4 {
            variants.extend([
                with(&|v| v[6] |= 0x20),   // a fragment
                with(&|v| v[9] = 17),      // UDP
                with(&|v| v.truncate(22)), // cut before the ports
                with(&|v| v[0] = 0x46),    // a 24-byte header: the ports are elsewhere
            ]);
        } else {
            variants.extend([
                with(&|v| v[6] = 60),      // an extension header
                with(&|v| v.truncate(42)), // cut before the ports
            ]);
        }
        variants
    }

    /// Link types and the headers before the IP packet in them: none,
    /// plain Ethernet (the quickest way) and 802.1Q-tagged.
    fn links(v4: bool) -> [(i32, Vec<u8>); 3] {
        let ethertype: &[u8] = if v4 { &[8, 0] } else { &[0x86, 0xdd] };
        let plain = [&[2; 12][..], ethertype].concat();
        let tagged = [&[2; 12][..], &[0x81, 0, 0, 7], ethertype].concat();
        [(101, vec![]), (1, plain), (1, tagged)]
    }

    /// Every packet the bytes-only way takes is a segment the tracker
    /// takes, and gets the thread parsing gives it; the ones it must leave
    /// (fragments, IP options, not TCP, cut before the header's end, longer
    /// than captured in a frame not said to be cut) it leaves, and a frame
    /// moves the other threads' clocks exactly when it is a segment.
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
                let variants = variants(&p, src.is_ipv4());
                let links = links(src.is_ipv4());
                let each = variants.iter().enumerate();
                for ((i, v), (linktype, head)) in
                    each.flat_map(|v| links.iter().map(move |l| (v, l)))
                {
                    let data = [&head[..], v].concat();
                    for truncated in [false, true] {
                        let f = Frame {
                            number: 1,
                            ts: 0.0,
                            ts_ns: 0,
                            interface: 0,
                            linktype: *linktype,
                            data: &data,
                            truncated,
                            wire_len: u32::try_from(head.len() + p.len()).unwrap(),
                            end: 0,
                        };
                        let fast = plain_tcp(v, truncated);
                        let found = crate::segment_ends(&f);
                        let whole = i == 0 || (i == 1 && truncated);
                        assert_eq!(fast.is_some(), whole, "{src} variant {i} {truncated}");
                        if whole {
                            assert_eq!(found, Some((src, dst)), "{src} variant {i}");
                        }
                        for n in 2..6 {
                            let o = owner(&f, n).unwrap_or(Owner {
                                thread: 0,
                                clock: false,
                            });
                            assert_eq!(o.clock, found.is_some(), "{src} variant {i}");
                            if let Some((s, d)) = found {
                                assert_eq!(o.thread, super::super::part(s, d, n));
                            }
                            if let Some(h) = fast {
                                quick += 1;
                                assert_eq!(super::super::share(h, n), o.thread);
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(quick, 4 * 2 * 3 * 4 * 3);
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
