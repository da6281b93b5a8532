//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 1982 serial
//! number arithmetic, RFC 9293 §3.4). Every seq/ack comparison in synack goes
//! through this type so that wrap-around is handled in exactly one place.

use core::cmp::Ordering;
use core::fmt;

/// A sequence or acknowledgment number.
///
/// Ordering is modular: `a < b` iff `b - a` (mod 2^32) lies in `1..2^31`.
/// Two numbers exactly 2^31 apart are unordered (`partial_cmp` is `None`,
/// so `<`, `>`, `<=`, `>=` are all false), as RFC 1982 leaves them undefined.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// The sequence number `v`.
    pub const fn new(v: u32) -> Self {
        SeqNum(v)
    }

    /// The number as it is on the wire.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// `self + n` modulo 2^32.
    #[inline]
    #[must_use]
    pub const fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }

    /// `self - n` modulo 2^32.
    #[inline]
    #[must_use]
    pub const fn sub(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(n))
    }

    /// Signed distance `self - other`, in `-2^31..2^31`.
    #[inline]
    pub const fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// How far `self` lies after `base`, or `None` if it lies before it
    /// (or exactly 2^31 away, where the order is undefined).
    #[inline]
    pub const fn since(self, base: SeqNum) -> Option<u32> {
        let d = self.diff(base);
        if d >= 0 { Some(d as u32) } else { None }
    }

    /// `start <= self < start + len`, modulo 2^32 (the window test of
    /// RFC 9293 Table 6). `len` must be below 2^31 to be meaningful.
    #[inline]
    pub const fn in_window(self, start: SeqNum, len: u32) -> bool {
        self.0.wrapping_sub(start.0) < len
    }

    /// `lo < self <= hi`, the shape of "SND.UNA < SEG.ACK =< SND.NXT".
    #[inline]
    pub const fn in_closed_open(self, lo: SeqNum, hi: SeqNum) -> bool {
        // lo ≤ self < hi, modulo 2^32: self − lo < hi − lo.
        self.0.wrapping_sub(lo.0) < hi.0.wrapping_sub(lo.0)
    }

    /// `lo < self ≤ hi`, modulo 2^32.
    pub const fn in_open_closed(self, lo: SeqNum, hi: SeqNum) -> bool {
        let d = self.0.wrapping_sub(lo.0);
        d != 0 && d <= hi.0.wrapping_sub(lo.0)
    }

    #[inline]
    /// The later of two sequence numbers, in modular order.
    pub fn max(self, other: SeqNum) -> SeqNum {
        if other > self { other } else { self }
    }
}

impl PartialOrd for SeqNum {
    #[inline]
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        match self.diff(*other) {
            0 => Some(Ordering::Equal),
            i32::MIN => None,
            d if d > 0 => Some(Ordering::Greater),
            _ => Some(Ordering::Less),
        }
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeqNum({})", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u32> for SeqNum {
    fn from(v: u32) -> Self {
        SeqNum(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps() {
        let a = SeqNum(u32::MAX - 1);
        let b = a.add(3);
        assert_eq!(b, SeqNum(1));
        assert!(a < b);
        assert_eq!(b.diff(a), 3);
        assert_eq!(b.since(a), Some(3));
        assert_eq!(a.since(b), None);
        assert!(SeqNum(0).in_window(SeqNum(u32::MAX), 2));
        assert!(!SeqNum(1).in_window(SeqNum(u32::MAX), 2));
        assert!(SeqNum(0).in_open_closed(SeqNum(u32::MAX), SeqNum(0)));
        assert!(!SeqNum(u32::MAX).in_open_closed(SeqNum(u32::MAX), SeqNum(0)));
    }

    // The negated comparisons are the point: all four must be false.
    #[test]
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    fn half_way_is_unordered() {
        let a = SeqNum(0);
        let b = SeqNum(1 << 31);
        assert_eq!(a.partial_cmp(&b), None);
        assert!(!(a < b) && !(a > b) && !(a <= b) && !(a >= b));
    }

    proptest! {
        #[test]
        fn order_is_antisymmetric(a: u32, d in 1u32..(1 << 31)) {
            let x = SeqNum(a);
            let y = x.add(d);
            prop_assert!(x < y);
            prop_assert!(y > x);
            prop_assert_eq!(y.diff(x), d as i32);
            prop_assert_eq!(y.sub(d), x);
            prop_assert!(y.in_open_closed(x, y));
            prop_assert!(x.in_window(x, d));
            prop_assert!(!y.in_window(x, d));
        }
    }
}
