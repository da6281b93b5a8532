//! Deadlines of all connections in one min-heap. Cancelling is lazy: each
//! entry carries a stamp, and an entry whose connection no longer holds that
//! stamp is skipped when it surfaces. The heap is rebuilt when stale entries
//! outnumber live ones, so its size stays within twice the live timers.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::time::Instant;

#[derive(Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, u64, u32)>>,
    next_stamp: u64,
}

impl TimerQueue {
    /// Schedule `idx` at `at`; returns the stamp the connection must keep.
    pub fn schedule(&mut self, at: Instant, idx: u32) -> u64 {
        self.next_stamp += 1;
        self.heap.push(Reverse((at, self.next_stamp, idx)));
        self.next_stamp
    }

    /// Earliest live deadline, dropping stale entries on the way.
    pub fn next(&mut self, live: impl Fn(u32, u64) -> bool) -> Option<Instant> {
        while let Some(Reverse((at, stamp, idx))) = self.heap.peek().copied() {
            if live(idx, stamp) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Pop one live entry due at or before `now`.
    pub fn pop_due(&mut self, now: Instant, live: impl Fn(u32, u64) -> bool) -> Option<u32> {
        while let Some(Reverse((at, stamp, idx))) = self.heap.peek().copied() {
            if at > now {
                return None;
            }
            self.heap.pop();
            if live(idx, stamp) {
                return Some(idx);
            }
        }
        None
    }

    /// Drop stale entries once they dominate.
    pub fn compact(&mut self, live_count: usize, live: impl Fn(u32, u64) -> bool) {
        if self.heap.len() > 2 * live_count + 1024 {
            self.heap
                .retain(|Reverse((_, stamp, idx))| live(*idx, *stamp));
        }
    }
}
