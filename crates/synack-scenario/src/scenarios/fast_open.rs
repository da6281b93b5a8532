//! TCP Fast Open: a cookie, then data on the SYN of the next connection.

use std::io::{Read, Write};
use std::net::SocketAddr;

use synack_engine::sim::Side;
use synack_engine::{Config, Event};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd, io};

use crate::common::{REQUEST, RESPONSE, no_faults};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "fast-open",
    about: "TCP Fast Open: a cookie, then data on the SYN of the next connection",
    server_role: false,
    closer: false,
    tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

fn tune(_: &Options, a: &mut Config, b: &mut Config) {
    a.fast_open = true;
    b.fast_open = true;
}

fn next(a: SocketAddr, k: u16) -> SocketAddr {
    SocketAddr::new(a.ip(), a.port().wrapping_add(k))
}

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.listen(s)?;
    let now = r.pair.now;
    r.pair
        .a
        .connect_with_data(now, c, s, REQUEST)
        .map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::B, Event::Readable));
    let at = r.pair.now + r.o.delay * 4;
    r.advance_to(at);
    let now = r.pair.now;
    r.pair
        .a
        .connect_with_data(now, next(c, 1), s, REQUEST)
        .map_err(crate::sim::err)?;
    r.run_until(|p| SimRun::count(p, Side::B, Event::Readable) >= 2);
    // The server answers the request it got on the SYN.
    let h = r
        .pair
        .events
        .iter()
        .rev()
        .find(|e| e.side == Side::B && e.event == Event::Readable)
        .map(|e| e.conn)
        .ok_or("no server connection")?;
    let mut buf = [0u8; 256];
    r.pair.b.recv(h, &mut buf).map_err(crate::sim::err)?;
    r.run_until(|p| SimRun::count(p, Side::B, Event::Accepted) >= 2);
    let now = r.pair.now;
    r.pair.b.send(now, h, RESPONSE).map_err(crate::sim::err)?;
    r.run_until(|p| SimRun::count(p, Side::A, Event::Readable) >= 1);
    Ok(())
}

fn linux(run: &mut KernelRun, _: &Options) -> Result<Keep, NetError> {
    run.sysctl("net/ipv4/tcp_fastopen", "3")?;
    let l = run.listen()?;
    synack_net::set_fastopen(&l, 16).map_err(io)?;
    let mut streams = Vec::new();
    for k in 0..2u16 {
        let from = next(run.ours, k);
        let (now, to) = (run.d.now(), run.theirs);
        run.d
            .ep
            .connect_with_data(now, from, to, REQUEST)
            .map_err(cmd)?;
        let mut s = run.accept(&l)?;
        s.set_nonblocking(true).map_err(io)?;
        let mut b = vec![0u8; REQUEST.len()];
        let mut got = 0;
        while got < b.len() {
            run.wait(SEC / 20)?;
            match s.read(b.get_mut(got..).unwrap_or(&mut [])) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(io(e)),
            }
        }
        s.set_nonblocking(false).map_err(io)?;
        streams.push(s);
    }
    if let Some(s) = streams.last_mut() {
        s.write_all(RESPONSE).map_err(io)?;
    }
    run.until(2 * SEC, |d| d.has_event(Event::Readable))?;
    Ok((vec![l], streams))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let u = || tell::unknown(lang);
    let cookie = t
        .frames(Side::B)
        .find_map(|f| f.seg.tcp.options.fast_open.filter(|c| !c.is_request()))
        .map_or_else(u, |c| {
            c.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
        });
    // The SYN that carried data, and the SYN-ACK that acknowledged it.
    let syn = t.frames(Side::A).find(|f| f.flags().syn() && !f.is_empty());
    let (isn, bytes) = syn
        .as_ref()
        .map_or((None, None), |f| (Some(f.seq()), Some(f.len())));
    let want = isn
        .zip(bytes)
        .map(|(i, b)| i.wrapping_add(1).wrapping_add(b));
    let acc = want.and_then(|w| t.frames(Side::B).find(|f| f.flags().syn() && f.ack() == w));
    let acc_at = tell::at(lang, acc.as_ref().map(|f| f.at));
    let (isn, bytes, want) = (
        isn.map_or_else(u, |v| v.to_string()),
        bytes.map_or_else(u, |v| v.to_string()),
        want.map_or_else(u, |v| v.to_string()),
    );
    let q = a.q(
        "What does TCP Fast Open save?",
        "TCP 快速打开（TFO） 省下了什么？",
    );
    let text = match lang {
        Lang::En => format!(
            "The first connection's SYN carried an empty Fast Open option, a cookie request; the server's SYN-ACK returned \
cookie {cookie}, a keyed hash of the client's address, and the request followed the handshake as usual. The second connection \
put the cookie and the {bytes}-byte request on its SYN. The server checked the cookie and took the data at once: its SYN-ACK \
at {acc_at} acknowledged {want} = ISN {isn} + 1 + {bytes}, the SYN and the data (rule 41), before the handshake completed. One \
round trip saved. A bad cookie would have got a SYN-ACK acknowledging only the SYN, and the client would send the data again."
        ),
        Lang::Zh => format!(
            "第一个连接的 SYN 带着空的 TFO 选项，即请求 cookie；服务器在 SYN-ACK 中返回了 cookie {cookie}（对客户端地址的带密钥哈希），\
请求照常在握手后发送。第二个连接把 cookie 和 {bytes} 字节的请求放在 SYN 上。服务器校验 cookie 后立即接收数据：\
它在 {acc_at} 的 SYN-ACK 确认了 {want} = ISN {isn} + 1 + {bytes}，即 SYN 和数据（规则 41），早于握手完成。省下了一个往返。\
如果 cookie 无效，SYN-ACK 只确认 SYN，客户端会重传数据。"
        ),
    };
    (q, text)
}
