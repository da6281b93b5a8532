//! Frames from pcap (µs or ns, either byte order) and pcapng (any number of
//! interfaces and link types), read with pcap-parser in one streaming pass.

use std::io::Read;

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
}

/// What reading the whole file found.
#[derive(Debug, Clone, Default)]
pub struct ReadSummary {
    pub frames: u64,
    pub format: &'static str,
    /// Where the file stopped making sense, if it did (byte offset, reason).
    pub damaged_at: Option<(u64, String)>,
}

struct Iface {
    linktype: i32,
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

/// Call `f` for every frame; stops cleanly at a truncated or corrupt tail.
pub fn read(
    mut input: impl Read + Send,
    name: &str,
    mut f: impl FnMut(Frame<'_>),
) -> Result<ReadSummary, CaptureError> {
    let mut size = 1 << 20;
    let mut reader =
        create_reader(size, &mut input).map_err(|_| CaptureError::NotACapture(name.into()))?;
    let mut sum = ReadSummary::default();
    let (mut legacy_link, mut nanos) = (1i32, false);
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut consumed: u64 = 0;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        sum.format = "pcap";
                        legacy_link = h.network.0;
                        nanos = h.is_nanosecond_precision();
                    }
                    PcapBlockOwned::Legacy(b) => {
                        sum.frames += 1;
                        let frac = if nanos {
                            f64::from(b.ts_usec) / 1e9
                        } else {
                            f64::from(b.ts_usec) / 1e6
                        };
                        let sub_ns = if nanos {
                            i64::from(b.ts_usec)
                        } else {
                            i64::from(b.ts_usec) * 1000
                        };
                        f(Frame {
                            number: sum.frames,
                            ts: f64::from(b.ts_sec) + frac,
                            ts_ns: i64::from(b.ts_sec) * 1_000_000_000 + sub_ns,
                            interface: 0,
                            linktype: legacy_link,
                            data: b.data,
                            truncated: b.caplen < b.origlen,
                            wire_len: b.origlen,
                        });
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        sum.format = "pcapng";
                        ifaces.clear();
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        ifaces.push(Iface::new(&idb));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        sum.frames += 1;
                        let (linktype, ts, ts_ns) = match ifaces.get(epb.if_id as usize) {
                            Some(i) => (
                                i.linktype,
                                i.seconds(epb.ts_high, epb.ts_low),
                                i.nanos(epb.ts_high, epb.ts_low),
                            ),
                            None => (-1, 0.0, 0),
                        };
                        f(Frame {
                            number: sum.frames,
                            ts,
                            ts_ns,
                            interface: epb.if_id,
                            linktype,
                            data: epb.data,
                            truncated: epb.caplen < epb.origlen,
                            wire_len: epb.origlen,
                        });
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        sum.frames += 1;
                        f(Frame {
                            number: sum.frames,
                            ts: 0.0,
                            ts_ns: 0,
                            interface: 0,
                            linktype: ifaces.first().map_or(-1, |i| i.linktype),
                            data: spb.data,
                            truncated: false,
                            wire_len: spb.origlen,
                        });
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                consumed += offset as u64;
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::BufferTooSmall) if size < MAX_RECORD => {
                size = (size * 2).min(MAX_RECORD);
                if !reader.grow(size) || reader.refill().is_err() {
                    sum.damaged_at = Some((consumed, "cannot read further".into()));
                    break;
                }
            }
            Err(PcapError::BufferTooSmall) => {
                sum.damaged_at = Some((
                    consumed,
                    format!("a record longer than {} MiB", MAX_RECORD >> 20),
                ));
                break;
            }
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    sum.damaged_at = Some((consumed, "cannot read further".into()));
                    break;
                }
            }
            Err(PcapError::UnexpectedEof) => {
                sum.damaged_at = Some((consumed, "the file ends inside a frame".into()));
                break;
            }
            Err(e) => {
                sum.damaged_at = Some((consumed, format!("{e:?}")));
                break;
            }
        }
    }
    Ok(sum)
}
