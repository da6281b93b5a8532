//! TCP options (RFC 9293 §3.2, RFC 7323, RFC 2018, RFC 7413).
//!
//! [`OptionIter`] walks the raw option bytes one option at a time and keeps
//! every kind, known or not. [`TcpOptions`] is the fixed-size summary the
//! engine and the analyser work with; it keeps unknown options verbatim so a
//! parse/emit round trip loses nothing but their position.

use crate::error::{Result, WireError};

/// End of option list (RFC 9293).
pub const KIND_EOL: u8 = 0;
/// No operation, for padding (RFC 9293).
pub const KIND_NOP: u8 = 1;
/// Maximum segment size (RFC 9293 §3.7.1).
pub const KIND_MSS: u8 = 2;
/// Window scale (RFC 7323 §2).
pub const KIND_WSCALE: u8 = 3;
/// SACK permitted (RFC 2018).
pub const KIND_SACK_PERMITTED: u8 = 4;
/// SACK blocks (RFC 2018).
pub const KIND_SACK: u8 = 5;
/// Timestamps (RFC 7323 §3).
pub const KIND_TIMESTAMPS: u8 = 8;
/// TCP Fast Open cookie (RFC 7413).
pub const KIND_FAST_OPEN: u8 = 34;
/// RFC 6994 experimental kind; Fast Open used it with magic 0xF989 before 34.
pub const KIND_EXPERIMENTAL: u8 = 254;
/// The experimental Fast Open option's magic (kind 254, RFC 6994).
pub const FAST_OPEN_MAGIC: u16 = 0xF989;

/// The most option bytes a TCP header can hold (data offset 15).
pub const MAX_OPTIONS_LEN: usize = 40;

/// One option as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// Kind 0: the options end here.
    EndOfList,
    /// Kind 1: padding.
    Nop,
    /// Kind 2: the largest segment the sender can receive.
    Mss(u16),
    /// Kind 3: the window shift the sender will use.
    WindowScale(u8),
    /// Kind 4: the sender can take SACK blocks.
    SackPermitted,
    /// Raw SACK blocks, 8 bytes each (left edge, right edge).
    Sack(&'a [u8]),
    /// Kind 8: the sender's clock and the echo of the peer's.
    Timestamps {
        /// The sender's timestamp.
        tsval: u32,
        /// The peer's timestamp echoed back.
        tsecr: u32,
    },
    /// Cookie bytes; empty for a cookie request. `experimental` marks kind 254.
    FastOpen {
        /// The cookie bytes; empty for a cookie request.
        cookie: &'a [u8],
        /// Sent as the experimental kind 254 with the magic.
        experimental: bool,
    },
    /// Any other kind, kept as it was.
    Unknown {
        /// The option kind.
        kind: u8,
        /// The bytes after kind and length.
        data: &'a [u8],
    },
}

