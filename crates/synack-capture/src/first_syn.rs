//! An attempt that is one SYN so far, kept in 48 bytes. Most attempts of
//! a scan or a flood never get further, so the tracker holds these until a
//! second segment comes, and only then (or when the attempt is handed out)
//! makes the full [`Attempt`] from it: memory per undecided attempt stays
//! small, and nothing is built that nobody asked for.

use std::net::SocketAddr;

use synack_wire::{FastOpenCookie, SeqNum, TcpFlags, TcpOptions};

use crate::attempt::{Attempt, Seg};
use crate::table::Spares;

// Bits of `FirstSyn::bits`.
const OPTIONS: u16 = 1;
const MSS: u16 = 1 << 1;
const WSCALE: u16 = 1 << 2;
const SACK: u16 = 1 << 3;
const TS: u16 = 1 << 4;
const TFO_REQUEST: u16 = 1 << 5;
const TFO_COOKIE: u16 = 1 << 6;
const BAD_CHECKSUM: u16 = 1 << 7;
const PORT_REUSE: u16 = 1 << 8;
/// The wrong checksum is the pseudo-header's sum alone (offload).
const OFFLOADED: u16 = 1 << 10;
/// The client is the lower end of the table's key.
const CLIENT_LO: u16 = 1 << 9;

/// What an attempt's first SYN said, as much as [`Attempt`] reads of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FirstSyn {
    frame: u64,
    ts: f64,
    ns: i64,
    /// tshark's stream index, `u32::MAX` for none (or past 2^32).
    stream: u32,
    seq: u32,
    /// The interface, `u16::MAX` for any past it.
    iface: u16,
    payload_len: u16,
    ip_len: u16,
    window: u16,
    flags: u16,
    mss: u16,
    bits: u16,
    wscale: u8,
}

impl FirstSyn {
    /// The compact form of a SYN, unless it holds something only the full
    /// attempt keeps (a payload that is itself a header, a length past
    /// 64 KB, an ack field that is not zero: the steps show it).
    pub(crate) fn of(
        s: &Seg,
        ends: (SocketAddr, SocketAddr),
        stream: Option<u64>,
        port_reuse: bool,
    ) -> Option<FirstSyn> {
        if s.stacked.is_some() || s.ack.get() != 0 {
            return None;
        }
        let mut bits = 0;
        let mut set = |b: u16, on: bool| {
            if on {
                bits |= b;
            }
        };
        let (mut mss, mut wscale) = (0, 0);
        if let Some(o) = &s.options.get() {
            mss = o.mss.unwrap_or(0);
            wscale = o.window_scale.unwrap_or(0);
            set(OPTIONS, true);
            set(MSS, o.mss.is_some());
            set(WSCALE, o.window_scale.is_some());
            set(SACK, o.sack_permitted);
            set(TS, o.timestamps.is_some());
            set(TFO_REQUEST, o.fast_open.is_some_and(|c| c.is_request()));
            set(TFO_COOKIE, o.fast_open.is_some_and(|c| !c.is_request()));
        }
        set(BAD_CHECKSUM, s.bad_checksum);
        set(OFFLOADED, s.checksum_offloaded);
        set(PORT_REUSE, port_reuse);
        set(CLIENT_LO, s.src == ends.0);
        Some(FirstSyn {
            frame: s.frame,
            ts: s.ts,
            ns: s.ns,
            stream: stream
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(u32::MAX),
            seq: s.seq.get(),
            iface: u16::try_from(s.iface).unwrap_or(u16::MAX),
            payload_len: u16::try_from(s.payload_len).ok()?,
            ip_len: u16::try_from(s.ip_len).ok()?,
            window: s.window,
            flags: s.flags.0,
            mss,
            bits,
            wscale,
        })
    }

    pub(crate) fn isn(&self) -> u32 {
        self.seq
    }

    pub(crate) fn ts(&self) -> f64 {
        self.ts
    }

    pub(crate) fn stream(&self) -> Option<u64> {
        (self.stream != u32::MAX).then_some(u64::from(self.stream))
    }

    /// The client, of the key's two ends.
    pub(crate) fn client(&self, ends: (SocketAddr, SocketAddr)) -> SocketAddr {
        if self.bits & CLIENT_LO != 0 {
            ends.0
        } else {
            ends.1
        }
    }

    pub(crate) fn frame(&self) -> u64 {
        self.frame
    }

