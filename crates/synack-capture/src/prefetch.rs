//! Asking for memory before it is read. The two places a pass waits on
//! memory: a frame's payload (read once, for its checksum; the hardware's
//! own prefetch stops at each page) and the table's slot of the oldest
//! attempt (written long ago, read when it is evicted).

/// Ask for the cache lines of `v[i]` (nothing when out of range).
#[inline(always)]
pub(crate) fn prefetch<T>(v: &[T], i: usize) {
    let Some(e) = v.get(i) else { return };
    let first = std::ptr::from_ref(e).cast::<u8>();
    line(first);
    if size_of::<T>() > 1 {
        line(first.wrapping_add(size_of::<T>() - 1));
    }
}

/// Ask for the cache lines of `b[from..from + len]`, clipped to `b`.
#[inline(always)]
pub(crate) fn prefetch_bytes(b: &[u8], from: usize, len: usize) {
    let end = from.saturating_add(len).min(b.len());
    let base = b.as_ptr();
    let mut at = from;
    while at < end {
        line(base.wrapping_add(at));
        at += 64;
    }
}

/// Ask for the cache line at `p` (any address: a hint cannot fault).
#[inline(always)]
pub(crate) fn line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache: it reads nothing into the
    // program and cannot fault, whatever the address (here always one
    // inside a live slice or null).
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
