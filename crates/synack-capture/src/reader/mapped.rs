//! A capture file mapped into memory, so its records are read where the
//! page cache holds them: no copy into a buffer of ours (on a 1 GB file
//! the kernel's copy took a fifth of the pass).
//!
//! Mapping pages in and dropping them again is the kernel's work. Where the
//! page cache holds the file in 4 KB pieces (a file written a little at a
//! time, or read back piecemeal) it was a quarter of a data-heavy pass, a
//! tenth of a microsecond per page; where it holds it in large folios (a
//! file read in from disk) it is nearly free. Where there is more than one
//! core a thread of the map's own does it a window ahead of the reading,
//! and the reading finds its pages mapped: a fifth off the pass in the
//! first case, 2-5 % more in the second (measured on two cores). The
//! thread starts at the first release, so a map only sniffed or read in one
//! window never has one.

use std::fs::File;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

/// A regular file, mapped read-only.
pub struct Mapped {
    map: Arc<memmap2::Mmap>,
    /// The thread that maps ahead and releases behind, once asked for
    /// (`None`: one core, or no thread could be made).
    ahead: OnceLock<Option<Ahead>>,
}

/// The read-ahead thread and the ranges it is told the reading is done
/// with.
struct Ahead {
    tx: Option<SyncSender<Done>>,
    thread: Option<JoinHandle<()>>,
}

