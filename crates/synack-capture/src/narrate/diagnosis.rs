//! A diagnosis in words, English or Chinese, with the numbers it carries.

use synack_explain::Lang;

use crate::diagnose::{Confidence, Diagnosis, Id, Schedule};

/// A duration as people read it: µs, ms or s.
fn dur(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.3} s")
    }
}

fn frames(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

/// How far `got` is from the ISN, when it is near: "ISN + 2".
fn offset(got: u32, base: u32) -> String {
    let d = got.wrapping_sub(base) as i32;
    match d {
        1 => String::new(),
        d if d.unsigned_abs() < 1 << 20 => format!(
            " (ISN {} {})",
            if d < 0 { '-' } else { '+' },
            d.unsigned_abs()
        ),
        _ => String::new(),
    }
}

/// A short title for an id (the summary's list).
pub fn id_title(id: Id, lang: Lang) -> &'static str {
    let (en, zh) = match id {
        Id::CraftedMistake => ("a mistake in a hand-made segment", "手工构造报文的错误"),
        Id::Icmp => ("ICMP unreachable", "ICMP 不可达"),
        Id::Reset => ("reset", "复位"),
        Id::SynackLostOrAckDropped => (
            "SYN-ACK sent again after the ACK (accept queue full?)",
            "收到 ACK 后又重传 SYN-ACK（全连接队列满？）",
        ),
        Id::PortReuse => ("port reuse", "端口复用"),
        Id::SynCookie => ("SYN cookie", "SYN cookie"),
        Id::OneSidedCapture => ("one direction captured", "只抓到一个方向"),
        Id::HalfOpen => ("half-open", "半连接"),
        Id::NoResponse => ("no response", "无响应"),
        Id::SimultaneousOpen => ("simultaneous open", "同时打开"),
    };
    if lang == Lang::Zh { zh } else { en }
}

fn confidence(c: Confidence, zh: bool) -> &'static str {
    match (c, zh) {
        (Confidence::Certain, false) => "certain",
        (Confidence::Likely, false) => "likely",
        (Confidence::Possible, false) => "possible",
        (Confidence::Certain, true) => "确定",
        (Confidence::Likely, true) => "很可能",
        (Confidence::Possible, true) => "可能",
    }
}

/// The diagnosis as a sentence, then its id, reason and confidence.
pub fn diagnosis(d: &Diagnosis, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let text = match d.id {
        Id::CraftedMistake => crafted(d, zh),
        Id::Icmp => icmp(d, zh),
        Id::Reset => reset(d, zh),
        Id::SynackLostOrAckDropped => synack_after_ack(d, zh),
        Id::PortReuse => port_reuse(d, zh),
        Id::SynCookie => syn_cookie(d, zh),
        Id::OneSidedCapture => one_sided(d, zh),
        Id::HalfOpen => half_open(d, zh),
        Id::NoResponse => no_response(d, zh),
        Id::SimultaneousOpen => {
            let f = frames(&d.frames);
            if zh {
                format!(
                    "双方都发送了 SYN（帧 {f}）：同时打开（RFC 9293 图 7），两端都经过 SYN-RECEIVED；除测试和 NAT 打洞外很少见"
                )
            } else {
                format!(
                    "both sides sent a SYN (frames {f}): a simultaneous open (RFC 9293 Fig. 7), both ends go through SYN-RECEIVED; rare outside tests and NAT hole punching"
                )
            }
        }
    };
    format!(
        "{text} [{}: {}, {}]",
        d.id.name(),
        d.reason,
        confidence(d.confidence, zh)
    )
}

fn first(d: &Diagnosis) -> String {
    d.frames
        .first()
        .map_or_else(|| "?".to_string(), u64::to_string)
}

fn num(v: Option<u32>) -> String {
    v.map_or_else(|| "?".to_string(), |x| x.to_string())
}

