//! A listener and a connecting client fed fuzzer-chosen segments (flags,
//! seq and ack near and far from the window, options, payload), packets
//! between them (one at a time or in a batch), time steps and user calls. Beyond not panicking: a RST is
//! never answered with a RST, no deadline is in the past, and the number of
//! connections stays bounded.
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use synack_engine::{Config, Endpoint, Instant, MAX_PACKET};
use synack_wire::{IpHeader, OptionLayout, SeqNum, TcpFlags, TcpOptions, TcpRepr, emit_segment};

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes([
            self.u8()?,
            self.u8()?,
            self.u8()?,
            self.u8()?,
        ]))
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

const C: &str = "10.0.0.1:40000";
const S: &str = "10.0.0.2:80";

/// Everything `ep` wants to send now. `after_rst`: the input just handled
/// was a RST, so none of this may be one.
fn drain(ep: &mut Endpoint, now: Instant, after_rst: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; MAX_PACKET];
    while let Ok(Some(t)) = ep.poll_transmit(now, &mut buf) {
        let pkt = buf.get(..t.len).unwrap_or(&[]).to_vec();
        if after_rst {
            let seg = synack_wire::parse_segment(&pkt, false).expect("we emit what we parse");
            assert!(!seg.tcp.flags.rst(), "a RST answered with a RST");
        }
        out.push(pkt);
    }
    while ep.poll_event().is_some() {}
    while ep.poll_step().is_some() {}
    out
}

/// A segment the fuzzer chose, from `from` to `to`, numbered near one of
/// `bases` or anywhere.
fn crafted(
    b: &mut Bytes<'_>,
    from: SocketAddr,
    to: SocketAddr,
    bases: &[u32],
) -> Option<(Vec<u8>, bool)> {
    let flags = TcpFlags(b.u16()? & 0x1ff);
    let near = |b: &mut Bytes<'_>| -> Option<u32> {
        let pick = b.u8()?;
        let base = bases
            .get(usize::from(pick) % bases.len().max(1))
            .copied()
            .unwrap_or(0);
        Some(match pick >> 6 {
            0 => b.u32()?,
            _ => base.wrapping_add(u32::from(b.u16()?)).wrapping_sub(0x8000),
        })
    };
    let (seq, ack) = (near(b)?, near(b)?);
    let window = b.u16()?;
    let opt_len = usize::from(b.u8()? % 41);
    let options = TcpOptions::parse(b.take(opt_len)).unwrap_or_default();
    let payload_len = usize::from(b.u8()?);
    let payload = b.take(payload_len).to_vec();
    let repr = TcpRepr {
        src_port: from.port(),
        dst_port: to.port(),
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags,
        window,
        urgent: 0,
        options,
        payload: &payload,
    };
    let mut buf = vec![0u8; 100 + payload.len()];
    let n = emit_segment(
        &mut buf,
        &IpHeader::new(from.ip(), to.ip()),
        &repr,
        OptionLayout::Linux,
    )
    .ok()?;
    buf.truncate(n);
    Some((buf, flags.rst()))
}

/// Sequence numbers worth being near: each connection's.
fn bases(ep: &Endpoint) -> Vec<u32> {
    ep.connections()
        .flat_map(|c| {
            let v = c.vars();
            [
                v.snd_una.get(),
                v.snd_nxt.get(),
                v.rcv_nxt.get(),
                v.iss.get(),
                v.irs.get(),
            ]
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let Some(setup) = b.u8() else { return };
    let mut cfg = if setup & 1 == 0 {
        Config::rfc()
    } else {
        Config::linux()
    };
    cfg = cfg.with_secrets([7; 16], 1);
    cfg.fast_open = setup & 2 != 0;
    if setup & 4 != 0 {
        cfg.syn_backlog = 2;
    }
    let (c, s): (SocketAddr, SocketAddr) = (C.parse().unwrap(), S.parse().unwrap());
    let mut client = Endpoint::new(cfg.clone());
    let mut server = Endpoint::new(cfg);
    server.listen(s).expect("listen");
    let mut now = Instant::ZERO;
    let h = client.connect(now, c, s).expect("connect");
    let mut to_server = drain(&mut client, now, false);
    let mut to_client: Vec<Vec<u8>> = Vec::new();
    while let Some(op) = b.u8() {
        match op % 8 {
            // Everything queued for the server at once, through the batch path.
            0 if op & 0x80 != 0 => {
                let batch: Vec<Vec<u8>> = std::mem::take(&mut to_server);
                let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
                let _ = server.handle_batch(now, &refs);
                to_client.extend(drain(&mut server, now, false));
            }
            0 => {
                if !to_server.is_empty() {
                    let p = to_server.remove(0);
                    let _ = server.handle(now, &p);
                    to_client.extend(drain(&mut server, now, false));
                }
            }
            1 => {
                if !to_client.is_empty() {
                    let p = to_client.remove(0);
                    let _ = client.handle(now, &p);
                    to_server.extend(drain(&mut client, now, false));
                }
            }
            2 => {
                now = now + std::time::Duration::from_millis(u64::from(b.u16().unwrap_or(0)));
                for ep in [&mut client, &mut server] {
                    ep.handle_timeout(now);
                    if let Some(t) = ep.poll_timeout() {
                        assert!(t >= now, "a deadline in the past: {t:?} < {now:?}");
                    }
                }
                to_server.extend(drain(&mut client, now, false));
                to_client.extend(drain(&mut server, now, false));
            }
            3 => {
                let from = if op & 0x80 != 0 {
                    SocketAddr::new(c.ip(), 40001)
                } else {
                    c
                };
                let Some((p, rst)) = crafted(&mut b, from, s, &bases(&server)) else {
                    break;
                };
                to_client.extend(drain(&mut server, now, false));
                let _ = server.handle(now, &p);
                to_client.extend(drain(&mut server, now, rst));
            }
            4 => {
                let Some((p, rst)) = crafted(&mut b, s, c, &bases(&client)) else {
                    break;
                };
                to_server.extend(drain(&mut client, now, false));
                let _ = client.handle(now, &p);
                to_server.extend(drain(&mut client, now, rst));
            }
            5 | 6 => {
                let (ep, conn) = if op % 8 == 5 {
                    (&mut client, Some(h))
                } else {
                    let first = server.connections().next().map(|x| x.handle());
                    (&mut server, first)
                };
                let Some(conn) = conn else { continue };
                let n = usize::from(b.u8().unwrap_or(0)) * 16;
                match op >> 6 {
                    0 => {
                        let _ = ep.send(now, conn, &vec![0x61; n]);
                    }
                    1 => {
                        let _ = ep.close(now, conn);
                    }
                    2 => {
                        let _ = ep.abort(now, conn);
                    }
                    _ => {
                        let mut buf = vec![0u8; n];
                        let _ = ep.recv(conn, &mut buf);
                    }
                }
                let out = drain(ep, now, false);
                if op % 8 == 5 {
                    to_server.extend(out);
                } else {
                    to_client.extend(out);
                }
            }
            _ => {
                let n = usize::from(b.u8().unwrap_or(0));
                let junk = b.take(n).to_vec();
                let _ = server.handle(now, &junk);
                to_client.extend(drain(&mut server, now, false));
            }
        }
        // The peers' queues and the connection tables stay bounded.
        assert!(to_server.len() + to_client.len() < 100_000);
        assert!(server.connections().count() <= 64);
        assert!(client.connections().count() <= 4);
    }
});