    /// The SYN as the segment it was (options as far as attempts read them:
    /// which were offered, the MSS and the shift).
    #[inline(always)]
    fn seg(&self, client: SocketAddr, server: SocketAddr) -> Seg {
        let has = |b: u16| self.bits & b != 0;
        let options = has(OPTIONS).then(|| TcpOptions {
            mss: has(MSS).then_some(self.mss),
            window_scale: has(WSCALE).then_some(self.wscale),
            sack_permitted: has(SACK),
            timestamps: has(TS).then_some((0, 0)),
            fast_open: if has(TFO_REQUEST) {
                FastOpenCookie::new(&[])
            } else if has(TFO_COOKIE) {
                FastOpenCookie::new(&[0; 8])
            } else {
                None
            },
            ..TcpOptions::default()
        });
        Seg {
            frame: self.frame,
            ts: self.ts,
            ns: self.ns,
            iface: u32::from(self.iface),
            src: client,
            dst: server,
            flags: TcpFlags(self.flags),
            seq: SeqNum(self.seq),
            ack: SeqNum(0),
            window: self.window,
            payload_len: usize::from(self.payload_len),
            ip_len: usize::from(self.ip_len),
            options: options.into(),
            bad_checksum: has(BAD_CHECKSUM),
            checksum_offloaded: has(OFFLOADED),
            stacked: None,
        }
    }

    /// The ends as client and server, and the SYN.
    #[inline(always)]
    fn parts(&self, ends: (SocketAddr, SocketAddr)) -> (SocketAddr, SocketAddr, Seg) {
        let client = self.client(ends);
        let server = if client == ends.0 { ends.1 } else { ends.0 };
        (client, server, self.seg(client, server))
    }

    /// What the SYN told the attempt.
    fn begin(&self, a: &mut Attempt, s: &Seg) {
        a.port_reuse = self.bits & PORT_REUSE != 0;
        a.tcp_stream = self.stream();
        a.add(s);
    }

    /// The full attempt, as if it had been made at the SYN.
    pub(crate) fn attempt(&self, ends: (SocketAddr, SocketAddr)) -> Attempt {
        let (client, server, s) = self.parts(ends);
        let mut a = Attempt::new(client, server, &s);
        self.begin(&mut a, &s);
        a
    }

    /// The same attempt made in `a`, reusing its buffers.
    pub(crate) fn refill(&self, ends: (SocketAddr, SocketAddr), a: &mut Attempt) {
        let (client, server, s) = self.parts(ends);
        a.reset(client, server, &s);
        self.begin(a, &s);
    }
}

/// What of a one-SYN attempt its outcome, checks and diagnosis can
/// depend on: the SYN without its frame, times, stream, ISN, interface and
/// ends, and whether it was evicted. Two attempts of one SYN of the same
/// kind add the same to a summary (`lone_syns_of_a_kind_add_the_same`
/// checks it over SYNs that differ in everything else), so a summary works
/// an attempt of each kind out once. Its parts are packed in one number,
/// compared at every SYN of a scan: flags, bits but the client's end, MSS,
/// window, payload and IP lengths (16 bits each), the shift, the family and
/// whether it was evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Kind(u128);

impl Kind {
    /// Where the shift, the family and the eviction bit go: after the six
    /// 16-bit parts.
    const REST: u32 = 6 * 16;
    const EVICTED: u128 = 1 << (Kind::REST + 9);

    fn of(s: &FirstSyn, ends: &(SocketAddr, SocketAddr), evicted: bool) -> Kind {
        let parts = [
            s.flags,
            s.bits & !CLIENT_LO,
            s.mss,
            s.window,
            s.payload_len,
            s.ip_len,
        ];
        let sixteen = parts.iter().fold(0u128, |k, &p| (k << 16) | u128::from(p));
        let rest =
            u128::from(s.wscale) | u128::from(ends.0.is_ipv6()) << 8 | u128::from(evicted) << 9;
        Kind(sixteen | rest << Kind::REST)
    }

    fn evicted(self) -> bool {
        self.0 & Kind::EVICTED != 0
    }
}

/// Attempts of one SYN counted by kind as they leave the tracker, for a
/// hand that sums them up in any order (a summary without a filter): no
/// [`LoneSyn`] is made and handed over for each (in a scan of distinct
/// SYNs that was a third of the pass). Each kind keeps its SYN with the
/// earliest first frame, which a summary names as the example of a
/// failed check. Past [`LoneCounts::MAX`] kinds a SYN is not counted.
#[derive(Default)]
pub(crate) struct LoneCounts(Vec<Counted>);

