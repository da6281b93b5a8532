//! A run in words, Chinese or English: each event with what was injected,
//! what the system answered (live numbers), its sockets' states before and
//! after, and the engine's rules; then the result, and a mismatch said as
//! packetdrill says it and explained. Every number comes from the report.

use std::fmt::Write;

use synack_engine::Rule;
use synack_explain::{Lang, rule_summary};

use crate::report::*;
use crate::run::secs;

fn who(peer: Peer, lang: Lang) -> &'static str {
    match peer {
        Peer::Linux => lang.t("the kernel", "内核"),
        Peer::Engine => lang.t("the engine", "引擎"),
    }
}

fn verdict(v: Verdict, lang: Lang) -> &'static str {
    match v {
        Verdict::Pass => lang.t("pass", "通过"),
        Verdict::Fail => lang.t("FAIL", "失败"),
        Verdict::Unsupported => lang.t("unsupported", "不支持"),
        Verdict::Error => lang.t("error", "出错"),
    }
}

/// `SYN+ACK` for `S.`: explain's words.
fn flag_words(letters: &str) -> String {
    synack_explain::flag_words(synack_wire::TcpFlags(crate::packet::flag_bits(letters)))
}

fn states(list: &[Socket]) -> String {
    if list.is_empty() {
        return "-".into();
    }
    list.iter()
        .map(|s| {
            if s.remote == "*" {
                format!("{} {}", s.state, s.local)
            } else {
                format!("{} {}↔{}", s.state, s.local, s.remote)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn rule_words(r: &RuleRef, lang: Lang) -> String {
    let summary = Rule::from_id(r.id).map_or(r.summary, |rule| rule_summary(rule, lang));
    let check = r
        .check
        .as_ref()
        .map_or_else(String::new, |c| format!(": {c}"));
    match lang {
        Lang::En => format!("rule {} ({summary}{check})", r.id),
        Lang::Zh => format!("规则 {}（{summary}{check}）", r.id),
    }
}

/// The whole report of one run.
pub fn report(r: &Report, lang: Lang, verbose: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} · {} ({}): {}",
        r.script,
        r.peer.name(),
        who(r.peer, lang),
        verdict(r.result, lang)
    );
    if let Some(u) = &r.unsupported {
        let _ = match lang {
            Lang::En => writeln!(
                out,
                "  line {}: {} is not supported; the script was not run",
                u.line, u.construct
            ),
            Lang::Zh => writeln!(
                out,
                "  第 {} 行：不支持 {}；脚本没有运行",
                u.line, u.construct
            ),
        };
        return out;
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "  {}: {e}", lang.t("could not run", "无法运行"));
        return out;
    }
    let mut prev_at = None;
    for ev in &r.events {
        event(&mut out, r.peer, ev, prev_at, lang, verbose);
        prev_at = Some((ev.line, ev.at_us));
    }
    if let Some(m) = &r.mismatch {
        mismatch(&mut out, r, m, lang);
    }
    for x in &r.extra {
        let (p, w, at) = (&x.packet, who(r.peer, lang), secs(x.at_us));
        let _ = match lang {
            Lang::En => writeln!(
                out,
                "  after the last event {w} also sent {} seq {} ack {} at {at} (not checked)",
                flag_words(&p.flags),
                p.seq,
                p.ack
            ),
            Lang::Zh => writeln!(
                out,
                "  最后一个事件之后{w}还在 {at} 发出 {}，序列号 {}，确认号 {}（不检查）",
                flag_words(&p.flags),
                p.seq,
                p.ack
            ),
        };
    }
    out
}

const PAD: &str = "                    ";

fn event(
    out: &mut String,
    peer: Peer,
    ev: &EventRecord,
    prev: Option<(u32, i64)>,
    lang: Lang,
    verbose: bool,
) {
    let _ = writeln!(out, "  {:>4}  {:>10}  {}", ev.line, secs(ev.at_us), ev.text);
    match (&ev.kind, &ev.packet) {
        (Kind::Inbound, Some(p)) => injected(out, p, lang),
        (Kind::Outbound, Some(p)) => sent(out, peer, ev, p, prev, lang),
        _ => {}
    }
    if let Some(ret) = &ev.returned {
        returned(out, ev, ret, lang);
    }
    if ev.states_before != ev.states_after || verbose {
        let (b, a) = (states(&ev.states_before), states(&ev.states_after));
        let _ = match lang {
            Lang::En => writeln!(out, "{PAD}sockets: {b} → {a}"),
            Lang::Zh => writeln!(out, "{PAD}套接字：{b} → {a}"),
        };
    }
    model(out, peer, ev, lang);
}

/// What was injected, as it went on the wire.
fn injected(out: &mut String, p: &Seen, lang: Lang) {
    let (f, o) = (flag_words(&p.flags), opts(p));
    let _ = match lang {
        Lang::En => writeln!(
            out,
            "{PAD}injected {f} seq {} ack {} win {}{o}",
            p.seq, p.ack, p.win
        ),
        Lang::Zh => writeln!(
            out,
            "{PAD}注入 {f}，序列号 {}，确认号 {}，窗口 {}{o}",
            p.seq, p.ack, p.win
        ),
    };
}

/// What the system sent, its seq also in the script's terms, and when.
fn sent(
    out: &mut String,
    peer: Peer,
    ev: &EventRecord,
    p: &Seen,
    prev: Option<(u32, i64)>,
    lang: Lang,
) {
    let rel = p.rel_seq.map_or_else(String::new, |r| match lang {
        Lang::En => format!(" (the script's {r})"),
        Lang::Zh => format!("（脚本中的 {r}）"),
    });
    let after = prev.map_or_else(String::new, |(line, at)| {
        let ms = (ev.at_us - at) as f64 / 1000.0;
        match lang {
            Lang::En => format!(", {ms:.3} ms after line {line}"),
            Lang::Zh => format!("，在第 {line} 行之后 {ms:.3} ms"),
        }
    });
    let (w, f, o) = (who(peer, lang), flag_words(&p.flags), opts(p));
    let _ = match lang {
        Lang::En => writeln!(
            out,
            "{PAD}{w} sent {f} seq {}{rel} ack {} win {}{o}{after}",
            p.seq, p.ack, p.win
        ),
        Lang::Zh => writeln!(
            out,
            "{PAD}{w}发出 {f}，序列号 {}{rel}，确认号 {}，窗口 {}{o}{after}",
            p.seq, p.ack, p.win
        ),
    };
}

/// A call's result, with the descriptor's name in the script.
fn returned(out: &mut String, ev: &EventRecord, ret: &str, lang: Lang) {
    let fd =
        ev.script_fd
            .filter(|n| n.to_string() != *ret)
            .map_or_else(String::new, |n| match lang {
                Lang::En => format!(" (the script's {n})"),
                Lang::Zh => format!("（脚本中的 {n}）"),
            });
    let _ = match lang {
        Lang::En => writeln!(out, "{PAD}returned {ret}{fd}"),
        Lang::Zh => writeln!(out, "{PAD}返回 {ret}{fd}"),
    };
}

fn opts(p: &Seen) -> String {
    if p.options.is_empty() {
        String::new()
    } else {
        format!(" <{}>", p.options)
    }
}

/// The model passed the event too: for what the system did (a packet sent,
/// a call's result) it did the same; for what it was given, its rules.
fn agreed(out: &mut String, ev: &EventRecord, rules: &[String], lang: Lang) {
    let said = rules.join(lang.t(", ", "，"));
    let did = matches!(ev.kind, Kind::Outbound | Kind::Syscall);
    if ev.kind == Kind::Syscall && rules.is_empty() {
        // A call that changed nothing the model records: nothing to add.
        return;
    }
    let _ = match (did, rules.is_empty(), lang) {
        (true, true, Lang::En) => writeln!(out, "{PAD}synack's model of Linux did the same"),
        (true, true, Lang::Zh) => writeln!(out, "{PAD}synack 的 Linux 模型做了同样的事"),
        (true, false, Lang::En) => {
            writeln!(out, "{PAD}synack's model of Linux did the same: {said}")
        }
        (true, false, Lang::Zh) => writeln!(out, "{PAD}synack 的 Linux 模型做了同样的事：{said}"),
        (false, true, _) => Ok(()),
        (false, false, Lang::En) => {
            writeln!(out, "{PAD}synack's model of Linux, given the same: {said}")
        }
        (false, false, Lang::Zh) => {
            writeln!(out, "{PAD}synack 的 Linux 模型收到同样的输入：{said}")
        }
    };
}

fn model(out: &mut String, peer: Peer, ev: &EventRecord, lang: Lang) {
    let pad = PAD;
    let rules: Vec<String> = ev.rules.iter().map(|r| rule_words(r, lang)).collect();
    let Some(m) = &ev.model else {
        if !rules.is_empty() && peer == Peer::Engine {
            let _ = writeln!(
                out,
                "{pad}{}{}",
                lang.t("the engine applied ", "引擎应用了"),
                rules.join(lang.t(", ", "，"))
            );
        }
        return;
    };
    if m.agrees {
        agreed(out, ev, &rules, lang);
        if let Some((mw, kw)) = m.win {
            let _ = match lang {
                Lang::En => writeln!(
                    out,
                    "{pad}  but its window is {mw} (the kernel's {kw}; the script does not check it)"
                ),
                Lang::Zh => writeln!(out, "{pad}  但它的窗口是 {mw}（内核的是 {kw}；脚本不检查）"),
            };
        }
        if let Some((mo, ko)) = &m.options {
            let _ = match lang {
                Lang::En => writeln!(
                    out,
                    "{pad}  but its options are <{mo}> (the kernel's <{ko}>)"
                ),
                Lang::Zh => writeln!(out, "{pad}  但它的选项是 <{mo}>（内核的是 <{ko}>）"),
            };
        }
        if let Some((ms, ks)) = &m.states {
            let _ = match lang {
                Lang::En => writeln!(out, "{pad}  but its sockets are {ms} (the kernel's {ks})"),
                Lang::Zh => writeln!(out, "{pad}  但它的套接字是 {ms}（内核的是 {ks}）"),
            };
        }
    } else if let Some(msg) = &m.mismatch {
        let _ = match lang {
            Lang::En => writeln!(out, "{pad}synack's model of Linux differs here: {msg}"),
            Lang::Zh => writeln!(out, "{pad}synack 的 Linux 模型在这里不同：{msg}"),
        };
    } else if let Some(line) = m.stopped_at {
        let _ = match lang {
            Lang::En => writeln!(out, "{pad}(synack's model of Linux stopped at line {line})"),
            Lang::Zh => writeln!(out, "{pad}（synack 的 Linux 模型在第 {line} 行停下）"),
        };
    }
}

fn mismatch(out: &mut String, r: &Report, m: &Mismatch, lang: Lang) {
    let _ = match lang {
        Lang::En => writeln!(
            out,
            "  {} at line {}: {}",
            verdict(Verdict::Fail, lang),
            m.line,
            m.message
        ),
        Lang::Zh => writeln!(
            out,
            "  第 {} 行{}：{}",
            m.line,
            verdict(Verdict::Fail, lang),
            m.message
        ),
    };
    let why = explain(r.peer, m, lang);
    if !why.is_empty() {
        let _ = writeln!(out, "  {}{why}", lang.t("why: ", "原因："));
    }
}

/// The mismatch said in plain words, with its numbers.
fn explain(peer: Peer, m: &Mismatch, lang: Lang) -> String {
    let w = who(peer, lang);
    match (&m.kind, &m.difference) {
        (MismatchKind::Field, Some(d)) => match (d.field.as_str(), lang) {
            ("flags", Lang::En) => format!(
                "{w} sent {} where the script expects {}",
                flag_words(&d.actual),
                flag_words(&d.expected)
            ),
            ("flags", Lang::Zh) => format!(
                "{w}发出的是 {}，脚本期望 {}",
                flag_words(&d.actual),
                flag_words(&d.expected)
            ),
            ("ack", Lang::En) => format!(
                "{w} acknowledged {}; the script expects {}",
                d.actual, d.expected
            ),
            ("ack", Lang::Zh) => format!("{w}确认的是 {}；脚本期望确认号 {}", d.actual, d.expected),
            ("seq", Lang::En) => format!(
                "counted from {w}'s ISN its sequence number is {}; the script expects {}",
                d.actual, d.expected
            ),
            ("seq", Lang::Zh) => format!(
                "从{w}的初始序列号算起，它的序列号是 {}；脚本期望 {}",
                d.actual, d.expected
            ),
            ("options", Lang::En) => format!(
                "{w} wrote the options {} where the script expects {}",
                d.actual, d.expected
            ),
            ("options", Lang::Zh) => format!("{w}写的选项是 {}，脚本期望 {}", d.actual, d.expected),
            ("win", Lang::En) => format!(
                "{w} advertised a window of {}; the script expects {}",
                d.actual, d.expected
            ),
            ("win", Lang::Zh) => format!("{w}通告的窗口是 {}；脚本期望 {}", d.actual, d.expected),
            (f, Lang::En) => format!(
                "{w}'s {f} is {}; the script expects {}",
                d.actual, d.expected
            ),
            (f, Lang::Zh) => format!("{w}的 {f} 是 {}；脚本期望 {}", d.actual, d.expected),
        },
        (MismatchKind::Timing, _) => {
            let (Some(e), Some(a), Some(t)) = (m.expected_us, m.at_us, m.tolerance_us) else {
                return String::new();
            };
            let ms = (a - e) as f64 / 1000.0;
            match lang {
                Lang::En => format!(
                    "{} {:.3} ms {}, more than the tolerance of {:.3} ms",
                    lang.t("it came", ""),
                    ms.abs(),
                    if ms > 0.0 { "late" } else { "early" },
                    t as f64 / 1000.0
                ),
                Lang::Zh => format!(
                    "它{} {:.3} ms，超出了 {:.3} ms 的容差",
                    if ms > 0.0 { "晚到了" } else { "早到了" },
                    ms.abs(),
                    t as f64 / 1000.0
                ),
            }
        }
        (MismatchKind::Missing, _) => match lang {
            Lang::En => format!(
                "{w} sent nothing within the tolerance; see the sockets' states above for what it was doing"
            ),
            Lang::Zh => format!("{w}在容差之内什么也没有发出；它当时的状态见上面的套接字状态"),
        },
        _ => String::new(),
    }
}
