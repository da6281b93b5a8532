//! Nothing answers: retransmissions, then a timeout.

use synack_engine::Event;
use synack_engine::sim::{Fault, Side};
use synack_explain::{Answer, Lang};
use synack_net::harness::{KernelRun, SEC, cmd};
use synack_net::{Dir, NetError};
use synack_trace::findings::Kind;

use crate::common::{kernel_connects, no_tune};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "filtered",
    about: "Nothing answers: retransmissions, then a timeout",
    server_role: false,
    closer: false,
    tune: no_tune,
    faults,
    sim,
    linux,
    answer,
};

/// Every SYN is dropped before it reaches the server, as by a firewall.
fn faults(_: &Options) -> Vec<Fault> {
    vec![Fault::DropAll { from: Side::A }]
}

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.listen(s)?;
    r.connect(c, s)?;
    r.run_until(|p| p.has_event(Side::A, Event::TimedOut));
    Ok(())
}

/// The kernel is the client: its SYNs are dropped on the device before
/// synack's listener sees them, so nothing answers; a shorter
/// `tcp_syn_retries` makes it give up in seconds.
fn linux(run: &mut KernelRun, _: &Options) -> Result<Keep, NetError> {
    run.kernel_side = Side::A;
    run.ours.set_port(80);
    run.shorten("net/ipv4/tcp_syn_retries", "2")?;
    run.d.ep.listen(run.ours).map_err(cmd)?;
    run.d.faults.push(synack_net::Fault::DropAll {
        dir: Dir::FromKernel,
    });
    let target = run.ours;
    let client = kernel_connects(run, target, |_| Ok(()));
    client.finish(run, crate::common::CONNECT_LIMIT + SEC)?;
    Ok((None, vec![]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let syn = a.f.schedule(Side::A, Kind::Syn);
    let n = syn.as_ref().map_or(0, |s| s.retransmissions().len());
    let rtx = syn
        .as_ref()
        .map_or_else(|| tell::unknown(lang), |s| tell::schedule(lang, s));
    let gave_up = tell::at(lang, a.f.gave_up(Side::A));
    let rule = tell::schedule_rule(t, Side::A, false, lang);
    let check = crate::syn_schedule::model_check(t, Side::A, lang);
    let lab = tell::changed_settings(t, lang);
    let defaults = crate::syn_schedule::syn_defaults(t, lang);
    let q = a.q("What happens if nothing answers?", "如果对方什么都不回呢？");
    let text = match lang {
        Lang::En => format!(
            "Every SYN was dropped on the way, so nothing came back: no SYN-ACK, no RST. The client retransmitted its SYN {n} \
times, at {rtx}, and gave up at {gave_up}, reporting a timeout (ETIMEDOUT). Here {rule}.{check}{lab}{defaults} Unlike a refused port there \
is no RST: nmap calls such a port \"filtered\"."
        ),
        Lang::Zh => format!(
            "每个 SYN 都在途中被丢弃，所以什么也没有回来：没有 SYN-ACK，也没有 RST。客户端重传了 {n} 次 SYN，时间是 {rtx}，\
在 {gave_up} 放弃并报告超时（ETIMEDOUT）。本例中{rule}。{check}{lab}{defaults}与被拒绝的端口不同，这里没有 RST：nmap 把这样的端口称为 filtered（被过滤）。"
        ),
    };
    (q, text)
}