struct Counted {
    kind: Kind,
    n: u64,
    earliest: FirstSyn,
    ends: (SocketAddr, SocketAddr),
    now: f64,
}

impl LoneCounts {
    const MAX: usize = 64;

    /// Count `syn`, handed out at `now` (evicted or not); `false` when its
    /// kind is past those counted.
    #[inline]
    pub(crate) fn count(
        &mut self,
        syn: &FirstSyn,
        ends: &(SocketAddr, SocketAddr),
        (evicted, now): (bool, f64),
    ) -> bool {
        let kind = Kind::of(syn, ends, evicted);
        if let Some(c) = self.0.iter_mut().find(|c| c.kind == kind) {
            c.n += 1;
            if syn.frame < c.earliest.frame {
                (c.earliest, c.ends, c.now) = (*syn, *ends, now);
            }
            return true;
        }
        if self.0.len() >= LoneCounts::MAX {
            return false;
        }
        self.0.push(Counted {
            kind,
            n: 1,
            earliest: *syn,
            ends: *ends,
            now,
        });
        true
    }

    /// Each kind's count, with its earliest SYN as a [`LoneSyn`].
    pub(crate) fn each(self, spares: &mut Spares, mut f: impl FnMut(&mut LoneSyn<'_>, u64)) {
        for c in self.0 {
            let when = (c.kind.evicted(), c.now);
            f(&mut LoneSyn::new(&c.earliest, c.ends, when, spares), c.n);
        }
    }
}

/// An attempt that was one SYN when it was handed out, not yet made into
/// an [`Attempt`]: what a scan or a flood is mostly made of. A summary
/// takes its share by its kind (what in it bears on the summary), and
/// makes the attempt only for a kind it has not seen.
pub struct LoneSyn<'a> {
    syn: &'a FirstSyn,
    ends: (SocketAddr, SocketAddr),
    evicted: bool,
    now: f64,
    spares: &'a mut Spares,
}

