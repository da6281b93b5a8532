//! The text report of `synack analyze`: the summary first, then one block
//! per attempt (every step and check with `--verbose`).

use std::fmt::Write as _;

use synack_capture::narrate;
use synack_capture::{Attempt, Id, Stats, Totals};
use synack_explain::Lang;
use synack_wire::tunnel::Tunnel;

pub const SCHEMA: &str = "synack.analyze/1";

fn ms(s: f64) -> String {
    format!("{:.3} ms", s * 1e3)
}

/// A signed interval: `+0.500 s`, or in µs below a millisecond (`-2 µs`,
/// a copy seen before the original on another interface), never `+-0.000`.
fn signed(x: f64) -> String {
    if x.abs() < 1e-3 {
        format!("{:+.0} µs", x * 1e6)
    } else {
        format!("{x:+.3} s")
    }
}

pub fn summary(name: &str, t: &Totals, s: &Stats, lang: Lang, bytes: u64, secs: f64) -> String {
    let mut o = String::new();
    head(&mut o, name, t, s, bytes, secs, lang);
    outcomes_and_rtt(&mut o, s, lang);
    counts(&mut o, t, s, lang);
    findings(&mut o, s, lang);
    o.push('\n');
    o
}

/// The first line: frames, attempts, format, size, time; then what was left out or damaged.
fn head(o: &mut String, name: &str, t: &Totals, s: &Stats, bytes: u64, secs: f64, lang: Lang) {
    let zh = lang == Lang::Zh;
    let tr = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let _ = writeln!(
        o,
        "{name}: {} {}, {} {}{} ({}, {:.1} MB {} {:.2} s{})",
        t.summary.frames,
        match (zh, t.summary.frames) {
            (true, _) => "帧",
            (false, 1) => "frame",
            (false, _) => "frames",
        },
        s.attempts,
        match (zh, s.attempts) {
            (true, _) => "次连接尝试",
            (false, 1) => "connection attempt",
            (false, _) => "connection attempts",
        },
        match (zh, s.left_out) {
            (_, 0) => String::new(),
            (true, n) => format!("经 --filter 保留, {n} 次未计入"),
            (false, n) => format!(" kept by --filter, {n} left out"),
        },
        t.summary.format,
        bytes as f64 / 1e6,
        tr("read in", "读取用时"),
        secs,
        match (zh, t.threads) {
            (_, 0 | 1) => String::new(),
            (true, n) => format!(", {n} 个线程"),
            (false, n) => format!(" on {n} threads"),
        }
    );
    if t.evicted > 0 {
        let _ = writeln!(
            o,
            "  {} {} ({})",
            t.evicted,
            tr(
                "attempts reported before they were over, to stay within --max-attempts",
                "次连接尝试在结束前就被报告（为不超过 --max-attempts）"
            ),
            tr("marked evicted", "标记为 evicted")
        );
    }
    for note in read_notes(&t.summary, lang) {
        let _ = writeln!(o, "  {note}");
    }
}

/// What reading a file could not take in: where it was damaged, and the
/// frames of link layers that are not read.
pub fn read_notes(r: &synack_capture::ReadSummary, lang: Lang) -> Vec<String> {
    let mut notes: Vec<String> = r
        .damaged_at
        .iter()
        .map(|(at, why)| damaged(*at, why, lang))
        .collect();
    if !r.unread_links.is_empty() {
        notes.push(narrate::unread_links(&r.unread_links, lang));
    }
    notes
}

/// Where and why a capture stopped making sense, and that what came before
/// it was analysed.
pub fn damaged(at: u64, why: &synack_capture::reader::Damage, lang: Lang) -> String {
    let why = narrate::damage(why, lang);
    if lang == Lang::Zh {
        format!("文件在字节偏移 {at} 处损坏：{why}；之前的内容已分析")
    } else {
        format!("damaged at byte {at}: {why}; everything before it is analysed")
    }
}

