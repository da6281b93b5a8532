//! The third segment carries data: the client's application wrote its
//! request before the handshake completed, and the request rides on the
//! ACK that completes it.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};

use synack_engine::Event;
use synack_engine::sim::{Fault, Side};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd, io};
use synack_trace::Frame;
use synack_wire::TcpFlags;

use crate::common::{
    REQUEST, RESPONSE, kernel_writes_while_connecting, no_faults, no_tune, read_kernel,
};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "third-ack-data",
    about: "The request rides on the third segment, the ACK that completes the handshake",
    server_role: true,
    closer: false,
    tune: no_tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

/// The client sends right after connect(), in SYN-SENT: the engine queues
/// the request and sends it with its ACK.
fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.listen(s)?;
    let h = r.connect(c, s)?;
    let now = r.pair.now;
    r.pair.a.send(now, h, REQUEST).map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::B, Event::Readable));
    r.exchange()?;
    // Then a SYN that carries data without Fast Open, from an address whose
    // replies go nowhere: what does the server do with the data?
    let from = SocketAddr::new(spoofed(r.o.client.is_ipv6(), false), 40066);
    r.pair.link.faults.push(Fault::Blackhole { ip: from.ip() });
    let cfg = r.pair.a.config().clone();
    let syn = synack_engine::forge_with_data(&cfg, from, s, TcpFlags::SYN, SYN_DATA_ISN, REQUEST)
        .map_err(crate::sim::err)?;
    let now = r.pair.now;
    r.pair.link.send(now, Side::A, &syn);
    let at = r.pair.now + r.o.delay * 3;
    r.advance_to(at);
    Ok(())
}

/// The ISN of the SYN with data.
const SYN_DATA_ISN: u32 = 0x5eed_da7a;

/// An address nobody answers for, in the lab's or the simulator's net.
fn spoofed(v6: bool, kernel: bool) -> IpAddr {
    match (v6, kernel) {
        (false, false) => IpAddr::from([192, 0, 2, 66]),
        (false, true) => IpAddr::from([10, 77, 0, 66]),
        (true, false) => IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x66]),
        (true, true) => IpAddr::from([0xfd77, 0, 0, 0, 0, 0, 0, 0x66]),
    }
}

/// The kernel's listener gets a SYN with data and no Fast Open option.
fn syn_with_data(run: &mut KernelRun) -> Result<(), NetError> {
    let from = SocketAddr::new(spoofed(run.theirs.is_ipv6(), true), 40066);
    run.d.faults.push(synack_net::Fault::Blackhole(from.ip()));
    let syn = synack_engine::forge_with_data(
        run.d.ep.config(),
        from,
        run.theirs,
        TcpFlags::SYN,
        SYN_DATA_ISN,
        REQUEST,
    )
    .map_err(NetError::Emit)?;
    run.d.inject(&syn)?;
    let theirs = run.theirs;
    run.until(5 * SEC, |d| {
        d.log.iter().any(|c| {
            c.dir == synack_net::Dir::FromKernel
                && synack_wire::parse_segment(&c.bytes, false).is_ok_and(|p| {
                    p.tcp.flags.syn() && p.ip.src == theirs.ip() && p.tcp.dst_port == 40066
                })
        })
    })?;
    Ok(())
}

fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    if o.synack_side == Side::B {
        return kernel_client(run);
    }
    let l = run.listen()?;
    let now = run.d.now();
    let h = run.d.ep.connect(now, run.ours, run.theirs).map_err(cmd)?;
    run.d.ep.send(now, h, REQUEST).map_err(cmd)?;
    run.connected(h)?;
    let mut s = run.accept(&l)?;
    read_kernel(run, &mut s, REQUEST.len())?;
    s.write_all(RESPONSE).map_err(io)?;
    run.until(5 * SEC, |d| d.has_event(Event::Readable))?;
    syn_with_data(run)?;
    Ok((vec![l], vec![s]))
}

/// The kernel's application writes while its connect() is under way; Linux
/// then holds back its ACK (`sk_write_pending`) and sends it with the data.
fn kernel_client(run: &mut KernelRun) -> Result<Keep, NetError> {
    run.d.ep.listen(run.ours).map_err(cmd)?;
    let target = run.ours;
    let client = kernel_writes_while_connecting(run, target, REQUEST, |mut c| {
        let mut b = vec![0u8; RESPONSE.len()];
        c.read_exact(&mut b)
    })?;
    run.until(5 * SEC, |d| {
        d.events.iter().any(|e| e.2 == Event::Accepted)
            && d.ep.connections().any(|c| c.readable() >= REQUEST.len())
    })?;
    let h = run
        .d
        .events
        .iter()
        .find(|e| e.2 == Event::Accepted)
        .map(|e| e.1)
        .ok_or_else(|| cmd("synack accepted no connection"))?;
    let mut b = [0u8; 256];
    let _ = run.d.ep.recv(h, &mut b);
    let now = run.d.now();
    run.d.ep.send(now, h, RESPONSE).map_err(cmd)?;
    client.finish(run, 5 * SEC)?;
    Ok((vec![], vec![]))
}

