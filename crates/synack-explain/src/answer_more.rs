//! The closing answers of the scenarios in `more`, from the trace's numbers.

use synack_engine::sim::Side;
use synack_engine::{Action, Cause, Event, Note, SegInfo, State, Step};

use crate::scenario::{Scenario, Trace};
use crate::words::Lang;

use crate::answer::ms;

fn steps(t: &Trace, side: Side) -> impl Iterator<Item = &Step> {
    t.steps
        .iter()
        .filter(move |(s, _)| *s == side)
        .map(|(_, st)| st)
}

/// Segments `side` sent, in order.
fn sent(t: &Trace, side: Side) -> impl Iterator<Item = (&Step, &SegInfo)> {
    steps(t, side).filter_map(|s| match &s.cause {
        Cause::Sent(g) => Some((s, g)),
        _ => None,
    })
}

/// What `side` put on the link, parsed: both peers, simulated or the kernel.
fn wire(
    t: &Trace,
    side: Side,
) -> impl Iterator<Item = (synack_engine::Instant, synack_wire::Segment<'_>)> {
    t.link
        .iter()
        .filter(move |r| r.from == side)
        .filter_map(|r| {
            synack_wire::parse_segment(&r.bytes, false)
                .ok()
                .map(|p| (r.sent_at, p))
        })
}

fn is_kernel(t: &Trace, side: Side) -> bool {
    crate::timeline::kernel_side(t) == Some(side)
}

/// When the server entered `state`: from its steps, or for the kernel from
/// the states /proc reported (Linux's name).
fn server_at(t: &Trace, state: State, linux: &str) -> Option<String> {
    if is_kernel(t, Side::B) {
        return t
            .kernel_states
            .iter()
            .find(|k| k.state == linux)
            .map(|k| ms(k.at));
    }
    entered(t, Side::B, state).map(|s| ms(s.at))
}

/// When the server saw `ev`: its event, or for the kernel the /proc state.
fn server_event(t: &Trace, ev: Event, linux: &str) -> Option<String> {
    if is_kernel(t, Side::B) {
        return t
            .kernel_states
            .iter()
            .find(|k| k.state == linux)
            .map(|k| ms(k.at));
    }
    event_at(t, Side::B, ev)
}

fn entered(t: &Trace, side: Side, state: State) -> Option<&Step> {
    steps(t, side).find(|s| s.after.state == state && s.before.state != state)
}

fn note_at(t: &Trace, side: Side, f: impl Fn(Note) -> bool) -> Option<&Step> {
    steps(t, side).find(|s| matches!(s.action, Action::Note(n) if f(n)))
}

fn event_at(t: &Trace, side: Side, ev: Event) -> Option<String> {
    t.events
        .iter()
        .find(|e| e.side == side && e.event == ev)
        .map(|e| ms(e.at))
}

/// The first two ISNs, "a and b".
fn first_two(isns: impl Iterator<Item = u32>, zh: bool) -> String {
    isns.take(2)
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(if zh { " 和 " } else { " and " })
}