/// Outcomes and RTT percentiles.
fn outcomes_and_rtt(o: &mut String, s: &Stats, lang: Lang) {
    let zh = lang == Lang::Zh;
    let tr = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let outcomes: Vec<String> = s
        .by_outcome()
        .map(|(k, v)| format!("{} {v}", narrate::outcome(k, lang)))
        .collect();
    if !outcomes.is_empty() {
        // Some outcome names have commas of their own ("established, closed").
        let _ = writeln!(
            o,
            "  {}: {}",
            tr("outcomes", "结果"),
            outcomes.join(tr("; ", "；"))
        );
    }
    if let (Some(p50), Some(p90), Some(p99), Some(max)) = (
        s.rtt.percentile(0.5),
        s.rtt.percentile(0.9),
        s.rtt.percentile(0.99),
        s.rtt.max(),
    ) {
        let _ = writeln!(
            o,
            "  {}: p50 {}  p90 {}  p99 {}  max {}  ({} {})",
            tr(
                "handshake RTT (SYN → third ACK)",
                "握手 RTT（SYN → 第三次 ACK）"
            ),
            ms(p50),
            ms(p90),
            ms(p99),
            ms(max),
            s.rtt.len(),
            match (zh, s.rtt.len()) {
                (true, _) => "次握手",
                (false, 1) => "handshake",
                (false, _) => "handshakes",
            }
        );
    }
}

/// Retransmissions, checksums and copies; then what was set apart.
fn counts(o: &mut String, t: &Totals, s: &Stats, lang: Lang) {
    let zh = lang == Lang::Zh;
    let tr = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let _ = writeln!(
        o,
        "  {}: SYN {}, SYN-ACK {}; {} {}; {} {}; {} {}",
        tr("retransmissions", "重传"),
        s.syn_retransmissions,
        s.synack_retransmissions,
        tr("bad checksums", "校验和错误"),
        s.bad_checksums,
        tr("duplicates", "重复帧"),
        s.duplicates,
        tr("port reuse", "端口复用"),
        s.port_reuse
    );
    if s.offloaded_checksums > 0 {
        let n = s.offloaded_checksums;
        let _ = if zh {
            writeln!(
                o,
                "  其中 {n} 个错误的校验和只是伪首部之和：校验和卸载，发送主机把校验和留给网卡完成，抓包发生在完成之前（回环接口上从不补全），并非线路上的损坏；--no-checksums 不检查校验和"
            )
        } else {
            let (are, them) = if n == 1 {
                ("is", "it")
            } else {
                ("are", "them")
            };
            writeln!(
                o,
                "  {n} of the bad checksums {are} the pseudo-header's sum alone: checksum offload, the sending host left {them} for its network card to finish and the capture saw {them} before (on loopback nothing ever finishes them), not damage on the wire; --no-checksums leaves checksums unchecked"
            )
        };
    }
    if s.copies > 0 {
        let _ = writeln!(
            o,
            "  {} {} ({})",
            s.copies,
            tr(
                "segments seen again on another interface",
                "个报文在另一接口上又出现一次"
            ),
            tr(
                "copies, not retransmissions: a capture on both sides of a router",
                "是副本而非重传：在路由器两侧同时抓包"
            )
        );
    }
    set_apart(o, t, s, lang);
}

/// What the pass counted apart from the attempts' steps: times going back,
/// what was beneath frames, frames filtered out or outside any attempt.
fn set_apart(o: &mut String, t: &Totals, s: &Stats, lang: Lang) {
    let zh = lang == Lang::Zh;
    let tr = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    if s.clock_back > 0 {
        let n = s.clock_back;
        let _ = if zh {
            writeln!(
                o,
                "  {n} 次尝试的时间戳倒退：跨越倒退处不给出 RTT（见各次尝试）"
            )
        } else {
            writeln!(
                o,
                "  {n} {} whose times go backward: no RTT is given across that (see each)",
                if n == 1 { "attempt" } else { "attempts" }
            )
        };
    }
    beneath(o, t, lang);
    if t.filtered_out > 0 {
        let _ = writeln!(
            o,
            "  {} {}",
            t.filtered_out,
            tr("frames left out by the -F filter", "帧被 -F 过滤条件排除")
        );
    }
    if t.unmatched > 0 || t.unreadable > 0 {
        let _ = writeln!(
            o,
            "  {} {}; {} {}",
            t.unmatched,
            tr(
                "segments of connections opened before the capture",
                "个报文属于抓包前已建立的连接"
            ),
            t.unreadable,
            tr(
                "frames with an unreadable TCP header",
                "帧的 TCP 首部无法读取"
            )
        );
    }
}