fn crafted(d: &Diagnosis, zh: bool) -> String {
    let f = first(d);
    let (want, got, base) = (num(d.expected), num(d.got), num(d.base));
    let off = match (d.got, d.base) {
        (Some(g), Some(b)) => offset(g, b),
        _ => String::new(),
    };
    match (d.reason, zh) {
        ("stacked-headers", _) => {
            let inner = d.stacked.map_or_else(String::new, |s| {
                format!(
                    "{} → {} [{}] seq {} ack {}",
                    s.src,
                    s.dst,
                    s.flags.tcpdump(),
                    s.seq,
                    s.ack
                )
            });
            if zh {
                format!(
                    "第 {f} 帧的载荷本身就是一个 IP + TCP 首部（{inner}）：两个报文被叠成了一个（构造报文时给了两层首部）；每个报文应单独发送"
                )
            } else {
                format!(
                    "frame {f}'s payload is itself an IP + TCP header ({inner}): two packets stacked into one, as a crafting tool builds when given two headers; send each as a packet of its own"
                )
            }
        }
        ("ack-instead-of-synack", false) => format!(
            "frame {f} answers the SYN with an ACK without SYN, acknowledging {got}{off}; a SYN-ACK belongs here: SYN and ACK both set, acknowledging {want} = ISN {base} + 1"
        ),
        ("ack-instead-of-synack", true) => format!(
            "第 {f} 帧用一个不带 SYN 的 ACK 回应 SYN，确认号 {got}{off}；这里应是 SYN-ACK：同时置位 SYN 和 ACK，确认号 {want} = ISN {base} + 1"
        ),
        ("synack-wrong-ack", false) => format!(
            "the SYN-ACK must acknowledge {want} = ISN {base} + 1; frame {f} acknowledges {got}{off}"
        ),
        ("synack-wrong-ack", true) => {
            format!("SYN-ACK 的确认号应为 {want} = ISN {base} + 1；第 {f} 帧确认的是 {got}{off}")
        }
        ("third-ack-wrong-ack", false) => format!(
            "the third ACK must acknowledge {want} = server ISN {base} + 1; frame {f} acknowledges {got}{off}"
        ),
        ("third-ack-wrong-ack", true) => format!(
            "第三次握手的 ACK 确认号应为 {want} = 服务器 ISN {base} + 1；第 {f} 帧确认的是 {got}{off}"
        ),
        (_, false) => format!(
            "the third ACK's seq must be {want}, what the SYN-ACK acknowledged (client ISN + 1); frame {f} has seq {got}"
        ),
        (_, true) => format!(
            "第三次握手 ACK 的序列号应为 {want}（即 SYN-ACK 所确认的，客户端 ISN + 1）；第 {f} 帧的序列号是 {got}"
        ),
    }
}

