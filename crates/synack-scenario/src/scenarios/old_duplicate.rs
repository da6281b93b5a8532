//! An old duplicate SYN, vetoed by the initiator's RST (Fig. 8).

use synack_engine::State;
use synack_engine::sim::{Fault, Side};
use synack_explain::{Answer, Lang};
use synack_net::harness::KernelRun;
use synack_net::{Dir, NetError};
use synack_wire::TcpFlags;

use crate::common::no_tune;
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "old-duplicate",
    about: "An old duplicate SYN, vetoed by the initiator's RST: why three, not two (Fig. 8)",
    server_role: false,
    closer: false,
    tune: no_tune,
    faults,
    sim,
    linux,
    answer,
};

/// How far before the client's ISN the old duplicate SYN was sent.
const OLD_DISTANCE: u32 = 910;

/// The old SYN goes first (A's 1st segment), A's real SYN (2nd) is slow.
fn faults(o: &Options) -> Vec<Fault> {
    vec![Fault::DelayNth {
        from: Side::A,
        n: 2,
        extra: o.delay * 5,
    }]
}

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.listen(s)?;
    let cfg = r.pair.a.config().clone();
    let iss = synack_engine::isn::generate(&cfg.isn, r.pair.now, c, s).get();
    let old = synack_engine::forge(&cfg, c, s, TcpFlags::SYN, iss.wrapping_sub(OLD_DISTANCE))
        .map_err(crate::sim::err)?;
    let now = r.pair.now;
    r.pair.link.send(now, Side::A, &old);
    r.connect(c, s)?;
    r.run_until(SimRun::both_up);
    Ok(())
}

fn linux(run: &mut KernelRun, _: &Options) -> Result<Keep, NetError> {
    let l = run.listen()?;
    // Our SYN is lost and goes again after 1 s; meanwhile an old
    // duplicate SYN from our address reaches the kernel.
    run.d.faults.push(synack_net::Fault::DropNth {
        dir: Dir::ToKernel,
        n: 1,
    });
    let (ours, theirs) = (run.ours, run.theirs);
    let h = run
        .d
        .ep
        .connect(run.d.now(), ours, theirs)
        .map_err(synack_net::harness::cmd)?;
    run.d.flush()?;
    let iss = run.d.ep.connection(h).map_or(0, |c| c.iss().get());
    let old = run.craft(ours, TcpFlags::SYN, iss.wrapping_sub(OLD_DISTANCE))?;
    run.d.inject(&old)?;
    run.connected(h)?;
    let s = run.accept(&l)?;
    Ok((vec![l], vec![s]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let u = || tell::unknown(lang);
    // The client's real ISN is the seq of the SYN its engine sent.
    let real = t.steps.iter().find_map(|(s, st)| match &st.cause {
        synack_engine::Cause::Sent(g) if *s == Side::A && g.flags == TcpFlags::SYN => {
            Some(g.seq.get())
        }
        _ => None,
    });
    let old = t
        .frames(Side::A)
        .find(|f| f.flags() == TcpFlags::SYN && Some(f.seq()) != real);
    let old_seq = old.as_ref().map(|f| f.seq());
    let ghost = old_seq.and_then(|o| {
        t.frames(Side::B)
            .find(|f| f.flags().syn() && f.ack() == o.wrapping_add(1))
    });
    let ghost_at = tell::at(lang, ghost.as_ref().map(|f| f.at));
    let ghost_ack = ghost.as_ref().map_or_else(u, |f| f.ack().to_string());
    let veto = t.frames(Side::A).find(|f| f.flags().rst());
    let (veto_seq, veto_at) =
        veto.map_or_else(|| (u(), u()), |f| (f.seq().to_string(), tell::ms(f.at)));
    // The server drops the half-open connection the ghost made.
    let back = tell::entered(lang, a.f.left(Side::B, State::SynReceived));
    let done = tell::entered(lang, a.f.entered(Side::B, State::Established));
    let c = real.map_or_else(u, |v| v.to_string());
    let old_s = old_seq.map_or_else(u, |v| v.to_string());
    let q = a.q(
        "Why three segments? What does an old duplicate SYN do?",
        "为什么要三次握手？旧的重复 SYN 会造成什么？",
    );
    let text = match lang {
        Lang::En => format!(
            "A SYN from an earlier incarnation (seq {old_s}) reached the server first. The server could not tell it was old: \
it answered with a SYN-ACK acknowledging {ghost_ack} at {ghost_at}. The client, whose own SYN carries ISN {c}, saw an ack for \
a sequence number it never sent (rule 2) and vetoed it at {veto_at} with a RST whose seq is that ack, {veto_seq}. The server, \
half-open from a passive open, dropped that half-open connection at {back} without telling anyone (rule 19), and the \
client's real SYN then completed the handshake at {done}. With a two-way handshake the server would have been ESTABLISHED at \
{ghost_at} on a ghost, with the old ISN {old_s}, holding resources and accepting data for a connection nobody opened: the \
third segment is the initiator's chance to say no (RFC 9293 §3.5, Fig. 8)."
        ),
        Lang::Zh => format!(
            "一个来自先前连接的旧 SYN（seq {old_s}）先到达了服务器。服务器无法判断它是旧的：在 {ghost_at} 回复了确认 {ghost_ack} 的 SYN-ACK。\
客户端自己的 SYN 的 ISN 是 {c}，它看到一个确认了自己从未发送过的序列号的 ACK（规则 2），于是在 {veto_at} 用 RST 否决，RST 的 seq 就是那个确认号 {veto_seq}。\
由被动打开进入半连接的服务器在 {back} 丢弃了这个半连接，不通知任何人（规则 19）；随后客户端真正的 SYN 在 {done} 完成了握手。\
如果只有两次握手，服务器在 {ghost_at} 就会对一个“幽灵”进入 ESTABLISHED，使用旧的 ISN {old_s}，为一个没人发起的连接占用资源、接收数据：\
第三次握手正是发起方说“不”的机会（RFC 9293 §3.5，图 8）。"
        ),
    };
    (q, text)
}
