//! Checks, steps and outcomes in words, English or Chinese, rendered from
//! the numbers each check recorded.

use synack_explain::{Lang, rule_summary};

mod diagnosis;

pub use diagnosis::{diagnosis, id_title};

use crate::attempt::{Outcome, Step};
use crate::check::{Check, What};
use crate::reader::Damage;

/// One check as a sentence, with its rule.
pub fn check(c: &Check, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let text = match c.what {
        What::SynFlags | What::SynEcn | What::WindowScale => syn_text(c, zh),
        What::SynAckAck | What::SynDataAcked | What::SynAckOptions | What::SynAckEcn => {
            synack_text(c, zh)
        }
        What::ThirdAckAck | What::ThirdAckSeq | What::ThirdAckTimestamps | What::ThirdAckSeen => {
            third_ack_text(c, zh)
        }
        What::RefusedRst | What::BadAckRst => rst_text(c, zh),
        What::EstablishedRst => established_rst_text(c, zh),
    };
    // One dash style per language.
    let text = if zh {
        text.replace(" — ", " —— ")
    } else {
        text
    };
    let rule = c.what.rule();
    let frame = c
        .frame
        .map(|f| format!("{}{f}: ", t(zh, "frame ", "第 ")))
        .map(|s| if zh { s.replace(": ", " 帧：") } else { s })
        .unwrap_or_default();
    format!(
        "{frame}{text} [{} {}: {}]",
        t(zh, "rule", "规则"),
        rule.id(),
        rule_summary(rule, lang)
    )
}

/// The checks of a SYN.
fn syn_text(c: &Check, zh: bool) -> String {
    let n = |v: Option<u32>| v.map_or_else(|| "?".to_string(), |x| x.to_string());
    let got = n(c.got);
    let detail = c.detail.unwrap_or("");
    match (c.what, c.ok) {
        (What::SynFlags, true) => t(
            zh,
            "SYN carries no FIN and no RST — correct",
            "SYN 没有同时携带 FIN 或 RST —— 正确",
        ),
        (What::SynFlags, false) => format!(
            "{}{detail}{}",
            t(zh, "SYN also carries ", "SYN 同时携带了 "),
            t(
                zh,
                ": an illegal combination, Linux drops it",
                "：非法的标志位组合，Linux 会丢弃"
            )
        ),
        (What::SynEcn, true) if detail == "AccECN" => t(
            zh,
            "Accurate ECN request: the SYN sets AE, CWR and ECE",
            "请求 Accurate ECN：SYN 置位 AE、CWR 和 ECE",
        ),
        (What::SynEcn, true) => t(
            zh,
            "ECN-setup SYN: ECE and CWR both set — correct",
            "ECN 协商 SYN：ECE 与 CWR 同时置位 —— 正确",
        ),
        (What::SynEcn, false) => t(
            zh,
            "the SYN sets only one of ECE and CWR: not an ECN-setup SYN (RFC 3168 needs both)",
            "SYN 只置位了 ECE、CWR 之一：不是 ECN 协商 SYN（RFC 3168 要求两者都置位）",
        ),
        (What::WindowScale, _) => format!(
            "{}{got}{}",
            t(zh, "window scale shift ", "窗口扩大移位数 "),
            t(zh, " exceeds 14: it is used as 14", " 超过 14：按 14 处理")
        ),
        // Not reached: `check` sends each step's checks to its own function.
        _ => String::new(),
    }
}