fn icmp(d: &Diagnosis, zh: bool) -> String {
    let Some(i) = &d.icmp else {
        return String::new();
    };
    let f = first(d);
    let v = if i.kind == 1 { "ICMPv6" } else { "ICMP" };
    let quoted = match (i.quoted_frame, zh) {
        (Some(q), false) => format!("quoting the SYN of frame {q} (seq {})", i.quoted_seq),
        (Some(q), true) => format!("引用了第 {q} 帧的 SYN（seq {}）", i.quoted_seq),
        (None, false) => format!(
            "quoting seq {}, which no captured SYN of this attempt carries",
            i.quoted_seq
        ),
        (None, true) => format!("引用的 seq {} 不属于本次尝试抓到的任何 SYN", i.quoted_seq),
    };
    let meaning = match (d.reason, zh) {
        ("admin-prohibited" | "net-prohibited" | "host-prohibited", false) => {
            "a firewall rejected the SYN and said so: filtered, and the client can know at once instead of waiting for a timeout"
        }
        ("admin-prohibited" | "net-prohibited" | "host-prohibited", true) => {
            "防火墙拒绝了 SYN 并告知对方：被过滤，客户端可以立即知道，不必等到超时"
        }
        ("port-unreach", false) => {
            "nothing listens on the port (said by ICMP instead of a RST): closed"
        }
        ("port-unreach", true) => "端口上没有监听（用 ICMP 而不是 RST 告知）：关闭",
        ("host-unreach", false) => {
            "the last router could not reach the host (no ARP or neighbour answer): the host is down or the address unused"
        }
        ("host-unreach", true) => {
            "最后一跳路由器到不了该主机（ARP/邻居发现无应答）：主机不在线或地址未使用"
        }
        ("net-unreach", false) => "a router has no route to the network",
        ("net-unreach", true) => "路由器没有到该网络的路由",
        (_, false) => "the SYN could not be delivered",
        (_, true) => "SYN 无法送达",
    };
    let name = if zh { zh_name(d.reason) } else { i.name };
    let after = match (i.syns_after.is_empty(), zh) {
        (true, false) => "; the client sent no SYN after it (a Linux client's connect() fails at once with EHOSTUNREACH or ECONNREFUSED)".to_string(),
        (true, true) => "；此后客户端没有再发 SYN（Linux 客户端的 connect() 会立即失败，返回 EHOSTUNREACH 或 ECONNREFUSED）".to_string(),
        (false, false) => format!(
            "; the client still sent its SYN again after it (frames {}): it took the error as soft, as RFC 1122 allows (Linux would give up at once)",
            frames(&i.syns_after)
        ),
        (false, true) => format!(
            "；客户端此后仍重传了 SYN（帧 {}）：它把这个错误当作软错误，RFC 1122 允许这样做（Linux 会立即放弃）",
            frames(&i.syns_after)
        ),
    };
    if zh {
        format!(
            "第 {f} 帧：{} 发来 {v} 目的不可达，代码 {}（{name}），{quoted}：{meaning}{after}",
            i.router, i.code
        )
    } else {
        format!(
            "frame {f}: {} sent {v} destination unreachable, code {} ({name}), {quoted}: {meaning}{after}",
            i.router, i.code
        )
    }
}

/// The code's name in Chinese, by nmap's reason.
fn zh_name(reason: &str) -> &'static str {
    match reason {
        "net-unreach" => "网络不可达",
        "host-unreach" => "主机不可达",
        "proto-unreach" => "协议不可达",
        "port-unreach" => "端口不可达",
        "needfrag" => "需要分片",
        "net-prohibited" => "网络被管理性禁止",
        "host-prohibited" => "主机被管理性禁止",
        "admin-prohibited" => "通信被管理性禁止",
        _ => "不可达（其他代码）",
    }
}

fn reset(d: &Diagnosis, zh: bool) -> String {
    let f = first(d);
    if d.state == Some("established") && d.window_test.is_some() {
        return unexpected_seq_reset(d, zh);
    }
    let text = match (d.reason, d.from, d.state, zh) {
        ("ignored-reset", _, _, false) => {
            "the only answer to the SYN was a RST the client ignores (it does not acknowledge the SYN, or has no ACK bit): a closed port whose stack gets the number wrong, or a RST forged on the way"
        }
        ("ignored-reset", _, _, true) => {
            "SYN 唯一的应答是一个客户端会忽略的 RST（它没有确认这个 SYN，或没有 ACK 位）：可能是端口关闭而对方协议栈算错了确认号，也可能是途中伪造的 RST"
        }
        (_, from, state, zh) => reset_by(from, state, zh),
    };
    if zh {
        format!("第 {f} 帧：{text}")
    } else {
        format!("frame {f}: {text}")
    }
}

