//! The last ACK is lost: LAST-ACK re-sends its FIN, TIME-WAIT acknowledges again.

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
    name: "last-ack-lost",
    about: "The last ACK is lost: LAST-ACK re-sends its FIN, TIME-WAIT acknowledges again",
    server_role: false,
    closer: false,
    tune: no_tune,
    faults,
    sim,
    linux,
    answer,
};

/// SYN, ACK, FIN, then the last ACK: lost.
fn faults(_: &Options) -> Vec<Fault> {
    vec![Fault::DropNth {
        from: Side::A,
        n: 4,
    }]
}

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (h, server) = r.handshake()?;
    let now = r.pair.now;
    r.pair.a.close(now, h).map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::B, Event::PeerClosed));
    let now = r.pair.now;
    r.pair.b.close(now, server).map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::A, Event::Closed) && p.has_event(Side::B, Event::Closed));
    Ok(())
}

/// We close first; the kernel answers EOF with its FIN; our last ACK is
/// lost, so its FIN comes again.
fn linux(run: &mut KernelRun, _: &Options) -> Result<Keep, NetError> {
    let (h, l, s) = synack_connects(run)?;
    let ours = run.ours;
    run.wait(SEC / 5)?;
    run.d.ep.close(run.d.now(), h).map_err(cmd)?;
    run.until_kernel(SEC, ours, Some("CLOSE_WAIT"))?;
    let sent = run.d.log.iter().filter(|c| c.dir == Dir::ToKernel).count();
    run.d.faults.push(synack_net::Fault::DropNth {
        dir: Dir::ToKernel,
        n: sent + 1,
    });
    drop(s);
    run.d.after_call("close()");
    run.until_kernel(5 * SEC, ours, None)?;
    Ok((vec![l], vec![]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let fin = a.f.schedule(Side::B, Kind::Fin);
    let fins = fin.as_ref().map_or_else(
        || tell::unknown(lang),
        |s| tell::list(lang, s.sends.iter().map(|x| tell::ms(*x))),
    );
    // The client's ACK of the repeated FIN.
    let again = fin
        .as_ref()
        .and_then(|s| s.retransmissions().first().copied());
    let fin_seq = t.frames(Side::B).find(|f| f.flags().fin()).map(|f| f.seq());
    let reack = again
        .zip(fin_seq)
        .and_then(|(at, seq)| a.f.acked_by(Side::A, seq.wrapping_add(1), at))
        .map(|f| f.at);
    let reack = tell::at(lang, reack);
    let closed = tell::entered(lang, a.f.left(Side::B, State::LastAck));
    let q = a.q(
        "Why TIME-WAIT? What if the last ACK is lost?",
        "为什么要 TIME-WAIT？最后的 ACK 丢失了会怎样？",
    );
    let text = match lang {
        Lang::En => format!(
            "The client's last ACK never arrived, so the server in LAST-ACK still waited for its FIN to be acknowledged and \
sent it again when its timer fired (FINs at {fins}). The client was in TIME-WAIT, not gone: it recognised the repeated FIN \
and acknowledged it again at {reack}, restarting its 2·MSL wait (rule 49). The server closed at {closed}. Without TIME-WAIT \
the repeated FIN would have met no connection and drawn a RST: the server would report an error for a connection that had \
closed cleanly."
        ),
        Lang::Zh => format!(
            "客户端的最后一个 ACK 没有到达，处于 LAST-ACK 的服务器一直等不到对 FIN 的确认，定时器超时后重传 FIN（FIN 发送于 {fins}）。\
客户端此时在 TIME-WAIT，而不是已经消失：它认出了重复的 FIN，在 {reack} 再次确认，并重新开始 2MSL 的等待（规则 49）。服务器在 {closed} 关闭。\
如果没有 TIME-WAIT，重复的 FIN 会找不到连接而引来 RST：服务器会对一个已经正常关闭的连接报告错误。"
        ),
    };
    (q, text)
}
