//! Phrases answers share, built only from findings: times, schedules,
//! settings, ISN origins. A missing fact reads "unknown", never a blank.

use std::time::Duration;

use synack_engine::Instant;
use synack_engine::sim::Side;
use synack_explain::Lang;
use synack_trace::findings::{Entered, Schedule, Shape, diff};
use synack_trace::{IsnOrigin, Trace};

pub fn unknown(lang: Lang) -> String {
    lang.t("unknown", "未知").to_string()
}

/// A time on the run's clock: `20 ms`, `0.25 ms`, `1.02 s`, `1.034 s`:
/// to the microsecond, without trailing zeros (seconds keep two decimals).
pub fn ms(at: Instant) -> String {
    dur(Duration::from_nanos(at.as_nanos()))
}

/// A length of time in the same style.
pub fn dur(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        let s = format!("{ms:.2}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        format!("{s} ms")
    } else {
        let s = format!("{:.3}", ms / 1000.0);
        let s = s.strip_suffix('0').unwrap_or(&s);
        format!("{s} s")
    }
}

pub fn at(lang: Lang, t: Option<Instant>) -> String {
    t.map_or_else(|| unknown(lang), ms)
}

pub fn entered(lang: Lang, e: Option<Entered>) -> String {
    at(lang, e.map(|e| e.at))
}

pub fn list(lang: Lang, v: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = v.into_iter().collect();
    if v.is_empty() {
        return lang.t("none", "无").to_string();
    }
    v.join(lang.t(", ", "、"))
}

/// "1.000 s, 2.001 s (waits of 1.000 s and 1.001 s: equal)".
pub fn schedule(lang: Lang, s: &Schedule) -> String {
    let times = list(lang, s.retransmissions().iter().map(|t| ms(*t)));
    let waits = list(lang, s.intervals().into_iter().map(dur));
    let shape = shape(lang, s.shape);
    match lang {
        Lang::En => format!("{times} (waits {waits}: {shape})"),
        Lang::Zh => format!("{times}（间隔 {waits}：{shape}）"),
    }
}

pub fn shape(lang: Lang, s: Shape) -> String {
    match (s, lang) {
        (Shape::Once, _) => lang.t("a single wait", "只有一次等待").into(),
        (Shape::Doubling, _) => lang.t("each wait doubles", "每次等待加倍").into(),
        (Shape::Linear, _) => lang.t("equal waits", "等待时间相同").into(),
        (Shape::LinearThenDoubling { linear }, Lang::En) => {
            format!("{linear} equal waits, then doubling")
        }
        (Shape::LinearThenDoubling { linear }, Lang::Zh) => {
            format!("先是 {linear} 次相同的等待，之后加倍")
        }
        (Shape::Irregular, _) => lang.t("no regular pattern", "没有规律").into(),
    }
}

/// What the lab changed, e.g. "The lab set net.ipv4.tcp_syn_retries=2
/// (default 6) to keep the run short." Empty when it changed nothing.
pub fn changed_settings(t: &Trace, lang: Lang) -> String {
    let changed: Vec<String> = t
        .settings
        .iter()
        .filter(|s| s.default.as_ref().is_some_and(|d| *d != s.value))
        .map(|s| match (lang, &s.default) {
            (Lang::En, Some(d)) => format!("{}={} (default {d})", s.name, s.value),
            (Lang::Zh, Some(d)) => format!("{}={}（默认 {d}）", s.name, s.value),
            _ => format!("{}={}", s.name, s.value),
        })
        .collect();
    if changed.is_empty() {
        return String::new();
    }
    match lang {
        Lang::En => format!(" The lab set {} in its namespace.", changed.join(", ")),
        Lang::Zh => format!("实验环境在其命名空间中设置了 {}。", changed.join("，")),
    }
}

/// A sysctl's value in the run, if the lab read or set it.
pub fn sysctl<'t>(t: &'t Trace, name: &str) -> Option<&'t str> {
    t.setting(name).map(|s| s.value.as_str())
}

