//! Spoofed SYNs fill the SYN queue; a real client gets in with a SYN cookie.

use std::net::{IpAddr, SocketAddr};

use synack_engine::sim::{Fault, Side};
use synack_engine::{Action, Config, Note, State, SynCookies};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC};
use synack_wire::TcpFlags;

use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "syn-flood",
    about: "Spoofed SYNs fill the SYN queue; a real client gets in with a SYN cookie",
    server_role: false,
    closer: false,
    tune,
    faults,
    sim,
    linux,
    answer,
};

/// The SYN queue of the simulated listener, and the kernel listener's backlog.
const BACKLOG: u32 = 4;

/// Where the spoofed SYNs come from; nothing answers there. On the lab's
/// subnet for the kernel, so its answers reach the device (and are dropped).
fn spoofed(o: &Options, kernel: bool) -> IpAddr {
    match (o.client.is_ipv6(), kernel) {
        (false, false) => IpAddr::from([198, 18, 0, 66]),
        (false, true) => IpAddr::from([10, 77, 0, 66]),
        (true, false) => IpAddr::from([0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 0x66]),
        (true, true) => IpAddr::from([0xfd77, 0, 0, 0, 0, 0, 0, 0x66]),
    }
}

fn tune(_: &Options, _: &mut Config, b: &mut Config) {
    b.syn_backlog = BACKLOG;
    b.syn_cookies = SynCookies::WhenFull;
}

fn faults(o: &Options) -> Vec<Fault> {
    vec![Fault::Blackhole {
        ip: spoofed(o, false),
    }]
}

fn spoofed_syn(
    cfg: &Config,
    from: IpAddr,
    to: SocketAddr,
    i: u16,
) -> Result<Vec<u8>, synack_wire::WireError> {
    let from = SocketAddr::new(from, 20_000 + i * 7);
    synack_engine::forge(
        cfg,
        from,
        to,
        TcpFlags::SYN,
        0x5eed_0000 + u32::from(i) * 977,
    )
}

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.listen(s)?;
    let cfg = r.pair.a.config().clone();
    for i in 0..BACKLOG as u16 {
        let syn = spoofed_syn(&cfg, spoofed(r.o, false), s, i).map_err(crate::sim::err)?;
        let now = r.pair.now;
        r.pair.link.send(now, Side::A, &syn);
    }
    let at = r.pair.now + r.o.delay * 3;
    r.advance_to(at);
    r.connect(c, s)?;
    r.run_until(SimRun::both_up);
    Ok(())
}

fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    // Without a per-connection offset the cookie's option bits show.
    run.sysctl("net/ipv4/tcp_timestamps", "2")?;
    let l = run.listen_with_backlog(BACKLOG as i32)?;
    let from = spoofed(o, true);
    run.d.faults.push(synack_net::Fault::Blackhole(from));
    // One more than the backlog: Linux calls the queue full only when it
    // holds more than the backlog.
    let cfg = run.d.ep.config().clone();
    for i in 0..=BACKLOG as u16 {
        let syn = spoofed_syn(&cfg, from, run.theirs, i).map_err(NetError::Emit)?;
        run.d.inject(&syn)?;
    }
    run.wait(SEC / 10)?;
    let ours = run.ours;
    let (_, s) = run.open(ours, &l)?;
    Ok((vec![l], vec![s]))
}

/// What both kinds of listener show: the spoofed SYNs, the SYN-ACK to the
/// real client, when it was ESTABLISHED.
struct Seen<'a> {
    spoofed_syns: usize,
    to_client: Option<synack_trace::Frame<'a>>,
    iss: String,
    back: String,
    up: String,
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let u = || tell::unknown(lang);
    let q = a.q(
        "What does a SYN flood do, and how do SYN cookies help?",
        "SYN 洪泛攻击做了什么？SYN cookie 如何应对？",
    );
    let to_client = t
        .frames(Side::B)
        .find(|f| f.flags().syn() && f.dst() == t.client);
    let iss = to_client.as_ref().map(|f| f.seq());
    let seen = Seen {
        spoofed_syns: t
            .frames(Side::A)
            .filter(|f| f.flags() == TcpFlags::SYN && f.src().ip() != t.client.ip())
            .count(),
        iss: iss.map_or_else(u, |v| v.to_string()),
        back: iss.map_or_else(u, |v| v.wrapping_add(1).to_string()),
        up: tell::entered(lang, a.f.entered(Side::B, State::Established)),
        to_client,
    };
    let text = if t.is_synack(Side::B) {
        engine_listener(a, &seen)
    } else {
        kernel_listener(a, &seen)
    };
    (q, text)
}