/// A RST after the handshake whose seq was not its receiver's RCV.NXT:
/// ignored, or (`reset`, likely) in the window with no answer to it seen.
fn unexpected_seq_reset(d: &Diagnosis, zh: bool) -> String {
    let (f, got, want, window) = (first(d), num(d.got), num(d.expected), num(d.window));
    let (from, to) = match (d.from, zh) {
        (Some("client"), false) => ("client", "server"),
        (Some("client"), true) => ("客户端", "服务器"),
        (_, false) => ("server", "client"),
        (_, true) => ("服务器", "客户端"),
    };
    let went = d.frames.get(1);
    let inside = d.window_test == Some("in-window");
    match (d.reason, inside, zh) {
        ("reset", _, false) => format!(
            "frame {f}: the {from} reset the connection after the handshake with seq {got}, in the {to}'s window ({window} bytes) but not its RCV.NXT {want}: a stack that follows RFC 5961 (Linux does) answers that with a challenge ACK and goes on; nothing from the {to} was captured after it, so it seems to have taken the RST, as stacks before RFC 5961 do"
        ),
        ("reset", _, true) => format!(
            "第 {f} 帧：握手完成后{from}以序列号 {got} 复位了连接；它在{to}的窗口（{window} 字节）内，但不等于{to}的 RCV.NXT {want}：遵循 RFC 5961 的协议栈（Linux 就是）会回复挑战 ACK 并继续；之后没有抓到{to}的任何报文段，所以它看来像 RFC 5961 之前的协议栈那样接受了这个 RST"
        ),
        (_, true, false) => format!(
            "frame {f}: a RST from the {from} with seq {got}, in the {to}'s window ({window} bytes) but not its RCV.NXT {want}: a receiver that follows RFC 5961 §3.2 answers with a challenge ACK and drops it{}; the connection was not reset. A RST forged on the way, or one from a stack that lost count",
            went.map_or_else(String::new, |w| format!(
                ", and the {to} went on at frame {w}"
            ))
        ),
        (_, true, true) => format!(
            "第 {f} 帧：来自{from}的 RST，序列号 {got}，在{to}的窗口（{window} 字节）内，但不等于{to}的 RCV.NXT {want}：遵循 RFC 5961 §3.2 的接收方会回复挑战 ACK 并丢弃它{}；连接没有被复位。可能是途中伪造的 RST，也可能是算错了序列号的协议栈发出的",
            went.map_or_else(String::new, |w| format!("，而{to}在第 {w} 帧继续通信"))
        ),
        (_, false, false) => format!(
            "frame {f}: a RST from the {from} with seq {got}, where the {to}'s RCV.NXT is {want} and its window {window} bytes: outside the window, so the {to} drops it (RFC 5961 §3.2){}; the connection was not reset. A RST forged on the way, or a stale one",
            went.map_or_else(String::new, |w| format!("; it went on at frame {w}"))
        ),
        (_, false, true) => format!(
            "第 {f} 帧：来自{from}的 RST，序列号 {got}，而{to}的 RCV.NXT 是 {want}、窗口 {window} 字节：在窗口之外，{to}丢弃它（RFC 5961 §3.2）{}；连接没有被复位。可能是途中伪造的 RST，也可能是过期的 RST",
            went.map_or_else(String::new, |w| format!("，并在第 {w} 帧继续通信"))
        ),
    }
}

/// What a RST the client takes says, by who sent it and when.
fn reset_by(from: Option<&str>, state: Option<&str>, zh: bool) -> &'static str {
    match (from, state, zh) {
        (Some("server"), Some("syn-sent"), false) => {
            "the server answered the SYN with a RST: nothing listens on the port, it is closed"
        }
        (Some("server"), Some("syn-sent"), true) => {
            "服务器用 RST 回应 SYN：端口上没有监听，端口关闭"
        }
        (Some("client"), Some("syn-sent"), false) => {
            "the client reset its own SYN before any answer came (it gave up, or a scanner ended its probe)"
        }
        (Some("client"), Some("syn-sent"), true) => {
            "客户端在收到任何应答前复位了自己的 SYN（放弃了，或是扫描器结束探测）"
        }
        (Some("client"), Some("syn-received"), false) => {
            "the client reset the handshake after the SYN-ACK instead of completing it: what a SYN scanner (nmap -sS) does on an open port, or a client that no longer wanted the connection"
        }
        (Some("client"), Some("syn-received"), true) => {
            "客户端收到 SYN-ACK 后没有完成握手而是复位：SYN 扫描器（nmap -sS）对开放端口就是这样做的，或客户端不再需要这个连接"
        }
        (Some("server"), Some("syn-received"), false) => {
            "the server reset the handshake after its own SYN-ACK"
        }
        (Some("server"), Some("syn-received"), true) => "服务器在发出 SYN-ACK 之后复位了握手",
        (Some("server"), _, false) => {
            "the server reset the connection after the handshake (an application's abort; a RST right after the third ACK is also what Linux sends when the accept queue is full and tcp_abort_on_overflow=1)"
        }
        (Some("server"), _, true) => {
            "服务器在握手完成后复位了连接（应用程序中止；若紧跟第三次握手的 ACK，也可能是 Linux 在全连接队列满且 tcp_abort_on_overflow=1 时发送的）"
        }
        (_, _, false) => {
            "the client reset the connection after the handshake (an application's abort)"
        }
        (_, _, true) => "客户端在握手完成后复位了连接（应用程序中止）",
    }
}

