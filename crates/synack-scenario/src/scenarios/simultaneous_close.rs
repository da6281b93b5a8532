//! FIN crosses FIN: CLOSING, then TIME-WAIT on both sides.

use std::net::Shutdown;

use synack_engine::sim::Side;
use synack_engine::{Event, State};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd, io};

use crate::common::{no_faults, no_tune, synack_connects};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "simultaneous-close",
    about: "FIN crosses FIN: CLOSING, then TIME-WAIT on both sides",
    server_role: false,
    closer: false,
    tune: no_tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (h, server) = r.handshake()?;
    let now = r.pair.now;
    r.pair.a.close(now, h).map_err(crate::sim::err)?;
    r.pair.b.close(now, server).map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::A, Event::Closed) && p.has_event(Side::B, Event::Closed));
    Ok(())
}

fn linux(run: &mut KernelRun, _: &Options) -> Result<Keep, NetError> {
    let (h, l, s) = synack_connects(run)?;
    run.wait(SEC / 5)?;
    s.shutdown(Shutdown::Write).map_err(io)?;
    run.d.after_call("shutdown(SHUT_WR)");
    run.d.ep.close(run.d.now(), h).map_err(cmd)?;
    run.d.flush()?;
    run.until(3 * SEC, |d| {
        d.ep.connection(h)
            .is_some_and(|c| c.state() == State::TimeWait)
    })?;
    Ok((vec![l], vec![s]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let lang = a.lang;
    let ca = tell::entered(lang, a.f.entered(Side::A, State::Closing));
    let cb = a.f.entered(Side::B, State::Closing);
    let tw_a = tell::entered(lang, a.f.entered(Side::A, State::TimeWait));
    let tw_b = tell::entered(lang, a.f.entered(Side::B, State::TimeWait));
    let cb = match cb {
        Some(e) => tell::ms(e.at),
        None => lang
            .t(
                "not seen: it went straight to TIME-WAIT",
                "未观察到：它直接进入了 TIME-WAIT",
            )
            .into(),
    };
    let q = a.q("What if both sides close at once?", "如果双方同时关闭呢？");
    let text = match lang {
        Lang::En => format!(
            "Both sent a FIN before receiving the other's. A side in FIN-WAIT-1 that gets a FIN which does not acknowledge its \
own acknowledges that FIN and enters CLOSING (rule 48; client {ca}, server {cb}). When the ACK of its own FIN arrives it \
enters TIME-WAIT (client at {tw_a}, server at {tw_b}): both sides, not just one, wait 2·MSL, because both closed actively."
        ),
        Lang::Zh => format!(
            "双方都在收到对方的 FIN 之前发出了自己的 FIN。处于 FIN-WAIT-1 的一方收到的 FIN 如果没有确认自己的 FIN，就确认对方的 FIN，进入 CLOSING\
（规则 48；客户端 {ca}，服务器 {cb}）。等到自己的 FIN 被确认，就进入 TIME-WAIT（客户端在 {tw_a}，服务器在 {tw_b}）：因为双方都是主动关闭，所以两边都要等待 2MSL。"
        ),
    };
    (q, text)
}
