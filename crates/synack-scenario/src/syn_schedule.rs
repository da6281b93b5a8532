//! How a kernel's SYN retries are told: the settings in force, synack's
//! model of them (the engine's `Schedule::LinuxSyn`) checked against the
//! frames the kernel sent, and Linux's defaults as measured once.

use std::time::Duration;

use synack_engine::Instant;
use synack_engine::Schedule;
use synack_engine::sim::Side;
use synack_explain::Lang;
use synack_trace::Trace;
use synack_trace::findings::{Findings, Kind, diff};

use crate::linux_defaults::{Measured, SYN, SYN_ACK};
use crate::tell::{dur, list, sysctl, unknown};

/// Linux's initial retransmission timeout (`TCP_TIMEOUT_INIT`).
const INITIAL: Duration = Duration::from_secs(1);
const MAX_RTO: Duration = Duration::from_secs(120);

fn setting(t: &Trace, name: &str) -> Option<u8> {
    sysctl(t, name).and_then(|v| v.parse().ok())
}

/// What synack's model of Linux predicts for a SYN nothing answers, with
/// `tcp_syn_retries` and `tcp_syn_linear_timeouts`: each transmission
/// since the first, and when it gives up.
pub fn predict(retries: u8, linear: u8) -> (Vec<Duration>, Duration) {
    let s = Schedule::LinuxSyn { retries, linear };
    let mut sends = vec![Duration::ZERO];
    loop {
        let last = sends.last().copied().unwrap_or_default();
        let n = u32::try_from(sends.len()).unwrap_or(u32::MAX);
        let next = last + s.interval(n - 1, INITIAL, MAX_RTO);
        if s.gives_up(n, next, INITIAL) || sends.len() > 64 {
            return (sends, next);
        }
        sends.push(next);
    }
}

/// Within 5 % or 100 ms: the kernel's timers run a little long.
fn near(a: Duration, b: Duration) -> bool {
    let d = a.abs_diff(b);
    d <= (a / 20).max(Duration::from_millis(100))
}

/// The rule the kernel's SYN retries follow, in a clause: its settings
/// and what they mean.
pub fn rule(t: &Trace, lang: Lang) -> String {
    let Some(r) = setting(t, "net.ipv4.tcp_syn_retries") else {
        return match lang {
            Lang::En => format!("this kernel's tcp_syn_retries is {}", unknown(lang)),
            Lang::Zh => format!("这个内核的 tcp_syn_retries 为{}", unknown(lang)),
        };
    };
    let budget = dur(predict(r, 0).1);
    let exp = u32::from(r) + 1;
    match (setting(t, "net.ipv4.tcp_syn_linear_timeouts"), lang) {
        (Some(l), Lang::En) => format!(
            "with tcp_syn_retries={r} and tcp_syn_linear_timeouts={l} the kernel keeps its first {} waits at the \
initial 1 s and doubles later ones, and gives up at the first expiry after (2^{exp} − 1) × 1 s = {budget}, the time \
{r} doubling retries would take: tcp_syn_retries is a time budget, not a count of SYNs",
            u32::from(l) + 1
        ),
        (Some(l), Lang::Zh) => format!(
            "tcp_syn_retries={r}、tcp_syn_linear_timeouts={l} 时，内核前 {} 次等待保持初始的 1 秒，之后加倍；\
过了 (2^{exp} − 1) × 1 秒 = {budget}（{r} 次加倍重试所需的时间）后的第一次超时就放弃：tcp_syn_retries 是时间预算，不是 SYN 的个数",
            u32::from(l) + 1
        ),
        (None, Lang::En) => format!(
            "with tcp_syn_retries={r} the kernel doubles the wait after each expiry and gives up at the first \
expiry after (2^{exp} − 1) × 1 s = {budget}"
        ),
        (None, Lang::Zh) => format!(
            "tcp_syn_retries={r} 时，内核每次超时后等待加倍，过了 (2^{exp} − 1) × 1 秒 = {budget} 后的第一次超时就放弃"
        ),
    }
}

/// synack's model of the kernel's SYN retries set beside what `side` (the
/// kernel) sent: a sentence saying whether they agree. Empty when the
/// settings are unknown or the kernel retransmitted nothing.
pub fn model_check(t: &Trace, side: Side, lang: Lang) -> String {
    if t.is_synack(side) {
        return String::new();
    }
    let f = Findings::new(t);
    let (Some(r), Some(seen)) = (
        setting(t, "net.ipv4.tcp_syn_retries"),
        f.schedule(side, Kind::Syn),
    ) else {
        return String::new();
    };
    let l = setting(t, "net.ipv4.tcp_syn_linear_timeouts").unwrap_or(0);
    let (sends, gives_up) = predict(r, l);
    let Some(&first) = seen.sends.first() else {
        return String::new();
    };
    let since = |at: Instant| diff(first, at);
    let gave_up = f.gave_up(side).map(since);
    let same_sends = seen.sends.len() <= sends.len()
        && seen
            .sends
            .iter()
            .zip(&sends)
            .all(|(&s, &p)| near(p, since(s)));
    let same_end = match gave_up {
        Some(g) => seen.sends.len() == sends.len() && near(gives_up, g),
        None => true,
    };
    let n = sends.len().saturating_sub(1);
    let end = dur(gives_up);
    match (same_sends && same_end, gave_up.is_some(), lang) {
        (true, true, Lang::En) => format!(
            " synack's model of Linux predicts {n} retransmissions and giving up {end} after the first SYN; the kernel did the same."
        ),
        (true, true, Lang::Zh) => format!(
            "synack 对 Linux 的模型预测重传 {n} 次、在第一个 SYN 之后 {end} 放弃；内核正是这样做的。"
        ),
        (true, false, Lang::En) => {
            " The kernel's waits so far are the ones synack's model of Linux predicts.".into()
        }
        (true, false, Lang::Zh) => "内核到目前为止的等待与 synack 对 Linux 的模型一致。".into(),
        (false, _, lang) => {
            let at = list(lang, sends.iter().skip(1).map(|d| dur(*d)));
            match lang {
                Lang::En => format!(
                    " synack's model of Linux predicts retransmissions {at} after the first SYN and giving up after {end}; \
the kernel did otherwise (above): synack's model and this kernel disagree."
                ),
                Lang::Zh => format!(
                    "synack 对 Linux 的模型预测在第一个 SYN 之后 {at} 重传、{end} 后放弃；内核的做法不同（见上）：synack 的模型与这个内核不一致。"
                ),
            }
        }
    }
}