fn synack_after_ack(d: &Diagnosis, zh: bool) -> String {
    let [first, ack, again] = d.frames.as_slice() else {
        return String::new();
    };
    let after = d.after_s.map_or_else(|| "?".to_string(), dur);
    if zh {
        format!(
            "服务器在抓到客户端第三次握手的 ACK（第 {ack} 帧）之后，又重传了 SYN-ACK（第 {again} 帧，距第 {first} 帧 {after}）：这个 ACK 没有到达监听套接字。Linux 在全连接（accept）队列满时丢弃它（应用 accept() 不够快；ss -lnt 的 Recv-Q 超过 backlog，nstat 的 TcpExtListenOverflows 在计数），或者它在抓包点之后丢失了"
        )
    } else {
        format!(
            "the server sent its SYN-ACK again (frame {again}, {after} after frame {first}) although the client's third ACK (frame {ack}) was captured: the ACK never reached the listening socket. Linux drops it when the accept queue is full (the application does not call accept() fast enough; ss -lnt shows Recv-Q above the backlog, nstat counts TcpExtListenOverflows), or it was lost after the point of capture"
        )
    }
}

fn port_reuse(d: &Diagnosis, zh: bool) -> String {
    let f = first(d);
    match (d.reason, zh) {
        ("challenge-ack", _) => {
            let rst = d
                .frames
                .get(1)
                .map_or_else(|| "?".to_string(), u64::to_string);
            let ack = num(d.got);
            if zh {
                format!(
                    "服务器在这些端口上仍有一个旧连接：它用一个 ACK 回应新的 SYN（第 {f} 帧，确认号 {ack}），即 RFC 5961 的 challenge ACK；客户端以序列号 {ack} 复位旧连接（第 {rst} 帧），之后的 SYN 才能重新建立连接"
                )
            } else {
                format!(
                    "the server still had a connection on these ports: it answered the new SYN with an ACK (frame {f}, ack {ack}), RFC 5961's challenge ACK; the client reset the old connection with seq {ack} (frame {rst}), so its next SYN could open afresh"
                )
            }
        }
        (_, false) => format!(
            "a new SYN (frame {f}) with a new ISN on ports an earlier attempt in this capture used (tshark's reused_ports)"
        ),
        (_, true) => {
            format!(
                "新的 SYN（第 {f} 帧）使用新的 ISN，但端口与本抓包中更早的一次尝试相同（tshark 的 reused_ports）"
            )
        }
    }
}

