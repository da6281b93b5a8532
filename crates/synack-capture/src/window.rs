//! Each side's sequence space as the capture saw it, so that a RST after
//! the handshake is judged the way its receiver judges it (RFC 5961 §3.2,
//! rules 31 and 32): only seq = RCV.NXT resets the connection; another seq
//! in the window gets a challenge ACK and is dropped; one outside the
//! window is dropped without a word. Linux also takes RCV.NXT − 1 once it
//! has the sender's FIN (`tcp_reset_check`).

use synack_wire::SeqNum;

use crate::attempt::Seg;

/// What one side sent, as far as the capture shows (noted for every
/// segment, so kept plain: flags say what is known).
#[derive(Debug, Clone, Copy, Default)]
struct Side {
    /// Just past its last sequence number (a SYN and a FIN count one).
    end: SeqNum,
    /// The highest ack it sent: the other side's bytes it had, captured or
    /// not (a capture that dropped frames still sees them acknowledged).
    acked: SeqNum,
    /// Its last window as on the wire, and whether window scaling applies
    /// to it (not on a SYN).
    window: u16,
    scaled: bool,
    /// A segment (not a RST) was seen: `end` and `window` are known.
    seen: bool,
    acked_seen: bool,
    fin: bool,
    /// Its last frame that was neither a RST nor a SYN.
    last_plain: u64,
}

/// How a RST's receiver treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// seq = RCV.NXT: the connection is reset.
    Exact,
    /// seq = RCV.NXT − 1 after the sender's FIN: Linux resets too.
    FinSeq,
    /// In the window, not RCV.NXT: a challenge ACK, the RST dropped (a
    /// stack older than RFC 5961 resets).
    InWindow,
    /// Outside the window: dropped by every stack.
    Outside,
}

impl Verdict {
    pub(crate) fn taken(self) -> bool {
        matches!(self, Verdict::Exact | Verdict::FinSeq)
    }

    /// The name in a check's `detail` and a diagnosis's `window_test`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Verdict::Exact => "exact",
            Verdict::FinSeq => "fin-seq",
            Verdict::InWindow => "in-window",
            Verdict::Outside => "outside-window",
        }
    }
}

/// A RST judged against its receiver's RCV.NXT and window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Judged {
    pub seq: u32,
    /// The receiver's RCV.NXT as the capture shows it.
    pub expected: u32,
    /// The receiver's window, in bytes.
    pub window: u32,
    pub verdict: Verdict,
}

/// Both sides (client, server), and what came after the first RST its
/// receiver did not take.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Spaces {
    sides: [Side; 2],
    /// That RST's frame, and its receiver's next segment (neither RST nor
    /// SYN) after it.
    ignored: Option<(u64, Option<u64>)>,
    /// The receiver + 1 while that segment is awaited, else 0 (one compare
    /// for every segment).
    watch: u8,
}

impl Spaces {
    /// A segment from side `dir`. RSTs change nothing: they are what is
    /// judged.
    #[inline]
    pub(crate) fn note(&mut self, dir: usize, s: &Seg) {
        let f = s.flags;
        if f.rst() {
            return;
        }
        let Some(side) = self.sides.get_mut(dir) else {
            return;
        };
        let (syn, fin) = (f.syn(), f.fin());
        let len = (s.payload_len as u32)
            .wrapping_add(u32::from(syn))
            .wrapping_add(u32::from(fin));
        let end = s.seq.add(len);
        // Later in modular order (`diff`, as `SeqNum`'s `>` without the
        // undefined case, which moves nothing either way).
        if !side.seen || end.diff(side.end) > 0 {
            side.end = end;
        }
        if f.ack() && (!side.acked_seen || s.ack.diff(side.acked) > 0) {
            side.acked = s.ack;
            side.acked_seen = true;
        }
        (side.window, side.scaled, side.seen) = (s.window, !syn, true);
        side.fin |= fin;
        if !syn {
            side.last_plain = s.frame;
            if usize::from(self.watch) == dir + 1 {
                self.watch = 0;
                if let Some((_, went)) = &mut self.ignored {
                    *went = Some(s.frame);
                }
            }
        }
    }

