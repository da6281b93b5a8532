//! ISNs of several connections: unpredictable across tuples, clocked within one.

use std::net::SocketAddr;

use synack_engine::sim::Side;
use synack_engine::{Config, Instant, IsnMode};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd};
use synack_trace::findings::diff;

use crate::common::no_faults;
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "isn",
    about: "ISNs of several connections: unpredictable across tuples, clocked within one",
    server_role: false,
    closer: false,
    tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

/// RFC 6528 ISNs whatever `--isn` says: they are the subject.
fn tune(o: &Options, a: &mut Config, b: &mut Config) {
    for (side, c) in [(Side::A, a), (Side::B, b)] {
        c.isn = IsnMode::Rfc6528 {
            key: crate::sim::secrets(o.seed, side).0,
        };
    }
}

fn next(a: SocketAddr, k: u16) -> SocketAddr {
    SocketAddr::new(a.ip(), a.port().wrapping_add(k))
}

/// Two 4-tuples, three rounds one second apart; each connection is aborted
/// before the next round reuses its tuple.
fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.listen(s)?;
    for round in 0..3u64 {
        r.advance_to(Instant::from_millis(round * 1000));
        for k in 0..2 {
            let h = r.connect(next(c, k), s)?;
            r.run_until(|p| p.events.iter().any(|e| e.conn == h && e.side == Side::A));
            let now = r.pair.now;
            r.pair.a.abort(now, h).map_err(crate::sim::err)?;
            let at = r.pair.now + r.o.delay * 2;
            r.advance_to(at);
        }
    }
    Ok(())
}

/// The same against the kernel, half a second apart.
fn linux(run: &mut KernelRun, _: &Options) -> Result<Keep, NetError> {
    let l = run.listen()?;
    let start = run.d.elapsed();
    for round in 0..3u32 {
        let at = start + SEC * round / 2;
        run.wait(at.saturating_sub(run.d.elapsed()))?;
        for k in 0..2u16 {
            let from = next(run.ours, k);
            let h = run
                .d
                .ep
                .connect(run.d.now(), from, run.theirs)
                .map_err(cmd)?;
            run.connected(h)?;
            let _ = l.accept();
            run.d.ep.abort(run.d.now(), h).map_err(cmd)?;
            run.d.flush()?;
        }
    }
    Ok((vec![l], vec![]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    // The subject is the listener's answer for the kernel, the client's
    // SYNs for synack (both are synack's in the simulator).
    let side = if t.is_synack(Side::A) {
        Side::A
    } else {
        Side::B
    };
    let isns: Vec<(SocketAddr, Instant, u32)> = t
        .frames(side)
        .filter(|f| f.flags().syn())
        .map(|f| {
            (
                if side == Side::A { f.src() } else { f.dst() },
                f.at,
                f.seq(),
            )
        })
        .collect();
    let first_two = tell::list(lang, isns.iter().take(2).map(|x| x.2.to_string()));
    let tuple0 = isns.first().map(|x| x.0);
    let same: Vec<&(SocketAddr, Instant, u32)> =
        isns.iter().filter(|x| Some(x.0) == tuple0).collect();
    let steps: Vec<String> = same
        .windows(2)
        .map(|w| {
            let d = w[1].2.wrapping_sub(w[0].2);
            let dt = diff(w[0].1, w[1].1);
            let per = dt.as_nanos() as f64 / f64::from(d.max(1));
            match lang {
                Lang::En => format!(
                    "{} − {} = {d} in {} ({per:.1} ns per step)",
                    w[1].2,
                    w[0].2,
                    tell::dur(dt)
                ),
                Lang::Zh => format!(
                    "{} − {} = {d}，用时 {}（每步 {per:.1} 纳秒）",
                    w[1].2,
                    w[0].2,
                    tell::dur(dt)
                ),
            }
        })
        .collect();
    let steps = tell::list(lang, steps);
    let whose = crate::tell::isn_origin(t, side, lang);
    let who = synack_explain::side_name(side, lang);
    let q = a.q(
        "Why are ISNs unpredictable, yet increasing?",
        "为什么 ISN 既不可预测，又会递增？",
    );
    let text = match lang {
        Lang::En => format!(
            "The {who}'s ISNs here come from {whose}. Two tuples opened at nearly the same moment got {first_two}: unrelated, \
because the hash differs per tuple and nobody without the key can compute it, so an off-path attacker cannot guess the \
next ISN. On one tuple the hash stays the same, so its ISNs follow the clock: {steps}. A new incarnation of a 4-tuple thus \
starts above the old one's sequence numbers, which keeps old duplicates from being taken as new data."
        ),
        Lang::Zh => format!(
            "这里{who}的 ISN 来自{whose}。几乎同时打开的两个四元组得到 {first_two}：毫无关联，因为每个四元组的哈希不同，没有密钥就算不出来，\
所以路径之外的攻击者猜不到下一个 ISN。同一个四元组的哈希不变，它的 ISN 随时钟增长：{steps}。这样同一四元组的新连接总是从高于旧连接的序列号开始，\
旧的重复报文段不会被当作新数据。"
        ),
    };
    (q, text)
}