/// How `side`'s retransmissions are scheduled: synack's profile, or the
/// kernel's settings as read in the namespace.
pub fn schedule_rule(t: &Trace, side: Side, synack_ack: bool, lang: Lang) -> String {
    if t.is_synack(side) {
        return match (t.profile, lang) {
            (synack_trace::Profile::Rfc, Lang::En) => {
                "synack's RFC profile starts at 1 s (RFC 6298) and doubles the wait after each expiry".into()
            }
            (synack_trace::Profile::Rfc, Lang::Zh) => {
                "synack 的 RFC 配置从 1 秒开始（RFC 6298），每次超时后等待加倍".into()
            }
            (_, Lang::En) => "synack's Linux profile follows Linux 6.x: 1 s waits for the first retransmissions (tcp_syn_linear_timeouts=4), then doubling".into(),
            (_, Lang::Zh) => "synack 的 Linux 配置模仿 Linux 6.x：前几次重传间隔 1 秒（tcp_syn_linear_timeouts=4），之后加倍".into(),
        };
    }
    if !synack_ack {
        return crate::syn_schedule::rule(t, lang);
    }
    let name = "net.ipv4.tcp_synack_retries";
    let retries = sysctl(t, name).map_or_else(|| unknown(lang), str::to_string);
    match lang {
        Lang::En => {
            format!("this kernel retries {retries} times ({name}), doubling the wait after each")
        }
        Lang::Zh => format!("这个内核重试 {retries} 次（{name}），每次等待加倍"),
    }
}

/// Where `side`'s ISNs came from, in a clause.
pub fn isn_origin(t: &Trace, side: Side, lang: Lang) -> String {
    let i = usize::from(side == Side::B);
    match (t.isn.get(i).copied().unwrap_or(IsnOrigin::Unknown), lang) {
        (IsnOrigin::Fixed, Lang::En) => "fixed with --isn".into(),
        (IsnOrigin::Fixed, Lang::Zh) => "由 --isn 指定".into(),
        (IsnOrigin::Rfc6528 { fresh_key: true }, Lang::En) => {
            "RFC 6528: a 4 µs clock plus SipHash of the 4-tuple under a key made fresh for this run".into()
        }
        (IsnOrigin::Rfc6528 { fresh_key: true }, Lang::Zh) => {
            "RFC 6528：4 微秒时钟加上四元组的 SipHash，密钥每次运行重新生成".into()
        }
        (IsnOrigin::Rfc6528 { fresh_key: false }, Lang::En) => {
            "RFC 6528 under the fixed key of --seed: reproducible, so anyone with the seed can predict it".into()
        }
        (IsnOrigin::Rfc6528 { fresh_key: false }, Lang::Zh) => {
            "RFC 6528，但密钥由 --seed 固定：可重现，知道种子的人就能预测".into()
        }
        (IsnOrigin::Linux, Lang::En) => {
            "the Linux kernel's own: SipHash of the 4-tuple under a boot-time secret plus a 64 ns clock".into()
        }
        (IsnOrigin::Linux, Lang::Zh) => {
            "Linux 内核自己生成：四元组在开机时生成的密钥下的 SipHash，加上 64 纳秒时钟".into()
        }
        (IsnOrigin::Unknown, _) => unknown(lang),
    }
}

/// `later - earlier`, as a length of time.
pub fn between(a: Instant, b: Instant) -> String {
    dur(diff(a, b))
}

/// How long `side` holds TIME-WAIT, with where the number comes from.
pub fn time_wait(a: &crate::Ask<'_>, side: Side) -> String {
    let lang = a.lang;
    if let Some(d) = a.f.time_wait(side) {
        let how = if a.t.is_synack(side) {
            lang.t("measured in this run", "本次运行实测")
        } else {
            lang.t(
                "as the kernel reported it: its TIME_WAIT timer, from sock_diag",
                "内核报告的 TIME_WAIT 定时器（sock_diag）",
            )
        };
        return match lang {
            Lang::En => format!("here {}, {how}", secs(d)),
            Lang::Zh => format!("本例 {}，{how}", secs(d)),
        };
    }
    if a.t.is_synack(side) && a.f.entered(side, synack_engine::State::TimeWait).is_some() {
        let d = match a.t.profile {
            synack_trace::Profile::Rfc => synack_engine::Config::rfc().time_wait,
            synack_trace::Profile::LinuxCompat => synack_engine::Config::linux().time_wait,
        };
        return match lang {
            Lang::En => format!(
                "synack's profile holds it {}; the run ended before it ran out",
                secs(d)
            ),
            Lang::Zh => format!("synack 的配置保持 {}；运行在它到期之前就结束了", secs(d)),
        };
    }
    unknown(lang)
}

/// Whole seconds when the time is long, else the usual style.
pub fn secs(d: Duration) -> String {
    if d.as_secs() >= 10 {
        format!("{:.0} s", d.as_secs_f64())
    } else {
        dur(d)
    }
}
