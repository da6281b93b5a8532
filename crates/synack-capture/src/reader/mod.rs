//! Frames from pcap (µs or ns, either byte order; walked in place by
//! `legacy.rs`) and pcapng (any number of interfaces and link types, read
//! with pcap-parser), in one pass over a stream or over a file mapped into
//! memory (`mapped.rs`).

mod damage;
mod legacy;
mod mapped;

use std::io::Read;
use std::sync::OnceLock;

pub use damage::Damage;
pub use mapped::Mapped;
pub(crate) use mapped::WINDOW;

use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{0}: not a pcap or pcapng file")]
    NotACapture(String),
    #[error("reading: {0}")]
    Io(#[from] std::io::Error),
}

/// One captured frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based position in the file, as Wireshark numbers frames.
    pub number: u64,
    /// Seconds since the Unix epoch (for arithmetic that need not be exact).
    pub ts: f64,
    /// Nanoseconds since the Unix epoch, exact to the capture's precision:
    /// differences of these are what reports print.
    pub ts_ns: i64,
    /// The pcapng interface it was captured on (0 in a pcap file).
    pub interface: u32,
    pub linktype: i32,
    pub data: &'a [u8],
    /// Captured fewer bytes than were on the wire.
    pub truncated: bool,
    /// The frame's length on the wire.
    pub wire_len: u32,
    /// The offset in the input just past this frame's record (how far the
    /// reading has come); 0 for a frame not read from a file.
    pub end: u64,
}

/// What reading the whole file found.
#[derive(Debug, Clone, Default)]
pub struct ReadSummary {
    pub frames: u64,
    pub format: &'static str,
    /// Where the file stopped making sense, if it did: the byte offset in
    /// the capture as read (after decompression) and why.
    pub damaged_at: Option<(u64, Damage)>,
    /// Frames of link types [`crate::link`] does not read, none of them
    /// looked into: each link type (-1: an interface the file never
    /// described) and how many.
    pub unread_links: Vec<(i32, u64)>,
}

impl ReadSummary {
    /// One more frame of a link type that is not read.
    fn unread(&mut self, linktype: i32) {
        match self.unread_links.iter_mut().find(|(l, _)| *l == linktype) {
            Some((_, n)) => *n += 1,
            None => self.unread_links.push((linktype, 1)),
        }
    }

    /// A pcap file has one link type: its frames are all read or none.
    fn of_legacy(mut self, h: &legacy::Header) -> ReadSummary {
        if !crate::link::reads(h.linktype()) && self.frames > 0 {
            self.unread_links = vec![(h.linktype(), self.frames)];
        }
        self
    }
}

struct Iface {
    linktype: i32,
    /// [`crate::link::reads`] it.
    read: bool,
    /// Timestamp units per second: 10^n, or 2^n when `if_tsresol` has its
    /// high bit set (pcapng §4.2).
    units_per_sec: f64,
    /// `if_tsoffset`, seconds added to every timestamp.
    offset: f64,
    offset_s: i64,
    tsresol: u8,
}

impl Iface {
    fn new(idb: &pcap_parser::InterfaceDescriptionBlock<'_>) -> Iface {
        let r = idb.if_tsresol;
        let e = i32::from(r & 0x7f);
        Iface {
            linktype: idb.linktype.0,
            read: crate::link::reads(idb.linktype.0),
            units_per_sec: if r & 0x80 != 0 {
                2f64.powi(e)
            } else {
                10f64.powi(e)
            },
            offset: idb.if_tsoffset as f64,
            offset_s: idb.if_tsoffset,
            tsresol: r,
        }
    }

    /// Seconds since the epoch of a 64-bit timestamp: in floating point, so
    /// no resolution or offset can overflow it.
    fn seconds(&self, high: u32, low: u32) -> f64 {
        let ticks = (u64::from(high) << 32) | u64::from(low);
        self.offset + ticks as f64 / self.units_per_sec
    }

    /// The same in whole nanoseconds, exact for resolutions down to 1 ns
    /// (finer ones are cut to the nanosecond), saturating far outside the
    /// years an i64 of nanoseconds holds.
    fn nanos(&self, high: u32, low: u32) -> i64 {
        let ticks = i128::from((u64::from(high) << 32) | u64::from(low));
        let e = u32::from(self.tsresol & 0x7f);
        let ns = if self.tsresol & 0x80 != 0 {
            // 2^-e s: ticks · 10^9 / 2^e (ticks < 2^64, so no overflow).
            (ticks * 1_000_000_000) >> e.min(127)
        } else if e <= 9 {
            ticks * 10i128.pow(9 - e)
        } else {
            ticks / 10i128.pow((e - 9).min(38))
        };
        let total = ns.saturating_add(i128::from(self.offset_s).saturating_mul(1_000_000_000));
        i64::try_from(total).unwrap_or(if total < 0 { i64::MIN } else { i64::MAX })
    }
}

