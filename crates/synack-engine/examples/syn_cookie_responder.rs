//! A listener that answers a SYN flood statelessly: 10,000 spoofed SYNs get
//! SYN-ACKs whose ISS is a cookie, and no connection is kept for any of
//! them; a real client's ACK then rebuilds its connection from the cookie.
//!
//! cargo run -p synack-engine --example syn_cookie_responder

use std::net::{IpAddr, SocketAddr};

use synack_engine::{Config, Endpoint, Event, Instant, MAX_PACKET, SynCookies};
use synack_wire::TcpFlags;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg = Config::linux().with_secrets([3; 16], 3);
    cfg.syn_cookies = SynCookies::Always;
    let mut server = Endpoint::new(cfg.clone());
    let s: SocketAddr = "10.0.0.2:80".parse()?;
    server.listen(s)?;
    let now = Instant::ZERO;
    let mut buf = [0u8; MAX_PACKET];
    let mut answered = 0;
    for i in 0..10_000u32 {
        let from = SocketAddr::new(
            IpAddr::from([198, 18, (i >> 8) as u8, i as u8]),
            1024 + (i % 50_000) as u16,
        );
        let syn =
            synack_engine::forge(&cfg, from, s, TcpFlags::SYN, i.wrapping_mul(2_654_435_761))?;
        server.handle(now, &syn)?;
        while server.poll_transmit(now, &mut buf)?.is_some() {
            answered += 1;
        }
    }
    let held = server.connections().count();
    println!("10000 spoofed SYNs: {answered} SYN-ACKs sent, {held} connections held");
    if held != 0 || answered != 10_000 {
        return Err("cookies must keep no state".into());
    }
    // A real client gets in with the cookie.
    let mut client = Endpoint::new(Config::linux().with_secrets([4; 16], 4));
    let c: SocketAddr = "10.0.0.1:40000".parse()?;
    client.connect(now, c, s)?;
    for _ in 0..4 {
        while let Some(t) = client.poll_transmit(now, &mut buf)? {
            server.handle(now, &buf[..t.len])?;
        }
        while let Some(t) = server.poll_transmit(now, &mut buf)? {
            client.handle(now, &buf[..t.len])?;
        }
    }
    let accepted = std::iter::from_fn(|| server.poll_event()).any(|(_, e)| e == Event::Accepted);
    println!("the real client's handshake completed from its cookie: {accepted}");
    if !accepted {
        return Err("the cookie handshake failed".into());
    }
    Ok(())
}
