//! ABORT: a RST with SEQ=SND.NXT ends the connection at once.

use synack_engine::sim::Side;
use synack_engine::{Event, State};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd};

use crate::common::{no_faults, no_tune, synack_connects};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "abort",
    about: "ABORT: a RST with SEQ=SND.NXT ends the connection at once",
    server_role: false,
    closer: false,
    tune: no_tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (h, _) = r.handshake()?;
    let now = r.pair.now;
    r.pair.a.abort(now, h).map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::B, Event::Closed) || p.has_event(Side::B, Event::Reset));
    Ok(())
}

fn linux(run: &mut KernelRun, _: &Options) -> Result<Keep, NetError> {
    let (h, l, s) = synack_connects(run)?;
    let ours = run.ours;
    run.wait(SEC / 5)?;
    run.d.ep.abort(run.d.now(), h).map_err(cmd)?;
    run.d.flush()?;
    run.until_kernel(SEC / 2, ours, None)?;
    Ok((vec![l], vec![s]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let rst = t.frames(Side::A).find(|f| f.flags().rst());
    let (seq, at) = rst.map_or_else(
        || (tell::unknown(lang), tell::unknown(lang)),
        |f| (f.seq().to_string(), tell::ms(f.at)),
    );
    let reset = tell::entered(lang, a.f.left(Side::B, State::Established));
    let q = a.q("What does ABORT do?", "ABORT（中止）做了什么？");
    let text = match lang {
        Lang::En => format!(
            "ABORT drops the connection at once: no FIN, no TIME-WAIT, queued data is discarded. Because the peer holds \
state, the client sent a RST at {at} with seq {seq}, its SND.NXT (rule 53) — exactly what the server expects next, so the \
server accepted it (rule 31) and dropped the connection at {reset} (its application sees \"connection reset\", ECONNRESET)."
        ),
        Lang::Zh => format!(
            "ABORT 立即丢弃连接：不发 FIN，不进入 TIME-WAIT，未发送的数据也被丢弃。由于对端还保存着状态，客户端在 {at} 发送了 RST，\
seq 为 {seq}，即它的 SND.NXT（规则 53）——正是服务器期望的下一个序列号，所以服务器接受了它（规则 31），并在 {reset} 丢弃了连接（其应用看到“连接被复位”，ECONNRESET）。"
        ),
    };
    (q, text)
}