/// Whole pages `from..to` were read (and will not be again).
#[derive(Clone, Copy)]
struct Done {
    from: usize,
    to: usize,
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
        Ok(Mapped {
            map: Arc::new(map),
            ahead: OnceLock::new(),
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Bytes `from..to` will not be read again: their pages leave this
    /// process's memory (they stay in the page cache), so a 10 GB capture
    /// is not 10 GB of resident memory, and the window after them is
    /// mapped, by the read-ahead thread when there is one. Whole pages
    /// only; returns where the next release starts.
    pub(crate) fn release(&self, from: usize, to: usize) -> usize {
        let Some(done) = Done::pages(from, to) else {
            return from;
        };
        let ahead = self.ahead.get_or_init(|| Ahead::spawn(&self.map));
        let tx = ahead.as_ref().and_then(|a| a.tx.as_ref());
        // No thread, or its queue is full (it is behind): this reading
        // does it.
        if tx.is_none_or(|tx| tx.try_send(done).is_err()) {
            behind_and_ahead(&self.map, done, WINDOW);
        }
        done.to
    }

    /// The same, done on the calling thread: for passes that keep every
    /// core busy themselves (`--threads`), where a third thread would only
    /// take turns with them. The pages are mapped two windows ahead from
    /// `mapped` (where the last call left them; what is mapped is not
    /// walked again). Returns where the release and the mapping end.
    pub(crate) fn release_here(&self, from: usize, to: usize, mapped: usize) -> (usize, usize) {
        let Some(done) = Done::pages(from, to) else {
            return (from, mapped);
        };
        release(&self.map, done);
        let (at, want) = (mapped.max(done.to), done.to.saturating_add(2 * WINDOW));
        let mapped = if want > at {
            populate(&self.map, at, want - at)
        } else {
            mapped
        };
        (done.to, mapped)
    }
}

impl Done {
    /// The whole pages of `from..to`, if there are any.
    fn pages(from: usize, to: usize) -> Option<Done> {
        let (from, to) = (from - from % PAGE, to - to % PAGE);
        (to > from).then_some(Done { from, to })
    }
}

impl Ahead {
    /// The thread, where there is a core for it; `None` if there is none
    /// or no thread could be made (the reading then does the work itself).
    fn spawn(map: &Arc<memmap2::Mmap>) -> Option<Ahead> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores < 2 {
            return None;
        }
        let (tx, rx) = sync_channel::<Done>(8);
        let map = Arc::clone(map);
        let thread = std::thread::Builder::new()
            .name("synack-map-ahead".into())
            .spawn(move || ahead_loop(&map, &rx))
            .ok()?;
        Some(Ahead {
            tx: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        // The thread ends when its queue closes; the map it holds (an Arc)
        // outlives it.
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The read-ahead thread: maps two windows ahead of the reading, releases
/// what it has read.
fn ahead_loop(map: &memmap2::Mmap, rx: &Receiver<Done>) {
    let mut mapped = 0;
    while let Ok(done) = rx.recv() {
        release(map, done);
        let want = done.to.saturating_add(2 * WINDOW);
        if want > mapped {
            mapped = populate(map, mapped.max(done.to), want - mapped.max(done.to));
        }
    }
}

const PAGE: usize = 4096;

/// Release `done`'s pages and map the `ahead` bytes after them.
fn behind_and_ahead(map: &memmap2::Mmap, done: Done, ahead: usize) {
    release(map, done);
    populate(map, done.to, ahead);
}

/// Drop `done`'s pages from this process's page tables.
fn release(map: &memmap2::Mmap, done: Done) {
    // SAFETY: a read-only mapping of a file: MADV_DONTNEED only drops the
    // pages from this process's page tables, and a later access would read
    // them from the file again. No reference into the range outlives the
    // reading's release: frames are lent to a callback that returned.
    let _ = unsafe {
        map.unchecked_advise_range(
            memmap2::UncheckedAdvice::DontNeed,
            done.from,
            done.to - done.from,
        )
    };
}

/// Map `len` bytes from `at` in one call rather than a fault per page
/// (Linux 5.14; only a hint, ignored where unsupported). Returns where
/// the mapped bytes end.
fn populate(map: &memmap2::Mmap, at: usize, len: usize) -> usize {
    let len = len.min(map.len().saturating_sub(at));
    if len > 0 {
        let _ = map.advise_range(memmap2::Advice::PopulateRead, at, len);
    }
    at + len
}
/// Bytes of a mapped file read through [`std::io::Read`] (for pcap-parser,
/// which copies them into its buffer), released every [`WINDOW`] bytes.
pub(super) struct Reading<'a> {
    pub map: &'a Mapped,
    pub at: usize,
    pub released: usize,
}

/// How much is read between two releases.
pub(crate) const WINDOW: usize = 4 << 20;

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail by panicking
    use super::*;

    /// This process's resident kilobytes of the mapping of `path`
    /// (`/proc/self/smaps`).
    fn resident_kb(path: &std::path::Path) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let name = path.display().to_string();
        let mut lines = smaps.lines().skip_while(|l| !l.ends_with(&name));
        let rss = lines.find(|l| l.starts_with("Rss:")).unwrap();
        rss.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// A file of `size` sevens named after `name` and this process, and
    /// its map.
    fn sevens(name: &str, size: usize) -> (std::path::PathBuf, Mapped) {
        let path = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::write(&path, vec![7u8; size]).unwrap();
        let m = Mapped::new(&File::open(&path).unwrap()).unwrap();
        (path, m)
    }

    /// Released pages leave the process whether the read-ahead thread or
    /// the reading drops them, and the window after them is mapped.
    #[test]
    fn released_pages_leave_and_the_next_window_is_mapped() {
        let size = 8 * WINDOW;
        let (path, m) = sevens("synack-mapped", size);
        let touched: u64 = m.bytes().iter().step_by(PAGE).map(|&b| u64::from(b)).sum();
        assert_eq!(touched, 7 * (size / PAGE) as u64);
        let all = resident_kb(&path);
        assert!(all >= (size >> 10) as u64 * 9 / 10, "{all} kB resident");
        // Everything but the last window: through the thread if there is
        // one (it gets there in its own time), then on this one.
        assert_eq!(m.release(0, size - WINDOW), size - WINDOW);
        let mut left = resident_kb(&path);
        for _ in 0..1000 {
            if left <= (WINDOW >> 10) as u64 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            left = resident_kb(&path);
        }
        assert!(left <= (WINDOW >> 10) as u64, "{left} kB still resident");
        assert_eq!(m.release_here(size - WINDOW, size, size).0, size);
        assert_eq!(resident_kb(&path), 0);
        // Less than a page: nothing to release, the start stays.
        assert_eq!(m.release(size - 10, size - 5), size - 10);
        drop(m);
        std::fs::remove_file(&path).unwrap();
    }

    /// Released on the reading's own thread, the pages go and two windows
    /// after them come in, from where the last release left the mapping:
    /// what is mapped already is not asked for again.
    #[test]
    fn a_release_here_maps_only_what_is_not_mapped() {
        let size = 8 * WINDOW;
        let (path, m) = sevens("synack-here", size);
        let first: u64 = m
            .bytes()
            .iter()
            .take(WINDOW)
            .step_by(PAGE)
            .map(|&b| u64::from(b))
            .sum();
        assert_eq!(first, 7 * (WINDOW / PAGE) as u64);
        let kb = |n: usize| (n >> 10) as u64;
        assert_eq!(resident_kb(&path), kb(WINDOW));
        // The first window read: it goes, the next two come.
        assert_eq!(m.release_here(0, WINDOW, 0), (WINDOW, 3 * WINDOW));
        assert_eq!(resident_kb(&path), kb(2 * WINDOW));
        // Half a window more: the mapping's end moves on by as much.
        let half = WINDOW / 2;
        let (to, mapped) = m.release_here(WINDOW, WINDOW + half, 3 * WINDOW);
        assert_eq!((to, mapped), (WINDOW + half, 3 * WINDOW + half));
        assert_eq!(resident_kb(&path), kb(2 * WINDOW));
        // Past the end of the file: mapped to its end, not beyond.
        assert_eq!(m.release_here(to, 7 * WINDOW, mapped), (7 * WINDOW, size));
        assert_eq!(resident_kb(&path), kb(WINDOW));
        drop(m);
        std::fs::remove_file(&path).unwrap();
    }
}
