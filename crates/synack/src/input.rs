//! Opening what `synack analyze` is given: a capture file (mapped into
//! memory and read in place), `-` for standard input, a capture compressed
//! with gzip, zstd or xz (pure-Rust decoders, streaming); a clear reason for
//! a directory or an empty file.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use synack_capture::reader::{Mapped, Source};

/// An opened capture's bytes.
pub enum Input {
    /// A regular file, mapped.
    Mapped(Mapped),
    /// Standard input, a pipe, or what a decompressor gives.
    Stream(Box<dyn Read + Send>),
}

/// An opened capture: its bytes (decompressed) and its size on disk (0
/// when unknown: stdin, or compressed, for progress).
pub struct Opened {
    pub input: Input,
    pub size: u64,
}

impl Opened {
    /// What a pass reads (a stream can be read once: it is handed over).
    pub fn source(&mut self) -> Source<'_> {
        match &mut self.input {
            Input::Mapped(m) => Source::Mapped(m),
            Input::Stream(r) => Source::Stream(std::mem::replace(r, Box::new(std::io::empty()))),
        }
    }
}

/// The compression a file's first bytes announce.
fn compression(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some("gzip")
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd")
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz")
    } else {
        None
    }
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
    if meta.is_file()
        && let Ok(m) = Mapped::new(&f)
        && compression(m.bytes()).is_none()
    {
        return Ok(Opened {
            input: Input::Mapped(m),
            size: meta.len(),
        });
    }
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
    let (kind, decoder): (&str, Box<dyn Read + Send>) = match compression(head) {
        Some(k @ "gzip") => (k, Box::new(flate2::bufread::MultiGzDecoder::new(r))),
        Some(k @ "zstd") => {
            let d = ruzstd::decoding::StreamingDecoder::new(r)
                .map_err(|e| format!("is a damaged zstd file: {e}"))?;
            (k, Box::new(d))
        }
        Some(k) => (k, Box::new(lzma_rust2::XzReader::new(r, true))),
        None => {
            return Ok(Opened {
                input: Input::Stream(r),
                size,
            });
        }
    };
    let mut input = BufReader::with_capacity(1 << 16, decoder);
    match input.fill_buf() {
        Ok([]) => Err(format!("is {kind} compressed, and holds nothing")),
        Ok(_) => Ok(Opened {
            input: Input::Stream(Box::new(input)),
            size: 0,
        }),
        Err(e) => Err(format!("is a damaged {kind} file: {e}")),
    }
}