/// Packets found beneath frames: put together from fragments, or taken
/// out of tunnels.
fn beneath(o: &mut String, t: &Totals, lang: Lang) {
    let zh = lang == Lang::Zh;
    if t.reassembled > 0 {
        let n = t.reassembled;
        let _ = if zh {
            writeln!(
                o,
                "  {n} 个 IP 包由分片重组（与接收方一样）：每个包在补全它的那一帧处分析"
            )
        } else {
            writeln!(
                o,
                "  {n} IP {} put back together from fragments, as the receiver does: each is analysed at the frame that completed it",
                if n == 1 { "packet" } else { "packets" }
            )
        };
    }
    if t.fragments_lost > 0 {
        let n = t.fragments_lost;
        let _ = if zh {
            writeln!(
                o,
                "  {n} 个 IP 分片没有组成完整的包（缺少分片、分片重叠且内容不同，或被抓包长度截断）：未分析"
            )
        } else {
            writeln!(
                o,
                "  {n} IP {} never made a whole packet (pieces missing, overlapping with other bytes, or cut by the snap length): not analysed",
                if n == 1 { "fragment" } else { "fragments" }
            )
        };
    }
    let tunnels: Vec<String> = Tunnel::ALL
        .iter()
        .zip(t.tunnelled)
        .filter(|&(_, n)| n > 0)
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    let n: u64 = t.tunnelled.iter().sum();
    if n > 0 {
        let _ = if zh {
            writeln!(
                o,
                "  {n} 个包取自隧道（{}）：连接尝试按隧道内的地址和端口计",
                tunnels.join("、")
            )
        } else {
            writeln!(
                o,
                "  {n} {} taken out of tunnels ({}): the attempts are between the addresses inside",
                if n == 1 { "packet" } else { "packets" },
                tunnels.join(", ")
            )
        };
    }
    networks(o, &t.tunnel_networks, lang);
}

/// Several networks in the tunnels: attempts are told apart by network as
/// well as 4-tuple, where tshark joins a 4-tuple reused in two of them
/// into one conversation; the reader comparing the two must know.
fn networks(o: &mut String, nets: &[(Tunnel, u32)], lang: Lang) {
    if nets.len() < 2 {
        return;
    }
    let mut ids: Vec<String> = nets
        .iter()
        .map(|(k, id)| format!("{} {id}", k.name()))
        .collect();
    // Past the first few dozen only "more" is known.
    let full = nets.len() >= synack_capture::MAX_TUNNEL_NETWORKS;
    let n = if full {
        ids.push("…".to_string());
        format!("{}+", nets.len())
    } else {
        nets.len().to_string()
    };
    let _ = if lang == Lang::Zh {
        writeln!(
            o,
            "  隧道承载了 {n} 个网络（{}）：连接按所在网络和四元组区分（tshark 只按四元组：同一四元组在两个网络中出现时，它的 tcp.stream 会把两边的包混在一起）",
            ids.join("、")
        )
    } else {
        writeln!(
            o,
            "  the tunnels carry {n} networks ({}): conversations are told apart by network and 4-tuple (tshark by 4-tuple alone: its tcp.stream mixes the segments of a 4-tuple used in two networks)",
            ids.join(", ")
        )
    };
}

