//! When the SYN options take effect: the client offers MSS and window
//! scale but neither SACK nor timestamps, so the server's SYN-ACK leaves
//! those out; a request and a response show the scaled windows.

use std::io::Write;

use synack_engine::sim::Side;
use synack_engine::{Config, Event};
use synack_explain::{Answer, Lang, side_name};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd, io};
use synack_trace::Frame;

use crate::common::{REQUEST, RESPONSE, no_faults, read_kernel};
use crate::{Ask, Def, Keep, Options};

pub static DEF: Def = Def {
    name: "options",
    about: "When MSS, window scale, SACK and timestamps take effect (both SYNs must carry them)",
    server_role: true,
    closer: false,
    tune,
    faults: no_faults,
    sim: super::data::sim,
    linux,
    answer,
};

/// The client offers a smaller MSS and window scale only; against the
/// kernel as the client, synack's server declines SACK and timestamps.
fn tune(o: &Options, a: &mut Config, b: &mut Config) {
    a.mss = 1400;
    a.sack_permitted = false;
    a.timestamps = false;
    if o.synack_side == Side::B {
        b.sack_permitted = false;
        b.timestamps = false;
    }
}

fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    if o.synack_side == Side::B {
        return super::data::kernel_client(run);
    }
    let l = run.listen()?;
    let (h, mut s) = run.open(run.ours, &l)?;
    let now = run.d.now();
    run.d.ep.send(now, h, REQUEST).map_err(cmd)?;
    read_kernel(run, &mut s, REQUEST.len())?;
    s.write_all(RESPONSE).map_err(io)?;
    run.until(5 * SEC, |d| d.has_event(Event::Readable))?;
    Ok((vec![l], vec![s]))
}

/// The two SYNs and each side's first segment after them.
struct Seen<'t> {
    syn: Frame<'t>,
    synack: Frame<'t>,
    after: [Option<Frame<'t>>; 2],
    /// Whether any segment after the SYNs carries timestamps.
    later_ts: bool,
}

fn seen<'t>(a: &Ask<'t>) -> Option<Seen<'t>> {
    let syn =
        a.t.frames(Side::A)
            .find(|f| f.flags().syn() && !f.flags().ack())?;
    let synack =
        a.t.frames(Side::B)
            .find(|f| f.flags().syn() && f.flags().ack())?;
    let after = [Side::A, Side::B].map(|s| {
        a.t.frames(s)
            .find(|f| !f.flags().syn() && f.at >= synack.at)
    });
    let later_ts =
        a.t.all_frames()
            .any(|f| !f.flags().syn() && f.seg.tcp.options.timestamps.is_some());
    Some(Seen {
        syn,
        synack,
        after,
        later_ts,
    })
}

fn answer(a: &Ask<'_>) -> Answer {
    let lang = a.lang;
    let q = a.q(
        "When do the SYN options take effect?",
        "SYN 里的选项什么时候生效？",
    );
    let Some(s) = seen(a) else {
        return (
            q,
            lang.t("The handshake did not happen.", "握手没有发生。")
                .into(),
        );
    };
    let parts = [
        mss(&s, lang),
        scale(&s, lang),
        sack(&s, lang),
        timestamps(&s, lang),
    ];
    let rule = lang.t(
        "An option is in effect only if both SYNs carry it: a SYN-ACK may carry only what the SYN offered \
(RFC 7323 §1.3, RFC 2018 §2), and MSS is the one each side states for itself.",
        "选项只有在两个 SYN 都携带时才生效：SYN-ACK 只能带 SYN 提供过的选项（RFC 7323 §1.3、RFC 2018 §2），MSS 则由各方各自声明。",
    );
    (q, format!("{rule} {}", parts.join(" ")))
}

fn mss(s: &Seen<'_>, lang: Lang) -> String {
    let m = |f: &Frame<'_>| f.seg.tcp.options.mss;
    let say = |v: Option<u16>| {
        v.map_or_else(
            || lang.t("none (536 assumed)", "无（按 536）").to_string(),
            |v| v.to_string(),
        )
    };
    let (c, sv) = (say(m(&s.syn)), say(m(&s.synack)));
    match lang {
        Lang::En => format!(
            "MSS: the client's SYN says {c}, the server's SYN-ACK says {sv}: each is the largest segment that side will \
receive, so the client sends at most {sv} bytes of data per segment and the server at most {c} (less the TCP \
options each segment carries)."
        ),
        Lang::Zh => format!(
            "最大报文段长度（MSS）：客户端的 SYN 声明 {c}，服务器的 SYN-ACK 声明 {sv}：各自表示本方愿意接收的最大报文段，所以客户端每段最多发 {sv} \
字节数据，服务器最多发 {c} 字节（再减去每段所带的 TCP 选项）。"
        ),
    }
}

