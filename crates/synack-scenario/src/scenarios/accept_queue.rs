//! A listener whose application never calls accept(): handshakes still
//! complete, the accept queue fills, and then the third ACK is dropped.

use std::net::SocketAddr;
use std::time::Duration;

use synack_engine::sim::{Fault, Side};
use synack_engine::{Config, Event, State};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd};
use synack_trace::findings::Kind;

use crate::common::no_tune;
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "accept-queue",
    about: "Nobody calls accept(): handshakes complete, the accept queue fills, then the third ACK is dropped",
    server_role: false,
    closer: false,
    tune,
    faults: no_faults,
    sim,
    linux,
    answer,
};

/// The listener's backlog.
const BACKLOG: u32 = 1;
/// The second listener's port, with `tcp_abort_on_overflow=1`.
const ABORT_PORT: u16 = 81;
/// Clients, one more than either queue holds.
const CLIENTS: u16 = 3;

fn no_faults(_: &Options) -> Vec<Fault> {
    Vec::new()
}

fn tune(o: &Options, a: &mut Config, b: &mut Config) {
    no_tune(o, a, b);
    b.accept_backlog = Some(BACKLOG);
}

fn client(c: SocketAddr, k: u16) -> SocketAddr {
    SocketAddr::new(c.ip(), c.port().wrapping_add(k))
}

/// The first client completes alone; the others' SYNs arrive together,
/// before any of their ACKs, so each is answered while the queue has room
/// and the last ACK finds it full.
fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.listen(s)?;
    r.connect(c, s)?;
    r.run_until(|p| p.has_event(Side::A, Event::Connected));
    for k in 1..CLIENTS {
        r.connect(client(c, k), s)?;
    }
    r.run_until(|p| SimRun::count(p, Side::A, Event::Connected) >= usize::from(CLIENTS));
    // Long enough for the server to send its SYN-ACK again.
    let at = r.pair.now + Duration::from_millis(1500);
    r.advance_to(at);
    Ok(())
}

