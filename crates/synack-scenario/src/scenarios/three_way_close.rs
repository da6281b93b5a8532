//! A close in three segments: the second FIN carries the ACK of the first
//! because the side that received it had nothing left to send.

use std::time::Duration;

use synack_engine::sim::Side;
use synack_engine::{Config, Event, State};
use synack_explain::{Answer, Lang, side_name};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd};
use synack_trace::Frame;

use crate::common::{kernel_connects_to_us, no_faults, synack_connects};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "three-way-close",
    about: "A close in three segments: FIN, FIN+ACK, ACK",
    server_role: true,
    closer: false,
    tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

/// synack may hold the ACK of a FIN briefly, as a delayed ACK: up to
/// 200 ms, Linux's longest delayed ACK (`TCP_DELACK_MAX`), so a busy lab
/// still closes within it.
const FIN_ACK_DELAY: Duration = Duration::from_millis(200);

fn tune(_: &Options, a: &mut Config, b: &mut Config) {
    a.fin_ack_delay = Some(FIN_ACK_DELAY);
    b.fin_ack_delay = Some(FIN_ACK_DELAY);
}

/// The server closes first; the client, with nothing more to say, closes
/// as soon as it sees the FIN.
fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (client, server) = r.handshake()?;
    let now = r.pair.now;
    r.pair.b.close(now, server).map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::A, Event::PeerClosed));
    let now = r.pair.now;
    r.pair.a.close(now, client).map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::A, Event::Closed) && p.has_event(Side::B, Event::Closed));
    Ok(())
}

/// The kernel closes first and synack answers with FIN+ACK. (Linux itself
/// acknowledges a FIN at once this early in a connection, so the kernel as
/// the second closer sends four segments: it is made the first.)
fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    if o.synack_side == Side::B {
        return kernel_client(run);
    }
    let (h, l, s) = synack_connects(run)?;
    let ours = run.ours;
    drop(s);
    run.d.after_call("close()");
    run.until(5 * SEC, |d| d.has_event(Event::PeerClosed))?;
    let now = run.d.now();
    run.d.ep.close(now, h).map_err(cmd)?;
    run.until(5 * SEC, |d| d.has_event(Event::Closed))?;
    run.until_kernel(5 * SEC, ours, Some("TIME_WAIT"))?;
    Ok((vec![l], vec![]))
}

/// The kernel closes first; synack, the server, closes on its FIN.
fn kernel_client(run: &mut KernelRun) -> Result<Keep, NetError> {
    let (client, h) = kernel_connects_to_us(run, |_| Ok(()))?;
    let h = h.ok_or_else(|| cmd("synack accepted no connection"))?;
    run.until(5 * SEC, |d| d.has_event(Event::PeerClosed))?;
    let now = run.d.now();
    run.d.ep.close(now, h).map_err(cmd)?;
    run.until(5 * SEC, |d| d.has_event(Event::Closed))?;
    client.finish(run, 5 * SEC)?;
    Ok((vec![], vec![]))
}

/// The first FIN, and the other side's segments after it.
fn after_first_fin<'t>(a: &Ask<'t>) -> Option<(Frame<'t>, Vec<Frame<'t>>)> {
    let fin = a.t.all_frames().find(|f| f.flags().fin())?;
    let replies =
        a.t.frames(fin.from.other())
            .filter(|f| f.at >= fin.at)
            .collect();
    Some((fin, replies))
}