/// Diagnoses, then the failed checks, most frequent first.
fn findings(o: &mut String, s: &Stats, lang: Lang) {
    let zh = lang == Lang::Zh;
    let tr = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let diag = s.top_diagnoses();
    if !diag.is_empty() {
        // A RST its receiver ignored reset nothing: not counted as a reset.
        let ignored = (s.diagnoses())
            .get(&(Id::Reset, "ignored-reset"))
            .copied()
            .unwrap_or(0);
        let mut list: Vec<String> = diag
            .iter()
            .map(|&(id, n)| {
                (
                    id,
                    if id == Id::Reset {
                        n - ignored.min(n)
                    } else {
                        n
                    },
                )
            })
            .filter(|&(_, n)| n > 0)
            .map(|(id, n)| format!("{} {n}", narrate::id_title(id, lang)))
            .collect();
        if ignored > 0 {
            let t = tr("RST its receiver ignored", "被接收方忽略的 RST");
            list.push(format!("{t} {ignored}"));
        }
        let _ = writeln!(
            o,
            "  {}: {}",
            tr("diagnoses", "诊断"),
            list.join(tr("; ", "；"))
        );
    }
    let top = s.top_anomalies();
    if s.attempts == 0 {
        // Nothing was checked: "every check passed" would say it was.
        let _ = writeln!(
            o,
            "  {}",
            tr(
                "anomalies: none found, no attempt to check",
                "异常：没有可检查的连接尝试"
            )
        );
    } else if top.is_empty() {
        let _ = writeln!(
            o,
            "  {}",
            tr(
                "anomalies: none, every check passed",
                "异常：无，所有检查均通过"
            )
        );
    } else {
        let _ = writeln!(
            o,
            "  {}:",
            tr(
                "anomalies (failed checks, most frequent first)",
                "异常（未通过的检查，按次数排序）"
            )
        );
        for (what, n, example) in top.iter().take(10) {
            let _ = writeln!(
                o,
                "    {n:>8}  {} [{} {}]  {} {example}",
                narrate::what_title(*what, lang),
                tr("rule", "规则"),
                what.rule().id(),
                tr("e.g.", "例如")
            );
        }
    }
}

/// One attempt: a line, the failed checks, and with `verbose` the steps,
/// the options and every check.
pub fn attempt(n: u64, a: &Attempt, verbose: bool, lang: Lang) -> String {
    let mut l = attempt_line(n, a, lang);
    details(&mut l, a, verbose, lang);
    l
}

/// What follows an attempt's ends when it was in an overlay network: " in
/// VXLAN 42"; nothing otherwise.
pub fn in_network(network: Option<synack_capture::Network>, lang: Lang) -> String {
    match (network, lang) {
        (None, _) => String::new(),
        (Some(w), Lang::Zh) => format!("（在 {} {} 中）", w.tunnel.name(), w.id),
        (Some(w), _) => format!(" in {} {}", w.tunnel.name(), w.id),
    }
}

/// An attempt's line: ends, outcome, zeek's state and history, the frames
/// of each step, the RTT, repeats and what else was counted.
fn attempt_line(n: u64, a: &Attempt, lang: Lang) -> String {
    let mut l = format!(
        "#{n} {} → {}{}  {}  {} {}",
        a.client,
        a.server,
        in_network(a.network, lang),
        narrate::outcome(a.outcome, lang),
        a.conn_state,
        a.history
    );
    let frames = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    if a.syn_frames.is_empty() {
        let _ = write!(
            l,
            "  {}",
            if lang == Lang::Zh {
                "SYN 未被抓到"
            } else {
                "SYN not captured"
            }
        );
    } else {
        let _ = write!(l, "  SYN {}", frames(&a.syn_frames));
    }
    if !a.synack_frames.is_empty() {
        let _ = write!(l, " SYN-ACK {}", frames(&a.synack_frames));
    }
    if let Some(f) = a.ack_frame {
        let _ = write!(l, " ACK {f}");
    }
    if let Some(r) = a.handshake_rtt_s {
        let _ = write!(l, "  RTT {}", ms(r));
    }
    retransmitted(&mut l, a, lang);
    counted(&mut l, a, lang);
    l.push('\n');
    l
}

