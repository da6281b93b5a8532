//! The SYN-ACK is lost; both sides retransmit.

use synack_engine::sim::{Fault, Side};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::KernelRun;
use synack_trace::findings::Kind;

use crate::common::{lose, no_tune, sim_lose};
use crate::tell;
use crate::{Ask, Def, Keep, Options};

pub static DEF: Def = Def {
    name: "synack-lost",
    about: "The SYN-ACK is lost; both sides retransmit",
    server_role: true,
    closer: false,
    tune: no_tune,
    faults,
    sim: super::normal::sim,
    linux,
    answer,
};

fn faults(_: &Options) -> Vec<Fault> {
    sim_lose(Side::B, 1)
}

fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    lose(run, Side::B, 1);
    super::normal::linux(run, o)
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let times = |side, kind| {
        a.f.schedule(side, kind).map_or_else(
            || tell::unknown(lang),
            |s| tell::list(lang, s.retransmissions().iter().map(|x| tell::ms(*x))),
        )
    };
    let (rc, rs) = (times(Side::A, Kind::Syn), times(Side::B, Kind::SynAck));
    let s = t
        .first_isn(Side::B)
        .map_or_else(|| tell::unknown(lang), |v| v.to_string());
    let q = a.q(
        "What happens if the SYN-ACK is lost?",
        "第二次握手的 SYN-ACK 丢失会怎样？",
    );
    let text = match lang {
        Lang::En => format!(
            "Both ends wait. The client, in SYN-SENT, re-sends its SYN when its timer fires (retransmissions here: {rc}); the \
server, in SYN-RECEIVED (its SYN queue), re-sends its SYN-ACK with the same ISN {s} when its own timer fires (here: {rs}). \
Whichever arrives first repairs the loss. A duplicate SYN does not create a second connection on the server: it is \
answered from the half-open one."
        ),
        Lang::Zh => format!(
            "两端都在等：客户端在 SYN-SENT 状态，定时器超时后重传 SYN（本例的重传：{rc}）；服务器在 SYN-RECEIVED 状态（半连接队列里），\
它自己的定时器超时后重传 SYN-ACK，ISN 仍是 {s}（本例：{rs}）。谁先到都能修复这次丢失。服务器收到重复的 SYN 时不会新建连接，\
只按已有的半连接回应。"
        ),
    };
    (q, text)
}