/// The largest record the reader takes: its buffer starts at 1 MiB and
/// doubles up to this for a longer one; a record claiming more is reported
/// as damage (a sound capture's records are at most its snap length, 256 KiB
/// for tcpdump's default).
pub const MAX_RECORD: usize = 16 << 20;

/// Where a pass reads from: bytes in memory (a mapped file, a test's
/// buffer), walked in place, or a stream.
pub enum Source<'a> {
    Bytes(&'a [u8]),
    /// A mapped file: like bytes, and its pages are released behind the
    /// reading.
    Mapped(&'a Mapped),
    Stream(Box<dyn Read + Send + 'a>),
}

impl<'a> From<&'a [u8]> for Source<'a> {
    fn from(b: &'a [u8]) -> Source<'a> {
        Source::Bytes(b)
    }
}

impl<'a> From<&'a Vec<u8>> for Source<'a> {
    fn from(b: &'a Vec<u8>) -> Source<'a> {
        Source::Bytes(b)
    }
}

impl<'a> From<&'a Mapped> for Source<'a> {
    fn from(m: &'a Mapped) -> Source<'a> {
        Source::Mapped(m)
    }
}

/// A file read as a stream (map it with [`Mapped`] to read it in place).
impl From<std::fs::File> for Source<'_> {
    fn from(f: std::fs::File) -> Self {
        Source::stream(f)
    }
}

impl<'a> Source<'a> {
    pub fn stream(r: impl Read + Send + 'a) -> Source<'a> {
        Source::Stream(Box::new(r))
    }
}

/// Bytes of a stream read before its format is decided.
const HEAD: usize = 64 << 10;

/// Call `f` for every frame; stops cleanly at a truncated or corrupt tail,
/// and at a stream's read error once some of it was read (the error is the
/// damage; with nothing read it is the error).
pub fn read<'a>(
    input: impl Into<Source<'a>>,
    name: &str,
    mut f: impl FnMut(Frame<'_>),
) -> Result<ReadSummary, CaptureError> {
    let none = OnceLock::new();
    match input.into() {
        Source::Bytes(b) => match legacy::Header::parse(b) {
            Some(h) => Ok(legacy_bytes(&h, b, &mut f, |_, _| {}).of_legacy(&h)),
            None => pcapng(b, name, &none, f),
        },
        Source::Mapped(m) => match legacy::Header::parse(m.bytes()) {
            Some(h) => {
                let mut released = 0;
                let release = |_: usize, at: usize| released = m.release(released, at);
                Ok(legacy_bytes(&h, m.bytes(), &mut f, release).of_legacy(&h))
            }
            None => pcapng(
                mapped::Reading {
                    map: m,
                    at: 0,
                    released: 0,
                },
                name,
                &none,
                f,
            ),
        },
        Source::Stream(r) => {
            let stopped = OnceLock::new();
            let mut r = damage::Noting {
                inner: r,
                err: &stopped,
            };
            // However little each read gives, the format is told from a
            // whole head (pcap-parser reads its first block in one read).
            let mut head = Vec::with_capacity(HEAD);
            (&mut r).take(HEAD as u64).read_to_end(&mut head)?;
            let read = match legacy::Header::parse(&head) {
                Some(h) => {
                    let rest = head.get(legacy::FILE_HEADER..).unwrap_or(&[]);
                    Ok(legacy_stream(&h, rest.chain(r), &stopped, &mut f).of_legacy(&h))
                }
                None => pcapng(std::io::Cursor::new(&head).chain(r), name, &stopped, f),
            };
            match (read, stopped.into_inner()) {
                // Nothing that could be told a capture came before the error.
                (Err(CaptureError::NotACapture(_)), Some(e)) => Err(e.into()),
                (read, _) => read,
            }
        }
    }
}

fn summary() -> ReadSummary {
    ReadSummary {
        format: "pcap",
        ..ReadSummary::default()
    }
}

/// A whole pcap file in memory, walked a window at a time; `done(from, to)`
/// is told when bytes `from..to` were walked (and will not be read again).
fn legacy_bytes(
    h: &legacy::Header,
    b: &[u8],
    f: &mut impl FnMut(Frame<'_>),
    mut done: impl FnMut(usize, usize),
) -> ReadSummary {
    let mut sum = summary();
    let (mut at, mut span) = (legacy::FILE_HEADER, mapped::WINDOW);
    loop {
        let end = b.len().min(at + span);
        let window = b.get(at..end).unwrap_or(&[]);
        let (used, stop) = legacy::walk(h, window, at as u64, &mut sum.frames, f);
        done(at, at + used);
        at += used;
        match stop {
            legacy::Stop::Need(_) if at == b.len() => return sum,
            // The next window holds the record that did not fit in this one
            // (at most MAX_RECORD and its header).
            legacy::Stop::Need(n) if end < b.len() => span = mapped::WINDOW.max(n),
            legacy::Stop::Need(_) => {
                sum.damaged_at = Some((at as u64, Damage::EndsInsideFrame));
                return sum;
            }
            legacy::Stop::Damaged(why) => {
                sum.damaged_at = Some((at as u64, why));
                return sum;
            }
        }
    }
}

/// A pcap stream, read in chunks of 4 MiB (more for a longer record) into
/// one buffer the records are walked in.
fn legacy_stream(
    h: &legacy::Header,
    mut input: impl Read,
    stopped: &OnceLock<std::io::Error>,
    f: &mut impl FnMut(Frame<'_>),
) -> ReadSummary {
    let mut sum = summary();
    let mut buf = vec![0u8; 4 << 20];
    let (mut len, mut offset) = (0usize, legacy::FILE_HEADER as u64);
    loop {
        let (used, stop) =
            legacy::walk(h, buf.get(..len).unwrap_or(&[]), offset, &mut sum.frames, f);
        offset += used as u64;
        let need = match stop {
            legacy::Stop::Need(n) => n,
            legacy::Stop::Damaged(why) => {
                sum.damaged_at = Some((offset, why));
                return sum;
            }
        };
        buf.copy_within(used..len, 0);
        len -= used;
        if need > buf.len() {
            buf.resize(need, 0);
        }
        // A read error ends the stream (`Noting`): `stopped` holds it.
        let n = input
            .read(buf.get_mut(len..).unwrap_or(&mut []))
            .unwrap_or(0);
        if n == 0 {
            let cut = (len > 0).then_some(Damage::EndsInsideFrame);
            sum.damaged_at = damage::ended(offset, stopped, cut);
            return sum;
        }
        len += n;
    }
}

/// pcapng (or anything else, which pcap-parser refuses), streamed.
fn pcapng(
    mut input: impl Read + Send,
    name: &str,
    stopped: &OnceLock<std::io::Error>,
    mut f: impl FnMut(Frame<'_>),
) -> Result<ReadSummary, CaptureError> {
    let mut size = 1 << 20;
    let mut reader =
        create_reader(size, &mut input).map_err(|_| CaptureError::NotACapture(name.into()))?;
    let mut sum = ReadSummary::default();
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut consumed: u64 = 0;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let end = consumed + offset as u64;
                match block {
                    // A pcap file is walked by `legacy.rs`, never here.
                    PcapBlockOwned::LegacyHeader(_) | PcapBlockOwned::Legacy(_) => {}
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        sum.format = "pcapng";
                        ifaces.clear();
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        ifaces.push(Iface::new(&idb));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        sum.frames += 1;
                        let (linktype, read, ts, ts_ns) = match ifaces.get(epb.if_id as usize) {
                            Some(i) => (
                                i.linktype,
                                i.read,
                                i.seconds(epb.ts_high, epb.ts_low),
                                i.nanos(epb.ts_high, epb.ts_low),
                            ),
                            None => (-1, false, 0.0, 0),
                        };
                        if !read {
                            sum.unread(linktype);
                        }
                        f(Frame {
                            number: sum.frames,
                            ts,
                            ts_ns,
                            interface: epb.if_id,
                            linktype,
                            data: epb.data,
                            truncated: epb.caplen < epb.origlen,
                            wire_len: epb.origlen,
                            end,
                        });
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        sum.frames += 1;
                        let first = ifaces.first();
                        if !first.is_some_and(|i| i.read) {
                            sum.unread(first.map_or(-1, |i| i.linktype));
                        }
                        f(Frame {
                            number: sum.frames,
                            ts: 0.0,
                            ts_ns: 0,
                            interface: 0,
                            linktype: ifaces.first().map_or(-1, |i| i.linktype),
                            data: spb.data,
                            truncated: false,
                            wire_len: spb.origlen,
                            end,
                        });
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                consumed += offset as u64;
                reader.consume(offset);
            }
            Err(PcapError::Eof) => {
                sum.damaged_at = damage::ended(consumed, stopped, None);
                break;
            }
            Err(PcapError::BufferTooSmall) if size < MAX_RECORD => {
                size = (size * 2).min(MAX_RECORD);
                if !reader.grow(size) || reader.refill().is_err() {
                    sum.damaged_at = damage::ended(consumed, stopped, Some(Damage::BadBlock));
                    break;
                }
            }
            Err(PcapError::BufferTooSmall) => {
                sum.damaged_at = Some((consumed, Damage::RecordTooLong));
                break;
            }
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    let cut = Some(Damage::EndsInsideFrame);
                    sum.damaged_at = damage::ended(consumed, stopped, cut);
                    break;
                }
            }
            Err(PcapError::UnexpectedEof | PcapError::ReadError) => {
                let cut = Some(Damage::EndsInsideFrame);
                sum.damaged_at = damage::ended(consumed, stopped, cut);
                break;
            }
            // HeaderNotRecognized, a nom error: the bytes are no block.
            Err(_) => {
                sum.damaged_at = Some((consumed, Damage::BadBlock));
                break;
            }
        }
    }
    Ok(sum)
}
