//! Two endpoints in memory, joined by nothing but the sans-IO loop: the
//! handshake, a request, the close, and every step each side recorded.
//!
//! cargo run -p synack-engine --example two_endpoints

use synack_engine::{Config, Endpoint, Event, Instant, MAX_PACKET};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cfg = |key: u8| Config::rfc().with_secrets([key; 16], u64::from(key));
    let (mut client, mut server) = (Endpoint::new(cfg(1)), Endpoint::new(cfg(2)));
    let (c, s) = ("10.0.0.1:40000".parse()?, "10.0.0.2:80".parse()?);
    server.listen(s)?;
    let mut now = Instant::ZERO;
    let conn = client.connect(now, c, s)?;
    let mut buf = [0u8; MAX_PACKET];
    let mut sent_request = false;
    let mut closed = false;
    for _ in 0..1000 {
        let mut moved = false;
        while let Some(t) = client.poll_transmit(now, &mut buf)? {
            server.handle(now, &buf[..t.len])?;
            moved = true;
        }
        while let Some(t) = server.poll_transmit(now, &mut buf)? {
            client.handle(now, &buf[..t.len])?;
            moved = true;
        }
        while let Some((h, e)) = client.poll_event() {
            println!("{now:>10}  client event: {e:?}");
            if h == conn && e == Event::Connected && !sent_request {
                client.send(now, conn, b"GET / HTTP/1.0\r\n\r\n")?;
                client.close(now, conn)?;
                sent_request = true;
            }
            closed |= e == Event::Closed;
        }
        while let Some((h, e)) = server.poll_event() {
            println!("{now:>10}  server event: {e:?}");
            if e == Event::PeerClosed {
                server.close(now, h)?;
            }
        }
        for (who, ep) in [("client", &mut client), ("server", &mut server)] {
            while let Some(step) = ep.poll_step() {
                println!(
                    "{:>10}  {who}: {} → {}  rule {}",
                    step.at,
                    step.before.state.rfc_name(),
                    step.after.state.rfc_name(),
                    step.rule.id()
                );
            }
        }
        if closed {
            break;
        }
        if !moved {
            let next = [client.poll_timeout(), server.poll_timeout()];
            let Some(at) = next.into_iter().flatten().min() else {
                break;
            };
            now = at;
            client.handle_timeout(now);
            server.handle_timeout(now);
        }
    }
    if !closed {
        return Err("the connection did not close".into());
    }
    println!("closed after TIME-WAIT at {now}");
    Ok(())
}