/// The checks of a SYN-ACK.
fn synack_text(c: &Check, zh: bool) -> String {
    let n = |v: Option<u32>| v.map_or_else(|| "?".to_string(), |x| x.to_string());
    let (got, want, base, len) = (n(c.got), n(c.want), n(c.base), n(c.len));
    let detail = c.detail.unwrap_or("");
    match (c.what, c.ok) {
        (What::SynAckAck, true) if c.len.is_some() => format!(
            "{}{got} = ISN {base} + 1 + {len}{}",
            t(zh, "SYN-ACK acknowledges ", "SYN-ACK 确认号 "),
            t(
                zh,
                " bytes of Fast Open data: the server accepted the data — correct",
                " 字节 TFO 数据：服务器接受了数据 —— 正确"
            )
        ),
        (What::SynAckAck, true) => format!(
            "{}{got}{}{base}{}{want} — {}",
            t(zh, "SYN-ACK acknowledges ", "SYN-ACK 的确认号是 "),
            t(zh, "; the SYN's ISN was ", "；SYN 的初始序列号是 "),
            t(
                zh,
                " and a SYN uses one sequence number: the ack must be ",
                "，SYN 占用一个序列号，确认号应为 "
            ),
            t(zh, "correct", "正确")
        ),
        (What::SynAckAck, false) => format!(
            "{}{got}{}{base}{}{want} = ISN + 1 — {}",
            t(zh, "SYN-ACK acknowledges ", "SYN-ACK 的确认号是 "),
            t(zh, ", but the SYN's ISN was ", "，但 SYN 的初始序列号是 "),
            t(zh, ": the ack must be ", "：确认号应为 "),
            t(
                zh,
                "wrong; the client must answer with a RST",
                "错误；客户端应回复 RST"
            )
        ),
        (What::SynDataAcked, _) => format!(
            "{}{got} = ISN {base} + 1 + {len}{}{want}{}",
            t(zh, "SYN-ACK acknowledges ", "SYN-ACK 确认号为 "),
            t(
                zh,
                " bytes: it acknowledged data on a SYN without Fast Open; RFC 9293 answers with ack ",
                " 字节：没有 TFO 却确认了 SYN 携带的数据；RFC 9293 应回复确认号 "
            ),
            t(zh, " and queues the data", "，数据留待连接建立后处理")
        ),
        (What::SynAckOptions, true) => t(
            zh,
            "the SYN-ACK carries only options the SYN offered — correct",
            "SYN-ACK 只携带 SYN 提出过的选项 —— 正确",
        ),
        (What::SynAckOptions, false) => format!(
            "{}{detail}{}",
            t(zh, "the SYN-ACK carries ", "SYN-ACK 携带了 "),
            t(
                zh,
                ", which the SYN did not offer: it must not be used",
                "，但 SYN 没有提出：该选项不能启用"
            )
        ),
        (What::SynAckEcn, true) if detail == "AccECN" => t(
            zh,
            "Accurate ECN: the SYN-ACK's AE/CWR/ECE bits answer the SYN's request",
            "Accurate ECN：SYN-ACK 的 AE/CWR/ECE 位回应了 SYN 的请求",
        ),
        (What::SynAckEcn, true) => t(
            zh,
            "the SYN-ACK sets ECE without CWR in answer to an ECN-setup SYN: ECN is on",
            "SYN-ACK 置位 ECE 不置 CWR，回应 ECN 协商 SYN：ECN 启用",
        ),
        (What::SynAckEcn, false) => t(
            zh,
            "the SYN-ACK's ECN bits do not answer an ECN-setup SYN (ECE without CWR, only after ECE+CWR)",
            "SYN-ACK 的 ECN 位不符合协商规则（只有 SYN 置位 ECE+CWR 时才可回复 ECE，且不带 CWR）",
        ),
        // Not reached: `check` sends each step's checks to its own function.
        _ => String::new(),
    }
}

/// The checks of the third ACK.
fn third_ack_text(c: &Check, zh: bool) -> String {
    let n = |v: Option<u32>| v.map_or_else(|| "?".to_string(), |x| x.to_string());
    let (got, want, base) = (n(c.got), n(c.want), n(c.base));
    match (c.what, c.ok) {
        (What::ThirdAckAck, true) => format!(
            "{}{got}{}{base} + 1 — {}",
            t(
                zh,
                "the third ACK acknowledges ",
                "第三次握手的 ACK 确认号 "
            ),
            t(zh, " = server ISN ", " = 服务器 ISN "),
            t(zh, "correct", "正确")
        ),
        (What::ThirdAckAck, false) => format!(
            "{}{got}{}{want}{}{base} + 1 — {}",
            t(
                zh,
                "the third ACK carries ack ",
                "第三次握手的 ACK 确认号为 "
            ),
            t(zh, "; expected ", "；应为 "),
            t(zh, " = server ISN ", " = 服务器 ISN "),
            t(
                zh,
                "wrong; the server answers with a RST",
                "错误；服务器会回复 RST"
            )
        ),
        (What::ThirdAckSeq, true) => format!(
            "{}{got}{}",
            t(zh, "its seq ", "其序列号 "),
            t(
                zh,
                " is what the SYN-ACK acknowledged — correct",
                " 正是 SYN-ACK 所确认的 —— 正确"
            )
        ),
        (What::ThirdAckSeq, false) => format!(
            "{}{got}{}{want}",
            t(zh, "its seq is ", "其序列号为 "),
            t(
                zh,
                ", but the SYN-ACK acknowledged ",
                "，但 SYN-ACK 确认的是 "
            )
        ),
        (What::ThirdAckTimestamps, true) => t(
            zh,
            "it carries timestamps, as both SYNs agreed — correct",
            "它携带时间戳，与双方 SYN 的协商一致 —— 正确",
        ),
        (What::ThirdAckTimestamps, false) => t(
            zh,
            "it carries no timestamps although both SYNs agreed on them",
            "双方 SYN 已协商时间戳，它却没有携带",
        ),
        (What::ThirdAckSeen, _) => t(
            zh,
            "SYN-ACK seen but the third ACK never was: half-open. A SYN-ACK alone is not an established connection; the server is still in SYN-RECEIVED",
            "看到了 SYN-ACK，却始终没有第三次握手的 ACK：半连接。只有 SYN-ACK 不等于连接已建立，服务器仍处于 SYN-RECEIVED",
        ),
        // Not reached: `check` sends each step's checks to its own function.
        _ => String::new(),
    }
}

