//! The first SYN is lost and retransmitted.

use synack_engine::State;
use synack_engine::sim::{Fault, Side};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::KernelRun;
use synack_trace::findings::Kind;

use crate::common::{lose, no_tune, sim_lose};
use crate::tell;
use crate::{Ask, Def, Keep, Options};

pub static DEF: Def = Def {
    name: "syn-lost",
    about: "The first SYN is lost and retransmitted",
    server_role: true,
    closer: false,
    tune: no_tune,
    faults,
    sim: super::normal::sim,
    linux,
    answer,
};

fn faults(_: &Options) -> Vec<Fault> {
    sim_lose(Side::A, 1)
}

fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    lose(run, Side::A, 1);
    super::normal::linux(run, o)
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let syn = a.f.schedule(Side::A, Kind::Syn);
    let isn = t
        .first_isn(Side::A)
        .map_or_else(|| tell::unknown(lang), |v| v.to_string());
    let rtx = syn
        .as_ref()
        .map_or_else(|| tell::unknown(lang), |s| tell::schedule(lang, s));
    let done = tell::entered(lang, a.f.entered(Side::A, State::Established));
    let rule = tell::schedule_rule(t, Side::A, false, lang);
    let q = a.q(
        "What happens if the first SYN is lost?",
        "第一次握手的 SYN 丢失会怎样？",
    );
    let text = match lang {
        Lang::En => format!(
            "The client hears nothing, so its retransmission timer fires and it sends the same SYN again with the same ISN \
{isn}, here at {rtx}. The server never saw the first SYN, so for it nothing unusual happened; the client's handshake \
completed at {done}. Should the SYN be lost again, the client keeps retrying: {rule}; when the retries run out it gives up \
and reports a timeout (ETIMEDOUT)."
        ),
        Lang::Zh => format!(
            "客户端什么也没收到，重传定时器超时后用同一个 ISN {isn} 重传 SYN，本例在 {rtx}。服务器从没见过第一个 SYN，\
所以对它来说一切照常；客户端的握手在 {done} 完成。如果 SYN 再次丢失，客户端会继续重试：{rule}；重试用尽后放弃并报告超时（ETIMEDOUT）。"
        ),
    };
    (q, text)
}