    /// A RST from side `dir`, as its receiver sees it, whose window is
    /// shifted by `shift` when scaling was agreed; `None` while either
    /// side's numbers are unknown.
    pub(crate) fn judge(&self, dir: usize, seq: SeqNum, shift: u8) -> Option<Judged> {
        let (from, to) = (self.sides.get(dir)?, self.sides.get(1 - dir.min(1))?);
        let next = match (from.seen, to.acked_seen) {
            (true, true) => from.end.max(to.acked),
            (true, false) => from.end,
            (false, true) => to.acked,
            (false, false) => return None,
        };
        if !to.seen {
            return None;
        }
        let window = u32::from(to.window) << if to.scaled { shift.min(14) } else { 0 };
        let verdict = if seq == next {
            Verdict::Exact
        } else if from.fin && seq == next.sub(1) {
            Verdict::FinSeq
        } else if seq.in_open_closed(next, next.add(window)) {
            // Linux's right edge is RCV.NXT + RCV.WND itself (`tcp_sequence`).
            Verdict::InWindow
        } else {
            Verdict::Outside
        };
        Some(Judged {
            seq: seq.get(),
            expected: next.get(),
            window,
            verdict,
        })
    }

    /// A RST from side `dir` at `frame` that its receiver does not take:
    /// the first such is remembered, to see its receiver go on.
    pub(crate) fn not_taken(&mut self, dir: usize, frame: u64) {
        if self.ignored.is_none() {
            self.ignored = Some((frame, None));
            // The receiver, plus one.
            self.watch = if dir == 0 { 2 } else { 1 };
        }
    }

    /// The receiver's first segment after the first RST it did not take.
    pub(crate) fn went_on(&self, frame: u64) -> Option<u64> {
        self.ignored
            .and_then(|(f, went)| went.filter(|_| f == frame))
    }

