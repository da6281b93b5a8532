//! A firewall rejects the SYN with an ICMP error ("communication
//! administratively prohibited") instead of dropping it: the client learns
//! at once that the port is filtered.

use synack_engine::Event;
use synack_engine::sim::{Fault, Side};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::{KernelRun, SEC, cmd};
use synack_wire::Unreachable;

use crate::common::kernel_connects;
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "unreachable",
    about: "A firewall rejects the SYN with ICMP (admin prohibited): EHOSTUNREACH, not a timeout",
    server_role: true,
    closer: false,
    tune: crate::common::short_syn_retries,
    faults,
    sim,
    linux,
    answer,
};

/// The rule in the server's namespace (`icmpx`: ICMP or ICMPv6 alike).
pub const REJECT: &str = "tcp dport 80 reject with icmpx type admin-prohibited";
const REASON: Unreachable = Unreachable::AdminProhibited;

fn faults(_: &Options) -> Vec<Fault> {
    vec![Fault::Reject {
        from: Side::A,
        reason: REASON,
    }]
}

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.listen(s)?;
    r.connect(c, s)?;
    r.run_until(|p| {
        p.has_event(Side::A, Event::TimedOut) || p.has_event(Side::A, Event::Unreachable)
    });
    Ok(())
}

fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    if o.synack_side == Side::B {
        return kernel_client(run);
    }
    let l = run.listen()?;
    run.firewall("input", REJECT)?;
    let now = run.d.now();
    run.d.ep.connect(now, run.ours, run.theirs).map_err(cmd)?;
    run.until(30 * SEC, |d| {
        d.has_event(Event::TimedOut) || d.has_event(Event::Unreachable)
    })?;
    Ok((vec![l], vec![]))
}

/// The kernel is the client behind its own firewall (the output chain):
/// the SYN never leaves, and connect() reports what the ICMP error said.
fn kernel_client(run: &mut KernelRun) -> Result<Keep, NetError> {
    run.kernel_side = Side::A;
    run.ours.set_port(80);
    run.d.ep.listen(run.ours).map_err(cmd)?;
    run.firewall("output", REJECT)?;
    let target = run.ours;
    let client = kernel_connects(run, target, |_| Ok(()));
    client.finish(run, 10 * SEC)?;
    Ok((vec![], vec![]))
}

fn answer(a: &Ask<'_>) -> Answer {
    let q = a.q(
        "What if a firewall rejects the SYN instead of dropping it?",
        "如果防火墙拒绝 SYN 而不是丢弃它呢？",
    );
    let text = if a.t.is_synack(Side::A) {
        synack_client(a)
    } else {
        kernel_client_answer(a)
    };
    (q, text)
}