/// Iterates over options; yields an error and then stops on a malformed one.
/// Stops after End of Option List (the rest is padding).
pub struct OptionIter<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> OptionIter<'a> {
    /// Walk the options in `data`.
    pub fn new(data: &'a [u8]) -> Self {
        OptionIter {
            data,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<TcpOption<'a>>;

    // Inlined into `TcpOptions::parse`, the two matches become one.
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let at = self.pos;
        let kind = *self.data.get(at)?;
        match kind {
            KIND_EOL => {
                self.done = true;
                return Some(Ok(TcpOption::EndOfList));
            }
            KIND_NOP => {
                self.pos += 1;
                return Some(Ok(TcpOption::Nop));
            }
            _ => {}
        }
        let Some(&len) = self.data.get(at + 1) else {
            self.done = true;
            return Some(Err(WireError::TruncatedOption { kind, at }));
        };
        let bad = WireError::BadOptionLength { kind, len };
        if len < 2 {
            self.done = true;
            return Some(Err(bad));
        }
        let Some(body) = self.data.get(at + 2..at + usize::from(len)) else {
            self.done = true;
            return Some(Err(WireError::TruncatedOption { kind, at }));
        };
        self.pos = at + usize::from(len);
        let opt = match (kind, body.len()) {
            (KIND_MSS, 2) => TcpOption::Mss(be16(body, 0)),
            (KIND_WSCALE, 1) => TcpOption::WindowScale(body[0]),
            (KIND_SACK_PERMITTED, 0) => TcpOption::SackPermitted,
            (KIND_SACK, n) if n > 0 && n % 8 == 0 && n <= 32 => TcpOption::Sack(body),
            (KIND_TIMESTAMPS, 8) => TcpOption::Timestamps {
                tsval: be32(body, 0),
                tsecr: be32(body, 4),
            },
            (KIND_FAST_OPEN, n) if n == 0 || (4..=16).contains(&n) => TcpOption::FastOpen {
                cookie: body,
                experimental: false,
            },
            (KIND_MSS | KIND_WSCALE | KIND_SACK_PERMITTED | KIND_SACK | KIND_TIMESTAMPS, _)
            | (KIND_FAST_OPEN, _) => {
                self.done = true;
                return Some(Err(bad));
            }
            (KIND_EXPERIMENTAL, n) if n >= 2 && be16(body, 0) == FAST_OPEN_MAGIC => {
                let cookie = &body[2..];
                if !(cookie.is_empty() || (4..=16).contains(&cookie.len())) {
                    self.done = true;
                    return Some(Err(bad));
                }
                TcpOption::FastOpen {
                    cookie,
                    experimental: true,
                }
            }
            _ => TcpOption::Unknown { kind, data: body },
        };
        Some(Ok(opt))
    }
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A Fast Open cookie, 0 (a request) or 4..=16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FastOpenCookie {
    len: u8,
    bytes: [u8; 16],
    /// Sent as the experimental kind 254 with magic 0xF989.
    pub experimental: bool,
}

impl FastOpenCookie {
    /// `None` if `cookie` is neither empty nor 4..=16 bytes (RFC 7413 §4.1.1).
    pub fn new(cookie: &[u8]) -> Option<Self> {
        if !(cookie.is_empty() || (4..=16).contains(&cookie.len())) {
            return None;
        }
        let mut bytes = [0u8; 16];
        bytes[..cookie.len()].copy_from_slice(cookie);
        Some(FastOpenCookie {
            len: cookie.len() as u8,
            bytes,
            experimental: false,
        })
    }

    /// The cookie bytes (empty for a request).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(16)]
    }

    /// Whether this is a cookie request (no cookie bytes).
    pub fn is_request(&self) -> bool {
        self.len == 0
    }
}

/// Up to four SACK blocks (RFC 2018 §3: at most 4 fit in 40 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SackBlocks {
    len: u8,
    blocks: [(u32, u32); 4],
}

impl SackBlocks {
    /// Up to four blocks of (left, right) edges; `None` for more than four.
    pub fn new(blocks: &[(u32, u32)]) -> Option<Self> {
        if blocks.is_empty() || blocks.len() > 4 {
            return None;
        }
        let mut s = SackBlocks {
            len: blocks.len() as u8,
            blocks: [(0, 0); 4],
        };
        s.blocks[..blocks.len()].copy_from_slice(blocks);
        Some(s)
    }

    /// The blocks, in order.
    pub fn as_slice(&self) -> &[(u32, u32)] {
        &self.blocks[..usize::from(self.len).min(4)]
    }
}

/// Unknown options kept verbatim, kind and length bytes included.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RawOptions {
    len: u8,
    bytes: [u8; MAX_OPTIONS_LEN],
}

impl Default for RawOptions {
    fn default() -> Self {
        RawOptions {
            len: 0,
            bytes: [0; MAX_OPTIONS_LEN],
        }
    }
}

impl RawOptions {
    /// The raw option bytes kept.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(MAX_OPTIONS_LEN)]
    }

    /// Append one option; `false` if it does not fit or is malformed.
    pub fn push(&mut self, kind: u8, data: &[u8]) -> bool {
        let n = data.len() + 2;
        let at = usize::from(self.len);
        if n > 255 || at + n > MAX_OPTIONS_LEN {
            return false;
        }
        self.bytes[at] = kind;
        self.bytes[at + 1] = n as u8;
        self.bytes[at + 2..at + n].copy_from_slice(data);
        self.len += n as u8;
        true
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl core::fmt::Debug for RawOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RawOptions({:02x?})", self.as_bytes())
    }
}

/// The options of one segment, summarised. `Copy`, no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// The MSS offered.
    pub mss: Option<u16>,
    /// The shift count as sent (may exceed 14 on the wire; RFC 7323 §2.3).
    pub window_scale: Option<u8>,
    /// SACK permitted offered.
    pub sack_permitted: bool,
    /// SACK blocks carried.
    pub sack: Option<SackBlocks>,
    /// (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
    /// A Fast Open cookie or cookie request.
    pub fast_open: Option<FastOpenCookie>,
    /// Options of other kinds, kept as they came.
    pub unknown: RawOptions,
}