fn syn_cookie(d: &Diagnosis, zh: bool) -> String {
    let synack = d
        .frames
        .get(1)
        .map_or_else(|| "?".to_string(), u64::to_string);
    let after = d.after_s.map_or_else(|| "?".to_string(), dur);
    let mut s = if zh {
        format!(
            "第 {synack} 帧的 SYN-ACK 从未重传，而在抓包继续的 {after} 里没有 ACK 到来（保存了状态的 Linux 监听套接字 1 秒后就会重传）：这是一个无状态的应答，即 SYN cookie（net.ipv4.tcp_syncookies：半连接队列满时启用，设为 2 时总是启用）"
        )
    } else {
        format!(
            "the SYN-ACK of frame {synack} was never sent again although no ACK came in the {after} the capture went on (a Linux listener that keeps state retransmits after 1 s): a stateless answer, a SYN cookie (net.ipv4.tcp_syncookies: used when the SYN queue is full, always with 2)"
        )
    };
    for sign in &d.signs {
        let more = match (*sign, zh) {
            ("tsval-encodes-options", false) => format!(
                "; its TSval {} carries in its low six bits ({:06b}) the client's window shift and SACK, as Linux codes them into a cookie",
                num(d.tsval),
                d.tsval.unwrap_or(0) & 0x3f
            ),
            ("tsval-encodes-options", true) => format!(
                "；其 TSval {} 的低 6 位（{:06b}）正是客户端的窗口扩大移位数和 SACK，Linux 就是这样把它们编进 cookie 的",
                num(d.tsval),
                d.tsval.unwrap_or(0) & 0x3f
            ),
            ("options-dropped", false) => "; it leaves out the window scale and SACK the SYN offered, which a Linux cookie can keep only in timestamps".to_string(),
            ("options-dropped", true) => "；它没有带上 SYN 提出的窗口扩大和 SACK，Linux 的 cookie 只能借时间戳保存它们".to_string(),
            _ => String::new(),
        };
        s.push_str(&more);
    }
    if d.confidence == Confidence::Possible {
        s.push_str(if zh {
            "；也可能是 SYN-ACK 重传定时器更长的非 Linux 服务器"
        } else {
            "; or a server whose SYN-ACK timer is longer than that"
        });
    }
    s
}

fn one_sided(d: &Diagnosis, zh: bool) -> String {
    let f = first(d);
    match (d.from, zh) {
        (Some("client"), false) => format!(
            "only the client's segments were captured: frame {f} acknowledges a SYN-ACK that is not in the capture, so the server did answer; the capture saw one direction (asymmetric routing, or a tap or filter on one direction)"
        ),
        (Some("client"), true) => format!(
            "只抓到了客户端的报文：第 {f} 帧确认了一个抓包里没有的 SYN-ACK，所以服务器其实应答了；抓包只看到一个方向（非对称路由，或只在一个方向上镜像/过滤）"
        ),
        (_, false) => format!(
            "only the server's segments were captured, from its SYN-ACK (frame {f}) on: the capture saw one direction (asymmetric routing, or a tap or filter on one direction)"
        ),
        (_, true) => format!(
            "只抓到了服务器的报文（从第 {f} 帧的 SYN-ACK 起）：抓包只看到一个方向（非对称路由，或只在一个方向上镜像/过滤）"
        ),
    }
}

fn half_open(d: &Diagnosis, zh: bool) -> String {
    let f = first(d);
    let after = d.after_s.map_or_else(|| "?".to_string(), dur);
    match (d.reason, zh) {
        ("synack-not-delivered", _) => {
            let syn = d
                .frames
                .get(1)
                .map_or_else(|| "?".to_string(), u64::to_string);
            if zh {
                format!(
                    "客户端在 SYN-ACK（第 {f} 帧）之后又发了 SYN（第 {syn} 帧）：SYN-ACK 没有到达它（在抓包点之后丢失），服务器停在 SYN-RECEIVED"
                )
            } else {
                format!(
                    "the client sent its SYN again (frame {syn}) after the SYN-ACK (frame {f}): the SYN-ACK never reached it (lost after the point of capture), so the server waits in SYN-RECEIVED"
                )
            }
        }
        ("client-silent", _) => {
            let n = d.frames.len();
            let all = frames(&d.frames);
            if zh {
                format!(
                    "服务器发了 {n} 次 SYN-ACK（帧 {all}），始终没有 ACK：客户端已不在或从未存在（伪造的源地址、SYN 洪泛），或它的 ACK 在抓包点之前被丢弃；服务器保留 SYN-RECEIVED 条目直到放弃"
                )
            } else {
                format!(
                    "the server sent its SYN-ACK {n} times (frames {all}) and no ACK came: the client is gone or never was (a spoofed source, a SYN flood), or its ACKs were dropped before the point of capture; the server holds a SYN-RECEIVED entry until it gives up"
                )
            }
        }
        (_, false) => format!(
            "no third ACK came for the SYN-ACK (frame {f}) in the {after} the capture went on{}",
            if d.after_s.is_some_and(|a| a < 1.0) {
                " (it ended before a retransmission was due)"
            } else {
                ""
            }
        ),
        (_, true) => format!(
            "在抓包继续的 {after} 里，SYN-ACK（第 {f} 帧）没有等到第三次握手的 ACK{}",
            if d.after_s.is_some_and(|a| a < 1.0) {
                "（抓包在应当重传之前就结束了）"
            } else {
                ""
            }
        ),
    }
}

