//! The short answer each scenario ends with, built from the trace's own
//! numbers (ISNs, retransmission times, the RST's fields).

use synack_engine::sim::Side;
use synack_engine::{Action, Cause, CloseReason, State, Step};

use crate::scenario::{Scenario, Trace};
use crate::words::Lang;

/// A time for the answers: milliseconds, or seconds past one second.
pub(crate) fn ms(at: synack_engine::Instant) -> String {
    let ms = at.as_micros() as f64 / 1000.0;
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

struct Facts<'a> {
    t: &'a Trace,
}

impl Facts<'_> {
    fn steps(&self, side: Side) -> impl Iterator<Item = &Step> {
        self.t
            .steps
            .iter()
            .filter(move |(s, _)| *s == side)
            .map(|(_, st)| st)
    }

    fn ms(at: synack_engine::Instant) -> String {
        ms(at)
    }

    /// Times at which `side` retransmitted, in ms. For the kernel, which
    /// records no steps, a repeated SYN or SYN-ACK seen on the link.
    fn retransmits(&self, side: Side) -> Vec<String> {
        if crate::timeline::kernel_side(self.t) == Some(side) {
            return self
                .t
                .link
                .iter()
                .filter(|r| r.from == side)
                .filter(|r| {
                    synack_wire::parse_segment(&r.bytes, false).is_ok_and(|p| p.tcp.flags.syn())
                })
                .skip(1)
                .map(|r| Self::ms(r.sent_at))
                .collect();
        }
        self.steps(side)
            .filter(|s| matches!(s.action, Action::Retransmit { .. }))
            .map(|s| Self::ms(s.at))
            .collect()
    }

    fn established_at(&self, side: Side) -> Option<String> {
        if crate::timeline::kernel_side(self.t) == Some(side) {
            return self
                .t
                .kernel_states
                .iter()
                .find(|k| k.state == "ESTABLISHED")
                .map(|k| Self::ms(k.at));
        }
        self.steps(side)
            .find(|s| s.before.state != State::Established && s.after.state == State::Established)
            .map(|s| Self::ms(s.at))
    }

    fn server_isn(&self) -> String {
        self.t.server_isn.map_or("?".into(), |v| v.to_string())
    }

    /// The first segment `side` sent with a payload: (seq, len, ack it got).
    fn first_data(&self, side: Side) -> Option<(u32, u32)> {
        self.steps(side).find_map(|s| match &s.cause {
            Cause::Sent(seg) if seg.payload_len > 0 => Some((seg.seq.get(), seg.payload_len)),
            _ => None,
        })
    }
}

