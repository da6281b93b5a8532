//! Every way a capture is read gives the same frames: bytes in memory, a
//! mapped file (pages released behind the reading), a stream read in any
//! chunk sizes; and for classic pcap, what pcap-parser's own reader finds.
//! Whole files, files cut anywhere, both byte orders.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::io::Read;

use synack_capture::reader::{self, Mapped, ReadSummary, Source};

mod common;

use common::files;

/// What a frame is, all of it: number, both times (the float by its bits),
/// interface, link type, bytes, lengths, where its record ends.
type Seen = (u64, u64, i64, u32, i32, Vec<u8>, bool, u32, u64);

type Damage = Option<(u64, synack_capture::reader::Damage)>;

/// A read's frames and summary, or its error in words.
type Found = Result<(Vec<Seen>, u64, &'static str, Damage), String>;

fn frames(src: Source<'_>) -> Found {
    let mut v = Vec::new();
    let s: ReadSummary = reader::read(src, "t", |f| {
        v.push((
            f.number,
            f.ts.to_bits(),
            f.ts_ns,
            f.interface,
            f.linktype,
            f.data.to_vec(),
            f.truncated,
            f.wire_len,
            f.end,
        ))
    })
    .map_err(|e| e.to_string())?;
    Ok((v, s.frames, s.format, s.damaged_at))
}

/// A stream that gives at most `n` bytes per read.
struct Trickle<'a> {
    b: &'a [u8],
    n: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.n.min(buf.len()).min(self.b.len());
        buf[..k].copy_from_slice(&self.b[..k]);
        self.b = &self.b[k..];
        Ok(k)
    }
}

/// The same bytes read every way agree (an error too); returns what they
/// found.
fn every_way(bytes: &[u8], what: &str) -> Result<(Vec<Seen>, Damage), String> {
    let direct = frames(Source::Bytes(bytes));
    for n in [3, 4096, 1 << 22] {
        let streamed = frames(Source::stream(Trickle { b: bytes, n }));
        assert_eq!(streamed, direct, "{what}: stream in reads of {n} bytes");
    }
    let path = std::env::temp_dir().join(format!("synack-sources-{}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let mapped = frames(Source::Mapped(&Mapped::new(&file).unwrap()));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(mapped, direct, "{what}: mapped");
    direct.map(|d| (d.0, d.3))
}

/// pcap-parser's streaming reader on a classic pcap file: the frames it
/// finds (number, seconds, fraction, bytes).
fn pcap_parser_frames(bytes: &[u8]) -> Vec<(u64, u32, u32, Vec<u8>)> {
    use pcap_parser::traits::PcapReaderIterator;
    let mut r = pcap_parser::LegacyPcapReader::new(1 << 20, bytes).unwrap();
    let mut v = Vec::new();
    loop {
        let refill = match r.next() {
            Ok((n, pcap_parser::PcapBlockOwned::Legacy(b))) => {
                v.push((v.len() as u64 + 1, b.ts_sec, b.ts_usec, b.data.to_vec()));
                r.consume(n);
                false
            }
            Ok((n, _)) => {
                r.consume(n);
                false
            }
            Err(pcap_parser::PcapError::Incomplete(_)) => true,
            Err(_) => break,
        };
        if refill && r.refill().is_err() {
            break;
        }
    }
    v
}

/// The classic pcap file with every header field in big-endian order.
fn big_endian(le: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(le.len());
    let word = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    out.extend_from_slice(&word(le, 0).to_be_bytes());
    out.extend_from_slice(&u16::from_le_bytes([le[4], le[5]]).to_be_bytes());
    out.extend_from_slice(&u16::from_le_bytes([le[6], le[7]]).to_be_bytes());
    for i in [8, 12, 16, 20] {
        out.extend_from_slice(&word(le, i).to_be_bytes());
    }
    let mut at = 24;
    while at + 16 <= le.len() {
        let caplen = word(le, at + 8) as usize;
        for i in 0..4 {
            out.extend_from_slice(&word(le, at + 4 * i).to_be_bytes());
        }
        out.extend_from_slice(&le[at + 16..(at + 16 + caplen).min(le.len())]);
        at += 16 + caplen;
    }
    out
}

#[test]
fn every_public_capture_reads_the_same_every_way_whole_and_cut() {
    let all = files();
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        let name = f.display().to_string();
        let (seen, damaged) = every_way(&bytes, &name).unwrap();
        assert!(!seen.is_empty() && damaged.is_none(), "{name}: {damaged:?}");
        for cut in [25, bytes.len() / 3, bytes.len() / 2 + 7, bytes.len() - 1] {
            let what = format!("{name} cut at {cut}");
            // A pcapng file cut inside its first block is no capture at
            // all: every way says so.
            let Ok((part, damaged)) = every_way(&bytes[..cut], &what) else {
                assert!(cut < 4096 && name.ends_with(".pcapng"), "{what}");
                continue;
            };
            assert!(part.len() <= seen.len());
            assert_eq!(part[..], seen[..part.len()], "{name} cut at {cut}");
            assert!(damaged.is_some(), "{name} cut at {cut}: no damage said");
        }
        if name.ends_with(".pcap") {
            let theirs = pcap_parser_frames(&bytes);
            let ours: Vec<_> = seen.iter().map(|s| (s.0, s.5.clone())).collect();
            let theirs_bytes: Vec<_> = theirs.iter().map(|t| (t.0, t.3.clone())).collect();
            assert_eq!(ours, theirs_bytes, "{name}: against pcap-parser");
            // Swapped to big-endian, the same frames at the same times.
            let (be, _) = every_way(&big_endian(&bytes), &format!("{name} big-endian")).unwrap();
            let key = |v: &[Seen]| -> Vec<(i64, Vec<u8>, u32)> {
                v.iter().map(|s| (s.2, s.5.clone(), s.7)).collect()
            };
            assert_eq!(key(&be), key(&seen), "{name} big-endian");
        }
    }
    if std::env::var_os("CI").is_some() {
        assert!(
            all.iter()
                .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
                .count()
                >= 3
        );
    }
}

#[test]
fn a_large_synthetic_capture_reads_the_same_mapped_and_streamed() {
    // Larger than a read window several times over (4 MiB), so the walk
    // crosses windows and releases pages behind it.
    let mut buf = Vec::new();
    let truth = synack_capture::synth::write(
        &mut buf,
        &synack_capture::synth::SynthConfig {
            target_bytes: 24 << 20,
            ..Default::default()
        },
    )
    .unwrap();
    let (seen, damaged) = every_way(&buf, "synthetic").unwrap();
    assert_eq!((seen.len() as u64, damaged), (truth.frames, None));
    assert_eq!(seen.last().map(|s| s.8), Some(buf.len() as u64));
}