/// The checks of a RST during the handshake.
fn rst_text(c: &Check, zh: bool) -> String {
    let n = |v: Option<u32>| v.map_or_else(|| "?".to_string(), |x| x.to_string());
    let (got, want, base) = (n(c.got), n(c.want), n(c.base));
    let detail = c.detail.unwrap_or("");
    match (c.what, c.ok) {
        (What::RefusedRst, true) => format!(
            "RST,ACK {}{got} = ISN {base} + 1{}",
            t(zh, "with ack ", "确认号 "),
            t(
                zh,
                ": nothing listens on the port, the client accepts the reset — connection refused",
                "：端口上没有监听，客户端接受该复位 —— 连接被拒绝"
            )
        ),
        (What::RefusedRst, false) if detail == "no ACK bit" => t(
            zh,
            "a RST without the ACK bit answers the SYN: a client in SYN-SENT ignores it",
            "回应 SYN 的 RST 没有 ACK 位：处于 SYN-SENT 的客户端会忽略它",
        ),
        (What::RefusedRst, false) => format!(
            "{}{got}{}{want} = ISN {base} + 1{}",
            t(zh, "the RST acknowledges ", "RST 的确认号是 "),
            t(zh, "; expected ", "；应为 "),
            t(
                zh,
                ": the client ignores it (forged or stale?)",
                "：客户端会忽略它（伪造或过期？）"
            )
        ),
        (What::BadAckRst, true) => format!(
            "{}{got}{}",
            t(
                zh,
                "the client resets the bad SYN-ACK with seq ",
                "客户端以序列号 "
            ),
            t(
                zh,
                " = the SYN-ACK's ack — correct",
                "（= SYN-ACK 的确认号）复位错误的 SYN-ACK —— 正确"
            )
        ),
        (What::BadAckRst, false) => format!(
            "{}{got}{}{want}",
            t(zh, "the client's RST has seq ", "客户端 RST 的序列号为 "),
            t(
                zh,
                "; it should be the SYN-ACK's ack, ",
                "；应等于 SYN-ACK 的确认号 "
            )
        ),
        // Not reached: `check` sends each step's checks to its own function.
        _ => String::new(),
    }
}

/// The check of a RST after the handshake, by where its seq fell.
fn established_rst_text(c: &Check, zh: bool) -> String {
    let n = |v: Option<u32>| v.map_or_else(|| "?".to_string(), |x| x.to_string());
    let (got, want, window) = (n(c.got), n(c.want), n(c.window));
    match (c.detail.unwrap_or(""), zh) {
        ("exact", false) => {
            format!(
                "RST seq {got} = RCV.NXT {want}: its receiver takes it — the connection is reset"
            )
        }
        ("exact", true) => format!("RST 序列号 {got} = RCV.NXT {want}：接收方接受它 —— 连接被复位"),
        ("fin-seq", false) => format!(
            "RST seq {got} = RCV.NXT {want} − 1, the sender's FIN: Linux takes it — the connection is reset"
        ),
        ("fin-seq", true) => format!(
            "RST 序列号 {got} = RCV.NXT {want} − 1（发送方 FIN 的序列号）：Linux 接受它 —— 连接被复位"
        ),
        ("in-window", false) => format!(
            "RST seq {got}, but RCV.NXT is {want}: in the window ({window} bytes), not RCV.NXT — a receiver that follows RFC 5961 §3.2 answers with a challenge ACK and drops it"
        ),
        ("in-window", true) => format!(
            "RST 序列号 {got}，而 RCV.NXT 是 {want}：在窗口（{window} 字节）内但不等于 RCV.NXT —— 遵循 RFC 5961 §3.2 的接收方回复挑战 ACK 并丢弃它"
        ),
        (_, false) => format!(
            "RST seq {got}, but RCV.NXT is {want} and the window {window} bytes: outside the window — the receiver drops it"
        ),
        (_, true) => format!(
            "RST 序列号 {got}，而 RCV.NXT 是 {want}、窗口 {window} 字节：在窗口之外 —— 接收方丢弃它"
        ),
    }
}

