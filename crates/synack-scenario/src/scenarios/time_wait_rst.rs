//! A RST reaches the side in TIME-WAIT (RFC 1337's hazard).

use synack_engine::sim::Side;
use synack_engine::{Event, State};
use synack_explain::{Answer, Lang};
use synack_net::harness::{KernelRun, SEC, cmd};
use synack_net::{Dir, NetError};
use synack_wire::TcpFlags;

use crate::common::{no_faults, no_tune, synack_connects};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "time-wait-rst",
    about: "A RST cuts TIME-WAIT short (RFC 1337's hazard; RFC 9293 and Linux close)",
    server_role: false,
    closer: false,
    tune: no_tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

/// The server closes first and so holds TIME-WAIT; then a RST with its
/// exact RCV.NXT arrives from the client's address.
fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    let (h, server) = r.handshake()?;
    let now = r.pair.now;
    r.pair.b.close(now, server).map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::A, Event::PeerClosed));
    let now = r.pair.now;
    r.pair.a.close(now, h).map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::A, Event::Closed));
    let at = r.pair.now + r.o.delay * 10;
    r.advance_to(at);
    let rcv_nxt = r
        .pair
        .b
        .connection(server)
        .map(|c| c.vars().rcv_nxt.get())
        .ok_or("the server left TIME-WAIT early")?;
    let rst = synack_engine::forge(r.pair.a.config(), c, s, TcpFlags::RST, rcv_nxt)
        .map_err(crate::sim::err)?;
    let now = r.pair.now;
    r.pair.link.send(now, Side::A, &rst);
    r.run_until(|p| p.has_event(Side::B, Event::Closed));
    Ok(())
}

fn linux(run: &mut KernelRun, _: &Options) -> Result<Keep, NetError> {
    let (h, l, s) = synack_connects(run)?;
    let ours = run.ours;
    run.wait(SEC / 5)?;
    drop(s);
    run.d.after_call("close()");
    run.until(2 * SEC, |d| d.has_event(Event::PeerClosed))?;
    run.d.ep.close(run.d.now(), h).map_err(cmd)?;
    run.until_kernel(2 * SEC, ours, Some("TIME_WAIT"))?;
    run.wait(SEC / 5)?;
    let fin = run
        .d
        .log
        .iter()
        .filter(|c| c.dir == Dir::ToKernel)
        .filter_map(|c| synack_wire::parse_segment(&c.bytes, false).ok())
        .find(|p| p.tcp.flags.fin())
        .map(|p| p.tcp.seq.get().wrapping_add(1))
        .ok_or_else(|| cmd("no FIN of ours"))?;
    let rst = run.craft(ours, TcpFlags::RST, fin)?;
    run.d.inject(&rst)?;
    run.until_kernel(SEC, ours, None)?;
    Ok((vec![l], vec![]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let tw = tell::entered(lang, a.f.entered(Side::B, State::TimeWait));
    let rst = t.frames(Side::A).find(|f| f.flags().rst());
    let (rst_at, rst_seq) = rst.map_or_else(
        || (tell::unknown(lang), tell::unknown(lang)),
        |f| (tell::ms(f.at), f.seq().to_string()),
    );
    let gone = tell::entered(lang, a.f.left(Side::B, State::TimeWait));
    let wait = tell::time_wait(a, Side::B);
    let q = a.q(
        "What does a RST do to TIME-WAIT?",
        "RST 到达 TIME-WAIT 会怎样？",
    );
    let text = match lang {
        Lang::En => format!(
            "The server closed first, so it entered TIME-WAIT at {tw}, to wait 2·MSL ({wait}). At {rst_at} a RST arrived with \
seq {rst_seq}, exactly its RCV.NXT, and TIME-WAIT ended at {gone}, long before that wait was over (rule 50). RFC 9293 says a \
RST in TIME-WAIT closes the connection, and Linux does the same by default (tcp_rfc1337=0); synack follows them. RFC 1337 \
calls this \"TIME-WAIT assassination\": an old duplicate RST can end the wait early, and a new connection on the same \
4-tuple may then accept old segments; its remedy is to ignore RSTs in TIME-WAIT."
        ),
        Lang::Zh => format!(
            "服务器先关闭，所以它在 {tw} 进入 TIME-WAIT，要等待 2MSL（{wait}）。在 {rst_at}，一个 seq 为 {rst_seq}（正好等于它的 RCV.NXT）的 RST 到达，\
TIME-WAIT 在 {gone} 就结束了，远没有等满（规则 50）。RFC 9293 规定 TIME-WAIT 中收到 RST 就关闭连接，Linux 默认（tcp_rfc1337=0）也这样做；synack 与它们一致。\
RFC 1337 把这叫作“TIME-WAIT 暗杀”：旧的重复 RST 可能提前结束等待，同一四元组上的新连接随后可能收下旧报文段；它的办法是在 TIME-WAIT 中忽略 RST。"
        ),
    };
    (q, text)
}