/// The two layouts most segments carry, read without the walk (`None`
/// for anything else, walked then).
#[inline]
fn usual_layout(data: &[u8]) -> Option<TcpOptions> {
    // After the handshake nearly every segment carries NOP, NOP, TS
    // (RFC 7323 Appendix A's layout): read it without the walk.
    if let [KIND_NOP, KIND_NOP, KIND_TIMESTAMPS, 10, ts @ ..] = data
        && ts.len() == 8
    {
        return Some(TcpOptions {
            timestamps: Some((be32(ts, 0), be32(ts, 4))),
            ..TcpOptions::default()
        });
    }
    // Linux's SYN and SYN-ACK: MSS, SACK permitted, TS, NOP, WS (most
    // of a scan's or a flood's segments).
    if let [
        KIND_MSS,
        4,
        m0,
        m1,
        KIND_SACK_PERMITTED,
        2,
        KIND_TIMESTAMPS,
        10,
        ts @ ..,
    ] = data
        && let [t0, t1, t2, t3, e0, e1, e2, e3, KIND_NOP, KIND_WSCALE, 3, ws] = *ts
    {
        return Some(TcpOptions {
            mss: Some(u16::from_be_bytes([*m0, *m1])),
            window_scale: Some(ws),
            sack_permitted: true,
            timestamps: Some((
                u32::from_be_bytes([t0, t1, t2, t3]),
                u32::from_be_bytes([e0, e1, e2, e3]),
            )),
            ..TcpOptions::default()
        });
    }
    None
}

impl TcpOptions {
    /// No option at all (checked field by field: cheaper than comparing the
    /// whole struct with the default).
    pub fn is_empty(&self) -> bool {
        self.mss.is_none()
            && self.window_scale.is_none()
            && !self.sack_permitted
            && self.timestamps.is_none()
            && self.sack.is_none()
            && self.fast_open.is_none()
            && self.unknown.is_empty()
    }

    /// Parse option bytes. Malformed lengths are errors (RFC 9293 MUST-7).
    /// Inlined for the usual layouts: the caller builds the options where
    /// it keeps them, and what it does not read is never built.
    #[inline]
    pub fn parse(data: &[u8]) -> Result<TcpOptions> {
        match usual_layout(data) {
            Some(o) => Ok(o),
            None => TcpOptions::walk(data),
        }
    }

    /// [`TcpOptions::parse`] of any layout: option by option.
    fn walk(data: &[u8]) -> Result<TcpOptions> {
        let mut o = TcpOptions::default();
        for opt in OptionIter::new(data) {
            match opt? {
                TcpOption::EndOfList | TcpOption::Nop => {}
                TcpOption::Mss(v) => o.mss = Some(v),
                TcpOption::WindowScale(v) => o.window_scale = Some(v),
                TcpOption::SackPermitted => o.sack_permitted = true,
                TcpOption::Sack(raw) => {
                    let mut blocks = SackBlocks::default();
                    for (i, b) in raw.chunks_exact(8).enumerate().take(4) {
                        blocks.blocks[i] = (be32(b, 0), be32(b, 4));
                        blocks.len = i as u8 + 1;
                    }
                    o.sack = Some(blocks);
                }
                TcpOption::Timestamps { tsval, tsecr } => o.timestamps = Some((tsval, tsecr)),
                TcpOption::FastOpen {
                    cookie,
                    experimental,
                } => {
                    o.fast_open = FastOpenCookie::new(cookie).map(|mut c| {
                        c.experimental = experimental;
                        c
                    });
                }
                TcpOption::Unknown { kind, data } => {
                    // Cannot overflow: the input itself fit in 40 bytes.
                    o.unknown.push(kind, data);
                }
            }
        }
        Ok(o)
    }

    /// Bytes these options take when emitted with `layout`, padded to 4.
    pub fn emitted_len(&self, layout: OptionLayout) -> usize {
        if self.is_empty() {
            return 0;
        }
        let mut scratch = [0u8; 64];
        self.write(layout, &mut scratch)
    }

    /// Emit into `buf` (at least [`MAX_OPTIONS_LEN`] bytes), padded with zeros
    /// to a multiple of 4 (MUST-69). Returns the length, or an error when the
    /// options do not fit in 40 bytes.
    pub fn emit(&self, layout: OptionLayout, buf: &mut [u8]) -> Result<usize> {
        // Most segments after the SYNs carry nothing (or only timestamps).
        if self.is_empty() {
            return Ok(0);
        }
        let mut scratch = [0u8; 64];
        let n = self.write(layout, &mut scratch);
        if n > MAX_OPTIONS_LEN {
            return Err(WireError::OptionsTooLong { need: n });
        }
        let have = buf.len();
        let out = buf
            .get_mut(..n)
            .ok_or(WireError::BufferTooSmall { need: n, have })?;
        out.copy_from_slice(&scratch[..n]);
        Ok(n)
    }

