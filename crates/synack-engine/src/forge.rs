//! Segments no engine made (an old duplicate SYN, a spoofed SYN, a stray
//! RST), for the lab and the simulator to inject.

use core::net::SocketAddr;

use synack_wire::{IpHeader, OptionLayout, SeqNum, TcpFlags, TcpRepr, WireError, emit_segment};

use crate::{Config, MAX_PACKET};

/// An IP packet from `from` to `to` with `flags` and `seq` (ack 0): a SYN
/// carries the options `cfg` would offer.
pub fn forge(
    cfg: &Config,
    from: SocketAddr,
    to: SocketAddr,
    flags: TcpFlags,
    seq: u32,
) -> Result<Vec<u8>, WireError> {
    forge_with_data(cfg, from, to, flags, seq, &[])
}

/// [`forge`] with `payload` on the segment: a SYN with data and no Fast
/// Open option, say.
pub fn forge_with_data(
    cfg: &Config,
    from: SocketAddr,
    to: SocketAddr,
    flags: TcpFlags,
    seq: u32,
    payload: &[u8],
) -> Result<Vec<u8>, WireError> {
    let options = if flags.syn() {
        crate::negotiate::syn_options(cfg, to).to_wire()
    } else {
        synack_wire::TcpOptions::default()
    };
    let repr = TcpRepr {
        src_port: from.port(),
        dst_port: to.port(),
        seq: SeqNum(seq),
        ack: SeqNum(0),
        flags,
        window: if flags.rst() { 0 } else { 64240 },
        urgent: 0,
        options,
        payload,
    };
    let mut buf = vec![0u8; MAX_PACKET];
    let n = emit_segment(
        &mut buf,
        &IpHeader::new(from.ip(), to.ip()),
        &repr,
        OptionLayout::Linux,
    )?;
    buf.truncate(n);
    Ok(buf)
}
