//! A capture file mapped into memory, so its records are read where the
//! page cache holds them: no copy into a buffer of ours (on a 1 GB file
//! the kernel's copy took a fifth of the pass).

use std::fs::File;

/// A regular file, mapped read-only.
pub struct Mapped {
    map: memmap2::Mmap,
}

impl Mapped {
    /// Map `file` (a regular file: the caller checked). The kernel is told
    /// it will be read in order, so it reads ahead and drops pages behind.
    pub fn new(file: &File) -> std::io::Result<Mapped> {
        // SAFETY: the map is read-only and the bytes are only read, as
        // bytes (any value is valid). What no mapping can rule out: another
        // process truncating the file while it is read, which makes the
        // lost pages raise SIGBUS; `synack analyze -` reads through a pipe
        // instead (docs/analyze-json.md says so).
        let map = unsafe { memmap2::Mmap::map(file)? };
        // Only a hint: reading works the same without it.
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Mapped { map })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Bytes `from..to` will not be read again: their pages leave this
    /// process's memory (they stay in the page cache), so a 10 GB capture
    /// is not 10 GB of resident memory. Whole pages only; returns where the
    /// next release starts.
    pub(crate) fn release(&self, from: usize, to: usize) -> usize {
        let page = 4096;
        let (start, end) = (from - from % page, to - to % page);
        if end <= start {
            return from;
        }
        // SAFETY: a read-only mapping of a file: MADV_DONTNEED only drops
        // the pages from this process's page tables, and a later access
        // would read them from the file again. No reference into the range
        // outlives this call: frames are lent to a callback that returned.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
        // The window ahead mapped in one call rather than a fault per page
        // (Linux 5.14; only a hint, ignored where unsupported).
        let ahead = WINDOW.min(self.map.len().saturating_sub(end));
        let _ = self
            .map
            .advise_range(memmap2::Advice::PopulateRead, end, ahead);
        end
    }
}

/// Bytes of a mapped file read through [`std::io::Read`] (for pcap-parser,
/// which copies them into its buffer), released every [`WINDOW`] bytes.
pub(super) struct Reading<'a> {
    pub map: &'a Mapped,
    pub at: usize,
    pub released: usize,
}

/// How much is read between two releases.
pub(super) const WINDOW: usize = 4 << 20;

impl std::io::Read for Reading<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = self.map.bytes().get(self.at..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), rest.get(..n)) {
            to.copy_from_slice(from);
        }
        self.at += n;
        if self.at - self.released >= WINDOW {
            self.released = self.map.release(self.released, self.at);
        }
        Ok(n)
    }
}
