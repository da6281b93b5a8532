//! The bench's yardstick: the smallest loop that does synack's handshake
//! over the same TUN device, written for the bench and nothing else. Each
//! segment is emitted by the wire codec into one buffer and written with
//! one `write()`; each SYN-ACK taken with one `read()` (the kernel answers
//! inside the write). No engine, no state beyond the numbers of the
//! handshake in hand, no checks beyond finding the SYN-ACK: what is left is
//! the kernel's work and the system calls, the floor for any driver.

use std::io::ErrorKind;
use std::net::{IpAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::time::Instant;

use synack_wire::{
    IpHeader, OptionLayout, SeqNum, TcpFlags, TcpOptions, TcpRepr, emit_segment, parse_segment,
};

use crate::{NetError, sys};

/// One handshake's segments, from `local:port` to `server`.
struct Peer {
    ip: IpHeader,
    port: u16,
    server_port: u16,
}

impl Peer {
    fn emit(
        &self,
        buf: &mut [u8],
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        win: u16,
        options: TcpOptions,
    ) -> Result<usize, NetError> {
        let tcp = TcpRepr {
            src_port: self.port,
            dst_port: self.server_port,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            window: win,
            urgent: 0,
            options,
            payload: &[],
        };
        emit_segment(buf, &self.ip, &tcp, OptionLayout::Linux).map_err(NetError::Emit)
    }
}

/// The SYN-ACK to `port`: the server's ISN and TSval, or `None` for any
/// other packet (the kernel's IPv6 housekeeping, say).
fn synack_to(pkt: &[u8], port: u16) -> Option<(u32, u32)> {
    let s = parse_segment(pkt, false).ok()?;
    if s.tcp.dst_port != port || !s.tcp.flags.contains(TcpFlags::SYN_ACK) {
        return None;
    }
    Some((
        s.tcp.seq.get(),
        s.tcp.options.timestamps.map_or(0, |(v, _)| v),
    ))
}

/// `count` handshakes from `local` (ports 1024 up, as synack's run uses)
/// to the kernel's `listener` at `server`: handshakes per second.
pub(super) fn run(
    tun: &OwnedFd,
    listener: &TcpListener,
    local: IpAddr,
    server: (IpAddr, u16),
    count: usize,
) -> Result<f64, NetError> {
    let mut out = vec![0u8; 128];
    let mut inbuf = vec![0u8; 65536];
    let mut isn = 0x1234_5678u32;
    let start = Instant::now();
    for i in 0..count {
        let peer = Peer {
            ip: IpHeader::new(local, server.0),
            port: 1024 + (i % 64000) as u16,
            server_port: server.1,
        };
        // A fresh ISN each time, far from the last: the same 4-tuple comes
        // back every 64,000 handshakes.
        isn = isn.wrapping_add(0x9e37_79b9);
        let ts = i as u32;
        let syn = TcpOptions {
            mss: Some(1460),
            sack_permitted: true,
            timestamps: Some((ts, 0)),
            window_scale: Some(7),
            ..TcpOptions::default()
        };
        let n = peer.emit(&mut out, TcpFlags::SYN, isn, 0, 64240, syn)?;
        write(tun, &out, n)?;
        let (peer_isn, peer_ts) = read_synack(tun, &mut inbuf, peer.port)?;
        let (seq, ack) = (isn.wrapping_add(1), peer_isn.wrapping_add(1));
        let echo = TcpOptions {
            timestamps: Some((ts, peer_ts)),
            ..TcpOptions::default()
        };
        let n = peer.emit(&mut out, TcpFlags::ACK, seq, ack, 501, echo)?;
        write(tun, &out, n)?;
        let accepted = accept(listener)?;
        let n = peer.emit(
            &mut out,
            TcpFlags::RST_ACK,
            seq,
            ack,
            0,
            TcpOptions::default(),
        )?;
        write(tun, &out, n)?;
        drop(accepted);
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

fn write(tun: &OwnedFd, out: &[u8], n: usize) -> Result<(), NetError> {
    sys::write(tun, out.get(..n).unwrap_or(&[])).map_err(NetError::Tun)
}

fn read_synack(tun: &OwnedFd, buf: &mut [u8], port: u16) -> Result<(u32, u32), NetError> {
    let mut deadline = None;
    loop {
        match sys::read(tun, buf).map_err(NetError::Tun)? {
            Some(n) => {
                if let Some(got) = buf.get(..n).and_then(|p| synack_to(p, port)) {
                    return Ok(got);
                }
            }
            None => {
                if super::past(&mut deadline) {
                    return Err(NetError::Command(format!(
                        "raw TUN peer: no SYN-ACK to port {port}"
                    )));
                }
                sys::wait_readable(tun, 100).map_err(NetError::Tun)?;
            }
        }
    }
}

fn accept(listener: &TcpListener) -> Result<TcpStream, NetError> {
    let mut deadline = None;
    loop {
        match listener.accept() {
            Ok((s, _)) => return Ok(s),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if super::past(&mut deadline) {
                    return Err(NetError::Command(
                        "raw TUN peer: the kernel accepted nothing".into(),
                    ));
                }
                std::thread::yield_now();
            }
            Err(e) => return Err(NetError::Command(format!("socket: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SYN-ACK to the port is found with its ISN and TSval; other ports
    /// and other flags are not.
    #[test]
    fn the_synack_is_found() {
        let (a, z): (IpAddr, IpAddr) = ([10, 77, 0, 2].into(), [10, 77, 0, 1].into());
        let server = Peer {
            ip: IpHeader::new(z, a),
            port: 80,
            server_port: 1024,
        };
        let ts = TcpOptions {
            timestamps: Some((9, 3)),
            ..TcpOptions::default()
        };
        let mut b = vec![0u8; 128];
        let Ok(n) = server.emit(&mut b, TcpFlags::SYN_ACK, 500, 78, 65160, ts) else {
            panic!("emit");
        };
        assert_eq!(synack_to(&b[..n], 1024), Some((500, 9)));
        assert_eq!(synack_to(&b[..n], 1025), None);
        let Ok(n) = server.emit(&mut b, TcpFlags::ACK, 501, 78, 65160, ts) else {
            panic!("emit");
        };
        assert_eq!(synack_to(&b[..n], 1024), None);
    }
}
