//! Handshake, then a request and a response.

use std::io::{Read, Write};

use synack_engine::sim::Side;
use synack_engine::{ConnHandle, Event};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd, io};

use crate::common::{
    REQUEST, RESPONSE, kernel_connects_to_us, no_faults, no_tune, read_kernel, synack_connects,
};
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "data",
    about: "Handshake, then a request and a response",
    server_role: true,
    closer: false,
    tune: no_tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

/// Handshake, request, response on the simulated link.
pub fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (h, _) = r.handshake()?;
    let now = r.pair.now;
    r.pair.a.send(now, h, REQUEST).map_err(crate::sim::err)?;
    r.run_until(|p| p.has_event(Side::B, Event::Readable));
    r.exchange()
}

fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    if o.synack_side == Side::B {
        return kernel_client(run);
    }
    let (h, l, mut s) = synack_connects(run)?;
    let now = run.d.now();
    run.d.ep.send(now, h, REQUEST).map_err(cmd)?;
    read_kernel(run, &mut s, REQUEST.len())?;
    s.write_all(RESPONSE).map_err(io)?;
    run.until(5 * SEC, |d| d.has_event(Event::Readable))?;
    Ok((vec![l], vec![s]))
}

/// The kernel's application sends the request and reads the response;
/// synack, the server, answers it.
pub fn kernel_client(run: &mut KernelRun) -> Result<Keep, NetError> {
    let (client, h) = kernel_connects_to_us(run, |mut c| {
        c.write_all(REQUEST)?;
        let mut b = vec![0u8; RESPONSE.len()];
        c.read_exact(&mut b)
    })?;
    if let Some(h) = h {
        answer_request(run, h)?;
    }
    client.finish(run, 5 * SEC)?;
    Ok((vec![], vec![]))
}

fn answer_request(run: &mut KernelRun, h: ConnHandle) -> Result<(), NetError> {
    run.until(5 * SEC, |d| {
        d.ep.connection(h)
            .is_some_and(|c| c.readable() >= REQUEST.len())
    })?;
    let mut b = [0u8; 256];
    let _ = run.d.ep.recv(h, &mut b);
    let now = run.d.now();
    run.d.ep.send(now, h, RESPONSE).map_err(cmd)?;
    Ok(())
}

fn answer(a: &Ask<'_>) -> Answer {
    let lang = a.lang;
    let part = |side: Side| match a.f.first_data(side) {
        Some((seq, len, at)) => {
            let ack = seq.wrapping_add(len);
            let by = a.f.acked_by(side.other(), ack, at).map(|f| f.at);
            (
                seq.to_string(),
                len.to_string(),
                ack.to_string(),
                tell::at(lang, by),
            )
        }
        None => {
            let u = tell::unknown(lang);
            (u.clone(), u.clone(), u.clone(), u)
        }
    };
    let (cs, cl, ca, cat) = part(Side::A);
    let (ss, sl, sa, sat) = part(Side::B);
    let q = a.q(
        "How do seq and ack move once data flows?",
        "开始传数据以后，seq 和 ack 怎么变化？",
    );
    let text = match lang {
        Lang::En => format!(
            "Data uses sequence numbers byte by byte: the client's {cl}-byte request starts at seq={cs} and is acknowledged \
with ack={ca} = {cs} + {cl} (at {cat}); the server's {sl}-byte response starts at seq={ss} and is acknowledged with \
ack={sa} = {ss} + {sl} (at {sat}). The ack field always names the next byte expected."
        ),
        Lang::Zh => format!(
            "数据按字节占用序列号：客户端的 {cl} 字节请求从 seq={cs} 开始，服务器用 ack={ca} = {cs} + {cl} 确认（在 {cat}）；\
服务器的 {sl} 字节响应从 seq={ss} 开始，客户端用 ack={sa} = {ss} + {sl} 确认（在 {sat}）。确认号总是指向期望收到的下一个字节。"
        ),
    };
    (q, text)
}