fn schedule(s: &Schedule, zh: bool) -> String {
    let gaps: Vec<String> = s.intervals_s.iter().map(|g| dur(*g)).collect();
    let gaps = gaps.join(", ");
    let watched = dur(s.watched_s);
    match (s.suggests, zh) {
        ("single-syn", false) if s.watched_s < 1.0 => {
            format!(
                "one SYN; the capture ended {watched} after it, before a retransmission was due"
            )
        }
        ("single-syn", true) if s.watched_s < 1.0 => {
            format!("只有一个 SYN；抓包在它之后 {watched} 就结束了，还没到重传的时候")
        }
        ("single-syn", false) => format!(
            "one SYN, not sent again in the {watched} the capture went on: a scanner's single probe (nmap -sS, masscan), or a client that gave up"
        ),
        ("single-syn", true) => format!(
            "只有一个 SYN，在抓包继续的 {watched} 里没有重传：扫描器的单个探测（nmap -sS、masscan），或客户端放弃了"
        ),
        ("rto-1s", false) => format!(
            "sent again after {gaps}: RFC 6298's initial RTO of 1 s (Linux, macOS and most stacks)"
        ),
        ("rto-1s", true) => {
            format!("重传间隔 {gaps}：RFC 6298 的初始 RTO 1 秒（Linux、macOS 和多数协议栈）")
        }
        ("linux", false) => format!(
            "sent again after {gaps}: 1 s apart, as Linux 6.5 and later spaces its first retries (tcp_syn_linear_timeouts) before doubling"
        ),
        ("linux", true) => format!(
            "重传间隔 {gaps}：每隔 1 秒，Linux 6.5 及以后的前几次重传就是这样（tcp_syn_linear_timeouts），之后才加倍"
        ),
        ("doubling-1s", false) => format!(
            "sent again after {gaps}: doubling from 1 s (RFC 6298's initial RTO), as older Linux and most stacks do"
        ),
        ("doubling-1s", true) => format!(
            "重传间隔 {gaps}：从 1 秒开始加倍（RFC 6298 的初始 RTO），较早的 Linux 和多数协议栈如此"
        ),
        ("windows", false) => {
            format!("sent again after {gaps}: doubling from 3 s, as Windows does")
        }
        ("windows", true) => format!("重传间隔 {gaps}：从 3 秒开始加倍，Windows 如此"),
        (_, false) => format!("sent again after {gaps}"),
        (_, true) => format!("重传间隔 {gaps}"),
    }
}

fn no_response(d: &Diagnosis, zh: bool) -> String {
    let Some(s) = &d.schedule else {
        return String::new();
    };
    let n = s.syns;
    let head = match (zh, n) {
        (true, 1) => "1 个 SYN，没有任何回应（没有 SYN-ACK、RST 或 ICMP）：防火墙丢弃了它，或主机不在线（nmap：filtered）".to_string(),
        (true, _) => format!(
            "{n} 个 SYN，没有任何回应（没有 SYN-ACK、RST 或 ICMP）：防火墙丢弃了它们，或主机不在线（nmap：filtered）"
        ),
        (false, 1) => "1 SYN and nothing back (no SYN-ACK, RST or ICMP): a firewall dropping it, or the host is down (nmap: filtered)".to_string(),
        (false, _) => format!(
            "{n} SYNs and nothing back (no SYN-ACK, RST or ICMP): a firewall dropping them, or the host is down (nmap: filtered)"
        ),
    };
    format!("{head}{}{}", if zh { "；" } else { "; " }, schedule(s, zh))
}
