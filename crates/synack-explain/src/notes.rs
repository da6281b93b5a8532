//! The extensions' decisions (ECN, Fast Open, SYN cookies, the listen
//! queues) in words, from the numbers the step recorded.

use synack_engine::Note;

use crate::words::Lang;

pub fn note(n: Note, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let s = |en: &str, cn: &str| if zh { cn.to_string() } else { en.to_string() };
    match n {
        Note::EcnRequested => s(
            "→ asks for ECN: the SYN sets ECE and CWR (an ECN-setup SYN)",
            "→ 请求 ECN：SYN 同时置位 ECE 和 CWR（ECN 协商 SYN）",
        ),
        Note::EcnFallback => s(
            "→ no answer to the ECN-setup SYN: this retransmission is a plain SYN, in case ECN bits are what gets it dropped",
            "→ ECN 协商 SYN 没有回应：这次重传改用普通 SYN，以防是 ECN 位导致被丢弃",
        ),
        Note::EcnAgreed => s(
            "→ ECN is on: ECN-setup SYN answered by a SYN-ACK with ECE and without CWR",
            "→ ECN 启用：ECN 协商 SYN 得到了置位 ECE、不置 CWR 的 SYN-ACK",
        ),
        Note::EcnDeclined => s(
            "→ the peer asked for ECN, ECN is off here: a plain SYN-ACK declines",
            "→ 对方请求 ECN，本方未开启：用普通 SYN-ACK 拒绝",
        ),
        Note::FastOpenCookieRequested => s(
            "→ asks for a Fast Open cookie: an empty TFO option on the SYN; the data waits for the handshake",
            "→ 请求 TFO cookie：SYN 带空的 TFO 选项；数据等握手完成后再发",
        ),
        Note::FastOpenCookieIssued => s(
            "→ gives the client a Fast Open cookie (a keyed hash of its address) in the SYN-ACK",
            "→ 在 SYN-ACK 中给客户端一个 TFO cookie（对其地址的带密钥哈希）",
        ),
        Note::FastOpenCookieLearned => s(
            "→ keeps the server's Fast Open cookie: next time data can ride on the SYN",
            "→ 保存服务器的 TFO cookie：下次数据可以随 SYN 发送",
        ),
        Note::IcmpSoftError { reason } => match lang {
            Lang::En => format!(
                "→ a soft error ({}): the connection goes on retrying, and remembers it",
                crate::words::unreachable(reason, lang)
            ),
            Lang::Zh => format!(
                "→ 软错误（{}）：连接继续重试，并记下这个错误",
                crate::words::unreachable(reason, lang)
            ),
        },
        Note::FinAckDelayed { ms } => match lang {
            Lang::En => format!(
                "→ the ACK of the FIN waits up to {ms} ms: if the application closes (or sends) by then, its segment carries the ACK (a delayed ACK, RFC 1122 §4.2.3.2)"
            ),
            Lang::Zh => format!(
                "→ 对 FIN 的确认最多等待 {ms} ms：若应用在此之前关闭（或发送数据），就由它的报文段捎带这个 ACK（延迟确认，RFC 1122 §4.2.3.2）"
            ),
        },
        Note::FastOpenDataSent { bytes } => match lang {
            Lang::En => format!("→ {bytes} bytes of data ride on the SYN, with the cookie"),
            Lang::Zh => format!("→ {bytes} 字节数据随 SYN 发送，附带 cookie"),
        },
        Note::FastOpenDataAccepted { bytes } => match lang {
            Lang::En => format!(
                "→ the cookie is valid: the SYN's {bytes} bytes go to the application now, before the handshake completes; the SYN-ACK acknowledges them"
            ),
            Lang::Zh => format!(
                "→ cookie 有效：SYN 携带的 {bytes} 字节立即交给应用，不等握手完成；SYN-ACK 确认这些数据"
            ),
        },
        Note::FastOpenDataRejected { bytes } => match lang {
            Lang::En => format!(
                "→ the cookie is not valid: the SYN's {bytes} bytes are not taken (the SYN-ACK acknowledges only the SYN) and a fresh cookie goes back"
            ),
            Lang::Zh => format!(
                "→ cookie 无效：不接收 SYN 的 {bytes} 字节（SYN-ACK 只确认 SYN），并回送一个新 cookie"
            ),
        },
        Note::FastOpenDataResent { bytes } => match lang {
            Lang::En => format!(
                "→ the SYN-ACK acknowledged only the SYN: the {bytes} bytes go again after the handshake"
            ),
            Lang::Zh => format!("→ SYN-ACK 只确认了 SYN：这 {bytes} 字节在握手后重传"),
        },
        Note::SynCookieSent {
            mss,
            syn_queue,
            backlog,
        } => match lang {
            Lang::En => format!(
                "→ SYN queue {syn_queue}/{backlog}: answers with a SYN cookie. The SYN-ACK's ISS encodes the time, the MSS ({mss}) and a keyed hash of the 4-tuple; nothing is kept, so this SYN-ACK is never retransmitted"
            ),
            Lang::Zh => format!(
                "→ 半连接队列 {syn_queue}/{backlog}：改用 SYN cookie 应答。SYN-ACK 的初始序列号编码了时间、MSS（{mss}）和四元组的带密钥哈希；不保存任何状态，所以这个 SYN-ACK 永不重传"
            ),
        },
        Note::SynCookieAccepted { mss } => match lang {
            Lang::En => format!(
                "→ ack − 1 is a valid cookie: the connection is rebuilt from it (MSS {mss}) straight into ESTABLISHED"
            ),
            Lang::Zh => format!(
                "→ 确认号 − 1 是有效的 cookie：据此重建连接（MSS {mss}），直接进入 ESTABLISHED"
            ),
        },
        Note::SynCookieRejected => s(
            "→ ack − 1 is not a cookie this listener made (forged or too old)",
            "→ 确认号 − 1 不是本监听者生成的 cookie（伪造或已过期）",
        ),
        Note::SynQueueFull { syn_queue, backlog } => match lang {
            Lang::En => format!(
                "→ SYN queue full ({syn_queue}/{backlog}) and cookies off: the SYN is dropped"
            ),
            Lang::Zh => {
                format!("→ 半连接队列已满（{syn_queue}/{backlog}）且未开启 SYN cookie：丢弃该 SYN")
            }
        },
        Note::AcceptQueueFull { accepted, backlog } => match lang {
            Lang::En => format!(
                "→ accept queue full ({accepted}/{backlog}): the third ACK is dropped; the SYN-ACK will be retransmitted"
            ),
            Lang::Zh => format!(
                "→ 全连接队列已满（{accepted}/{backlog}）：丢弃第三次握手的 ACK；SYN-ACK 会重传"
            ),
        },
    }
}

