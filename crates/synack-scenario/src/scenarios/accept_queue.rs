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
    Ok((Some(l), vec![]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    // A client whose handshake the server did not finish: it sent its ACK,
    // yet the server sent its SYN-ACK again.
    let schedules = a.f.schedules(Side::B, Kind::SynAck);
    let repeated: Vec<_> = schedules.iter().filter(|s| s.sends.len() > 1).collect();
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
    let queue = t.kernel.iter().filter_map(|o| o.queue).max().map_or_else(
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
    let rst = t.frames(Side::B).any(|f| f.flags().rst());
    let overflow = match (lang, rst, tell::sysctl(t, "net.ipv4.tcp_abort_on_overflow")) {
        (Lang::En, true, _) => "Here the server answered with a RST instead.".to_string(),
        (Lang::Zh, true, _) => "本例中服务器改为回复 RST。".to_string(),
        (Lang::En, false, Some(v)) => format!(
            "Linux answers with a RST instead when tcp_abort_on_overflow is 1; here it is {v}."
        ),
        (Lang::Zh, false, Some(v)) => {
            format!("当 tcp_abort_on_overflow 为 1 时，Linux 会改为回复 RST；本例为 {v}。")
        }
        (Lang::En, false, None) => {
            "Linux answers with a RST instead when tcp_abort_on_overflow is 1.".to_string()
        }
        (Lang::Zh, false, None) => {
            "当 tcp_abort_on_overflow 为 1 时，Linux 会改为回复 RST。".to_string()
        }
    };
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
