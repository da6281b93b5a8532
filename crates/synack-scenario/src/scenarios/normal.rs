//! SYN, SYN-ACK, ACK.

use synack_engine::Event;
use synack_engine::sim::Side;
use synack_explain::Answer;
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC};

use crate::common::{kernel_connects_to_us, no_faults, no_tune, synack_connects};
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "normal",
    about: "SYN, SYN-ACK, ACK",
    server_role: true,
    closer: false,
    tune: no_tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

/// The handshake alone, on the simulated link.
pub fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    r.handshake()?;
    Ok(())
}

/// The handshake alone against the kernel, in the role asked for.
pub fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    if o.synack_side == Side::B {
        let (client, _) = kernel_connects_to_us(run, |_| Ok(()))?;
        client.finish(run, 5 * SEC)?;
        return Ok((vec![], vec![]));
    }
    let (_, l, s) = synack_connects(run)?;
    run.until(SEC / 10, |d| d.has_event(Event::Connected))?;
    Ok((vec![l], vec![s]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let c = t.first_isn(Side::A);
    let s = t.first_isn(Side::B);
    let n = |v: Option<u32>, plus: u32| {
        v.map_or_else(
            || crate::tell::unknown(lang),
            |v| v.wrapping_add(plus).to_string(),
        )
    };
    let (c0, c1, s0, s1) = (n(c, 0), n(c, 1), n(s, 0), n(s, 1));
    (
        a.q("Why three segments and not two?", "为什么是三次握手，而不是两次？"),
        a.pick(
            format!(
                "Each side must learn the other's initial sequence number and know that its own arrived. The SYN carries the \
client's ISN {c0}; the SYN-ACK acknowledges it (ack={c1}) and carries the server's ISN {s0}; only the third segment (ack={s1}) \
proves to the server that its ISN arrived. With two segments the server would enter ESTABLISHED on any SYN, including an \
old duplicate of an earlier connection still wandering the network (RFC 9293 §3.5, Fig. 8); the third segment lets the \
client veto such a stale request with a RST."
            ),
            format!(
                "双方都要知道对方的初始序列号，并且确认自己的初始序列号已被对方收到。SYN 带着客户端的 ISN {c0}；\
SYN-ACK 用 ack={c1} 确认了它，同时带上服务器的 ISN {s0}；只有第三个报文段（ack={s1}）才向服务器证明它的 ISN 已经送达。\
如果只有两次握手，服务器收到任何 SYN 都会直接进入 ESTABLISHED，包括网络中滞留的、上一次连接的旧 SYN（RFC 9293 §3.5 图 8）；\
有了第三次握手，客户端就能用 RST 否决这种过期的连接请求。"
            ),
        ),
    )
}