pub(crate) fn t(zh: bool, en: &str, cn: &str) -> String {
    if zh { cn } else { en }.to_string()
}

/// A short title for a kind of failed check (the summary's anomaly list).
pub fn what_title(w: What, lang: Lang) -> &'static str {
    let (en, zh) = match w {
        What::SynFlags => ("SYN with FIN or RST", "SYN 同时带 FIN 或 RST"),
        What::SynEcn => ("malformed ECN-setup SYN", "ECN 协商 SYN 不完整"),
        What::WindowScale => ("window scale above 14", "窗口扩大移位数超过 14"),
        What::SynAckAck => (
            "SYN-ACK acknowledges the wrong number",
            "SYN-ACK 确认号错误",
        ),
        What::SynDataAcked => (
            "SYN data acknowledged without Fast Open",
            "无 TFO 却确认了 SYN 数据",
        ),
        What::SynAckOptions => (
            "SYN-ACK option the SYN did not offer",
            "SYN-ACK 带有 SYN 未提出的选项",
        ),
        What::SynAckEcn => (
            "SYN-ACK ECN bits without an ECN-setup SYN",
            "SYN-ACK 的 ECN 位不符合协商",
        ),
        What::ThirdAckAck => (
            "third ACK acknowledges the wrong number",
            "第三次握手 ACK 确认号错误",
        ),
        What::ThirdAckSeq => (
            "third ACK with an unexpected seq",
            "第三次握手 ACK 序列号不符",
        ),
        What::ThirdAckTimestamps => (
            "third ACK without agreed timestamps",
            "第三次握手 ACK 缺少时间戳",
        ),
        What::ThirdAckSeen => ("half-open: no third ACK", "半连接：没有第三次握手"),
        What::RefusedRst => ("RST to a SYN the client would ignore", "客户端会忽略的 RST"),
        What::BadAckRst => (
            "RST to a bad SYN-ACK with the wrong seq",
            "复位错误 SYN-ACK 的 RST 序列号不对",
        ),
        What::EstablishedRst => (
            "RST after the handshake its receiver does not take",
            "握手后接收方不接受的 RST",
        ),
    };
    if lang == Lang::Zh { zh } else { en }
}

pub fn outcome(o: Outcome, lang: Lang) -> &'static str {
    let (en, zh) = match o {
        Outcome::Established => ("established", "已建立"),
        Outcome::Closed => ("established, closed", "已建立，正常关闭"),
        Outcome::ResetAfterEstablishment => ("established, then reset", "已建立，后被复位"),
        Outcome::ResetDuringHandshake => ("reset during the handshake", "握手中被复位"),
        Outcome::Refused => ("refused", "被拒绝"),
        Outcome::NoAnswer => ("no answer", "无应答"),
        Outcome::HalfOpen => ("half-open", "半连接"),
        Outcome::SimultaneousOpen => ("simultaneous open", "同时打开"),
        Outcome::Unreachable => ("unreachable (ICMP)", "不可达（ICMP）"),
        Outcome::OneSided => ("one direction captured", "只抓到一个方向"),
    };
    if lang == Lang::Zh { zh } else { en }
}