fn answer(a: &Ask<'_>) -> Answer {
    let lang = a.lang;
    let q = a.q(
        "Can the close take three segments instead of four?",
        "挥手可以是三次而不是四次吗？",
    );
    let Some((fin, replies)) = after_first_fin(a) else {
        return (
            q,
            lang.t("Nobody sent a FIN.", "双方都没有发出 FIN。").into(),
        );
    };
    let (first, second) = (fin.from, fin.from.other());
    let (fname, sname) = (side_name(first, lang), side_name(second, lang));
    let fin_ack = fin.seq().wrapping_add(fin.len()).wrapping_add(1);
    let (fseq, fat) = (fin.seq(), tell::ms(fin.at));
    let their_fin = replies.iter().find(|f| f.flags().fin());
    let alone = replies
        .iter()
        .find(|f| !f.flags().fin() && f.flags().ack() && f.ack() == fin_ack);
    let last = their_fin.and_then(|g| {
        let want = g.seq().wrapping_add(g.len()).wrapping_add(1);
        a.t.frames(first).find(|f| f.at >= g.at && f.ack() == want)
    });
    let general = match lang {
        Lang::En => {
            "Four is the general case because each direction closes on its own: a FIN (close(), or \
shutdown(SHUT_WR) for a half-close) only says \"I will send no more\", and the other side may still have data to send, \
so its ACK cannot wait for a FIN that may come much later. --scenario close shows the four segments."
        }
        Lang::Zh => {
            "四次是一般情况，因为两个方向分别关闭：FIN（close()，或半关闭用的 shutdown(SHUT_WR)）只表示\
“我不再发送了”，另一方可能还有数据要发，它的 ACK 不能等一个可能很久以后才来的 FIN。--scenario close 展示了四次挥手。"
        }
    };
    let text = match (their_fin, alone, lang) {
        (Some(g), None, Lang::En) => format!(
            "Yes, when the side that receives the first FIN has nothing left to send. The {fname}'s FIN at {fat} has \
seq={fseq}; the {sname}'s own FIN at {} carries ack={fin_ack} = {fseq} + 1, acknowledging it, and no ACK went before it: \
its ACK waited (a delayed ACK), and its application closed within that time{}. The {fname}'s ACK at {} (ack={}) is the \
third and last segment. {general}",
            tell::ms(g.at),
            waited(a, second, &fin, g, lang),
            tell::at(lang, last.as_ref().map(|f| f.at)),
            g.seq().wrapping_add(g.len()).wrapping_add(1),
        ),
        (Some(g), None, Lang::Zh) => format!(
            "可以，前提是收到第一个 FIN 的一方已经没有数据要发。{fname}在 {fat} 发出 FIN，seq={fseq}；{sname}在 {} 发出的 FIN \
携带 ack={fin_ack} = {fseq} + 1，确认了它，而且在此之前没有单独发 ACK：它的 ACK 等了一会儿（延迟确认），应用恰好在这段时间内关闭{}。\
{fname}在 {} 发出的 ACK（ack={}）是第三个、也是最后一个报文段。{general}",
            tell::ms(g.at),
            waited(a, second, &fin, g, lang),
            tell::at(lang, last.as_ref().map(|f| f.at)),
            g.seq().wrapping_add(g.len()).wrapping_add(1),
        ),
        (_, Some(ack), Lang::En) => format!(
            "Not this time: the {sname} acknowledged the {fname}'s FIN (seq={fseq}, at {fat}) with a segment of its own at \
{} before it sent its FIN, so the close took four segments. {general}",
            tell::ms(ack.at)
        ),
        (_, Some(ack), Lang::Zh) => format!(
            "这次没有：{sname}在发 FIN 之前，先在 {} 单独确认了{fname}的 FIN（seq={fseq}，{fat}），所以挥手用了四个报文段。{general}",
            tell::ms(ack.at)
        ),
        (None, None, _) => lang
            .t(
                "The other side sent no FIN and no ACK of the first.",
                "另一方既没有发 FIN，也没有确认第一个 FIN。",
            )
            .into(),
    };
    (q, text)
}

/// How long `side` held the ACK of `fin` before `its_fin` carried it:
/// the wait between the two frames, and for the kernel its CLOSE_WAIT as
/// sock_diag reported it.
fn waited(a: &Ask<'_>, side: Side, fin: &Frame<'_>, its_fin: &Frame<'_>, lang: Lang) -> String {
    let wait = tell::dur(synack_trace::findings::diff(fin.at, its_fin.at));
    if a.t.is_synack(side) {
        return match lang {
            Lang::En => format!(" ({wait} between the two FINs)"),
            Lang::Zh => format!("（两个 FIN 相隔 {wait}）"),
        };
    }
    let at = tell::entered(lang, a.f.entered(side, State::CloseWait));
    match lang {
        Lang::En => format!(
            " ({wait} between the two FINs; the kernel was in CLOSE_WAIT from {at}, as sock_diag reported)"
        ),
        Lang::Zh => {
            format!("（两个 FIN 相隔 {wait}；sock_diag 报告内核从 {at} 起处于 CLOSE_WAIT）")
        }
    }
}
