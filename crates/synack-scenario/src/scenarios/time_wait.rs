//! TIME-WAIT at work: the side that closed first holds the connection for
//! 2·MSL; its last ACK is lost, the peer's FIN comes again, and TIME-WAIT
//! acknowledges it again.

use synack_engine::sim::{Fault, Side};
use synack_engine::{Event, State};
use synack_explain::{Answer, Lang};
use synack_net::harness::{KernelRun, SEC, cmd};
use synack_net::{Dir, NetError};
use synack_trace::findings::Kind;

use crate::common::{no_tune, synack_connects};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "time-wait",
    about: "TIME-WAIT: why 2·MSL, how long Linux holds it, and a late FIN acknowledged again",
    server_role: false,
    closer: false,
    tune: no_tune,
    faults,
    sim,
    linux,
    answer,
};

/// The server's segments: SYN-ACK, FIN, then the last ACK: lost.
fn faults(_: &Options) -> Vec<Fault> {
    vec![Fault::DropNth {
        from: Side::B,
        n: 3,
    }]
}

/// The server closes first, so it holds TIME-WAIT; its last ACK is lost
/// and the client's FIN comes again.
fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (h, server) = r.handshake()?;
    let now = r.pair.now;
    r.pair.b.close(now, server).map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::A, Event::PeerClosed));
    let now = r.pair.now;
    r.pair.a.close(now, h).map_err(crate::sim::err)?;
    // Until TIME-WAIT runs out and the server forgets the connection.
    r.run_until(|p| p.b.connections().next().is_none());
    Ok(())
}

/// The kernel closes first and holds TIME_WAIT; its last ACK is dropped,
/// so our FIN goes again and the kernel acknowledges it from TIME_WAIT.
fn linux(run: &mut KernelRun, _: &Options) -> Result<Keep, NetError> {
    let (h, l, s) = synack_connects(run)?;
    let ours = run.ours;
    drop(s);
    run.d.after_call("close()");
    run.until(2 * SEC, |d| d.has_event(Event::PeerClosed))?;
    let from_kernel = run
        .d
        .log
        .iter()
        .filter(|c| c.dir == Dir::FromKernel)
        .count();
    run.d.faults.push(synack_net::Fault::DropNth {
        dir: Dir::FromKernel,
        n: from_kernel + 1,
    });
    run.d.ep.close(run.d.now(), h).map_err(cmd)?;
    run.until_kernel(2 * SEC, ours, Some("TIME_WAIT"))?;
    run.until(5 * SEC, |d| d.has_event(Event::Closed))?;
    Ok((vec![l], vec![]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let tw = tell::entered(lang, a.f.entered(Side::B, State::TimeWait));
    let wait = tell::time_wait(a, Side::B);
    // The client's FIN, sent twice; the server's ACK after the copy.
    let fin = a.f.schedule(Side::A, Kind::Fin);
    let copy = fin
        .as_ref()
        .and_then(|s| s.retransmissions().first().copied());
    let fin_end = t
        .frames(Side::A)
        .find(|f| f.flags().fin())
        .map(|f| f.seq().wrapping_add(f.len()).wrapping_add(1));
    let reack = copy
        .zip(fin_end)
        .and_then(|(at, ack)| a.f.acked_by(Side::B, ack, at))
        .map(|f| (f.at, f.ack()));
    let (reack_at, reack_ack) = reack.map_or_else(
        || (tell::unknown(lang), tell::unknown(lang)),
        |(at, ack)| (tell::ms(at), ack.to_string()),
    );
    let copy_at = tell::at(lang, copy);
    let linux = !t.is_synack(Side::B);
    let why_60 = match (lang, linux) {
        (Lang::En, true) => {
            " Linux's TIME_WAIT is TCP_TIMEWAIT_LEN, 60 s, fixed in the kernel: no sysctl changes it (tcp_fin_timeout is FIN-WAIT-2's)."
        }
        (Lang::Zh, true) => {
            "Linux 的 TIME_WAIT 是内核中固定的 TCP_TIMEWAIT_LEN，60 秒，没有 sysctl 能改（tcp_fin_timeout 管的是 FIN-WAIT-2）。"
        }
        (Lang::En, false) => {
            " RFC 9293 takes MSL as 2 minutes, so 2·MSL is 4 minutes; synack's Linux profile uses Linux's 60 s."
        }
        (Lang::Zh, false) => {
            "RFC 9293 取 MSL 为 2 分钟，所以 2·MSL 是 4 分钟；synack 的 Linux 配置用 Linux 的 60 秒。"
        }
    };
    let q = a.q(
        "Why does TIME-WAIT last 2·MSL, and what does it protect?",
        "TIME-WAIT 为什么要等 2·MSL？它保护了什么？",
    );
    let text = match lang {
        Lang::En => format!(
            "The server closed first, so it entered TIME-WAIT at {tw} and holds it for 2·MSL ({wait}).{why_60} Two things \
need that time. The last ACK may be lost, as it was here: the client, in LAST-ACK, sent its FIN again at {copy_at}, and \
only because the server still remembered the connection could it acknowledge that FIN again (at {reack_at}, ack \
{reack_ack}) instead of answering with a RST; that repeated FIN also started the 2·MSL wait over (rule 49). And old segments of this connection must die \
out (each lives at most one MSL) before the same 4-tuple can start a new one that might take them for its own."
        ),
        Lang::Zh => format!(
            "服务器先关闭，所以它在 {tw} 进入 TIME-WAIT，要保持 2·MSL（{wait}）。{why_60}这段时间有两个用处。最后的 ACK 可能丢失：对方会重传 FIN，\
只有还记得这个连接的一方才能再确认它，而不是回 RST。本例正是如此：处于 LAST-ACK 的客户端在 {copy_at} 重传 FIN，服务器因为还在 TIME-WAIT，才能在 {reack_at} 再次确认（ack {reack_ack}）；这个重复的 FIN 也让 2·MSL 的等待重新开始（规则 49）。\
另外，这个连接的旧报文段（每个最多存活一个 MSL）必须先在网络中消失，同一四元组才能开始新连接，否则新连接可能把它们当成自己的。"
        ),
    };
    (q, text)
}