    /// Whether side `dir` sent a segment (neither RST nor SYN) after `frame`.
    pub(crate) fn went_on_after(&self, dir: usize, frame: u64) -> bool {
        self.sides.get(dir).is_some_and(|s| s.last_plain > frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::seg;
    use synack_wire::TcpFlags;

    const C: usize = 0;
    const S: usize = 1;

    fn ends() -> (std::net::SocketAddr, std::net::SocketAddr) {
        (
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        )
    }

    /// A segment from `dir` with an ack, a window and a payload length.
    fn from(dir: usize, frame: u64, flags: TcpFlags, seq: u32, ack: u32, len: usize) -> Seg {
        let (c, s) = ends();
        let mut g = seg(
            frame,
            0.0,
            if dir == C { (c, s) } else { (s, c) },
            flags,
            seq,
        );
        g.ack = SeqNum(ack);
        g.payload_len = len;
        g
    }

    /// SYN 1000, SYN-ACK 5000 (window 1000), ACK: the handshake.
    fn handshake(isn_c: u32, isn_s: u32) -> Spaces {
        let mut sp = Spaces::default();
        sp.note(C, &from(C, 1, TcpFlags::SYN, isn_c, 0, 0));
        let sa = from(S, 2, TcpFlags::SYN_ACK, isn_s, isn_c.wrapping_add(1), 0);
        sp.note(S, &sa);
        let a = from(
            C,
            3,
            TcpFlags::ACK,
            isn_c.wrapping_add(1),
            isn_s.wrapping_add(1),
            0,
        );
        sp.note(C, &a);
        sp
    }

    /// With window scaling agreed, shift 3 both ways.
    fn verdict(sp: &Spaces, dir: usize, seq: u32) -> Option<(Verdict, u32, u32)> {
        sp.judge(dir, SeqNum(seq), 3)
            .map(|j| (j.verdict, j.expected, j.window))
    }

    #[test]
    fn nothing_is_judged_before_both_sides_are_known() {
        let mut sp = Spaces::default();
        assert!(sp.judge(C, SeqNum(1), 0).is_none());
        sp.note(C, &from(C, 1, TcpFlags::SYN, 1000, 0, 0));
        assert!(
            sp.judge(C, SeqNum(1001), 0).is_none(),
            "no window of the server's yet"
        );
    }

    #[test]
    fn a_rst_is_exact_in_the_window_or_outside_it() {
        let sp = handshake(1000, 5000);
        let v = |dir, seq| verdict(&sp, dir, seq).map(|x| x.0);
        // The server's last window came on its SYN-ACK: never scaled.
        assert_eq!(verdict(&sp, C, 1001), Some((Verdict::Exact, 1001, 1000)));
        assert_eq!(v(C, 1002), Some(Verdict::InWindow));
        // Linux's right edge, RCV.NXT + RCV.WND, is in (`tcp_sequence`).
        assert_eq!(v(C, 2001), Some(Verdict::InWindow));
        assert_eq!(v(C, 2002), Some(Verdict::Outside));
        assert_eq!(v(C, 1000), Some(Verdict::Outside), "behind RCV.NXT");
        assert_eq!(v(C, 0), Some(Verdict::Outside));
        // The server's RSTs against the client's side.
        assert_eq!(v(S, 5001), Some(Verdict::Exact));
        assert_eq!(verdict(&sp, S, 5500), Some((Verdict::InWindow, 5001, 8000)));
        assert_eq!(sp.judge(S, SeqNum(5500), 0).map(|j| j.window), Some(1000));
    }

    #[test]
    fn data_acks_fins_and_scaling_move_what_is_expected() {
        let mut sp = handshake(1000, 5000);
        sp.note(C, &from(C, 4, TcpFlags::ACK, 1001, 5001, 100));
        assert_eq!(verdict(&sp, C, 1101).map(|x| x.0), Some(Verdict::Exact));
        // The server acknowledged bytes the capture did not see.
        sp.note(S, &from(S, 5, TcpFlags::ACK, 5001, 3001, 0));
        assert_eq!(verdict(&sp, C, 3001), Some((Verdict::Exact, 3001, 8000)));
        assert_eq!(
            verdict(&sp, C, 3001 + 8000).map(|x| x.0),
            Some(Verdict::InWindow)
        );
        // A RST moves nothing.
        sp.note(C, &from(C, 6, TcpFlags::RST, 9000, 0, 0));
        assert_eq!(verdict(&sp, C, 3001).map(|x| x.0), Some(Verdict::Exact));
        // After the client's FIN, its seq is taken too (Linux).
        assert_eq!(verdict(&sp, C, 3000).map(|x| x.0), Some(Verdict::Outside));
        let fin = TcpFlags(TcpFlags::FIN.0 | TcpFlags::ACK.0);
        sp.note(C, &from(C, 7, fin, 3001, 5001, 0));
        assert_eq!(verdict(&sp, C, 3001).map(|x| x.0), Some(Verdict::FinSeq));
        assert_eq!(verdict(&sp, C, 3002).map(|x| x.0), Some(Verdict::Exact));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut sp = handshake(0xFFFF_FFF0, 0x7FFF_FFFF);
        sp.note(
            C,
            &from(C, 4, TcpFlags::ACK, 0xFFFF_FFF1, 0x8000_0000, 0x20),
        );
        assert_eq!(verdict(&sp, C, 0x11).map(|x| x.0), Some(Verdict::Exact));
        assert_eq!(verdict(&sp, C, 0x10).map(|x| x.0), Some(Verdict::Outside));
        assert_eq!(verdict(&sp, C, 0x12).map(|x| x.0), Some(Verdict::InWindow));
        assert_eq!(
            verdict(&sp, S, 0x8000_0000).map(|x| x.0),
            Some(Verdict::Exact)
        );
    }

    #[test]
    fn the_receiver_going_on_is_seen_after_the_first_rst_it_did_not_take() {
        let mut sp = handshake(1000, 5000);
        sp.not_taken(C, 4);
        sp.note(C, &from(C, 5, TcpFlags::ACK, 1001, 5001, 10));
        assert_eq!(sp.went_on(4), None, "the sender is not the receiver");
        assert!(!sp.went_on_after(S, 4));
        sp.not_taken(C, 6);
        sp.note(S, &from(S, 7, TcpFlags::ACK, 5001, 1011, 0));
        sp.note(S, &from(S, 8, TcpFlags::ACK, 5001, 1011, 5));
        assert_eq!((sp.went_on(4), sp.went_on(6)), (Some(7), None));
        assert!(sp.went_on_after(S, 4) && sp.went_on_after(S, 7) && !sp.went_on_after(S, 8));
    }
}