/// The client's first segment after its SYN: the third of the handshake.
fn third<'t>(a: &Ask<'t>) -> Option<Frame<'t>> {
    a.t.frames(Side::A)
        .find(|f| !f.flags().syn() && f.flags().ack())
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let u = || tell::unknown(lang);
    let q = a.q(
        "Can the third segment of the handshake carry data?",
        "第三次握手可以携带数据吗？",
    );
    let Some(f) = third(a) else {
        return (
            q,
            lang.t(
                "The client sent no third segment.",
                "客户端没有发出第三个报文段。",
            )
            .into(),
        );
    };
    let (seq, ack, len, at) = (f.seq(), f.ack(), f.len(), tell::ms(f.at));
    let cisn = t.first_isn(Side::A).map_or_else(u, |v| v.to_string());
    let sisn = t.first_isn(Side::B).map_or_else(u, |v| v.to_string());
    let acked =
        a.f.acked_by(Side::B, seq.wrapping_add(len), f.at)
            .map(|g| g.at);
    let acked = tell::at(lang, acked);
    let up = tell::entered(
        lang,
        a.f.entered(Side::B, synack_engine::State::Established),
    );
    let why = if t.is_synack(Side::A) {
        lang.t(
            "synack's application called send() right after connect(), in SYN-SENT; the engine queued the request \
and sent it with its ACK (RFC 9293 §3.10.7.3: data queued for transmission may be included)",
            "synack 的应用在 connect() 之后、SYN-SENT 状态下立即调用 send()；引擎把请求排队，随 ACK 一起发出\
（RFC 9293 §3.10.7.3：已排队待发的数据可以一并带上）",
        )
    } else {
        lang.t(
            "the kernel's application called write() while its connect() was under way (/proc showed the write waiting \
for the handshake), so when the SYN-ACK came Linux held back its ACK and sent it with the data",
            "内核一侧的应用在 connect() 尚未完成时调用了 write()（/proc 显示它在等待握手完成），所以 SYN-ACK 到达时，\
Linux 没有单独回 ACK，而是把 ACK 和数据一起发出",
        )
    };
    let syn_data = syn_data(a);
    let text = if len == 0 {
        match lang {
            Lang::En => format!(
                "Here the client's third segment, at {at}, was a pure ACK (seq={seq}, ack={ack}): the data did not ride \
on it."
            ),
            Lang::Zh => format!(
                "本例中客户端的第三个报文段（{at}）是纯 ACK（seq={seq}，ack={ack}）：数据没有随它发出。"
            ),
        }
    } else {
        match lang {
            Lang::En => format!(
                "Yes. The client's third segment, at {at}, has the ACK flag with ack={ack} = {sisn} + 1 (the server's ISN \
plus its SYN) and carries {len} bytes starting at seq={seq} = {cisn} + 1. Nothing requires the third segment to be a pure \
ACK: {why}. The server entered ESTABLISHED at {up} and acknowledged the {len} bytes with ack={} at {acked}.",
                seq.wrapping_add(len)
            ),
            Lang::Zh => format!(
                "可以。客户端的第三个报文段（{at}）带 ACK 标志，ack={ack} = {sisn} + 1（服务器的 ISN 加上它的 SYN），\
并携带 {len} 字节数据，从 seq={seq} = {cisn} + 1 开始。第三个报文段并不要求是纯 ACK：{why}。服务器在 {up} 进入 ESTABLISHED，并在 {acked} 用 ack={} 确认了这 {len} 字节。",
                seq.wrapping_add(len)
            ),
        }
    };
    (q, format!("{text}{syn_data}"))
}

/// A SYN with data and no Fast Open option, and what the server's SYN-ACK
/// acknowledged of it; empty when the run sent none.
fn syn_data(a: &Ask<'_>) -> String {
    let (t, lang) = (a.t, a.lang);
    let Some(syn) = t.frames(Side::A).find(|f| {
        f.flags().syn()
            && !f.flags().ack()
            && !f.is_empty()
            && f.seg.tcp.options.fast_open.is_none()
    }) else {
        return String::new();
    };
    let Some(sa) = t
        .frames(Side::B)
        .find(|f| f.flags().syn() && f.flags().ack() && f.dst() == syn.src())
    else {
        return String::new();
    };
    let (seq, len, ack) = (syn.seq(), syn.len(), sa.ack());
    let kept = ack == seq.wrapping_add(1).wrapping_add(len);
    let who = if t.is_synack(Side::B) {
        lang.t("synack's server", "synack 的服务器")
    } else {
        lang.t("the Linux server", "Linux 服务器")
    };
    match (kept, lang) {
        (false, Lang::En) => format!(
            " A SYN may carry data even without TCP Fast Open (RFC 9293 lets the receiver hold it until the handshake \
completes). At {} a SYN with {len} bytes and no Fast Open option (seq={seq}) reached the server; {who} answered at {} \
with a SYN-ACK whose ack={ack} = {seq} + 1: it acknowledged the SYN but not the data, so it did not keep it, and the \
client must send the data again after the handshake.",
            tell::ms(syn.at),
            tell::ms(sa.at)
        ),
        (false, Lang::Zh) => format!(
            "即使没有 TCP 快速打开（TFO），SYN 也可以携带数据（RFC 9293 允许接收方把它留到握手完成）。在 {} 一个带 {len} 字节数据、\
没有 TFO 选项的 SYN（seq={seq}）到达服务器；{who}在 {} 发出的 SYN-ACK 的 ack={ack} = {seq} + 1：它确认了 SYN，却没有确认数据，\
也就是没有保留这些数据，客户端必须在握手之后重传。",
            tell::ms(syn.at),
            tell::ms(sa.at)
        ),
        (true, Lang::En) => format!(
            " At {} a SYN with {len} bytes and no Fast Open option (seq={seq}) reached the server, and {who} answered at {} \
with a SYN-ACK that acknowledged the data too (ack={ack}).",
            tell::ms(syn.at),
            tell::ms(sa.at)
        ),
        (true, Lang::Zh) => format!(
            "在 {} 一个带 {len} 字节数据、没有 TFO 选项的 SYN（seq={seq}）到达服务器，{who}在 {} 发出的 SYN-ACK 连数据也确认了（ack={ack}）。",
            tell::ms(syn.at),
            tell::ms(sa.at)
        ),
    }
}