    /// Writes into a 64-byte scratch (enough for any combination, since each
    /// field is bounded), returning the padded length.
    fn write(&self, layout: OptionLayout, b: &mut [u8; 64]) -> usize {
        let mut w = Writer { b, n: 0 };
        match layout {
            OptionLayout::Linux => {
                if let Some(mss) = self.mss {
                    w.mss(mss);
                }
                match (self.sack_permitted, self.timestamps) {
                    (true, Some(ts)) => {
                        w.raw(&[KIND_SACK_PERMITTED, 2]);
                        w.ts(ts);
                    }
                    (false, Some(ts)) => {
                        w.raw(&[KIND_NOP, KIND_NOP]);
                        w.ts(ts);
                    }
                    (true, None) => w.raw(&[KIND_NOP, KIND_NOP, KIND_SACK_PERMITTED, 2]),
                    (false, None) => {}
                }
                if let Some(ws) = self.window_scale {
                    w.raw(&[KIND_NOP, KIND_WSCALE, 3, ws]);
                }
                if let Some(s) = &self.sack {
                    w.raw(&[KIND_NOP, KIND_NOP]);
                    w.sack(s);
                }
                if let Some(fo) = &self.fast_open {
                    w.fast_open(fo);
                    // Linux aligns the Fast Open option with NOPs.
                    while !w.n.is_multiple_of(4) {
                        w.raw(&[KIND_NOP]);
                    }
                }
            }
            OptionLayout::Compact => {
                if let Some(mss) = self.mss {
                    w.mss(mss);
                }
                if let Some(ws) = self.window_scale {
                    w.raw(&[KIND_WSCALE, 3, ws]);
                }
                if self.sack_permitted {
                    w.raw(&[KIND_SACK_PERMITTED, 2]);
                }
                if let Some(s) = &self.sack {
                    w.sack(s);
                }
                if let Some(ts) = self.timestamps {
                    w.ts(ts);
                }
                if let Some(fo) = &self.fast_open {
                    w.fast_open(fo);
                }
            }
        }
        w.raw(self.unknown.as_bytes());
        while !w.n.is_multiple_of(4) {
            w.raw(&[KIND_EOL]);
        }
        w.n
    }
}

/// The order in which options are written. Peers accept any order; a layout
/// exists so that synack's segments can look like a given stack's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptionLayout {
    /// Linux: `mss, sackOK, TS, nop, wscale` (NOPs where SACK-permitted or TS
    /// are missing), then Fast Open aligned with NOPs; `nop, nop, TS` on
    /// other segments.
    #[default]
    Linux,
    /// MSS, window scale, SACK-permitted, SACK, timestamps, no NOPs; padded
    /// with zeros at the end (smoltcp's order).
    Compact,
}

struct Writer<'b> {
    b: &'b mut [u8; 64],
    n: usize,
}