/// What the ICMP errors were and what synack's client made of them.
fn synack_client(a: &Ask<'_>) -> String {
    let (t, lang) = (a.t, a.lang);
    let icmps: Vec<_> = t
        .link
        .iter()
        .filter(|r| r.from == Side::B)
        .filter_map(|r| {
            synack_wire::parse_icmp(&r.bytes, false)
                .ok()
                .map(|e| (r.sent_at, e))
        })
        .collect();
    let Some((first_at, first)) = icmps.first() else {
        return lang
            .t("No ICMP error came back.", "没有 ICMP 错误返回。")
            .into();
    };
    let n = icmps.len();
    let code = first.code;
    let what = synack_explain::unreachable_words(first.reason, lang);
    let seq = first.quoted_seq.get();
    let at = tell::ms(*first_at);
    let by = match tell::sysctl(t, "nftables input") {
        Some(rule) => match lang {
            Lang::En => {
                format!("the server's firewall (the nftables rule `{rule}` in its namespace)")
            }
            Lang::Zh => format!("服务器的防火墙（其命名空间中的 nftables 规则 `{rule}`）"),
        },
        None => lang.t("the server's firewall", "服务器的防火墙").into(),
    };
    let errno = synack_engine::icmp::linux_errno(first.reason);
    let refused = match lang {
        Lang::En => "a hard error for the RFC and for Linux alike",
        Lang::Zh => "对 RFC 和 Linux 都是硬错误",
    };
    let port_errno = synack_engine::icmp::linux_errno(Unreachable::Port);
    let ended = a.f.connect_failed(
        Side::A,
        synack_engine::CloseReason::Unreachable(first.reason),
    );
    let gave_up = a.f.gave_up(Side::A);
    let outcome = match (ended, gave_up, lang) {
        (Some(at), _, Lang::En) => format!(
            "synack's client, with the Linux profile, took it as a hard error as Linux does and gave up the open at \
{}: connect() fails with {errno} at once, no retransmission",
            tell::ms(at)
        ),
        (Some(at), _, Lang::Zh) => format!(
            "synack 的客户端（Linux 配置）像 Linux 一样把它当作硬错误，在 {} 放弃建立连接：connect() 立即以 {errno} 失败，不再重传",
            tell::ms(at)
        ),
        (None, Some(g), Lang::En) => format!(
            "synack's client, with the RFC profile, took it as a soft error (RFC 1122 §4.2.3.9 makes only protocol and \
port unreachable hard): it kept retransmitting, got {n} such errors, and gave up at {} with a timeout. Linux ends the \
open at the first one: its connect() fails with {errno} (run with --profile linux to see it)",
            tell::ms(g)
        ),
        (None, Some(g), Lang::Zh) => format!(
            "synack 的客户端（RFC 配置）把它当作软错误（RFC 1122 §4.2.3.9 只把协议不可达和端口不可达算作硬错误）：\
它继续重传，共收到 {n} 个这样的错误，在 {} 以超时放弃。Linux 在收到第一个时就终止连接建立：connect() 以 {errno} 失败（加 --profile linux 可以看到）",
            tell::ms(g)
        ),
        (None, None, _) => tell::unknown(lang),
    };
    match lang {
        Lang::En => format!(
            "The SYN never reached a socket: {by} rejected it, and at {at} the server's host sent back ICMP destination \
unreachable, code {code} ({what}), quoting the SYN (seq={seq}) so that the client can tell which connection it is about. \
{outcome}. A port unreachable instead would end the open as a RST does: {refused} ({port_errno} on Linux). nmap \
calls the port \"filtered\" with the reason \"admin-prohibited\"; a dropped SYN (--scenario filtered) \
is \"filtered\" with \"no-response\", a RST (--scenario refused) \"closed\" with \"reset\"."
        ),
        Lang::Zh => format!(
            "SYN 没有到达任何套接字：{by}拒绝了它，服务器主机在 {at} 回送 ICMP 目的不可达，代码 {code}（{what}），并引用了这个 SYN\
（seq={seq}），让客户端知道它说的是哪个连接。{outcome}。如果回的是端口不可达，连接建立会像收到 RST 一样结束：{refused}（Linux 上为 {port_errno}）。nmap 把这个端口称为 filtered（被过滤），原因为 admin-prohibited；\
被丢弃的 SYN（--scenario filtered）是 filtered、原因 no-response，收到 RST（--scenario refused）则是 closed、原因 reset。"
        ),
    }
}

/// The kernel as the client behind its own output firewall.
fn kernel_client_answer(a: &Ask<'_>) -> String {
    let (t, lang) = (a.t, a.lang);
    let call = t.kernel.iter().find_map(|o| match o.cause {
        synack_trace::ObsCause::Call(c) if c.starts_with("connect()") => Some((o.at, c)),
        _ => None,
    });
    let Some((at, call)) = call else {
        return lang
            .t(
                "The kernel's connect() did not fail.",
                "内核的 connect() 没有失败。",
            )
            .into();
    };
    let rule = tell::sysctl(t, "nftables output").unwrap_or(REJECT);
    let frames = t.link.len();
    let model = synack_engine::icmp::linux_errno(REASON);
    let agree = if call.ends_with(model) {
        lang.t(
            "as synack's model of Linux says",
            "与 synack 对 Linux 的模型一致",
        )
    } else {
        lang.t(
            "which is not what synack's model of Linux says",
            "与 synack 对 Linux 的模型不一致",
        )
    };
    match lang {
        Lang::En => format!(
            "The kernel's own firewall (the nftables rule `{rule}` on its output chain) rejected its SYN before it left: \
{frames} frames crossed the device. The ICMP error it made was delivered to the kernel's own TCP, and the application's \
{call} at {} ({agree}: a port unreachable would give ECONNREFUSED, a silent drop ETIMEDOUT only after the retries).",
            tell::ms(at)
        ),
        Lang::Zh => format!(
            "内核自己的防火墙（输出链上的 nftables 规则 `{rule}`）在 SYN 发出之前就拒绝了它：经过设备的帧数为 {frames}。\
它生成的 ICMP 错误交给了内核自己的 TCP，应用的 {call}（{}；{agree}：端口不可达会得到 ECONNREFUSED，静默丢弃则要等重试用尽才得到 ETIMEDOUT）。",
            tell::ms(at)
        ),
    }
}