impl<'a> LoneSyn<'a> {
    pub(crate) fn new(
        syn: &'a FirstSyn,
        ends: (SocketAddr, SocketAddr),
        (evicted, now): (bool, f64),
        spares: &'a mut Spares,
    ) -> LoneSyn<'a> {
        LoneSyn {
            syn,
            ends,
            evicted,
            now,
            spares,
        }
    }

    pub(crate) fn kind(&self) -> Kind {
        Kind::of(self.syn, &self.ends, self.evicted)
    }

    /// The attempt's first frame (its SYN's).
    pub fn first_frame(&self) -> u64 {
        self.syn.frame
    }

    /// Its client and server.
    pub fn ends(&self) -> (SocketAddr, SocketAddr) {
        let client = self.syn.client(self.ends);
        let server = if client == self.ends.0 {
            self.ends.1
        } else {
            self.ends.0
        };
        (client, server)
    }

    /// The attempt made and finished, lent to `f` (in a spare box, given
    /// back after).
    pub fn with_attempt<R>(&mut self, f: impl FnOnce(&Attempt) -> R) -> R {
        let mut a = self.spares.made(self.syn, self.ends);
        a.evicted = self.evicted;
        a.finish(self.now);
        let r = f(&a);
        self.spares.put(Some(a));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn(opts: Option<TcpOptions>, flags: u16, payload: usize, bad: bool) -> Seg {
        Seg {
            frame: 7,
            ts: 1_700_000_000.25,
            ns: 1_700_000_000_250_000_123,
            iface: 3,
            src: "[2001:db8::1]:40000"
                .parse()
                .unwrap_or(SocketAddr::from(([0; 4], 0))),
            dst: "[2001:db8::2]:443"
                .parse()
                .unwrap_or(SocketAddr::from(([0; 4], 0))),
            flags: TcpFlags(flags),
            seq: SeqNum(0xdead_beef),
            ack: SeqNum(0),
            window: 64_800,
            payload_len: payload,
            ip_len: 80 + payload,
            options: opts.into(),
            bad_checksum: bad,
            checksum_offloaded: false,
            stacked: None,
        }
    }

    /// An attempt with something in every buffer: a handshake, data, a
    /// retransmitted SYN, FINs and a RST, finished.
    fn busy_attempt() -> Attempt {
        let opts = TcpOptions {
            mss: Some(1460),
            timestamps: Some((1, 0)),
            ..TcpOptions::default()
        };
        let first = syn(Some(opts), TcpFlags::SYN.0, 0, false);
        let (c, srv) = (first.src, first.dst);
        let mut a = Attempt::new(c, srv, &first);
        let mut at =
            |n: u64, from_client: bool, flags: TcpFlags, seq: u32, ack: u32, len: usize| {
                let mut s = first;
                s.frame = n;
                s.ns += i64::try_from(n).unwrap_or(0) * 1_000_000;
                s.ts += n as f64 / 1000.0;
                (s.src, s.dst) = if from_client { (c, srv) } else { (srv, c) };
                s.flags = flags;
                s.seq = SeqNum(seq);
                s.ack = SeqNum(ack);
                s.payload_len = len;
                s.bad_checksum = n == 6;
                a.add(&s);
            };
        let isn = 0xdead_beef_u32;
        at(7, true, TcpFlags::SYN, isn, 0, 0);
        at(8, true, TcpFlags::SYN, isn, 0, 0);
        at(
            9,
            false,
            TcpFlags::SYN | TcpFlags::ACK,
            500,
            isn.wrapping_add(2),
            0,
        );
        at(10, true, TcpFlags::ACK, isn.wrapping_add(1), 501, 0);
        at(
            11,
            true,
            TcpFlags::ACK | TcpFlags::PSH,
            isn.wrapping_add(1),
            501,
            100,
        );
        at(12, false, TcpFlags::FIN | TcpFlags::ACK, 501, isn, 0);
        at(13, true, TcpFlags::RST, isn.wrapping_add(101), 0, 0);
        a.finish(first.ts + 10.0);
        assert!(!a.checks.is_empty() && !a.steps.is_empty() && !a.rst.is_empty());
        a
    }

    /// An attempt made again in place is a new one, every field (the
    /// private ones too: `Debug` shows them all) and its buffers kept.
    #[test]
    fn reset_is_new() {
        let mut a = busy_attempt();
        let mut s = syn(None, TcpFlags::SYN.0, 0, false);
        s.frame = 99;
        s.ns += 7;
        s.ts += 7e-9;
        a.reset(s.dst, s.src, &s);
        assert!(a.checks.capacity() > 0 && a.steps.capacity() > 0);
        let fresh = Attempt::new(s.dst, s.src, &s);
        assert_eq!(format!("{a:?}"), format!("{fresh:?}"));
    }

    /// The attempt made from the compact form is the one made from the
    /// segment itself, field for field, for SYNs of every kind.
    #[test]
    fn the_compact_syn_makes_the_same_attempt() {
        let full = TcpOptions {
            mss: Some(1440),
            window_scale: Some(15),
            sack_permitted: true,
            timestamps: Some((1, 0)),
            ..TcpOptions::default()
        };
        let tfo = |c: &[u8]| TcpOptions {
            fast_open: FastOpenCookie::new(c),
            ..TcpOptions::default()
        };
        let ece_cwr = TcpFlags::SYN.0 | TcpFlags::ECE.0 | TcpFlags::CWR.0;
        let cases = [
            syn(Some(full), TcpFlags::SYN.0, 0, false),
            syn(None, TcpFlags::SYN.0, 0, true),
            syn(Some(TcpOptions::default()), ece_cwr, 0, false),
            syn(Some(tfo(&[])), TcpFlags::SYN.0, 0, false),
            syn(
                Some(tfo(&[1, 2, 3, 4, 5, 6, 7, 8])),
                TcpFlags::SYN.0,
                100,
                false,
            ),
            syn(Some(full), TcpFlags::SYN.0 | TcpFlags::FIN.0, 0, false),
        ];
        for (s, ends) in cases
            .iter()
            .flat_map(|s| [(*s, (s.src, s.dst)), (*s, (s.dst, s.src))])
        {
            let mut direct = Attempt::new(s.src, s.dst, &s);
            direct.tcp_stream = Some(9);
            direct.add(&s);
            direct.finish(s.ts + 5.0);
            let Some(compact) = FirstSyn::of(&s, ends, Some(9), false) else {
                panic!("no compact form of {s:?}");
            };
            let mut made = compact.attempt(ends);
            made.finish(s.ts + 5.0);
            let (a, b) = (
                serde_json::to_value(&direct).ok(),
                serde_json::to_value(&made).ok(),
            );
            assert!(a.is_some());
            assert_eq!(a, b, "{s:?}");
            // Made again over an attempt that went further, as the tracker
            // reuses one: nothing of the earlier one is left.
            let mut reused = busy_attempt();
            compact.refill(ends, &mut reused);
            reused.finish(s.ts + 5.0);
            assert_eq!(a, serde_json::to_value(&reused).ok(), "{s:?}");
        }
    }
}