/// The kernel's listener: its request sockets and its cookie, as observed.
fn kernel_listener(a: &Ask<'_>, seen: &Seen<'_>) -> String {
    let (t, lang) = (a.t, a.lang);
    let u = || tell::unknown(lang);
    let Seen {
        spoofed_syns,
        to_client,
        iss: iss_s,
        back,
        up,
    } = seen;
    let half_open = a.f.kernel_half_open(t.client);
    let queued = {
        let mut v: Vec<SocketAddr> = t
            .kernel
            .iter()
            .filter(|o| o.state == "SYN_RECV" && o.remote != t.client)
            .map(|o| o.remote)
            .collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    let tsval = to_client
        .as_ref()
        .and_then(|f| f.seg.tcp.options.timestamps)
        .map(|x| x.0);
    let bits = tsval.map_or_else(u, |v| format!("{:#04x}", v & 0x3f));
    let (ws, sack, ecn) = tsval.map_or((None, false, false), synack_engine::cookie::unpack_options);
    let ws = ws.map_or_else(|| lang.t("none", "无").to_string(), |w| w.to_string());
    let yn = |b: bool| {
        if b {
            lang.t("yes", "是")
        } else {
            lang.t("no", "否")
        }
    };
    let tsval = tsval.map_or_else(u, |v| v.to_string());
    let lab = tell::changed_settings(t, lang);
    let cookie = if half_open {
        lang.t(
            "The kernel did keep a SYN_RECV socket for our SYN, so this was not a cookie answer.",
            "内核为我们的 SYN 保留了 SYN_RECV 套接字，所以这次不是 cookie 应答。",
        )
    } else {
        lang.t(
            "sock_diag showed no SYN_RECV socket for us at any point: the kernel kept no state, the mark of a SYN cookie.",
            "sock_diag 在任何时刻都没有显示为我们建立的 SYN_RECV 套接字：内核没有保存状态，这正是 SYN cookie 的特征。",
        )
    };
    match lang {
        Lang::En => format!(
            "{spoofed_syns} SYNs from a spoofed address reached the kernel listener (listen backlog {BACKLOG}); it held \
{queued} of them as SYN_RECV request sockets and their SYN-ACKs went nowhere. Its SYN-ACK to us carried ISS {iss_s}. {cookie} \
A Linux cookie ISS is computed from the 4-tuple, our ISN, a minute counter and the MSS index (net/ipv4/syncookies.c). With \
timestamps on and no per-connection offset, the low six bits of its TSval {tsval} ({bits}) carry what the cookie cannot: window \
scale {ws}, SACK {}, ECN {}. Our ACK returned ISS + 1 = {back}, and the kernel had the connection ESTABLISHED at {up}.{lab}",
            yn(sack),
            yn(ecn)
        ),
        Lang::Zh => format!(
            "来自伪造地址的 {spoofed_syns} 个 SYN 到达了内核的监听套接字（listen backlog {BACKLOG}）；内核把其中 {queued} 个作为 SYN_RECV 请求套接字保存，\
它们的 SYN-ACK 无人接收。内核给我们的 SYN-ACK 的 ISS 是 {iss_s}。{cookie}Linux 的 cookie ISS 由四元组、我们的 ISN、分钟计数和 MSS 档位算出（net/ipv4/syncookies.c）。\
时间戳开启且没有逐连接偏移时，TSval {tsval} 的低六位（{bits}）携带了 cookie 装不下的选项：窗口扩大移位数 {ws}、SACK {}、ECN {}。\
我们的 ACK 带回 ISS + 1 = {back}，内核在 {up} 让连接进入 ESTABLISHED。{lab}",
            yn(sack),
            yn(ecn)
        ),
    }
}

/// synack's listener: its own record of the SYN queue and the cookie.
fn engine_listener(a: &Ask<'_>, seen: &Seen<'_>) -> String {
    let (t, lang) = (a.t, a.lang);
    let u = || tell::unknown(lang);
    let Seen {
        spoofed_syns,
        iss: iss_s,
        back,
        up,
        ..
    } = seen;
    let cookie = t.steps.iter().find_map(|(s, st)| match st.action {
        Action::Note(Note::SynCookieSent {
            syn_queue,
            backlog,
            mss,
        }) if *s == Side::B => Some((syn_queue, backlog, mss)),
        _ => None,
    });
    let (qn, backlog, mss) = cookie.map_or_else(
        || (u(), u(), u()),
        |(q, b, m)| (q.to_string(), b.to_string(), m.to_string()),
    );
    match lang {
        Lang::En => format!(
            "{spoofed_syns} SYNs from a spoofed address filled the listener's SYN queue ({qn}/{backlog}): each made a half-open \
connection in SYN-RECEIVED whose SYN-ACK went nowhere and will be retransmitted until it times out. Without cookies the \
real client's SYN would have been dropped. Instead the listener answered it statelessly (rule 43): the SYN-ACK's ISS {iss_s} \
is a cookie that encodes a time counter, the MSS ({mss}) and a keyed hash of the 4-tuple; nothing was stored and that SYN-ACK \
is never retransmitted. The client's ACK returned ISS + 1 = {back}; the listener checked the hash and age, rebuilt the \
connection from it and accepted it at {up}. What a cookie cannot hold (window scale, SACK) survives only if both sides use \
timestamps."
        ),
        Lang::Zh => format!(
            "来自伪造地址的 {spoofed_syns} 个 SYN 塞满了监听者的半连接队列（{qn}/{backlog}）：每个都在 SYN-RECEIVED 中留下一个半连接，\
它的 SYN-ACK 无人接收，会一直重传到超时。没有 SYN cookie 的话，真正客户端的 SYN 会被丢弃。监听者改为无状态应答（规则 43）：\
SYN-ACK 的 ISS {iss_s} 就是 cookie，编码了时间计数、MSS（{mss}）和四元组的带密钥哈希；不保存任何状态，这个 SYN-ACK 也永不重传。\
客户端的 ACK 带回 ISS + 1 = {back}；监听者校验哈希和时效，据此重建连接，并在 {up} 接受了它。cookie 装不下的选项（窗口扩大、SACK）只有在双方都使用时间戳时才能保留。"
        ),
    }
}