/// What came of TCP Fast Open in a handshake (`Negotiated::fast_open`).
pub fn fast_open(id: &'static str, lang: Lang) -> &'static str {
    let (en, zh) = match id {
        "none" => ("none", "未使用"),
        "cookie_requested" => ("cookie requested", "请求了 cookie"),
        "cookie_issued" => ("cookie issued", "已发放 cookie"),
        "data_accepted" => ("SYN data accepted", "SYN 携带的数据被接受"),
        "data_not_accepted" => ("SYN data not accepted", "SYN 携带的数据未被接受"),
        other => (other, other),
    };
    if lang == Lang::Zh { zh } else { en }
}

/// Why a capture's reading stopped early.
pub fn damage(d: &Damage, lang: Lang) -> String {
    let (en, zh) = match d {
        Damage::EndsInsideFrame => (
            "the file ends inside a frame (cut off)",
            "文件在一帧的中间结束（被截断）",
        ),
        Damage::RecordTooLong => {
            let mib = crate::reader::MAX_RECORD >> 20;
            return if lang == Lang::Zh {
                format!("一条记录声称超过 {mib} MiB，这些字节不是记录")
            } else {
                format!("a record claims more than {mib} MiB, so these bytes are no record")
            };
        }
        Damage::BadBlock => (
            "a pcapng block that does not parse",
            "一个无法解析的 pcapng 块",
        ),
        Damage::EndsEarly => (
            "the data ends before its own end marker (a compressed file cut off)",
            "数据在其结束标记之前就结束了（压缩文件被截断）",
        ),
        Damage::Unreadable(why) => {
            return format!(
                "{}{why}",
                t(lang == Lang::Zh, "reading failed: ", "读取失败：")
            );
        }
    };
    (if lang == Lang::Zh { zh } else { en }).to_string()
}

/// Frames of link types that are not read (`ReadSummary::unread_links`):
/// how many, of which link type, and that nothing in them was looked at.
pub fn unread_links(links: &[(i32, u64)], lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let each: Vec<String> = links
        .iter()
        .map(|&(lt, n)| {
            let kind = match (lt, crate::link::name(lt), zh) {
                (-1, _, false) => "an interface the file never described".to_string(),
                (-1, _, true) => "文件从未描述过的接口".to_string(),
                (_, Some(name), false) => format!("{lt} ({name})"),
                (_, Some(name), true) => format!("{lt}（{name}）"),
                (_, None, _) => lt.to_string(),
            };
            match (zh, n, lt) {
                (true, _, -1) => format!("{n} 帧来自{kind}"),
                (true, _, _) => format!("{n} 帧的链路类型为 {kind}"),
                (false, 1, -1) => format!("1 frame is on {kind}"),
                (false, _, -1) => format!("{n} frames are on {kind}"),
                (false, 1, _) => format!("1 frame is of link type {kind}"),
                (false, _, _) => format!("{n} frames are of link type {kind}"),
            }
        })
        .collect();
    if zh {
        format!(
            "{}：不是 analyze 读取的链路层，其中的内容均未分析",
            each.join("；")
        )
    } else {
        format!(
            "{}: not a link layer analyze reads, so nothing in them was looked at",
            each.join("; ")
        )
    }
}

/// Exact seconds from nanoseconds: at least six decimals, more only when
/// the nanoseconds need them (`0.100000`, `0.000000300`).
fn exact_secs(ns: i64) -> String {
    let (s, frac) = (ns / 1_000_000_000, (ns % 1_000_000_000).unsigned_abs());
    let mut digits = format!("{frac:09}");
    while digits.len() > 6 && digits.ends_with('0') {
        digits.pop();
    }
    format!("{}{s}.{digits}", if ns < 0 && s == 0 { "-" } else { "" })
}

/// Where an attempt's times go backward, and what that means for its RTT.
pub fn clock_back(c: &crate::ClockBack, lang: Lang) -> String {
    let (f, l, by) = (c.frame, c.latest_frame, exact_secs(c.by_ns));
    if lang == Lang::Zh {
        format!(
            "时间倒退：帧 {f} 的时间戳比在它之前抓到的帧 {l} 早 {by} s（合并了时钟不一致的主机的抓包、抓包时时钟被调整，或帧在不同的 CPU 或接口上打时间戳）；跨越这一点的时间差不是时长，所以从这里起不给出 RTT"
        )
    } else {
        format!(
            "times go backward: frame {f} is stamped {by} s before frame {l}, which came before it in the capture (captures merged from hosts whose clocks differ, a clock stepped while capturing, or frames stamped on other CPUs or interfaces); a time across it is no duration, so no RTT is given from there on"
        )
    }
}

/// One step as a line: frame, time, direction, tcpdump flags, numbers.
pub fn step(s: &Step, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let arrow = if s.from == "client" {
        t(zh, "client → server", "客户端 → 服务器")
    } else {
        t(zh, "server → client", "服务器 → 客户端")
    };
    format!(
        "{} {:>6}  {:+.6} s  {arrow}  [{}] seq {} ack {} win {} len {}",
        t(zh, "frame", "帧"),
        s.frame,
        s.t,
        s.flags.tcpdump(),
        s.seq,
        s.ack,
        s.window,
        s.len
    )
}