pub fn answer(t: &Trace, lang: Lang) -> (String, String) {
    let zh = lang == Lang::Zh;
    let pick = |en: String, cn: String| if zh { cn } else { en };
    let q = |en: &str, cn: &str| if zh { cn.to_string() } else { en.to_string() };
    let unknown = || "?".to_string();
    match t.scenario {
        Scenario::SimultaneousOpen => {
            let (a, b) = (
                entered(t, Side::A, State::Established).map_or_else(unknown, |s| ms(s.at)),
                server_at(t, State::Established, "ESTABLISHED").unwrap_or_else(unknown),
            );
            let n = t.link.len();
            let c = t.client_isn;
            let s = t.server_isn.map_or_else(unknown, |v| v.to_string());
            (
                q(
                    "What if both sides open at once?",
                    "如果双方同时发起连接呢？",
                ),
                pick(
                    format!(
                        "Both sent a SYN before seeing the other's (ISNs {c} and {s}). Each, in SYN-SENT, took the other's SYN as \
the start of a simultaneous open (rule 6): it moved to SYN-RECEIVED and answered with a SYN-ACK repeating its own ISN. Each \
SYN-ACK then acknowledged the other's ISN + 1, so both reached ESTABLISHED ({a} and {b}) after {n} segments instead of three, \
and neither side was ever a listener. RFC 9293 Fig. 7 shows the same exchange; the ISNs still do their job: each side \
learned the other's and saw its own acknowledged."
                    ),
                    format!(
                        "双方都在看到对方的 SYN 之前发出了自己的 SYN（ISN 分别为 {c} 和 {s}）。处于 SYN-SENT 的每一方都把对方的 SYN 当作同时打开（规则 6）：\
进入 SYN-RECEIVED，并用重复自己 ISN 的 SYN-ACK 应答。每个 SYN-ACK 都确认了对方的 ISN + 1，于是双方分别在 {a} 和 {b} 进入 ESTABLISHED，\
共用了 {n} 个报文段而不是三个，而且没有任何一方处于监听状态。这就是 RFC 9293 图 7；ISN 照样起作用：每一方都得知了对方的 ISN，也看到自己的被确认。"
                    ),
                ),
            )
        }
        Scenario::OldDuplicate => {
            let old = wire(t, Side::A).find(|(_, p)| {
                p.tcp.flags == synack_wire::TcpFlags::SYN && p.tcp.seq.get() != t.client_isn
            });
            let old_seq = old.map_or(0, |(_, p)| p.tcp.seq.get());
            let ghost = wire(t, Side::B).find(|(_, p)| p.tcp.flags.syn());
            let ghost_at = ghost.map_or_else(unknown, |(at, _)| ms(at));
            let veto = sent(t, Side::A).find(|(_, g)| g.flags.rst());
            let (veto_seq, veto_at) = veto.map_or((0, unknown()), |(s, g)| (g.seq.get(), ms(s.at)));
            let back = steps(t, Side::B)
                .find(|s| {
                    s.before.state == State::SynReceived
                        && s.rule == synack_engine::Rule::SynRcvdRst
                })
                .map_or_else(|| veto_at.clone(), |s| ms(s.at));
            let done = server_at(t, State::Established, "ESTABLISHED").unwrap_or_else(unknown);
            let c = t.client_isn;
            (
                q(
                    "Why three segments? What does an old duplicate SYN do?",
                    "为什么要三次握手？旧的重复 SYN 会造成什么？",
                ),
                pick(
                    format!(
                        "A SYN from an earlier incarnation (seq {old_seq}) reached the server first. The server could not tell it was old: \
it answered with a SYN-ACK acknowledging {} at {ghost_at}. The client, whose own SYN carries ISN {c}, saw an ack for a sequence \
number it never sent (rule 2) and vetoed it at {veto_at} with a RST whose seq is that ack, {veto_seq}. The server, half-open \
from a passive open, went back to LISTEN at {back} without telling anyone (rule 19), and the client's real SYN then completed \
the handshake at {done}. With a two-way handshake the server would have been ESTABLISHED at {ghost_at} on a ghost, with the \
old ISN {old_seq}, holding resources and accepting data for a connection nobody opened: the third segment is the initiator's \
chance to say no (RFC 9293 §3.5, Fig. 8).",
                        old_seq.wrapping_add(1)
                    ),
                    format!(
                        "一个来自先前连接的旧 SYN（seq {old_seq}）先到达了服务器。服务器无法判断它是旧的：在 {ghost_at} 回复了确认 {} 的 SYN-ACK。\
客户端自己的 SYN 的 ISN 是 {c}，它看到一个确认了自己从未发送过的序号的 ACK（规则 2），于是在 {veto_at} 用 RST 否决，RST 的 seq 就是那个确认号 {veto_seq}。\
由被动打开进入半连接的服务器在 {back} 回到 LISTEN，不通知任何人（规则 19）；随后客户端真正的 SYN 在 {done} 完成了握手。\
如果只有两次握手，服务器在 {ghost_at} 就会对一个“幽灵”进入 ESTABLISHED，使用旧的 ISN {old_seq}，为一个没人发起的连接占用资源、接收数据：\
第三次握手正是发起方说“不”的机会（RFC 9293 §3.5，图 8）。",
                        old_seq.wrapping_add(1)
                    ),
                ),
            )
        }
        Scenario::HalfOpen => {
            // The server's first pure ACK: it sent none before the challenge.
            let challenge = wire(t, Side::B).find(|(_, p)| {
                p.tcp.flags == synack_wire::TcpFlags::ACK && p.tcp.payload.is_empty()
            });
            let (ch_at, ch_ack) =
                challenge.map_or((unknown(), 0), |(at, p)| (ms(at), p.tcp.ack.get()));
            let reset = server_event(t, Event::Reset, "CLOSED").unwrap_or_else(unknown);
            let again = t
                .events
                .iter()
                .filter(|e| e.side == Side::A && e.event == Event::Connected)
                .nth(1)
                .map_or_else(unknown, |e| ms(e.at));
            (
                q(
                    "What happens when a peer reboots during a connection?",
                    "连接还在时对端重启了，会怎样？",
                ),
                pick(
                    format!(
                        "The client lost all its state and opened again from the same port. Its new SYN reached a server still \
ESTABLISHED on that 4-tuple. RFC 5961 answers a SYN in a synchronized state with a challenge ACK (rule 33), not a RST: at \
{ch_at} the server sent ACK {ch_ack}, its RCV.NXT. The rebooted client, in SYN-SENT, found that ack unacceptable and answered \
with a RST whose seq is exactly that number (rule 2). A RST with SEG.SEQ = RCV.NXT is the one RST the server believes \
(rule 31): it dropped the old connection at {reset}. The client's retransmitted SYN then found LISTEN and the new connection \
was up at {again}. A blind attacker, who cannot guess RCV.NXT, cannot do the same."
                    ),
                    format!(
                        "客户端丢失了全部状态，从同一个端口重新发起连接。它的新 SYN 到达时，服务器在这个四元组上仍是 ESTABLISHED。\
RFC 5961 规定同步状态下收到 SYN 要回复挑战 ACK（规则 33），而不是 RST：服务器在 {ch_at} 发送了 ACK {ch_ack}，即它的 RCV.NXT。\
重启后的客户端处于 SYN-SENT，认为这个确认号不可接受，用 seq 恰好等于该值的 RST 回应（规则 2）。SEG.SEQ = RCV.NXT 的 RST 是服务器唯一会相信的 RST（规则 31）：\
它在 {reset} 丢弃了旧连接。随后客户端重传的 SYN 遇到 LISTEN，新连接在 {again} 建立。盲目攻击者猜不到 RCV.NXT，就做不到这一点。"
                    ),
                ),
            )
        }
        Scenario::SynFlood => {
            let cookie = note_at(t, Side::B, |n| matches!(n, Note::SynCookieSent { .. }));
            let (q_n, backlog, mss) = match cookie.map(|s| s.action) {
                Some(Action::Note(Note::SynCookieSent {
                    syn_queue,
                    backlog,
                    mss,
                })) => (syn_queue, backlog, mss),
                _ => (0, 0, 0),
            };
            let to_client = wire(t, Side::B).find(|(_, p)| {
                p.tcp.flags.syn() && p.ip.dst == t.client.ip() && p.tcp.dst_port == t.client.port()
            });
            let iss = to_client.as_ref().map_or(0, |(_, p)| p.tcp.seq.get());
            let up = server_at(t, State::Established, "ESTABLISHED").unwrap_or_else(unknown);
            if is_kernel(t, Side::B) {
                let spoofed = wire(t, Side::B)
                    .filter(|(_, p)| p.tcp.flags.syn() && p.ip.dst != t.client.ip())
                    .count();
                let tsval = to_client
                    .as_ref()
                    .and_then(|(_, p)| p.tcp.options.timestamps)
                    .map_or(0, |x| x.0);
                let (ws, sack, ecn) = synack_engine::cookie::unpack_options(tsval);
                let ws = ws.map_or_else(|| "none".to_string(), |w| w.to_string());
                let yn = |b: bool| match (zh, b) {
                    (true, true) => "是",
                    (true, false) => "否",
                    (false, true) => "yes",
                    (false, false) => "no",
                };
                let bits = tsval & 0x3f;
                let back = iss.wrapping_add(1);
                return (
                    q(
                        "What does a SYN flood do, and how do SYN cookies help?",
                        "SYN 洪泛攻击做了什么？SYN cookie 如何应对？",
                    ),
                    pick(
                        format!(
                            "{spoofed} SYNs from a spoofed address filled the kernel listener's SYN queue (the lab gave it a small \
listen backlog); their SYN-ACKs went nowhere. The kernel answered our SYN with a SYN cookie: ISS {iss} is computed from the \
4-tuple, our ISN, a minute counter and the MSS index (net/ipv4/syncookies.c), and no SYN_RECV socket was made for us. With \
timestamps on and no per-connection offset (tcp_timestamps=2 in the lab), the low six bits of its TSval {tsval} ({bits:#04x}) \
carry what the cookie cannot: window scale {ws}, SACK {}, ECN {}. Our ACK returned ISS + 1 = {back}; the kernel checked the \
cookie and the connection was ESTABLISHED at {up}.",
                            yn(sack),
                            yn(ecn)
                        ),
                        format!(
                            "来自伪造地址的 {spoofed} 个 SYN 塞满了内核监听套接字的半连接队列（实验环境把它的 listen backlog 设得很小）；它们的 SYN-ACK 无人接收。\
内核用 SYN cookie 应答我们的 SYN：ISS {iss} 由四元组、我们的 ISN、分钟计数和 MSS 序号算出（net/ipv4/syncookies.c），没有为我们创建 SYN_RECV 套接字。\
时间戳开启且没有逐连接偏移（实验环境中 tcp_timestamps=2）时，TSval {tsval} 的低六位（{bits:#04x}）携带了 cookie 装不下的选项：\
窗口扩大因子 {ws}、SACK {}、ECN {}。我们的 ACK 带回 ISS + 1 = {back}；内核校验 cookie 后，连接在 {up} 进入 ESTABLISHED。",
                            yn(sack),
                            yn(ecn)
                        ),
                    ),
                );
            }
            (
                q(
                    "What does a SYN flood do, and how do SYN cookies help?",
                    "SYN 洪泛攻击做了什么？SYN cookie 如何应对？",
                ),
                pick(
                    format!(
                        "{q_n} SYNs from a spoofed address filled the listener's SYN queue ({q_n}/{backlog}): each made a half-open \
connection in SYN-RECEIVED whose SYN-ACK went nowhere and will be retransmitted until it times out. Without cookies the \
real client's SYN would have been dropped. Instead the listener answered it statelessly (rule 43): the SYN-ACK's ISS {iss} \
is a cookie that encodes a time counter, the MSS ({mss}) and a keyed hash of the 4-tuple; nothing was stored and that SYN-ACK \
is never retransmitted. The client's ACK returned ISS + 1 = {}; the listener checked the hash and age, rebuilt the connection \
from it and accepted it at {up}. What a cookie cannot hold (window scale, SACK) survives only if both sides use timestamps.",
                        iss.wrapping_add(1)
                    ),
                    format!(
                        "来自伪造地址的 {q_n} 个 SYN 塞满了监听者的半连接队列（{q_n}/{backlog}）：每个都在 SYN-RECEIVED 中留下一个半连接，\
它的 SYN-ACK 无人接收，会一直重传到超时。没有 SYN cookie 的话，真正客户端的 SYN 会被丢弃。监听者改为无状态应答（规则 43）：\
SYN-ACK 的 ISS {iss} 就是 cookie，编码了时间计数、MSS（{mss}）和四元组的带密钥哈希；不保存任何状态，这个 SYN-ACK 也永不重传。\
客户端的 ACK 带回 ISS + 1 = {}；监听者校验哈希和时效，据此重建连接，并在 {up} 接受了它。cookie 装不下的选项（窗口扩大、SACK）只有在双方都使用时间戳时才能保留。",
                        iss.wrapping_add(1)
                    ),
                ),
            )
        }
        Scenario::Ecn => {
            let agreed =
                note_at(t, Side::A, |n| n == Note::EcnAgreed).map_or_else(unknown, |s| ms(s.at));
            let fallback =
                note_at(t, Side::A, |n| n == Note::EcnFallback).map_or_else(unknown, |s| ms(s.at));
            (
                q("How do two ends agree on ECN?", "双方如何协商 ECN？"),
                pick(
                    format!(
                        "The client's SYN set ECE and CWR: an ECN-setup SYN (rule 9). The server, with ECN enabled, answered with a \
SYN-ACK carrying ECE but not CWR (rule 40), and at {agreed} ECN was on for that connection: routers may now mark congestion \
instead of dropping. The second connection's ECN-setup SYN was lost; some middleboxes drop such SYNs, so the retransmission \
at {fallback} was a plain SYN (RFC 3168 §6.1.1.1, as Linux does) and that connection runs without ECN."
                    ),
                    format!(
                        "客户端的 SYN 同时置位 ECE 和 CWR：这是 ECN 协商 SYN（规则 9）。开启了 ECN 的服务器回复置位 ECE、不置 CWR 的 SYN-ACK（规则 40），\
于是在 {agreed} 这个连接启用了 ECN：路由器可以用标记代替丢包来表示拥塞。第二个连接的 ECN 协商 SYN 丢失了；有些中间设备会丢弃这种 SYN，\
所以在 {fallback} 的重传改为普通 SYN（RFC 3168 §6.1.1.1，Linux 也这样做），这个连接不使用 ECN。"
                    ),
                ),
            )
        }
        Scenario::FastOpen => {
            let cookie = wire(t, Side::B)
                .find_map(|(_, p)| p.tcp.options.fast_open.filter(|c| !c.is_request()))
                .map(|c| {
                    c.as_bytes()
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                })
                .unwrap_or_default();
            // The SYN that carried data, and the SYN-ACK that acknowledged it.
            let syn =
                wire(t, Side::A).find(|(_, p)| p.tcp.flags.syn() && !p.tcp.payload.is_empty());
            let (isn, bytes) = syn.as_ref().map_or((0, 0), |(_, p)| {
                (p.tcp.seq.get(), p.tcp.payload.len() as u32)
            });
            let want = isn.wrapping_add(1).wrapping_add(bytes);
            let acc_at = wire(t, Side::B)
                .find(|(_, p)| p.tcp.flags.syn() && p.tcp.ack.get() == want)
                .map_or_else(unknown, |(at, _)| ms(at));
            (
                q(
                    "What does TCP Fast Open save?",
                    "TCP Fast Open 省下了什么？",
                ),
                pick(
                    format!(
                        "The first connection's SYN carried an empty Fast Open option, a cookie request; the server's SYN-ACK \
returned cookie {cookie}, a keyed hash of the client's address, and the request followed the handshake as usual. The second \
connection put the cookie and the {bytes}-byte request on its SYN. The server checked the cookie and took the data at once: \
its SYN-ACK at {acc_at} acknowledged {want} = ISN {isn} + 1 + {bytes}, the SYN and the data (rule 41), before the handshake \
completed. One round trip saved. A bad cookie would have got a SYN-ACK acknowledging only the SYN, and the client would send \
the data again."
                    ),
                    format!(
                        "第一个连接的 SYN 带着空的 Fast Open 选项，即请求 cookie；服务器在 SYN-ACK 中返回了 cookie {cookie}（对客户端地址的带密钥哈希），\
请求照常在握手后发送。第二个连接把 cookie 和 {bytes} 字节的请求放在 SYN 上。服务器校验 cookie 后立即接收数据：\
它在 {acc_at} 的 SYN-ACK 确认了 {want} = ISN {isn} + 1 + {bytes}，即 SYN 和数据（规则 41），早于握手完成。省下了一个往返。\
如果 cookie 无效，SYN-ACK 只确认 SYN，客户端会重发数据。"
                    ),
                ),
            )
        }
        Scenario::Isn => {
            if is_kernel(t, Side::B) {
                // The kernel's ISNs, from its SYN-ACKs, by client port.
                let acks: Vec<(u16, synack_engine::Instant, u32)> = wire(t, Side::B)
                    .filter(|(_, p)| p.tcp.flags.syn())
                    .map(|(at, p)| (p.tcp.dst_port, at, p.tcp.seq.get()))
                    .collect();
                let port0 = acks.first().map_or(0, |x| x.0);
                let same: Vec<_> = acks.iter().filter(|x| x.0 == port0).collect();
                let steps: Vec<String> = same
                    .windows(2)
                    .map(|w| {
                        let ns = (w[1].1 - w[0].1).as_nanos() as f64;
                        let d = w[1].2.wrapping_sub(w[0].2);
                        format!(
                            "+{d} in {:.1} ms ({:.1} ns per step)",
                            ns / 1e6,
                            ns / f64::from(d.max(1))
                        )
                    })
                    .collect();
                let first_two = first_two(acks.iter().map(|x| x.2), zh);
                let sep = if zh { "；" } else { "; " };
                return (
                    q(
                        "Why are ISNs unpredictable, yet increasing?",
                        "为什么 ISN 既不可预测，又会递增？",
                    ),
                    pick(
                        format!(
                            "The kernel's ISNs, read from its SYN-ACKs, follow RFC 6528 as Linux implements it: a keyed SipHash \
of the 4-tuple plus a clock of 64 ns ticks. Our two tuples opened at nearly the same moment got {first_two}: unrelated. On one \
tuple the ISN grew with the clock: {}. Our own ISNs follow the same scheme with a 4 µs clock.",
                            steps.join(sep)
                        ),
                        format!(
                            "从内核的 SYN-ACK 读出的 ISN 符合 Linux 对 RFC 6528 的实现：四元组的带密钥 SipHash 加上每 64 纳秒一格的时钟。\
我们几乎同时打开的两个四元组得到 {first_two}：毫无关联。同一个四元组上，ISN 随时钟增长：{}。我们自己的 ISN 用同样的方法，只是时钟为 4 微秒一格。",
                            steps.join(sep)
                        ),
                    ),
                );
            }
            let syns: Vec<(u16, synack_engine::Instant, u32)> = sent(t, Side::A)
                .filter(|(_, g)| g.flags == synack_wire::TcpFlags::SYN)
                .map(|(s, g)| (g.src.port(), s.at, g.seq.get()))
                .collect();
            let port0 = syns.first().map_or(0, |x| x.0);
            let same: Vec<&(u16, synack_engine::Instant, u32)> =
                syns.iter().filter(|x| x.0 == port0).collect();
            let diffs: Vec<String> = same
                .windows(2)
                .map(|w| format!("{} − {} = {}", w[1].2, w[0].2, w[1].2.wrapping_sub(w[0].2)))
                .collect();
            let first_two = first_two(syns.iter().map(|x| x.2), zh);
            let sep = if zh { "；" } else { "; " };
            (
                q(
                    "Why are ISNs unpredictable, yet increasing?",
                    "为什么 ISN 既不可预测，又会递增？",
                ),
                pick(
                    format!(
                        "Each ISN is M + F (RFC 6528): M is a clock ticking every 4 µs, F a keyed hash of the 4-tuple (SipHash, as \
Linux). Two tuples opened at the same moment got {first_two}: unrelated, because F differs and nobody without the key can \
compute it, so an off-path attacker cannot guess the next ISN. On one tuple F stays the same, so its ISNs follow the clock: \
{} — 250 000 per second. A new incarnation of a 4-tuple thus starts above the old one's sequence numbers, which keeps old \
duplicates from being taken as new data.",
                        diffs.join(sep)
                    ),
                    format!(
                        "每个 ISN 都是 M + F（RFC 6528）：M 是每 4 微秒走一格的时钟，F 是对四元组的带密钥哈希（SipHash，与 Linux 相同）。\
同一时刻打开的两个四元组得到 {first_two}：毫无关联，因为 F 不同，而且没有密钥就算不出来，所以路径之外的攻击者猜不到下一个 ISN。\
同一个四元组的 F 不变，它的 ISN 随时钟增长：{}——每秒 250 000。这样同一四元组的新连接总是从高于旧连接的序号开始，旧的重复报文段不会被当作新数据。",
                        diffs.join(sep)
                    ),
                ),
            )
        }
        Scenario::SimultaneousClose => {
            let a = entered(t, Side::A, State::Closing).map_or_else(unknown, |s| ms(s.at));
            let b = server_at(t, State::Closing, "CLOSING")
                .or_else(|| server_at(t, State::TimeWait, "TIME_WAIT"))
                .unwrap_or_else(unknown);
            let tw = entered(t, Side::A, State::TimeWait).map_or_else(unknown, |s| ms(s.at));
            (
                q("What if both sides close at once?", "如果双方同时关闭呢？"),
                pick(
                    format!(
                        "Both sent a FIN before receiving the other's. Each, in FIN-WAIT-1, got a FIN that did not acknowledge its \
own: it acknowledged that FIN and entered CLOSING (rule 48; client {a}, server {b}). When the ACK of its own FIN arrived each \
entered TIME-WAIT (client at {tw}): both sides, not just one, wait 2·MSL, because both closed actively."
                    ),
                    format!(
                        "双方都在收到对方的 FIN 之前发出了自己的 FIN。处于 FIN-WAIT-1 的每一方收到的 FIN 并没有确认自己的 FIN：它确认对方的 FIN，进入 CLOSING\
（规则 48；客户端 {a}，服务器 {b}）。等到自己的 FIN 被确认，双方各自进入 TIME-WAIT（客户端在 {tw}）：因为双方都是主动关闭，所以两边都要等待 2MSL。"
                    ),
                ),
            )
        }
        Scenario::LastAckLost => {
            let fins: Vec<String> = wire(t, Side::B)
                .filter(|(_, p)| p.tcp.flags.fin())
                .map(|(at, _)| ms(at))
                .collect();
            let reack = sent(t, Side::A)
                .filter(|(s, _)| s.before.state == State::TimeWait)
                .map(|(s, _)| ms(s.at))
                .next()
                .unwrap_or_else(unknown);
            let closed = server_event(t, Event::Closed, "CLOSED").unwrap_or_else(unknown);
            let fin_times = fins.join(if zh { "、" } else { ", " });
            (
                q(
                    "Why TIME-WAIT? What if the last ACK is lost?",
                    "为什么要 TIME-WAIT？最后的 ACK 丢失了会怎样？",
                ),
                pick(
                    format!(
                        "The client's last ACK never arrived, so the server in LAST-ACK still waited for its FIN to be acknowledged \
and sent it again when its timer fired (FINs at {fin_times}). The client was in TIME-WAIT, not gone: it recognised the repeated \
FIN and acknowledged it again at {reack}, restarting its 2·MSL wait (rule 49). The server closed at {closed}. Without \
TIME-WAIT the repeated FIN would have met no connection and drawn a RST: the server would report an error for a connection \
that had closed cleanly."
                    ),
                    format!(
                        "客户端的最后一个 ACK 没有到达，处于 LAST-ACK 的服务器一直等不到对 FIN 的确认，定时器超时后重发 FIN（FIN 发送于 {fin_times}）。\
客户端此时在 TIME-WAIT，而不是已经消失：它认出了重复的 FIN，在 {reack} 再次确认，并重新开始 2MSL 的等待（规则 49）。服务器在 {closed} 关闭。\
如果没有 TIME-WAIT，重复的 FIN 会找不到连接而引来 RST：服务器会对一个已经正常关闭的连接报告错误。"
                    ),
                ),
            )
        }
        Scenario::Abort => {
            let rst = sent(t, Side::A).find(|(_, g)| g.flags.rst());
            let (seq, at) = rst.map_or((0, unknown()), |(s, g)| (g.seq.get(), ms(s.at)));
            let reset = server_event(t, Event::Reset, "CLOSED").unwrap_or_else(unknown);
            (
                q("What does ABORT do?", "ABORT（中止）做了什么？"),
                pick(
                    format!(
                        "ABORT drops the connection at once: no FIN, no TIME-WAIT, queued data is discarded. Because the peer holds \
state, the client sent a RST at {at} with seq {seq}, its SND.NXT (rule 53) — exactly what the server expects next, so the \
server accepted it (rule 31) and reported \"connection reset\" (ECONNRESET) at {reset}."
                    ),
                    format!(
                        "ABORT 立即丢弃连接：不发 FIN，不进入 TIME-WAIT，未发送的数据也被丢弃。由于对端还保存着状态，客户端在 {at} 发送了 RST，\
seq 为 {seq}，即它的 SND.NXT（规则 53）——正是服务器期望的下一个序号，所以服务器接受了它（规则 31），并在 {reset} 报告“连接被重置”（ECONNRESET）。"
                    ),
                ),
            )
        }
        Scenario::TimeWaitRst => {
            let tw = server_at(t, State::TimeWait, "TIME_WAIT").unwrap_or_else(unknown);
            let rst = wire(t, Side::A).find(|(_, p)| p.tcp.flags.rst());
            let (rst_at, rst_seq) = rst.map_or((unknown(), 0), |(at, p)| (ms(at), p.tcp.seq.get()));
            let gone = if is_kernel(t, Side::B) {
                t.kernel_states
                    .iter()
                    .skip_while(|k| k.state != "TIME_WAIT")
                    .find(|k| k.state != "TIME_WAIT")
                    .map(|k| ms(k.at))
            } else {
                steps(t, Side::B)
                    .find(|s| s.before.state == State::TimeWait && s.after.state != State::TimeWait)
                    .map(|s| ms(s.at))
            }
            .unwrap_or_else(unknown);
            (
                q(
                    "What does a RST do to TIME-WAIT?",
                    "RST 到达 TIME-WAIT 会怎样？",
                ),
                pick(
                    format!(
                        "The server closed first, so it entered TIME-WAIT at {tw}, to wait 2·MSL. At {rst_at} a RST arrived with \
seq {rst_seq}, exactly its RCV.NXT, and TIME-WAIT ended at {gone} instead of minutes later (rule 50). RFC 9293 says a RST \
in TIME-WAIT closes the connection, and Linux does the same by default (tcp_rfc1337=0); synack follows them. RFC 1337 calls \
this \"TIME-WAIT assassination\": an old duplicate RST can end the wait early, and a new connection on the same 4-tuple may \
then accept old segments; its remedy is to ignore RSTs in TIME-WAIT."
                    ),
                    format!(
                        "服务器先关闭，所以它在 {tw} 进入 TIME-WAIT，要等待 2MSL。在 {rst_at}，一个 seq 为 {rst_seq}（正好等于它的 RCV.NXT）的 RST 到达，\
TIME-WAIT 在 {gone} 就结束了，而不是几分钟之后（规则 50）。RFC 9293 规定 TIME-WAIT 中收到 RST 就关闭连接，Linux 默认（tcp_rfc1337=0）也这样做；synack 与它们一致。\
RFC 1337 把这叫作“TIME-WAIT 暗杀”：旧的重复 RST 可能提前结束等待，同一四元组上的新连接随后可能收下旧报文段；它的办法是在 TIME-WAIT 中忽略 RST。"
                    ),
                ),
            )
        }
        _ => (String::new(), String::new()),
    }
}
