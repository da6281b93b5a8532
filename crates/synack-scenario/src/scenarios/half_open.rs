//! A rebooted peer opens again: challenge ACK, exact RST, retry (Fig. 9).

use synack_engine::sim::Side;
use synack_engine::{Endpoint, Event, IsnMode, State};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC};
use synack_wire::TcpFlags;

use crate::common::{no_faults, no_tune, synack_connects};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "half-open",
    about: "A rebooted peer opens again: challenge ACK, exact RST, retry (Fig. 9, RFC 5961)",
    server_role: false,
    closer: false,
    tune: no_tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

/// synack's engine after a reboot: no TCBs, and another ISN.
fn rebooted(cfg: &synack_engine::Config) -> synack_engine::Config {
    let mut cfg = cfg.clone();
    if let IsnMode::Fixed(n) = cfg.isn {
        cfg.isn = IsnMode::Fixed(n.wrapping_add(1_000_000));
    }
    cfg
}

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.handshake()?;
    // A reboots: every TCB gone. It opens again from the same port.
    r.pair.collect();
    r.pair.a = Endpoint::new(rebooted(r.pair.a.config()));
    let at = r.pair.now + r.o.delay * 10;
    r.advance_to(at);
    r.connect(c, s)?;
    r.run_until(|p| SimRun::count(p, Side::A, Event::Connected) >= 2);
    Ok(())
}

fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    let (_, l, s) = synack_connects(run)?;
    let ours = run.ours;
    run.wait(SEC / 5)?;
    // synack reboots: every TCB gone, another ISN key (fresh, or from
    // --seed like the first).
    let (key, seed) = crate::sim::secrets(o.seed.map(|s| s ^ 0x0b00_7ed0), Side::A);
    let cfg = rebooted(run.d.ep.config()).with_secrets(key, seed);
    run.d.ep = Endpoint::new(cfg);
    let (_, s2) = run.open(ours, &l)?;
    Ok((vec![l], vec![s, s2]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let u = || tell::unknown(lang);
    // The server's first pure ACK: it sent none before the challenge.
    let challenge = t
        .frames(Side::B)
        .find(|f| f.flags() == TcpFlags::ACK && f.is_empty());
    let (ch_at, ch_ack) =
        challenge.map_or_else(|| (u(), u()), |f| (tell::ms(f.at), f.ack().to_string()));
    let rst = t.frames(Side::A).find(|f| f.flags().rst());
    let rst_seq = rst.as_ref().map_or_else(u, |f| f.seq().to_string());
    let reset = tell::entered(lang, a.f.left(Side::B, State::Established));
    let again = tell::entered(lang, a.f.entered_nth(Side::A, State::Established, None, 1));
    let q = a.q(
        "What happens when a peer reboots during a connection?",
        "连接还在时对端重启了，会怎样？",
    );
    let text = match lang {
        Lang::En => format!(
            "The client lost all its state and opened again from the same port. Its new SYN reached a server still \
ESTABLISHED on that 4-tuple. RFC 5961 answers a SYN in a synchronized state with a challenge ACK (rule 33), not a RST: at \
{ch_at} the server sent ACK {ch_ack}, its RCV.NXT. The rebooted client, in SYN-SENT, found that ack unacceptable and answered \
with a RST whose seq is exactly that number, {rst_seq} (rule 2). A RST with SEG.SEQ = RCV.NXT is the one RST the server \
believes (rule 31): it dropped the old connection at {reset}. The client's retransmitted SYN then found LISTEN and the new \
connection was up at {again}. A blind attacker, who cannot guess RCV.NXT, cannot do the same."
        ),
        Lang::Zh => format!(
            "客户端丢失了全部状态，从同一个端口重新发起连接。它的新 SYN 到达时，服务器在这个四元组上仍是 ESTABLISHED。\
RFC 5961 规定同步状态下收到 SYN 要回复挑战 ACK（规则 33），而不是 RST：服务器在 {ch_at} 发送了 ACK {ch_ack}，即它的 RCV.NXT。\
重启后的客户端处于 SYN-SENT，认为这个确认号不可接受，用 seq 恰好等于该值（{rst_seq}）的 RST 回应（规则 2）。SEG.SEQ = RCV.NXT 的 RST 是服务器唯一会相信的 RST（规则 31）：\
它在 {reset} 丢弃了旧连接。随后客户端重传的 SYN 遇到 LISTEN，新连接在 {again} 建立。盲攻击者猜不到 RCV.NXT，就做不到这一点。"
        ),
    };
    (q, text)
}
