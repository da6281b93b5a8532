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
    /// Seconds since the Unix epoch.
    pub ts: f64,
    pub linktype: i32,
    pub data: &'a [u8],
    /// Captured fewer bytes than were on the wire.
    pub truncated: bool,
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
    resolution: u64,
    offset: u64,
}

/// Call `f` for every frame; stops cleanly at a truncated or corrupt tail.
pub fn read(
    mut input: impl Read + Send,
    name: &str,
    mut f: impl FnMut(Frame<'_>),
) -> Result<ReadSummary, CaptureError> {
    let mut reader =
        create_reader(1 << 20, &mut input).map_err(|_| CaptureError::NotACapture(name.into()))?;
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
                        f(Frame {
                            number: sum.frames,
                            ts: f64::from(b.ts_sec) + frac,
                            linktype: legacy_link,
                            data: b.data,
                            truncated: b.caplen < b.origlen,
                        });
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        sum.format = "pcapng";
                        ifaces.clear();
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => ifaces.push(Iface {
                        linktype: idb.linktype.0,
                        resolution: idb.ts_resolution().unwrap_or(1_000_000),
                        offset: idb.ts_offset().max(0) as u64,
                    }),
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        sum.frames += 1;
                        let (linktype, ts) = match ifaces.get(epb.if_id as usize) {
                            Some(i) => (i.linktype, epb.decode_ts_f64(i.offset, i.resolution)),
                            None => (-1, 0.0),
                        };
                        f(Frame {
                            number: sum.frames,
                            ts,
                            linktype,
                            data: epb.data,
                            truncated: epb.caplen < epb.origlen,
                        });
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        sum.frames += 1;
                        f(Frame {
                            number: sum.frames,
                            ts: 0.0,
                            linktype: ifaces.first().map_or(-1, |i| i.linktype),
                            data: spb.data,
                            truncated: false,
                        });
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                consumed += offset as u64;
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
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