impl Writer<'_> {
    fn raw(&mut self, bytes: &[u8]) {
        // Bounded by construction (each call site adds at most 40 bytes to a
        // total that stays below 64); `get_mut` keeps it panic-free anyway.
        if let Some(dst) = self.b.get_mut(self.n..self.n + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.n += bytes.len();
        }
    }
    fn mss(&mut self, mss: u16) {
        let [h, l] = mss.to_be_bytes();
        self.raw(&[KIND_MSS, 4, h, l]);
    }
    fn ts(&mut self, (val, ecr): (u32, u32)) {
        let v = val.to_be_bytes();
        let e = ecr.to_be_bytes();
        self.raw(&[
            KIND_TIMESTAMPS,
            10,
            v[0],
            v[1],
            v[2],
            v[3],
            e[0],
            e[1],
            e[2],
            e[3],
        ]);
    }
    fn sack(&mut self, s: &SackBlocks) {
        let blocks = s.as_slice();
        self.raw(&[KIND_SACK, 2 + 8 * blocks.len() as u8]);
        for &(l, r) in blocks {
            self.raw(&l.to_be_bytes());
            self.raw(&r.to_be_bytes());
        }
    }
    fn fast_open(&mut self, fo: &FastOpenCookie) {
        let c = fo.as_bytes();
        if fo.experimental {
            let [h, l] = FAST_OPEN_MAGIC.to_be_bytes();
            self.raw(&[KIND_EXPERIMENTAL, 4 + c.len() as u8, h, l]);
        } else {
            self.raw(&[KIND_FAST_OPEN, 2 + c.len() as u8]);
        }
        self.raw(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux_syn() -> TcpOptions {
        TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((100, 0)),
            ..TcpOptions::default()
        }
    }

    #[test]
    fn the_usual_timestamps_layout_reads_as_the_walk_reads_it() {
        let ts = [1, 1, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 7];
        let walked = [8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 7, 1, 1];
        let want = TcpOptions {
            timestamps: Some((0xdead_beef, 7)),
            ..TcpOptions::default()
        };
        assert_eq!(TcpOptions::parse(&ts).unwrap(), want);
        assert_eq!(TcpOptions::parse(&walked).unwrap(), want);
        // Not the layout: a wrong length is still an error, a longer
        // option list still walked.
        assert!(TcpOptions::parse(&[1, 1, 8, 9, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        let mut more = ts.to_vec();
        more.extend_from_slice(&[4, 2, 1, 1]);
        assert!(TcpOptions::parse(&more).unwrap().sack_permitted);
    }

    #[test]
    fn the_linux_syn_layout_reads_as_the_walk_reads_it() {
        let syn = [
            2, 4, 5, 180, 4, 2, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 7, 1, 3, 3, 14,
        ];
        // The same options in another order: walked, not matched.
        let walked = [
            1, 3, 3, 14, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 7, 4, 2, 2, 4, 5, 180,
        ];
        let want = TcpOptions {
            mss: Some(1460),
            window_scale: Some(14),
            sack_permitted: true,
            timestamps: Some((0xdead_beef, 7)),
            ..TcpOptions::default()
        };
        assert_eq!(TcpOptions::parse(&syn).unwrap(), want);
        assert_eq!(TcpOptions::parse(&walked).unwrap(), want);
        // A wrong window-scale length is still an error; more options
        // after the layout are still read.
        let mut bad = syn;
        bad[18] = 4;
        assert!(TcpOptions::parse(&bad).is_err());
        let mut more = syn.to_vec();
        more.extend_from_slice(&[1, 1, 1, 0]);
        assert_eq!(TcpOptions::parse(&more).unwrap(), want);
        more[20] = 30;
        assert!(TcpOptions::parse(&more).is_err());
    }

    #[test]
    fn linux_layout_matches_kernel_syn() {
        let mut b = [0u8; 40];
        let n = linux_syn().emit(OptionLayout::Linux, &mut b).unwrap();
        assert_eq!(
            &b[..n],
            &[
                2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0, 1, 3, 3, 7
            ]
        );
        assert_eq!(TcpOptions::parse(&b[..n]).unwrap(), linux_syn());
    }

    #[test]
    fn compact_layout_pads_with_zero() {
        let o = TcpOptions {
            mss: Some(536),
            window_scale: Some(2),
            ..TcpOptions::default()
        };
        let mut b = [0xffu8; 40];
        let n = o.emit(OptionLayout::Compact, &mut b).unwrap();
        assert_eq!(&b[..n], &[2, 4, 2, 24, 3, 3, 2, 0]);
    }

    #[test]
    fn zero_length_is_an_error() {
        assert_eq!(
            TcpOptions::parse(&[2, 0, 1, 1]),
            Err(WireError::BadOptionLength { kind: 2, len: 0 })
        );
        assert_eq!(
            TcpOptions::parse(&[2, 5, 1, 1, 1]),
            Err(WireError::BadOptionLength { kind: 2, len: 5 })
        );
        assert_eq!(
            TcpOptions::parse(&[8, 10, 0]),
            Err(WireError::TruncatedOption { kind: 8, at: 0 })
        );
        assert_eq!(
            TcpOptions::parse(&[1, 3]),
            Err(WireError::TruncatedOption { kind: 3, at: 1 })
        );
    }

    #[test]
    fn unknown_and_fast_open_are_kept() {
        let bytes = [34, 6, 1, 2, 3, 4, 99, 3, 7, 254, 4, 0xF9, 0x89, 0, 0, 0];
        let o = TcpOptions::parse(&bytes).unwrap();
        assert_eq!(o.unknown.as_bytes(), &[99, 3, 7]);
        // The later (experimental) Fast Open option wins; both parse.
        assert!(o.fast_open.unwrap().is_request());
        assert!(o.fast_open.unwrap().experimental);
    }

    #[test]
    fn eol_ends_the_list() {
        let o = TcpOptions::parse(&[2, 4, 1, 0, 0, 2, 0]).unwrap();
        assert_eq!(o.mss, Some(256));
    }
}
