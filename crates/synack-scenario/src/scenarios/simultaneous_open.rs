//! SYN crosses SYN (RFC 9293 Fig. 7).

use synack_engine::sim::Side;
use synack_engine::{Event, State};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd, io};

use crate::common::{no_faults, no_tune};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "simultaneous-open",
    about: "SYN crosses SYN: both sides go through SYN-RECEIVED (RFC 9293 Fig. 7)",
    server_role: false,
    closer: false,
    tune: no_tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.connect(c, s)?;
    let now = r.pair.now;
    r.pair.b.connect(now, s, c).map_err(crate::sim::err)?;
    r.run_until(|p| {
        p.has_event(Side::A, Event::Connected) && p.has_event(Side::B, Event::Connected)
    });
    Ok(())
}

fn linux(run: &mut KernelRun, _: &Options) -> Result<Keep, NetError> {
    let (ours, theirs) = (run.ours, run.theirs);
    // The kernel's SYN waits on the device while ours goes out.
    let k = synack_net::connect_from(theirs, ours).map_err(io)?;
    run.d.after_call("connect()");
    let h = run.d.ep.connect(run.d.now(), ours, theirs).map_err(cmd)?;
    run.d.flush()?;
    run.connected(h)?;
    run.until_kernel(SEC, ours, Some("ESTABLISHED"))?;
    Ok((vec![], vec![k]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let ea = tell::entered(lang, a.f.entered(Side::A, State::Established));
    let eb = tell::entered(lang, a.f.entered(Side::B, State::Established));
    let n = t.link.len();
    let isn = |s| {
        t.first_isn(s)
            .map_or_else(|| tell::unknown(lang), |v| v.to_string())
    };
    let (c, s) = (isn(Side::A), isn(Side::B));
    let q = a.q(
        "What if both sides open at once?",
        "如果双方同时发起连接呢？",
    );
    let text = match lang {
        Lang::En => format!(
            "Both sent a SYN before seeing the other's (ISNs {c} and {s}). Each, in SYN-SENT, took the other's SYN as the \
start of a simultaneous open (rule 6): it moved to SYN-RECEIVED and answered with a SYN-ACK repeating its own ISN. Each \
SYN-ACK then acknowledged the other's ISN + 1, so both reached ESTABLISHED ({ea} and {eb}) after {n} segments instead of \
three, and neither side was ever a listener. RFC 9293 Fig. 7 shows the same exchange; the ISNs still do their job: each \
side learned the other's and saw its own acknowledged."
        ),
        Lang::Zh => format!(
            "双方都在看到对方的 SYN 之前发出了自己的 SYN（ISN 分别为 {c} 和 {s}）。处于 SYN-SENT 的每一方都把对方的 SYN 当作同时打开（规则 6）：\
进入 SYN-RECEIVED，并用重复自己 ISN 的 SYN-ACK 应答。每个 SYN-ACK 都确认了对方的 ISN + 1，于是双方分别在 {ea} 和 {eb} 进入 ESTABLISHED，\
共用了 {n} 个报文段而不是三个，而且没有任何一方处于监听状态。这就是 RFC 9293 图 7；ISN 照样起作用：每一方都得知了对方的 ISN，也看到自己的被确认。"
        ),
    };
    (q, text)
}
