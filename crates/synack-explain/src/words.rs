//! Words in both languages: states, flags, rule summaries. Everything the
//! narration says in Chinese follows the terms of Chinese textbooks
//! (三次握手, 序列号, 确认号, 标志位, 半连接队列…).

use synack_engine::{Rule, State};

/// Output language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// From `LC_ALL`, `LC_MESSAGES`, `LANG` (first one set): Chinese for `zh*`.
    pub fn from_env() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var) {
                if v.is_empty() {
                    continue;
                }
                return if v.to_ascii_lowercase().starts_with("zh") {
                    Lang::Zh
                } else {
                    Lang::En
                };
            }
        }
        Lang::En
    }

    /// Pick the string for this language.
    pub fn t<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

/// A Chinese gloss of a state name, shown next to the RFC name.
pub fn state_gloss(s: State) -> &'static str {
    match s {
        State::Closed => "关闭",
        State::Listen => "监听",
        State::SynSent => "同步已发送",
        State::SynReceived => "同步已收到",
        State::Established => "连接已建立",
        State::FinWait1 => "终止等待 1",
        State::FinWait2 => "终止等待 2",
        State::CloseWait => "关闭等待",
        State::Closing => "双方同时关闭",
        State::LastAck => "最后确认",
        State::TimeWait => "时间等待",
    }
}

/// The rule's one-line summary in `lang`.
pub fn rule_summary(rule: Rule, lang: Lang) -> &'static str {
    match lang {
        Lang::En => rule.summary(),
        Lang::Zh => rule_zh(rule),
    }
}

fn rule_zh(rule: Rule) -> &'static str {
    match rule.id() {
        1 => "主动打开：选择初始序列号 ISS，发送 SYN，进入 SYN-SENT",
        2 => "SYN-SENT：收到不可接受的 ACK，回复 <SEQ=SEG.ACK><CTL=RST>",
        3 => "SYN-SENT：带可接受 ACK 的 RST 表示连接被拒绝，否则丢弃",
        4 => "SYN-SENT：收到确认号可接受的 SYN-ACK，连接建立，回复 ACK",
        5 => "SYN-SENT：既无 SYN 也无 RST 的报文段被丢弃",
        6 => "SYN-SENT：收到不带 ACK 的 SYN，即同时打开，回复 SYN-ACK",
        7 => "超时重传 SYN，重传超时时间（RTO）逐次加倍",
        8 => "重传次数用尽后放弃建立连接",
        9 => "请求 ECN 的 SYN 同时置 ECE 和 CWR",
        10 => "在 SYN-SENT 调用 CLOSE 或 ABORT：删除传输控制块，不发 RST",
        11 => "LISTEN：忽略 RST；既无 SYN、ACK 也无 RST 的报文段直接丢弃",
        12 => "LISTEN：带 ACK 的报文段回复 <SEQ=SEG.ACK><CTL=RST>",
        13 => "LISTEN：收到 SYN，创建连接进入 SYN-RECEIVED，回复 SYN-ACK",
        14 => "SYN-ACK 只携带 SYN 中出现过的选项",
        15 => "SYN-RECEIVED：收到可接受的 ACK，进入 ESTABLISHED",
        16 => "SYN-RECEIVED：不可接受的 ACK 回复 RST；不带 ACK 的报文段丢弃",
        17 => "SYN-RECEIVED：收到重复的 SYN 要回应（RFC：回 ACK；Linux：重传 SYN-ACK）",
        18 => "SYN-RECEIVED（被动打开）：收到新的 SYN，回到 LISTEN",
        19 => "SYN-RECEIVED：收到 RST，被动打开则回到 LISTEN，主动打开则连接被拒绝",
        20 => "用同一个 ISS 重传 SYN-ACK，放弃时不通知任何人",
        21 => "未启用 TFO 时，SYN 携带的数据不被确认",
        22 => "旧的重复 SYN 被发起方用 RST <SEQ=SEG.ACK> 否决",
        23 => "到达 LISTEN 的 SYN-ACK 被复位",
        24 => "重启后的对端发来 SYN：先收到挑战 ACK，再发精确的 RST",
        25 => "发往没有传输控制块的一端的数据得到 RST",
        26 => "永远不对 RST 回复 RST",
        27 => "CLOSED：带 ACK 的报文段回复 <SEQ=SEG.ACK><CTL=RST>",
        28 => "CLOSED：不带 ACK 的报文段回复 <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>",
        29 => "同步状态下的序列号可接受性检查",
        30 => "不可接受的非 RST 报文段：回复 <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>",
        31 => "SEG.SEQ 恰好等于 RCV.NXT 的 RST 复位连接",
        32 => "窗口内但不精确的 RST 得到挑战 ACK；窗口外的被丢弃",
        33 => "同步状态下收到 SYN，回复挑战 ACK",
        34 => "同步状态下的确认号检查与窗口更新",
        35 => "协商了时间戳后，每个非 RST 报文段都带时间戳",
        36 => "只有双方的 SYN 都带窗口扩大选项才启用，移位值最大 14",
        37 => "MSS 选项；缺省时按 536（IPv4）/1220（IPv6）",
        38 => "忽略未知选项，长度非法的选项导致报文段被丢弃",
        39 => "SACK 允许选项只出现在 SYN 中；只有对方允许才发送 SACK",
        40 => "只有回应请求 ECN 的 SYN 时，SYN-ACK 才设置 ECE",
        41 => "TCP 快速打开（TFO）：cookie 与 SYN 中的数据",
        42 => "ISN = 4 微秒时钟 + 四元组的带密钥哈希",
        43 => "半连接队列满时使用 SYN cookie",
        44 => "cookie 布局：时间、MSS 索引、带密钥哈希",
        45 => "Linux 的 SYN cookie 布局",
        46 => "主动关闭：FIN，FIN-WAIT-1，FIN-WAIT-2，TIME-WAIT",
        47 => "收到 FIN：回复 ACK，进入 CLOSE-WAIT；应用关闭后发 FIN，进入 LAST-ACK，最后 CLOSED",
        48 => "同时关闭：双方的 FIN 交叉，进入 CLOSING，再进入 TIME-WAIT",
        49 => "TIME-WAIT 持续 2MSL；重传的 FIN 会被再次确认",
        50 => "TIME-WAIT 中收到 RST 关闭连接",
        51 => "FIN 只有按序到达才被处理",
        52 => "还有未读数据时 CLOSE 发送 RST",
        53 => "ABORT：同步状态和 SYN-RECEIVED 发送 RST，其余状态不发",
        54 => "告诉应用连接是正常关闭还是被复位",
        55 => "ICMP 目的不可达（针对在途报文段）：硬错误终止连接建立，软错误记下",
        _ => rule.summary(),
    }
}

