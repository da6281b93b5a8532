//! Handshake, then the four-way close and TIME-WAIT.

use std::io::Read;

use synack_engine::sim::Side;
use synack_engine::{Event, State};
use synack_explain::{Answer, Lang, side_name};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd};

use crate::common::{kernel_connects_to_us, no_faults, no_tune, synack_connects};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "close",
    about: "Handshake, then the four-way close and TIME-WAIT",
    server_role: true,
    closer: true,
    tune: no_tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (client, server) = r.handshake()?;
    let (first, second) = match r.o.closer {
        Side::A => ((Side::A, client), (Side::B, server)),
        Side::B => ((Side::B, server), (Side::A, client)),
    };
    let now = r.pair.now;
    r.pair
        .endpoint(first.0)
        .close(now, first.1)
        .map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(second.0, Event::PeerClosed));
    let now = r.pair.now;
    r.pair
        .endpoint(second.0)
        .close(now, second.1)
        .map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::A, Event::Closed) && p.has_event(Side::B, Event::Closed));
    Ok(())
}

fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    if o.synack_side == Side::B {
        return kernel_client(run, o.closer == Side::A);
    }
    let (h, l, s) = synack_connects(run)?;
    let ours = run.ours;
    if o.closer == Side::B {
        // The kernel closes first, so the kernel holds TIME_WAIT.
        drop(s);
        run.d.after_call("close()");
        run.until(5 * SEC, |d| d.has_event(Event::PeerClosed))?;
        let now = run.d.now();
        run.d.ep.close(now, h).map_err(cmd)?;
        run.until(5 * SEC, |d| d.has_event(Event::Closed))?;
        run.until_kernel(5 * SEC, ours, Some("TIME_WAIT"))?;
        return Ok((vec![l], vec![]));
    }
    let now = run.d.now();
    run.d.ep.close(now, h).map_err(cmd)?;
    run.until_kernel(5 * SEC, ours, Some("CLOSE_WAIT"))?;
    drop(s);
    run.d.after_call("close()");
    run.until_kernel(5 * SEC, ours, None)?;
    run.until(5 * SEC, |d| {
        d.ep.connection(h)
            .is_some_and(|c| c.state() == State::TimeWait)
    })?;
    Ok((vec![l], vec![]))
}

/// The kernel is the client; `kernel_first`: it closes before synack.
fn kernel_client(run: &mut KernelRun, kernel_first: bool) -> Result<Keep, NetError> {
    let (client, h) = kernel_connects_to_us(run, move |mut c| {
        if !kernel_first {
            let mut rest = Vec::new();
            c.read_to_end(&mut rest)?;
        }
        Ok(())
    })?;
    let Some(h) = h else {
        client.finish(run, 5 * SEC)?;
        return Ok((vec![], vec![]));
    };
    if !kernel_first {
        let now = run.d.now();
        run.d.ep.close(now, h).map_err(cmd)?;
    }
    run.until(5 * SEC, |d| d.has_event(Event::PeerClosed))?;
    if kernel_first {
        let now = run.d.now();
        run.d.ep.close(now, h).map_err(cmd)?;
        run.until(5 * SEC, |d| d.has_event(Event::Closed))?;
    } else {
        run.until(5 * SEC, |d| {
            d.ep.connection(h)
                .is_some_and(|c| c.state() == State::TimeWait)
        })?;
    }
    client.finish(run, 5 * SEC)?;
    Ok((vec![], vec![]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    // Who closed first: whoever sent the first FIN.
    let first = t
        .all_frames()
        .find(|f| f.flags().fin())
        .map_or(Side::A, |f| f.from);
    let second = first.other();
    let (fname, sname) = (side_name(first, lang), side_name(second, lang));
    let wait = tell::time_wait(a, first);
    let q = a.q(
        "Why does closing take four segments, and why TIME-WAIT?",
        "为什么挥手是四次？为什么要有 TIME-WAIT？",
    );
    let text = match lang {
        Lang::En => format!(
            "Each direction is closed on its own: the {fname}'s FIN only says \"I will send no more\"; the {sname} acknowledges \
it and may keep sending, then closes its own direction with its FIN, so a FIN and an ACK cross twice. The side that closed \
first waits in TIME-WAIT for 2·MSL ({wait}): if the last ACK is lost, the peer re-sends its FIN and it can be \
acknowledged again, and old segments of this connection die out before the same 4-tuple is reused."
        ),
        Lang::Zh => format!(
            "两个方向要分别关闭：{fname}的 FIN 只表示“我不再发送了”，{sname}确认它之后仍可继续发送；等{sname}也发完，再用自己的 FIN 关闭另一个方向，\
所以 FIN 和 ACK 各走两趟。先关闭的一方要在 TIME-WAIT 中等待 2MSL（{wait}）：万一最后的 ACK 丢了，对方会重传 FIN，\
还能再确认一次；同时让这个连接的旧报文段在网络中消失，再复用同一个四元组。"
        ),
    };
    (q, text)
}
