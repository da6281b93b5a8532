//! A progress bar on stderr for long reads, and a spool that keeps the
//! per-attempt report until the summary that goes before it is known.

use std::io::{Read, Seek, Write};
use std::time::{Duration, Instant};

/// A bar of how far a read has come, redrawn at most ten times a second.
pub struct Bar {
    total: u64,
    done: u64,
    show: bool,
    started: Instant,
    drawn: Instant,
}

impl Bar {
    /// `total` bytes (0: unknown), drawn only when `show`.
    pub fn new(total: u64, show: bool) -> Bar {
        let now = Instant::now();
        Bar {
            total,
            done: 0,
            show,
            started: now,
            // Draw on the first read already.
            drawn: now.checked_sub(Duration::from_secs(1)).unwrap_or(now),
        }
    }

    /// The read has come `done` bytes far.
    pub fn at(&mut self, done: u64) {
        self.done = done;
        if self.show {
            self.draw();
        }
    }

    fn draw(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.drawn) < Duration::from_millis(100) {
            return;
        }
        self.drawn = now;
        let share = if self.total == 0 {
            0.0
        } else {
            (self.done as f64 / self.total as f64).min(1.0)
        };
        let filled = (share * 30.0) as usize;
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-9);
        if self.total == 0 {
            // Size unknown (standard input, a compressed file): no bar.
            eprint!(
                "\r{:.0} MB read  {:.0} MB/s ",
                self.done as f64 / 1e6,
                self.done as f64 / 1e6 / secs
            );
            return;
        }
        eprint!(
            "\r[{}{}] {:>3.0}%  {:.0}/{:.0} MB  {:.0} MB/s ",
            "#".repeat(filled),
            ".".repeat(30 - filled),
            share * 100.0,
            self.done as f64 / 1e6,
            self.total as f64 / 1e6,
            self.done as f64 / 1e6 / secs
        );
    }
}

/// A stream that counts the bytes read through it, on a [`Bar`].
pub struct Progress<R> {
    inner: R,
    bar: Bar,
    /// The bytes read, for whoever asks after the reader was handed on.
    counted: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Progress<R> {
    pub fn new(inner: R, total: u64, show: bool) -> Self {
        Progress {
            inner,
            bar: Bar::new(total, show),
            counted: std::sync::Arc::default(),
        }
    }

    /// The bytes read so far, readable after the reader was handed on (the
    /// size of a decompressed capture, or of standard input).
    pub fn counter(&self) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        self.counted.clone()
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let done = self.bar.done + n as u64;
        self.counted
            .store(done, std::sync::atomic::Ordering::Relaxed);
        self.bar.at(done);
        Ok(n)
    }
}

/// Erase the bar so the report starts on a clean line.
pub fn clear(show: bool) {
    if show {
        eprint!("\r{}\r", " ".repeat(72));
    }
}

/// In memory up to 16 MB, then in an unlinked temporary file.
#[derive(Default)]
pub struct Spool {
    mem: Vec<u8>,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

const IN_MEMORY: usize = 16 << 20;

impl Spool {
    fn spill(&mut self) -> std::io::Result<&mut std::io::BufWriter<std::fs::File>> {
        if self.file.is_none() {
            let path = std::env::temp_dir().join(format!(
                "synack-report-{}-{}",
                std::process::id(),
                Instant::now().elapsed().as_nanos()
            ));
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)?;
            // Unlinked at once: the data lives as long as the handle.
            std::fs::remove_file(&path)?;
            self.file = Some(std::io::BufWriter::with_capacity(1 << 20, f));
        }
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("spool file"))
    }

    pub fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        if self.file.is_none() && self.mem.len() + b.len() <= IN_MEMORY {
            self.mem.extend_from_slice(b);
            return Ok(());
        }
        let mem = std::mem::take(&mut self.mem);
        let f = self.spill()?;
        f.write_all(&mem)?;
        f.write_all(b)
    }

    pub fn copy_to(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(&self.mem)?;
        if let Some(f) = &mut self.file {
            f.flush()?;
            let f = f.get_mut();
            f.rewind()?;
            std::io::copy(f, out)?;
        }
        Ok(())
    }
}
