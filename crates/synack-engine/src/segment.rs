//! A received segment in the form the engine decides on: the header fields,
//! the negotiable options and the payload, parsed straight from the packet.
//! It is a fraction of [`TcpRepr`]'s size, which matters on the hot path; the
//! full representation is built only when a step record needs it.

use synack_wire::options::{OptionIter, TcpOption};
use synack_wire::{FastOpenCookie, SeqNum, TcpFlags, TcpPacket, TcpRepr, WireError};

use crate::negotiate::SynOpts;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Seg<'a> {
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: SynOpts,
    /// A Fast Open option (request or cookie), kept apart from `options`
    /// because only SYNs carry it.
    pub fast_open: Option<FastOpenCookie>,
    pub payload: &'a [u8],
}

impl<'a> Seg<'a> {
    /// From a checked packet view. Every option is length-checked (MUST-7),
    /// only the negotiable ones are kept.
    pub fn parse(p: &TcpPacket<&'a [u8]>) -> Result<Seg<'a>, WireError> {
        let bytes: &'a [u8] = p.into_inner();
        let hl = p.header_len();
        let (options, fast_open) = parse_options(bytes.get(20..hl).unwrap_or(&[]))?;
        Ok(Seg {
            seq: p.seq(),
            ack: p.ack(),
            flags: p.flags(),
            window: p.window(),
            options,
            fast_open,
            payload: bytes.get(hl..).unwrap_or(&[]),
        })
    }

    pub fn from_repr(r: &TcpRepr<'a>) -> Seg<'a> {
        Seg {
            seq: r.seq,
            ack: r.ack,
            flags: r.flags,
            window: r.window,
            options: SynOpts::from_wire(&r.options),
            fast_open: r.options.fast_open,
            payload: r.payload,
        }
    }

    /// SEG.LEN: payload plus one each for SYN and FIN.
    pub fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }
}

fn parse_options(raw: &[u8]) -> Result<(SynOpts, Option<FastOpenCookie>), WireError> {
    let mut o = SynOpts::default();
    let mut tfo = None;
    for opt in OptionIter::new(raw) {
        match opt? {
            TcpOption::Mss(v) => o.mss = Some(v),
            TcpOption::WindowScale(v) => o.window_scale = Some(v),
            TcpOption::SackPermitted => o.sack_permitted = true,
            TcpOption::Timestamps { tsval, tsecr } => o.timestamps = Some((tsval, tsecr)),
            TcpOption::FastOpen {
                cookie,
                experimental,
            } => {
                tfo = FastOpenCookie::new(cookie).map(|mut c| {
                    c.experimental = experimental;
                    c
                });
            }
            _ => {}
        }
    }
    Ok((o, tfo))
}
