//! Opening what `synack analyze` is given: a capture file (mapped into
//! memory and read in place), `-` for standard input, a capture compressed
//! with gzip, zstd or xz (pure-Rust decoders, streaming; one cut off is told
//! from one damaged), a named pipe; a clear reason for a directory or an
//! empty file.

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    // A pipe or a device has no length: it is read as a stream.
    if meta.is_file() && meta.len() == 0 {
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
    let Some(kind) = compression(head) else {
        return Ok(Opened {
            input: Input::Stream(r),
            size,
        });
    };
    let ended = Arc::new(AtomicBool::new(false));
    let r = Watched {
        inner: r,
        ended: Arc::clone(&ended),
    };
    let decoder: Box<dyn Read + Send> = match kind {
        "gzip" => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        "zstd" => Box::new(
            ruzstd::decoding::StreamingDecoder::new(r)
                .map_err(|e| unreadable(kind, &e, ended.load(Ordering::Relaxed)))?,
        ),
        _ => Box::new(lzma_rust2::XzReader::new(r, true)),
    };
    let mut input = BufReader::with_capacity(1 << 16, Decoded { decoder, ended });
    match input.fill_buf() {
        Ok([]) => Err(format!("is {kind} compressed, and holds nothing")),
        Ok(_) => Ok(Opened {
            input: Input::Stream(Box::new(input)),
            size: 0,
        }),
        Err(e) => Err(unreadable(kind, &e, e.kind() == ErrorKind::UnexpectedEof)),
    }
}

/// Why a compressed file gave nothing at all: cut off (`cut`: its bytes
/// ran out before its first block was whole), or what its decoder said.
fn unreadable(kind: &str, e: &dyn std::fmt::Display, cut: bool) -> String {
    if cut {
        format!(
            "is a damaged {kind} file: it ends before its first block does (cut off), so nothing in it could be read"
        )
    } else {
        format!("is a damaged {kind} file: {e}")
    }
}

/// A compressed file's bytes, noting when they run out.
struct Watched {
    inner: Box<dyn BufRead + Send>,
    ended: Arc<AtomicBool>,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended.store(true, Ordering::Relaxed);
        }
        Ok(n)
    }
}

impl BufRead for Watched {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        let b = self.inner.fill_buf()?;
        if b.is_empty() {
            self.ended.store(true, Ordering::Relaxed);
        }
        Ok(b)
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
    }
}

/// What a decoder gives. An error once its file's bytes ran out means the
/// file was cut off, whatever words the decoder has for it: it is told as
/// such (`UnexpectedEof`, which the reader reports as a file ending early).
struct Decoded {
    decoder: Box<dyn Read + Send>,
    ended: Arc<AtomicBool>,
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.decoder.read(buf).map_err(|e| {
            if self.ended.load(Ordering::Relaxed) && e.kind() != ErrorKind::Interrupted {
                std::io::Error::new(ErrorKind::UnexpectedEof, e.to_string())
            } else {
                e
            }
        })
    }
}