/// The note's name and numbers, for JSON.
pub fn fields(n: Note) -> (&'static str, Vec<(&'static str, u32)>) {
    match n {
        Note::EcnRequested => ("ecn_requested", vec![]),
        Note::EcnFallback => ("ecn_fallback", vec![]),
        Note::EcnAgreed => ("ecn_agreed", vec![]),
        Note::EcnDeclined => ("ecn_declined", vec![]),
        Note::FastOpenCookieRequested => ("fast_open_cookie_requested", vec![]),
        Note::FastOpenCookieIssued => ("fast_open_cookie_issued", vec![]),
        Note::FastOpenCookieLearned => ("fast_open_cookie_learned", vec![]),
        Note::FastOpenDataSent { bytes } => ("fast_open_data_sent", vec![("bytes", bytes)]),
        Note::FastOpenDataAccepted { bytes } => ("fast_open_data_accepted", vec![("bytes", bytes)]),
        Note::FastOpenDataRejected { bytes } => ("fast_open_data_rejected", vec![("bytes", bytes)]),
        Note::FastOpenDataResent { bytes } => ("fast_open_data_resent", vec![("bytes", bytes)]),
        Note::SynCookieSent {
            mss,
            syn_queue,
            backlog,
        } => (
            "syn_cookie_sent",
            vec![
                ("mss", u32::from(mss)),
                ("syn_queue", syn_queue),
                ("backlog", backlog),
            ],
        ),
        Note::SynCookieAccepted { mss } => ("syn_cookie_accepted", vec![("mss", u32::from(mss))]),
        Note::SynCookieRejected => ("syn_cookie_rejected", vec![]),
        Note::FinAckDelayed { ms } => ("fin_ack_delayed", vec![("ms", ms)]),
        Note::IcmpSoftError { reason } => (
            "icmp_soft_error",
            vec![("code_v4", u32::from(reason.code(false)))],
        ),
        Note::SynQueueFull { syn_queue, backlog } => (
            "syn_queue_full",
            vec![("syn_queue", syn_queue), ("backlog", backlog)],
        ),
        Note::AcceptQueueFull { accepted, backlog } => (
            "accept_queue_full",
            vec![("accepted", accepted), ("backlog", backlog)],
        ),
    }
}