/// Linux's default SYN schedule as measured once, when the lab shortened
/// `tcp_syn_retries` in this run; empty otherwise.
pub fn syn_defaults(t: &Trace, lang: Lang) -> String {
    let changed = t
        .setting("net.ipv4.tcp_syn_retries")
        .is_some_and(|s| s.default.as_ref().is_some_and(|d| *d != s.value));
    if !changed {
        return String::new();
    }
    let (first, sends, end) = figures(&SYN, t, lang);
    match lang {
        Lang::En => format!(
            " With Linux's defaults ({first}), the SYN comes again {sends} after the first and the kernel gives up \
after {end}; `--kernel-defaults` runs it that way."
        ),
        Lang::Zh => format!(
            "在 Linux 的默认设置下（{first}），SYN 在第一次发送之后的 {sends} 重传，{end} 后放弃；\
加 `--kernel-defaults` 即按默认设置运行。"
        ),
    }
}

/// What a kernel listener does by default with a SYN-ACK nothing
/// acknowledges, as measured once.
pub fn synack_defaults(t: &Trace, lang: Lang) -> String {
    let (first, sends, end) = figures(&SYN_ACK, t, lang);
    match lang {
        Lang::En => format!(
            " A SYN-ACK that nothing acknowledges is sent again: with Linux's defaults ({first}) {sends} after \
the first, and the kernel drops the half-open connection after {end}."
        ),
        Lang::Zh => format!(
            "没有被确认的 SYN-ACK 会重传：在 Linux 的默认设置下（{first}），在第一次发送之后的 {sends} 重传，\
{end} 后内核丢弃这个半连接。"
        ),
    }
}

/// A measurement's settings and provenance, its retransmission times and
/// its give-up time, as phrases.
fn figures(m: &Measured, t: &Trace, lang: Lang) -> (String, String, String) {
    let settings = list(lang, m.settings.iter().map(|(k, v)| format!("{k}={v}")));
    let sends = list(
        lang,
        m.sends_ms
            .iter()
            .skip(1)
            .map(|&v| dur(Duration::from_millis(v))),
    );
    let end = dur(Duration::from_millis(m.gave_up_ms));
    let release = m.release;
    let this = match &t.peer {
        synack_trace::Peer::Linux { release: r, .. } if r != release => Some(r),
        _ => None,
    };
    let first = match (lang, this) {
        (Lang::En, None) => format!("{settings}; measured once on this kernel, Linux {release}"),
        (Lang::Zh, None) => format!("{settings}；在这个内核 Linux {release} 上实测一次"),
        (Lang::En, Some(r)) => {
            format!("{settings}; measured once on Linux {release}, not on this run's {r}")
        }
        (Lang::Zh, Some(r)) => {
            format!("{settings}；在 Linux {release} 上实测一次，不是本次运行的 {r}")
        }
    };
    (first, sends, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &[Duration]) -> Vec<u64> {
        v.iter().map(Duration::as_secs).collect()
    }

    #[test]
    fn the_model_of_linux_syn_retries() {
        // tcp_syn_retries=2 with 4 linear timeouts: five 1 s waits, then
        // the 7 s budget is spent at the next expiry.
        let (sends, end) = predict(2, 4);
        assert_eq!(secs(&sends), [0, 1, 2, 3, 4, 5]);
        assert_eq!(end, Duration::from_secs(7));
        // Linux's defaults: ten retransmissions, giving up at 131 s.
        let (sends, end) = predict(6, 4);
        assert_eq!(secs(&sends), [0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67]);
        assert_eq!(end, Duration::from_secs(131));
        // Without linear timeouts: plain doubling, 127 s.
        let (sends, end) = predict(6, 0);
        assert_eq!(secs(&sends), [0, 1, 3, 7, 15, 31, 63]);
        assert_eq!(end, Duration::from_secs(127));
    }

    #[test]
    fn the_measured_defaults_agree_with_the_model() {
        let (sends, end) = predict(6, 4);
        assert_eq!(SYN.sends_ms.len(), sends.len());
        for (&m, p) in SYN.sends_ms.iter().zip(&sends) {
            assert!(near(*p, Duration::from_millis(m)), "{m} ms vs {p:?}");
        }
        assert!(near(end, Duration::from_millis(SYN.gave_up_ms)));
    }
}
