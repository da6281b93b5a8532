//! Opening what `synack analyze` is given: a capture file, `-` for
//! standard input, a capture compressed with gzip, zstd or xz (pure-Rust
//! decoders, streaming); a clear reason for a directory or an empty file.

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

/// Look at the first bytes: gzip, zstd and xz are read through a
/// streaming decoder (memory stays that of the decoder's window), and the
/// first block is decoded here, so a damaged file is called one.
fn sniff(mut r: Box<dyn BufRead + Send>, size: u64) -> Result<Opened, String> {
    let head = r.fill_buf().map_err(|e| e.to_string())?;
    if head.is_empty() {
        return Err("is empty (0 bytes): no capture was written to it".into());
    }
    let (kind, decoder): (&str, Box<dyn Read + Send>) = if head.starts_with(&[0x1f, 0x8b]) {
        ("gzip", Box::new(flate2::bufread::MultiGzDecoder::new(r)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let d = ruzstd::decoding::StreamingDecoder::new(r)
            .map_err(|e| format!("is a damaged zstd file: {e}"))?;
        ("zstd", Box::new(d))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        ("xz", Box::new(lzma_rust2::XzReader::new(r, true)))
    } else {
        return Ok(Opened { input: r, size });
    };
    let mut input = BufReader::with_capacity(1 << 16, decoder);
    match input.fill_buf() {
        Ok([]) => Err(format!("is {kind} compressed, and holds nothing")),
        Ok(_) => Ok(Opened {
            input: Box::new(input),
            size: 0,
        }),
        Err(e) => Err(format!("is a damaged {kind} file: {e}")),
    }
}