/// The SYNs and SYN-ACKs sent again, with the intervals between them.
fn retransmitted(l: &mut String, a: &Attempt, lang: Lang) {
    let word = if lang == Lang::Zh {
        "重传"
    } else {
        "retransmitted"
    };
    let intervals = |v: &[f64]| {
        let s: Vec<String> = v.iter().map(|x| signed(*x)).collect();
        if s.is_empty() {
            String::new()
        } else {
            format!(" ({})", s.join(", "))
        }
    };
    for (what, n, gaps) in [
        (
            "SYN",
            a.syn_retransmissions,
            &a.syn_retransmission_intervals_s,
        ),
        (
            "SYN-ACK",
            a.synack_retransmissions,
            &a.synack_retransmission_intervals_s,
        ),
    ] {
        if n > 0 {
            let _ = write!(l, "  {word} {what} ×{n}{}", intervals(gaps));
        }
    }
}

/// The segments counted apart: bad checksums (and how many of them are
/// offload), duplicates, copies from another interface; a reused port.
fn counted(l: &mut String, a: &Attempt, lang: Lang) {
    let zh = lang == Lang::Zh;
    let tr = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    if a.bad_checksums > 0 {
        let _ = write!(
            l,
            "  {} {}",
            tr("bad checksums", "校验和错误"),
            a.bad_checksums
        );
        if a.offloaded_checksums > 0 {
            let n = a.offloaded_checksums;
            let _ = if zh {
                write!(l, "（{n} 个为校验和卸载）")
            } else {
                write!(l, " ({n} by checksum offload)")
            };
        }
    }
    if a.duplicates > 0 {
        let _ = write!(l, "  {} {}", tr("duplicates", "重复帧"), a.duplicates);
    }
    if a.copies > 0 {
        let _ = write!(
            l,
            "  {} {}",
            tr("copies seen on another interface", "在另一接口上看到的副本"),
            a.copies
        );
    }
    if a.port_reuse {
        let _ = write!(l, "  {}", tr("port reuse", "端口复用"));
    }
}

/// Under the line: with `verbose` the steps, options and RTT halves; the
/// diagnosis; the failed checks (every check with `verbose`).
fn details(l: &mut String, a: &Attempt, verbose: bool, lang: Lang) {
    let zh = lang == Lang::Zh;
    let tr = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    if verbose {
        for s in &a.steps {
            let _ = writeln!(l, "    {}", narrate::step(s, lang));
        }
        if let (Some(c), Some(s)) = (&a.client_options, &a.server_options) {
            let _ = writeln!(l, "    {}", options(c, s, a, lang));
        }
        if let (Some(c), Some(rtt)) = (a.syn_to_synack_s, a.synack_to_ack_s) {
            let _ = writeln!(
                l,
                "    RTT: SYN → SYN-ACK {} ({}) + SYN-ACK → ACK {} ({})",
                ms(c),
                tr("client side", "客户端侧"),
                ms(rtt),
                tr("server side", "服务器侧")
            );
        }
    }
    if let Some(d) = &a.diagnosis {
        let _ = writeln!(
            l,
            "    {}{}",
            tr("why: ", "原因："),
            narrate::diagnosis(d, lang)
        );
    }
    if let Some(c) = &a.clock_back {
        let _ = writeln!(l, "    ⚠ {}", narrate::clock_back(c, lang));
    }
    for c in a.checks.iter().filter(|c| verbose || !c.ok) {
        let mark = if c.ok { "✓" } else { "✗" };
        let _ = writeln!(l, "    {mark} {}", narrate::check(c, lang));
    }
    if verbose {
        l.push('\n');
    }
}

