//! ECN negotiated, then the fallback to a plain SYN.

use std::net::SocketAddr;

use synack_engine::sim::{Fault, Side};
use synack_engine::{Action, Config, Ecn, Event, Note};
use synack_explain::{Answer, Lang};
use synack_net::harness::KernelRun;
use synack_net::{Dir, NetError};

use crate::common::synack_connects;
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "ecn",
    about: "ECN negotiated (ECE+CWR, then ECE), and the fallback to a plain SYN",
    server_role: false,
    closer: false,
    tune,
    faults,
    sim,
    linux,
    answer,
};

fn tune(_: &Options, a: &mut Config, _: &mut Config) {
    a.ecn = Ecn::Request;
}

/// The second connection's ECN-setup SYN (the client's 3rd segment) is lost.
fn faults(_: &Options) -> Vec<Fault> {
    vec![Fault::DropNth {
        from: Side::A,
        n: 3,
    }]
}

fn second(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip(), a.port().wrapping_add(1))
}

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.handshake()?;
    r.connect(second(c), s)?;
    r.run_until(|p| SimRun::count(p, Side::A, Event::Connected) >= 2);
    Ok(())
}

fn linux(run: &mut KernelRun, _: &Options) -> Result<Keep, NetError> {
    let (_, l, s) = synack_connects(run)?;
    let ours = run.ours;
    run.d.faults.push(synack_net::Fault::DropNth {
        dir: Dir::ToKernel,
        n: 3,
    });
    let (_, s2) = run.open(second(ours), &l)?;
    Ok((vec![l], vec![s, s2]))
}

fn note_at(a: &Ask<'_>, n: Note) -> Option<synack_engine::Instant> {
    a.t.steps
        .iter()
        .find(|(s, st)| *s == Side::A && st.action == Action::Note(n))
        .map(|(_, st)| st.at)
}

fn answer(a: &Ask<'_>) -> Answer {
    let lang = a.lang;
    let agreed = tell::at(lang, note_at(a, Note::EcnAgreed));
    let fallback = tell::at(lang, note_at(a, Note::EcnFallback));
    let q = a.q("How do two ends agree on ECN?", "双方如何协商 ECN？");
    let text = match lang {
        Lang::En => format!(
            "The client's SYN set ECE and CWR: an ECN-setup SYN (rule 9). The server, with ECN enabled, answered with a \
SYN-ACK carrying ECE but not CWR (rule 40), and at {agreed} ECN was on for that connection: routers may now mark congestion \
instead of dropping. The second connection's ECN-setup SYN was lost; some middleboxes drop such SYNs, so the retransmission \
at {fallback} was a plain SYN (RFC 3168 §6.1.1.1, as Linux does) and that connection runs without ECN."
        ),
        Lang::Zh => format!(
            "客户端的 SYN 同时置位 ECE 和 CWR：这是 ECN 协商 SYN（规则 9）。开启了 ECN 的服务器回复置位 ECE、不置 CWR 的 SYN-ACK（规则 40），\
于是在 {agreed} 这个连接启用了 ECN：路由器可以用标记代替丢包来表示拥塞。第二个连接的 ECN 协商 SYN 丢失了；有些中间设备会丢弃这种 SYN，\
所以在 {fallback} 的重传改为普通 SYN（RFC 3168 §6.1.1.1，Linux 也这样做），这个连接不使用 ECN。"
        ),
    };
    (q, text)
}
