//! Nothing listens on the port: RST.

use std::net::SocketAddr;

use synack_engine::sim::Side;
use synack_engine::{CloseReason, Event};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd};

use crate::common::{kernel_connects, no_faults, no_tune};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "refused",
    about: "Nothing listens on the port: RST",
    server_role: true,
    closer: false,
    tune: no_tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

/// The port next to the server's, where nothing listens.
fn closed_port(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip(), a.port().wrapping_add(1).max(1))
}

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.listen(s)?;
    r.target = closed_port(s);
    r.connect(c, r.target)?;
    r.run_until(|p| p.has_event(Side::A, Event::Refused));
    Ok(())
}

fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    if o.synack_side == Side::B {
        run.d.ep.listen(run.ours).map_err(cmd)?;
        run.ours = closed_port(run.ours);
        let target = run.ours;
        let client = kernel_connects(run, target, |_| Ok(()));
        client.finish(run, 5 * SEC)?;
        return Ok((vec![], vec![]));
    }
    run.theirs = closed_port(run.theirs);
    run.d
        .ep
        .connect(run.d.now(), run.ours, run.theirs)
        .map_err(cmd)?;
    run.until(5 * SEC, |d| d.has_event(Event::Refused))?;
    Ok((vec![], vec![]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let syn = t.frames(Side::A).find(|f| f.flags().syn());
    let rst = t.frames(Side::B).find(|f| f.flags().rst());
    let u = || tell::unknown(lang);
    let (c, c1) = syn.map_or_else(
        || (u(), u()),
        |f| (f.seq().to_string(), f.seq().wrapping_add(1).to_string()),
    );
    let (rseq, rack) = rst.map_or_else(
        || (u(), u()),
        |f| (f.seq().to_string(), f.ack().to_string()),
    );
    let at = a.f.connect_failed(Side::A, CloseReason::Refused);
    let at = tell::at(lang, at);
    let port = t.server.port();
    let q = a.q(
        "What does a closed port do with a SYN?",
        "端口没有监听时，SYN 会得到什么？",
    );
    let text = match lang {
        Lang::En => format!(
            "Nothing listens on port {port}, so for this 4-tuple the server is CLOSED and answers RST+ACK: seq={rseq}, ack={rack} \
= the SYN's seq {c} + 1 = {c1} (RFC 9293 §3.10.7.1). The RST acknowledges the client's SYN, so the client accepts it and \
reports \"connection refused\" (ECONNREFUSED) at {at}, one round trip. A filtered port answers nothing at all (see --scenario \
filtered)."
        ),
        Lang::Zh => format!(
            "端口 {port} 上没有监听的套接字，对这个四元组来说服务器处于 CLOSED，于是回复 RST+ACK：seq={rseq}，ack={rack} = SYN 的 seq {c} + 1 = {c1}\
（RFC 9293 §3.10.7.1）。这个 RST 的确认号正好确认了客户端的 SYN，所以客户端接受它，在 {at} 报告“连接被拒绝”（ECONNREFUSED），\
只用了一个往返。被过滤的端口则什么也不回（见 --scenario filtered）。"
        ),
    };
    (q, text)
}