fn options(
    c: &synack_capture::SideOptions,
    s: &synack_capture::SideOptions,
    a: &Attempt,
    lang: Lang,
) -> String {
    let side = |o: &synack_capture::SideOptions| {
        let mut v = Vec::new();
        if let Some(m) = o.mss {
            v.push(format!("mss {m}"));
        }
        if let (Some(w), Some(m)) = (o.window_scale, o.window_multiplier) {
            v.push(format!("wscale {w} (×{m})"));
        }
        if o.sack_permitted {
            v.push("sackOK".into());
        }
        if o.timestamps {
            v.push("TS".into());
        }
        if o.fast_open {
            v.push("TFO".into());
        }
        if o.ecn {
            v.push("ECN".into());
        }
        v.push(format!("win {}", o.window));
        v.join(", ")
    };
    let yes = |b: bool| match (lang, b) {
        (Lang::Zh, true) => "是",
        (Lang::Zh, false) => "否",
        (Lang::En, true) => "yes",
        (Lang::En, false) => "no",
    };
    let neg = a.negotiated.map(|n| {
        format!(
            "mss {}, {} {}, sack {}, TS {}, ECN {}, TFO {}",
            n.mss,
            if lang == Lang::Zh {
                "窗口扩大"
            } else {
                "window scaling"
            },
            yes(n.window_scaling),
            yes(n.sack),
            yes(n.timestamps),
            yes(n.ecn),
            narrate::fast_open(n.fast_open, lang)
        )
    });
    let (cl, sv, ng) = if lang == Lang::Zh {
        ("客户端选项", "服务器选项", "协商结果")
    } else {
        ("client offered", "server offered", "negotiated")
    };
    format!(
        "{cl}: {}; {sv}: {}; {ng}: {}",
        side(c),
        side(s),
        neg.unwrap_or_default()
    )
}

/// `--ports`: nmap's table, host by host, with the attempts behind each row.
pub fn ports(p: &synack_capture::ports::Ports, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let rows: Vec<[String; 6]> = p
        .rows()
        .map(|r| {
            [
                format!("{}{}", r.host, in_network(r.network, lang)),
                format!("{}/tcp", r.port),
                r.state.name().to_string(),
                r.reason.to_string(),
                if r.agreeing == r.attempts {
                    r.attempts.to_string()
                } else {
                    format!(
                        "{} ({} {})",
                        r.attempts,
                        r.agreeing,
                        if zh { "个一致" } else { "agree" }
                    )
                },
                r.rtt_s.map_or_else(|| "-".to_string(), ms),
            ]
        })
        .collect();
    let head: [&str; 6] = if zh {
        ["主机", "端口", "状态", "原因", "尝试", "RTT"]
    } else {
        ["HOST", "PORT", "STATE", "REASON", "ATTEMPTS", "RTT"]
    };
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain(std::iter::once(
                head[i].chars().count() * if zh { 2 } else { 1 },
            ))
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..6).map(width).collect();
    let mut o = String::new();
    let line = |cells: [&str; 6], o: &mut String| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let cols = c
                .chars()
                .map(|ch| if ch > '\u{2e7f}' { 2 } else { 1 })
                .sum::<usize>();
            l.push_str(c);
            if i + 1 < cells.len() {
                l.push_str(&" ".repeat(w[i].saturating_sub(cols) + 2));
            }
        }
        o.push_str(l.trim_end());
        o.push('\n');
    };
    if rows.is_empty() {
        o.push_str(if zh {
            "（没有可判断状态的端口）\n"
        } else {
            "(no port whose state the capture shows)\n"
        });
        return o;
    }
    line(head, &mut o);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]], &mut o);
    }
    o.push_str(if zh {
        "（状态与原因用 nmap 的词：syn-ack 开放，reset 关闭，no-response 或 ICMP 原因为被过滤；RTT 为 SYN 到应答的最短时间）\n"
    } else {
        "(states and reasons are nmap's: syn-ack open, reset closed, no-response or an ICMP reason filtered; RTT is the shortest SYN → answer)\n"
    });
    o
}