/// An ICMP unreachable reason in words.
pub fn unreachable(r: synack_wire::Unreachable, lang: Lang) -> &'static str {
    use synack_wire::Unreachable as U;
    match r {
        U::Net => lang.t("net unreachable", "网络不可达"),
        U::Host => lang.t("host unreachable", "主机不可达"),
        U::Protocol => lang.t("protocol unreachable", "协议不可达"),
        U::Port => lang.t("port unreachable", "端口不可达"),
        U::FragmentationNeeded { .. } => lang.t("fragmentation needed", "需要分片"),
        U::NetProhibited => lang.t("network administratively prohibited", "网络被管理性禁止"),
        U::HostProhibited => lang.t("host administratively prohibited", "主机被管理性禁止"),
        U::AdminProhibited => lang.t(
            "communication administratively prohibited",
            "通信被管理性禁止",
        ),
        U::Other(_) => lang.t("unreachable (another code)", "不可达（其他代码）"),
    }
}

/// The short name nftables' `reject with` uses for it (language-neutral,
/// as flags are), for diagrams.
pub fn unreachable_token(r: synack_wire::Unreachable) -> String {
    use synack_wire::Unreachable as U;
    match r {
        U::Net => "net-unreachable".into(),
        U::Host => "host-unreachable".into(),
        U::Protocol => "prot-unreachable".into(),
        U::Port => "port-unreachable".into(),
        U::FragmentationNeeded { mtu } => format!("frag-needed mtu {mtu}"),
        U::NetProhibited => "net-prohibited".into(),
        U::HostProhibited => "host-prohibited".into(),
        U::AdminProhibited => "admin-prohibited".into(),
        U::Other(c) => format!("code {c}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_chinese() {
        for r in Rule::ALL {
            assert_ne!(rule_zh(r), r.summary(), "rule {} lacks Chinese", r.id());
        }
    }
}