fn linux(run: &mut KernelRun, _: &Options) -> Result<Keep, NetError> {
    let l = run.listen_with_backlog(BACKLOG as i32)?;
    run.note("application", "never calls accept()");
    run.read_sysctl("net/ipv4/tcp_abort_on_overflow");
    let first = run
        .d
        .ep
        .connect(run.d.now(), run.ours, run.theirs)
        .map_err(cmd)?;
    run.connected(first)?;
    let mut others = Vec::new();
    for k in 1..CLIENTS {
        let from = client(run.ours, k);
        others.push(
            run.d
                .ep
                .connect(run.d.now(), from, run.theirs)
                .map_err(cmd)?,
        );
    }
    for h in others {
        run.connected(h)?;
    }
    // The kernel's SYN-ACK timer for the dropped ACK: about a second.
    run.wait(SEC * 3 / 2)?;
    // The same again on a second listener, with tcp_abort_on_overflow=1:
    // the ACK that finds the queue full is answered with a RST.
    run.sysctl("net/ipv4/tcp_abort_on_overflow", "1")?;
    let at = SocketAddr::new(run.theirs.ip(), ABORT_PORT);
    let l2 = run.listen_on(at, BACKLOG as i32)?;
    for k in CLIENTS..2 * CLIENTS {
        let h = run
            .d
            .ep
            .connect(run.d.now(), client(run.ours, k), at)
            .map_err(cmd)?;
        if k == CLIENTS {
            run.connected(h)?;
        }
    }
    run.until(5 * SEC, |d| d.has_event(Event::Reset))?;
    Ok((vec![l, l2], vec![]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    // A client whose handshake the server did not finish: it sent its ACK,
    // yet the server sent its SYN-ACK again.
    let schedules = a.f.schedules(Side::B, Kind::SynAck);
    let repeated: Vec<_> = schedules
        .iter()
        .filter(|s| s.sends.len() > 1 && s.src == t.server)
        .collect();
    let dropped = repeated.len();
    let completed = usize::from(CLIENTS).saturating_sub(dropped);
    let again = repeated
        .first()
        .and_then(|s| s.retransmissions().first().copied());
    let again = tell::at(lang, again);
    let client_up = tell::entered(
        lang,
        a.f.entered_nth(Side::A, State::Established, None, usize::from(CLIENTS) - 1),
    );
    let queue = t
        .kernel
        .iter()
        .filter(|o| o.local == t.server)
        .filter_map(|o| o.queue)
        .max()
        .map_or_else(
        || match lang {
            Lang::En => format!("backlog {BACKLOG}, synack's listener"),
            Lang::Zh => format!("backlog {BACKLOG}，synack 的监听者"),
        },
        |(q, b)| match lang {
            Lang::En => format!(
                "at most {q} waiting with backlog {b}, as sock_diag reported them: Recv-Q {q}, Send-Q {b} in ss -lnt"
            ),
            Lang::Zh => format!(
                "sock_diag 报告最多 {q} 个在等待，backlog 为 {b}：即 ss -lnt 的 Recv-Q {q}、Send-Q {b}"
            ),
        },
    );
    let overflow = abort_on_overflow(a);
    let defaults = if t.is_synack(Side::B) {
        String::new()
    } else {
        crate::syn_schedule::synack_defaults(t, lang)
    };
    let q = a.q(
        "Can a connection be established without accept()? What happens when the accept queue is full?",
        "不调用 accept() 连接能建立吗？全连接队列满了会怎样？",
    );
    let text = match lang {
        Lang::En => format!(
            "Yes: the handshake is the kernel's work, not the application's. The listener's application never called \
accept(), yet {completed} of {CLIENTS} handshakes completed and waited in the accept queue ({queue}). For {dropped} more the \
queue had no room: their clients believed themselves connected (the last at {client_up}) because they had sent their ACK, \
but the server dropped that ACK and kept the connection half-open; its timer sent the SYN-ACK again (first at {again}) and \
the client acknowledged it once more.{defaults} {overflow}"
        ),
        Lang::Zh => format!(
            "能：握手由内核完成，而不是应用。监听套接字的应用从未调用 accept()，但 {CLIENTS} 次握手中有 {completed} 次完成，并在全连接队列中等待\
（{queue}）。另外 {dropped} 个连接遇到队列已满：客户端已发出 ACK，认为连接已建立（最后一个在 {client_up}），服务器却丢弃了这个 ACK，\
让连接保持半连接；它的定时器重传 SYN-ACK（第一次在 {again}），客户端再次确认。{defaults}{overflow}"
        ),
    };
    (q, text)
}

/// The second listener's part: with `tcp_abort_on_overflow=1` the ACK that
/// finds the queue full gets a RST. Said only as the run showed it.
fn abort_on_overflow(a: &Ask<'_>) -> String {
    let (t, lang) = (a.t, a.lang);
    let rst = t
        .frames(Side::B)
        .find(|f| f.flags().rst() && f.src().port() == ABORT_PORT);
    let set = t
        .setting("net.ipv4.tcp_abort_on_overflow")
        .map(|s| (s.value.as_str(), s.default.as_deref().unwrap_or("?")));
    match (rst, set, lang) {
        (Some(f), Some((v, d)), Lang::En) => format!(
            "Then the lab set tcp_abort_on_overflow={v} (default {d}) and did the same against a second listener (port \
{ABORT_PORT}, backlog {BACKLOG}): the ACK that found its queue full was answered at {} with a RST (seq={}), and that \
client's connection, which it believed established, was reset (ECONNRESET).",
            tell::ms(f.at),
            f.seq()
        ),
        (Some(f), Some((v, d)), Lang::Zh) => format!(
            "随后实验环境把 tcp_abort_on_overflow 设为 {v}（默认 {d}），对第二个监听套接字（端口 {ABORT_PORT}，backlog {BACKLOG}）\
重复一遍：遇到队列已满的那个 ACK 在 {} 得到 RST（seq={}），客户端以为已建立的连接被复位（ECONNRESET）。",
            tell::ms(f.at),
            f.seq()
        ),
        (_, _, Lang::En) => "With tcp_abort_on_overflow=1 Linux answers that ACK with a RST instead (--peer linux \
shows it)."
            .into(),
        (_, _, Lang::Zh) => "当 tcp_abort_on_overflow=1 时，Linux 会改为用 RST 回答这个 ACK（--peer linux 可以看到）。".into(),
    }
}