fn scale(s: &Seen<'_>, lang: Lang) -> String {
    let (cs, ss) = (
        s.syn.seg.tcp.options.window_scale,
        s.synack.seg.tcp.options.window_scale,
    );
    let (w1, w2) = (s.syn.seg.tcp.window, s.synack.seg.tcp.window);
    let (Some(cs), Some(ss)) = (cs, ss) else {
        let who = if cs.is_none() { Side::A } else { Side::B };
        let name = side_name(who, lang);
        return match lang {
            Lang::En => format!(
                "Window scale: not in effect, the {name}'s SYN did not carry it; every window field is taken as written."
            ),
            Lang::Zh => {
                format!("窗口扩大：未生效，{name}的 SYN 没有携带；所有窗口字段按原值理解。")
            }
        };
    };
    let later = |side: Side, shift: u8| {
        let i = usize::from(side == Side::B);
        s.after.get(i).and_then(Option::as_ref).map(|f| {
            let w = u32::from(f.seg.tcp.window);
            let m = 1u32 << shift.min(14);
            (side_name(side, lang), w, m, w * m)
        })
    };
    let mut text = match lang {
        Lang::En => format!(
            "Window scale: both SYNs carry it (client shift {cs}, server shift {ss}), so it is in effect, but not on \
the SYNs themselves: their windows (win={w1}, win={w2}) are plain byte counts. It applies from the first segment after \
the handshake, each side's window multiplied by 2 to the shift it announced:"
        ),
        Lang::Zh => format!(
            "窗口扩大：两个 SYN 都带了（客户端移位数 {cs}，服务器移位数 {ss}），所以生效，但不作用于 SYN 本身：它们的窗口\
（win={w1}、win={w2}）就是字节数。它从握手之后的第一个报文段起生效，各方的窗口乘以 2 的（本方声明的）移位数次方："
        ),
    };
    for (name, w, m, bytes) in [later(Side::A, cs), later(Side::B, ss)]
        .into_iter()
        .flatten()
    {
        text.push_str(&match lang {
            Lang::En => format!(" the {name}'s win={w} means {w} × {m} = {bytes} bytes;"),
            Lang::Zh => format!("{name}的 win={w} 表示 {w} × {m} = {bytes} 字节；"),
        });
    }
    text.pop();
    text.push_str(lang.t(".", "。"));
    text
}

fn sack(s: &Seen<'_>, lang: Lang) -> String {
    let (c, sv) = (
        s.syn.seg.tcp.options.sack_permitted,
        s.synack.seg.tcp.options.sack_permitted,
    );
    match (c, sv, lang) {
        (true, true, Lang::En) => {
            "SACK: both SYNs carry SACK-permitted, so either side may report the blocks it \
holds out of order."
                .into()
        }
        (true, true, Lang::Zh) => {
            "SACK：两个 SYN 都带 SACK-permitted，双方都可以报告乱序收到的数据块。".into()
        }
        (false, false, Lang::En) => {
            "SACK: the client's SYN did not offer SACK-permitted, so the server's SYN-ACK \
leaves it out too, and neither side may send SACK blocks."
                .into()
        }
        (false, false, Lang::Zh) => {
            "SACK：客户端的 SYN 没有提供 SACK-permitted，所以服务器的 SYN-ACK 也不带，\
双方都不能发送 SACK 块。"
                .into()
        }
        (true, false, Lang::En) => {
            "SACK: the client offered it and the server's SYN-ACK declined (left it out): \
not in effect."
                .into()
        }
        (true, false, Lang::Zh) => {
            "SACK：客户端提供了，服务器的 SYN-ACK 没有带（拒绝）：未生效。".into()
        }
        (false, true, Lang::En) => {
            "SACK: the server's SYN-ACK carries SACK-permitted that the SYN never offered, \
which RFC 2018 §2 forbids; it is not in effect."
                .into()
        }
        (false, true, Lang::Zh) => {
            "SACK：服务器的 SYN-ACK 带了 SYN 没有提供的 SACK-permitted，违反 RFC 2018 §2；未生效。"
                .into()
        }
    }
}

fn timestamps(s: &Seen<'_>, lang: Lang) -> String {
    let ts = |f: &Frame<'_>| f.seg.tcp.options.timestamps;
    let (c, sv) = (ts(&s.syn), ts(&s.synack));
    let third = s.after.first().and_then(Option::as_ref);
    let both = c.is_some() && sv.is_some();
    if !both && s.later_ts {
        return lang
            .t(
                "Timestamps: not both SYNs carried them, yet a later segment does: that breaks RFC 7323 §3.2.",
                "时间戳：并非两个 SYN 都带了，但之后有报文段带了：这违反 RFC 7323 §3.2。",
            )
            .into();
    }
    match (both, third.and_then(ts), lang) {
        (true, Some((_, ecr)), Lang::En) => format!(
            "Timestamps: both SYNs carry them, so every later segment does: the client's next segment echoes the \
SYN-ACK's TSval in TSecr={ecr}."
        ),
        (true, Some((_, ecr)), Lang::Zh) => format!(
            "时间戳：两个 SYN 都带，所以之后的每个报文段都带：客户端的下一个报文段在 TSecr={ecr} 中回显 SYN-ACK 的 TSval。"
        ),
        (true, None, Lang::En) => "Timestamps: both SYNs carry them.".into(),
        (true, None, Lang::Zh) => "时间戳：两个 SYN 都带。".into(),
        (false, _, Lang::En) => {
            let who = if c.is_none() {
                "client's SYN"
            } else {
                "server's SYN-ACK"
            };
            format!(
                "Timestamps: off, the {who} did not carry them, so no later segment has the option."
            )
        }
        (false, _, Lang::Zh) => {
            let who = if c.is_none() {
                "客户端的 SYN"
            } else {
                "服务器的 SYN-ACK"
            };
            format!("时间戳：关闭，{who}没有携带，所以之后的报文段都不带这个选项。")
        }
    }
}
