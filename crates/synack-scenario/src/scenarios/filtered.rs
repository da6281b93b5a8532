//! Nothing answers: retransmissions, then a timeout. Against the kernel
//! the server's own firewall drops the SYNs (nftables in its namespace);
//! with the kernel as the client, the link drops them, so the SYN
//! schedule shown is Linux's.

use synack_engine::sim::{Fault, Side};
use synack_engine::{Event, State};
use synack_explain::{Answer, Lang};
use synack_net::harness::{KernelRun, SEC, cmd};
use synack_net::{Dir, NetError};
use synack_trace::findings::Kind;

use crate::common::kernel_connects;
use crate::tell;
use crate::{Ask, Def, Keep, Options, SimRun};

pub static DEF: Def = Def {
    name: "filtered",
    about: "Nothing answers: retransmissions, then a timeout",
    server_role: true,
    closer: false,
    tune: crate::common::short_syn_retries,
    faults,
    sim,
    linux,
    answer,
};

/// The rule in the server's namespace.
pub const DROP: &str = "tcp dport 80 drop";

/// Every SYN is dropped before it reaches the server, as by a firewall.
fn faults(_: &Options) -> Vec<Fault> {
    vec![Fault::DropAll { from: Side::A }]
}

fn sim(r: &mut SimRun<'_>) -> Result<(), String> {
    let (c, s) = (r.o.client, r.o.server);
    r.listen(s)?;
    r.connect(c, s)?;
    r.run_until(|p| p.has_event(Side::A, Event::TimedOut));
    Ok(())
}

fn linux(run: &mut KernelRun, o: &Options) -> Result<Keep, NetError> {
    if o.synack_side == Side::B {
        return kernel_client(run);
    }
    // A listener stands behind the firewall: it never sees a SYN.
    let l = run.listen()?;
    run.firewall("input", DROP)?;
    let now = run.d.now();
    run.d.ep.connect(now, run.ours, run.theirs).map_err(cmd)?;
    run.until(30 * SEC, |d| d.has_event(Event::TimedOut))?;
    if let Some(n) = run.firewall_counted("input") {
        run.note("nftables input counted", n);
    }
    Ok((vec![l], vec![]))
}

/// The kernel is the client: its SYNs are dropped on the link before
/// synack's listener sees them; a shorter `tcp_syn_retries` makes it give
/// up in seconds (unless the kernel's defaults are kept).
fn kernel_client(run: &mut KernelRun) -> Result<Keep, NetError> {
    run.kernel_side = Side::A;
    run.ours.set_port(80);
    run.shorten("net/ipv4/tcp_syn_retries", "2")?;
    run.d.ep.listen(run.ours).map_err(cmd)?;
    run.d.faults.push(synack_net::Fault::DropAll {
        dir: Dir::FromKernel,
    });
    let target = run.ours;
    let client = kernel_connects(run, target, |_| Ok(()));
    client.finish(run, crate::common::CONNECT_LIMIT + SEC)?;
    Ok((vec![], vec![]))
}

/// Who dropped the SYNs, in a sentence: the server's firewall as the
/// trace recorded it, or the link.
fn dropped_by(a: &Ask<'_>) -> String {
    let lang = a.lang;
    let Some(rule) = tell::sysctl(a.t, "nftables input") else {
        return lang
            .t(
                "Every SYN was dropped on the way",
                "每个 SYN 都在途中被丢弃",
            )
            .into();
    };
    let counted = tell::sysctl(a.t, "nftables input counted")
        .map_or_else(|| tell::unknown(lang), str::to_string);
    let syn_recv = a.f.entered(Side::B, State::SynReceived).is_some();
    let seen = match (syn_recv, lang) {
        (false, Lang::En) => {
            " the listener never saw one (sock_diag showed no half-open connection),"
        }
        (false, Lang::Zh) => "监听套接字一个也没见到（sock_diag 没有显示半连接），",
        (true, _) => "",
    };
    match lang {
        Lang::En => format!(
            "The server's own firewall dropped every SYN (the nftables rule `{rule}` in its namespace, which counted \
{counted} packets):{seen} so nothing came back"
        ),
        Lang::Zh => format!(
            "服务器自己的防火墙丢弃了每个 SYN（其命名空间中的 nftables 规则 `{rule}`，共计数 {counted} 个报文）：{seen}\
所以什么也没有回来"
        ),
    }
}

fn answer(a: &Ask<'_>) -> Answer {
    let (t, lang) = (a.t, a.lang);
    let syn = a.f.schedule(Side::A, Kind::Syn);
    let n = syn.as_ref().map_or(0, |s| s.retransmissions().len());
    let rtx = syn
        .as_ref()
        .map_or_else(|| tell::unknown(lang), |s| tell::schedule(lang, s));
    let gave_up = tell::at(lang, a.f.gave_up(Side::A));
    let rule = tell::schedule_rule(t, Side::A, false, lang);
    let check = crate::syn_schedule::model_check(t, Side::A, lang);
    let lab = tell::changed_settings(t, lang);
    let defaults = crate::syn_schedule::syn_defaults(t, lang);
    let by = dropped_by(a);
    let q = a.q("What happens if nothing answers?", "如果对方什么都不回呢？");
    let text = match lang {
        Lang::En => format!(
            "{by}: no SYN-ACK, no RST. The client retransmitted its SYN {n} times, at {rtx}, and gave up at {gave_up}, \
reporting a timeout (ETIMEDOUT). Here {rule}.{check}{lab}{defaults} Unlike a refused port there is no RST, and unlike \
an unreachable one no ICMP error: nmap calls such a port \"filtered\", with the reason \"no-response\"."
        ),
        Lang::Zh => format!(
            "{by}：没有 SYN-ACK，也没有 RST。客户端重传了 {n} 次 SYN，时间是 {rtx}，在 {gave_up} 放弃并报告超时（ETIMEDOUT）。\
本例中{rule}。{check}{lab}{defaults}与被拒绝的端口不同，这里没有 RST；与不可达的端口不同，也没有 ICMP 错误：\
nmap 把这样的端口称为 filtered（被过滤），原因为 no-response。"
        ),
    };
    (q, text)
}
