//! The third ACK is lost; the first data segment completes the handshake.

use std::io::Write;

use synack_engine::Event;
use synack_engine::State;
use synack_engine::sim::{Fault, Side};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd, io};

use crate::common::{REQUEST, RESPONSE, lose, no_tune, read_kernel, sim_lose};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "ack-lost",
    about: "The third ACK is lost; the first data segment completes the handshake",
    server_role: true,
    closer: false,
    tune: no_tune,
    faults,
    sim,
    linux,
    answer,
};

fn faults(_: &Options) -> Vec<Fault> {
    sim_lose(Side::A, 2)
}

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.listen(s)?;
    let h = r.connect(c, s)?;
    // The client, ESTABLISHED, sends its request at once: that data
    // segment also carries the ACK the server is waiting for.
    r.run_until(|p| p.has_event(Side::A, Event::Connected));
    let now = r.pair.now;
    r.pair.a.send(now, h, REQUEST).map_err(crate::sim::err)?;
    r.run_until(SimRun::both_up);
    r.run_until(|p| p.has_event(Side::B, Event::Readable));
    r.exchange()
}

fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    if o.synack_side == Side::B {
        lose(run, Side::A, 2);
        return super::data::kernel_client(run);
    }
    lose(run, Side::A, 2);
    let l = run.listen()?;
    let h = run
        .d
        .ep
        .connect(run.d.now(), run.ours, run.theirs)
        .map_err(cmd)?;
    run.connected(h)?;
    let now = run.d.now();
    run.d.ep.send(now, h, REQUEST).map_err(cmd)?;
    let mut s = run.accept(&l)?;
    read_kernel(run, &mut s, REQUEST.len())?;
    s.write_all(RESPONSE).map_err(io)?;
    run.until(5 * SEC, |d| d.has_event(Event::Readable))?;
    Ok((vec![l], vec![s]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let cdone = tell::entered(lang, a.f.entered(Side::A, State::Established));
    let sdone = tell::entered(lang, a.f.entered(Side::B, State::Established));
    let ack = t
        .first_isn(Side::B)
        .map_or_else(|| tell::unknown(lang), |v| v.wrapping_add(1).to_string());
    let q = a.q(
        "What happens if the third ACK is lost?",
        "第三次握手的 ACK 丢失会怎样？",
    );
    let text = match lang {
        Lang::En => format!(
            "The client entered ESTABLISHED when it sent the ACK ({cdone}) and may send data at once; the server is still in \
SYN-RECEIVED. The client's request carries the ACK flag and ack={ack} as well, so its arrival completes the server's \
handshake ({sdone}) and the data is accepted: no RST and no waiting. Had the client sent nothing, the server would have \
retransmitted its SYN-ACK when its timer fired and the client would have answered it with an ACK."
        ),
        Lang::Zh => format!(
            "客户端发出 ACK 后就进入了 ESTABLISHED（{cdone}），可以立即发送数据；服务器还停在 SYN-RECEIVED。客户端的请求报文段同样带着 \
ACK 标志位和确认号 ack={ack}，所以它一到达就完成了服务器的握手（{sdone}），数据也被接收——不需要 RST，也不需要等待。\
如果客户端什么都不发，服务器的定时器超时后会重传 SYN-ACK，客户端再回一个 ACK。"
        ),
    };
    (q, text)
}