pub fn answer(trace: &Trace, lang: Lang) -> (String, String) {
    let f = Facts { t: trace };
    let c = trace.client_isn;
    let s = f.server_isn();
    let zh = lang == Lang::Zh;
    let list = |v: Vec<String>| v.join(if zh { "、" } else { ", " });
    match trace.scenario {
        Scenario::Normal => {
            let q = lang.t(
                "Why three segments and not two?",
                "为什么是三次握手，而不是两次？",
            );
            let a = if zh {
                format!(
                    "双方都要知道对方的初始序列号，并且确认自己的初始序列号已被对方收到。SYN 带着客户端的 ISN {c}；\
SYN-ACK 用 ack={} 确认了它，同时带上服务器的 ISN {s}；只有第三个报文段（ack={}）才向服务器证明它的 ISN 已经送达。\
如果只有两次握手，服务器收到任何 SYN 都会直接进入 ESTABLISHED，包括网络中滞留的、上一次连接的旧 SYN（RFC 9293 §3.5 图 8）；\
有了第三次握手，客户端就能用 RST 否决这种过期的连接请求。",
                    c.wrapping_add(1),
                    trace
                        .server_isn
                        .map_or("?".into(), |v| v.wrapping_add(1).to_string())
                )
            } else {
                format!(
                    "Each side must learn the other's initial sequence number and know that its own arrived. The SYN carries the \
client's ISN {c}; the SYN-ACK acknowledges it (ack={}) and carries the server's ISN {s}; only the third segment (ack={}) \
proves to the server that its ISN arrived. With two segments the server would enter ESTABLISHED on any SYN, including an \
old duplicate of an earlier connection still wandering the network (RFC 9293 §3.5, Fig. 8); the third segment lets the \
client veto such a stale request with a RST.",
                    c.wrapping_add(1),
                    trace
                        .server_isn
                        .map_or("?".into(), |v| v.wrapping_add(1).to_string())
                )
            };
            (q.into(), a)
        }
        Scenario::SynLost => {
            let q = lang.t(
                "What happens if the first SYN is lost?",
                "第一次握手的 SYN 丢失会怎样？",
            );
            let rtx = list(f.retransmits(Side::A));
            let done = f.established_at(Side::A).unwrap_or_default();
            let a = if zh {
                format!(
                    "客户端什么也没收到，重传定时器在初始 RTO 1 秒后超时（RFC 6298），于是用同一个 ISN {c} 重发 SYN（本例在 {rtx}）。\
服务器从没见过第一个 SYN，所以对它来说一切照常；握手在 {done} 完成。如果 SYN 一再丢失，等待时间依次加倍（1、2、4……秒），\
重传次数用尽后客户端放弃并报告超时（ETIMEDOUT）。"
                )
            } else {
                format!(
                    "The client hears nothing, so its retransmission timer fires after the initial RTO of 1 s (RFC 6298) and it sends \
the same SYN again with the same ISN {c} (here at {rtx}). The server never saw the first SYN, so for it nothing unusual \
happened; the handshake completed at {done}. Each further loss doubles the wait (1, 2, 4 … s); when the retries run out \
the client gives up and reports a timeout (ETIMEDOUT)."
                )
            };
            (q.into(), a)
        }
        Scenario::SynAckLost => {
            let q = lang.t(
                "What happens if the SYN-ACK is lost?",
                "第二次握手的 SYN-ACK 丢失会怎样？",
            );
            let (rc, rs) = (list(f.retransmits(Side::A)), list(f.retransmits(Side::B)));
            let a = if zh {
                format!(
                    "两端都在等：客户端在 SYN-SENT 状态，定时器超时后重发 SYN（本例在 {rc}）；服务器在 SYN-RECEIVED 状态（半连接队列里），\
它自己的定时器超时后重发 SYN-ACK（本例在 {rs}），ISN 仍是 {s}。谁先到都能修复这次丢失。服务器收到重复的 SYN 时不会新建连接，\
只按已有的半连接回应。"
                )
            } else {
                format!(
                    "Both ends wait. The client, in SYN-SENT, re-sends its SYN when its timer fires (here at {rc}); the server, in \
SYN-RECEIVED (its SYN queue), re-sends its SYN-ACK with the same ISN {s} when its own timer fires (here at {rs}). Whichever \
arrives first repairs the loss. A duplicate SYN does not create a second connection on the server: it is answered from \
the half-open one."
                )
            };
            (q.into(), a)
        }
        Scenario::AckLost => {
            let q = lang.t(
                "What happens if the third ACK is lost?",
                "第三次握手的 ACK 丢失会怎样？",
            );
            let (cdone, sdone) = (
                f.established_at(Side::A).unwrap_or_default(),
                f.established_at(Side::B).unwrap_or_default(),
            );
            let a = if zh {
                format!(
                    "客户端发出 ACK 后就进入了 ESTABLISHED（{cdone}），可以立即发送数据；服务器还停在 SYN-RECEIVED。客户端的请求报文段同样带着 \
ACK 标志位和确认号 ack={}，所以它一到达就完成了服务器的握手（{sdone}），数据也被接收——不需要 RST，也不需要等待。\
如果客户端什么都不发，服务器会在 1 秒后重传 SYN-ACK，客户端再回一个 ACK。",
                    trace
                        .server_isn
                        .map_or("?".into(), |v| v.wrapping_add(1).to_string())
                )
            } else {
                format!(
                    "The client entered ESTABLISHED when it sent the ACK ({cdone}) and may send data at once; the server is still in \
SYN-RECEIVED. The client's request carries the ACK flag and ack={} as well, so its arrival completes the server's \
handshake ({sdone}) and the data is accepted: no RST and no waiting. Had the client sent nothing, the server would have \
retransmitted its SYN-ACK after 1 s and the client would have answered it with an ACK.",
                    trace
                        .server_isn
                        .map_or("?".into(), |v| v.wrapping_add(1).to_string())
                )
            };
            (q.into(), a)
        }
        Scenario::Refused => {
            let q = lang.t(
                "What does a closed port do with a SYN?",
                "端口没有监听时，SYN 会得到什么？",
            );
            let at = f
                .steps(Side::A)
                .find(|s| s.action == Action::Delete(CloseReason::Refused))
                .map(|s| Facts::ms(s.at))
                .unwrap_or_default();
            let port = trace.server.port();
            let a = if zh {
                format!(
                    "端口 {port} 上没有监听的套接字，对这个四元组来说服务器处于 CLOSED，于是回复 RST+ACK：seq=0，ack = SYN 的 seq {c} + 1 = {}\
（RFC 9293 §3.10.7.1）。这个 RST 的确认号正好确认了客户端的 SYN，所以客户端接受它，在 {at} 报告“连接被拒绝”（ECONNREFUSED），\
只用了一个往返。被过滤的端口则什么也不回（见 --scenario filtered）。",
                    c.wrapping_add(1)
                )
            } else {
                format!(
                    "Nothing listens on port {port}, so for this 4-tuple the server is CLOSED and answers RST+ACK: seq=0, ack = the SYN's \
seq {c} + 1 = {} (RFC 9293 §3.10.7.1). The RST acknowledges the client's SYN, so the client accepts it and reports \
\"connection refused\" (ECONNREFUSED) at {at}, one round trip. A filtered port answers nothing at all (see --scenario \
filtered).",
                    c.wrapping_add(1)
                )
            };
            (q.into(), a)
        }
        Scenario::Filtered => {
            let q = lang.t("What happens if nothing answers?", "如果对方什么都不回呢？");
            let rtx = f.retransmits(Side::A);
            let n = rtx.len();
            let at = f
                .steps(Side::A)
                .find(|s| s.action == Action::Delete(CloseReason::TimedOut))
                .map(|s| format!("{:.0} s", s.at.as_micros() as f64 / 1e6))
                .unwrap_or_default();
            let rtx = list(rtx);
            let a = if zh {
                format!(
                    "客户端在 {rtx} 重传 SYN（共 {n} 次，等待时间从 1 秒起逐次加倍，上限 120 秒），在 {at} 放弃并报告超时（ETIMEDOUT）。\
与被拒绝的端口不同，这里没有 RST：nmap 把这样的端口称为 filtered（被过滤）。Linux 的重传节奏不同（见 --profile linux）。"
                )
            } else {
                format!(
                    "The client retransmits its SYN at {rtx} ({n} times; the wait doubles from 1 s, capped at 120 s) and gives up at \
{at}, reporting a timeout (ETIMEDOUT). Unlike a refused port there is no RST: nmap calls such a port \"filtered\". Linux \
uses a different schedule (see --profile linux)."
                )
            };
            (q.into(), a)
        }
        Scenario::Close => {
            let q = lang.t(
                "Why does closing take four segments, and why TIME-WAIT?",
                "为什么挥手是四次？为什么要有 TIME-WAIT？",
            );
            let (first, second) = (trace.closer, trace.closer.other());
            let (fname, sname) = (
                crate::text::side_name(first, lang),
                crate::text::side_name(second, lang),
            );
            let tw = f
                .steps(first)
                .find(|s| s.after.state == State::TimeWait && s.before.state != State::TimeWait)
                .map(|s| s.at);
            let end = f
                .steps(first)
                .find(|s| s.before.state == State::TimeWait && s.after.state == State::Closed)
                .map(|s| s.at);
            let wait = match (tw, end) {
                (Some(a), Some(b)) => format!("{:.0} s", (b - a).as_secs_f64()),
                _ => "2·MSL".into(),
            };
            let a = if zh {
                format!(
                    "两个方向要分别关闭：{fname}的 FIN 只表示“我不再发送了”，{sname}确认它之后仍可继续发送；等{sname}也发完，再用自己的 FIN 关闭另一个方向，\
所以 FIN 和 ACK 各走两趟。先关闭的一方要在 TIME-WAIT 中等待 2MSL（本例 {wait}）：万一最后的 ACK 丢了，对方会重发 FIN，\
还能再确认一次；同时让这个连接的旧报文段在网络中消失，再复用同一个四元组。"
                )
            } else {
                format!(
                    "Each direction is closed on its own: the {fname}'s FIN only says \"I will send no more\"; the {sname} acknowledges \
it and may keep sending, then closes its own direction with its FIN, so a FIN and an ACK cross twice. The side that closed \
first waits in TIME-WAIT for 2·MSL (here {wait}): if the last ACK is lost, the peer re-sends its FIN and it can be \
acknowledged again, and old segments of this connection die out before the same 4-tuple is reused."
                )
            };
            (q.into(), a)
        }
        Scenario::Data => {
            let q = lang.t(
                "How do seq and ack move once data flows?",
                "开始传数据以后，seq 和 ack 怎么变化？",
            );
            let (cs, cl) = f.first_data(Side::A).unwrap_or((0, 0));
            let (ss, sl) = f.first_data(Side::B).unwrap_or((0, 0));
            let a = if zh {
                format!(
                    "数据按字节占用序列号：客户端的 {cl} 字节请求从 seq={cs} 开始，服务器用 ack={} = {cs} + {cl} 确认；服务器的 {sl} 字节响应从 seq={ss} 开始，\
客户端用 ack={} 确认。SYN 之后的每个报文段都置 ACK 标志位；确认号总是指向期望收到的下一个字节。",
                    cs.wrapping_add(cl),
                    ss.wrapping_add(sl)
                )
            } else {
                format!(
                    "Data uses sequence numbers byte by byte: the client's {cl}-byte request starts at seq={cs} and is acknowledged \
with ack={} = {cs} + {cl}; the server's {sl}-byte response starts at seq={ss} and is acknowledged with ack={}. Every \
segment after the SYN has the ACK flag set; the ack field always names the next byte expected.",
                    cs.wrapping_add(cl),
                    ss.wrapping_add(sl)
                )
            };
            (q.into(), a)
        }
        _ => crate::answer_more::answer(trace, lang),
    }
}
