//! Opening what `synack analyze` is given: a capture file, `-` for
//! standard input, a gzip-compressed capture; a clear reason for a
//! directory, an empty file, or a compression it does not read.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// An opened capture: its bytes (decompressed) and its size on disk (0
/// when unknown: stdin, or compressed, for progress).
pub struct Opened {
    pub input: Box<dyn Read + Send>,
    pub size: u64,
}

/// Why an input cannot be read, in words.
pub fn open(path: &Path) -> Result<Opened, String> {
    if path.as_os_str() == "-" {
        return sniff(Box::new(BufReader::new(std::io::stdin())), 0);
    }
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        return Err("is a directory; give the capture files in it".into());
    }
    if meta.len() == 0 {
        return Err("is empty (0 bytes): no capture was written to it".into());
    }
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    sniff(Box::new(BufReader::with_capacity(1 << 20, f)), meta.len())
}

/// Look at the first bytes: gzip is read through a decoder; zstd and xz
/// are named, not guessed at.
fn sniff(mut r: Box<dyn BufRead + Send>, size: u64) -> Result<Opened, String> {
    let head = r.fill_buf().map_err(|e| e.to_string())?;
    if head.is_empty() {
        return Err("is empty (0 bytes): no capture was written to it".into());
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Opened {
            input: Box::new(flate2::bufread::MultiGzDecoder::new(r)),
            size: 0,
        });
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err("is compressed with zstd; decompress it first (zstd -d)".into());
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Err("is compressed with xz; decompress it first (xz -d)".into());
    }
    Ok(Opened { input: r, size })
}
