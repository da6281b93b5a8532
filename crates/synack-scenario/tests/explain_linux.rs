//! `explain --peer linux`: every scenario against the kernel, checked for
//! what the kernel itself did and reported.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use synack_engine::Event;
use synack_engine::sim::{Fate, Side};
mod common;

use common::{answer, render, sc};
use synack_explain::{Format, Lang, Style};
use synack_scenario::{Options, Scenario};
use synack_trace::Trace;
use synack_wire::{TcpFlags, parse_segment};

fn run(s: Scenario) -> Option<Trace> {
    run_opts(Options {
        scenario: s,
        client_isn: Some(1000),
        ..Options::default()
    })
}

fn run_opts(o: Options) -> Option<Trace> {
    common::run_linux(o)
}

/// The flags of `side`'s TCP segments (ICMP errors left out), and
/// whether each was dropped.
fn kernel_flags(t: &Trace, side: Side) -> Vec<(TcpFlags, bool)> {
    t.link
        .iter()
        .filter(|r| r.from == side)
        .filter_map(|r| {
            let f = parse_segment(&r.bytes, false).ok()?.tcp.flags;
            Some((f, matches!(r.fate, Fate::Dropped { .. })))
        })
        .collect()
}

fn has_event(t: &Trace, e: Event) -> bool {
    t.events.iter().any(|x| x.event == e)
}

fn states(t: &Trace) -> Vec<(&str, bool)> {
    t.kernel
        .iter()
        .filter(|k| k.state != "LISTEN")
        .map(|k| (k.state, k.accepted))
        .collect()
}

#[test]
fn every_scenario_runs_against_the_kernel() {
    let handles: Vec<_> = synack_scenario::ALL
        .into_iter()
        .map(|s| std::thread::spawn(move || (s, run(s))))
        .collect();
    for h in handles {
        let (s, t) = h.join().unwrap();
        let Some(t) = t else { continue };
        for lang in [Lang::En, Lang::Zh] {
            let text = render(&t, Format::Text, lang, Style::PLAIN);
            assert!(text.contains("Linux"), "{}", s.name);
        }
        let json: serde_json::Value =
            serde_json::from_str(&render(&t, Format::Json, Lang::En, Style::PLAIN)).unwrap();
        assert_eq!(json["peer"]["kind"], "linux");
        let k = kernel_flags(&t, Side::B);
        match s.name {
            "normal" | "data" | "close" => {
                assert!(has_event(&t, Event::Connected), "{}", s.name);
                assert_eq!(k.first(), Some(&(TcpFlags::SYN_ACK, false)), "{}", s.name);
                // Complete in the kernel before accept(), then accepted.
                let st = states(&t);
                let before = st.iter().position(|x| *x == ("ESTABLISHED", false));
                let after = st.iter().position(|x| *x == ("ESTABLISHED", true));
                assert!(
                    before.is_some() && after.is_some() && before < after,
                    "{}: {st:?}",
                    s.name
                );
                // The ISN we show for the server is the kernel's.
                let synack = t.link.iter().find(|r| r.from == Side::B).unwrap();
                assert_eq!(
                    t.first_isn(Side::B),
                    Some(parse_segment(&synack.bytes, false).unwrap().tcp.seq.get())
                );
            }
            "syn-lost" => {
                assert!(has_event(&t, Event::Connected));
                assert_eq!(
                    kernel_flags(&t, Side::A).first(),
                    Some(&(TcpFlags::SYN, true))
                );
            }
            "synack-lost" => {
                assert!(has_event(&t, Event::Connected));
                assert_eq!(k.first(), Some(&(TcpFlags::SYN_ACK, true)));
                // The half-open connection lasted a second: the kernel said so.
                assert!(
                    states(&t).iter().any(|x| x.0 == "SYN_RECV"),
                    "{:?}",
                    states(&t)
                );
            }
            "ack-lost" => {
                assert!(has_event(&t, Event::Readable), "the response arrived");
            }
            "refused" => {
                assert!(has_event(&t, Event::Refused));
                assert_eq!(k, vec![(TcpFlags::RST_ACK, false)]);
            }
            "filtered" => {
                // The kernel's firewall dropped our three SYNs: the kernel
                // sent nothing, its listener never had a half-open
                // connection, the rule counted them.
                assert!(k.is_empty(), "{k:?}");
                let syns = kernel_flags(&t, Side::A);
                assert_eq!(syns.len(), 3, "{syns:?}");
                assert!(states(&t).iter().all(|x| x.0 != "SYN_RECV"));
                assert_eq!(
                    t.setting("nftables input counted")
                        .map(|s| s.value.as_str()),
                    Some("3")
                );
                assert!(has_event(&t, Event::TimedOut));
            }
            "simultaneous-open" => {
                assert_eq!(k.first(), Some(&(TcpFlags::SYN, false)), "{k:?}");
                assert!(k.iter().any(|x| x.0 == TcpFlags::SYN_ACK));
                assert!(
                    t.steps
                        .iter()
                        .any(|(_, s)| s.after.state == synack_engine::State::SynReceived)
                );
                assert!(states(&t).iter().any(|x| x.0 == "ESTABLISHED"));
                // Every SACK block the kernel sent is in the narration.
                let text = render(&t, Format::Text, Lang::En, Style::PLAIN);
                for r in t.link.iter().filter(|r| r.from == Side::B) {
                    let p = parse_segment(&r.bytes, false).unwrap();
                    if let Some(b) = p.tcp.options.sack {
                        for (l, r) in b.as_slice() {
                            assert!(text.contains(&format!("{l}-{r}")), "{text}");
                        }
                    }
                }
            }
            "old-duplicate" => {
                // The kernel's first SYN-ACK answers the old SYN (seq 90).
                let first = segs(&t, Side::B).into_iter().find(|x| x.0.syn()).unwrap();
                assert_eq!(first.2, 91);
                let rst = segs(&t, Side::A).into_iter().find(|x| x.0.rst()).unwrap();
                assert_eq!(rst.1, 91);
                assert!(has_event(&t, Event::Connected));
            }
            "half-open" => {
                assert!(
                    k.iter().any(|x| x.0 == TcpFlags::ACK),
                    "a challenge ACK: {k:?}"
                );
                let connected = t
                    .events
                    .iter()
                    .filter(|e| e.event == Event::Connected)
                    .count();
                assert_eq!(connected, 2);
                assert!(
                    states(&t).iter().any(|x| x.0 == "CLOSED"),
                    "{:?}",
                    states(&t)
                );
            }
            "syn-flood" => {
                // Four SYN-ACKs to the spoofed address were dropped, ours came.
                let dropped = k.iter().filter(|x| x.0 == TcpFlags::SYN_ACK && x.1).count();
                assert!(dropped >= 4, "{k:?}");
                // No request socket for us: the kernel answered with a cookie.
                assert!(
                    !t.kernel
                        .iter()
                        .any(|o| o.remote == t.client && o.state == "SYN_RECV")
                );
                assert!(states(&t).iter().any(|x| x.0 == "ESTABLISHED"));
                // The cookie's option bits: window scale 7, SACK.
                let synack = segs(&t, Side::B)
                    .into_iter()
                    .find(|x| x.0.syn() && x.4 == t.client.port())
                    .unwrap();
                assert_eq!(synack.3 & 0x3f, 7 | 0x10);
            }
            "ecn" => {
                let synacks: Vec<TcpFlags> = k.iter().filter(|x| x.0.syn()).map(|x| x.0).collect();
                assert_eq!(
                    synacks,
                    [TcpFlags::SYN_ACK | TcpFlags::ECE, TcpFlags::SYN_ACK]
                );
            }
            "fast-open" => {
                let syn = segs(&t, Side::A)
                    .into_iter()
                    .find(|x| x.0.syn() && x.5 > 0)
                    .unwrap();
                let want = syn.1.wrapping_add(1 + syn.5 as u32);
                assert!(segs(&t, Side::B).iter().any(|x| x.0.syn() && x.2 == want));
                assert!(has_event(&t, Event::Readable));
            }
            "isn" => {
                // Same tuple, half a second apart: the kernel's ISN moved by
                // about 500 ms / 64 ns.
                let acks: Vec<_> = segs(&t, Side::B)
                    .into_iter()
                    .filter(|x| x.0.syn() && x.4 == t.client.port())
                    .collect();
                assert_eq!(acks.len(), 3, "{acks:?}");
                // By the time between the SYNs that made them (64 ns ticks),
                // within 2 ms: the kernel read each SYN inside our write().
                let syns: Vec<_> = t
                    .link
                    .iter()
                    .filter(|r| r.from == Side::A)
                    .filter(|r| {
                        let p = parse_segment(&r.bytes, false).unwrap().tcp;
                        p.flags == TcpFlags::SYN && p.src_port == t.client.port()
                    })
                    .map(|r| r.sent_at.as_nanos() as f64)
                    .collect();
                let step = f64::from(acks[1].1.wrapping_sub(acks[0].1));
                let want = (syns[1] - syns[0]) / 64.0;
                assert!((step - want).abs() < 2e6 / 64.0, "{step} vs {want}");
            }
            "time-wait-rst" => {
                let st = states(&t);
                let tw = st.iter().position(|x| x.0 == "TIME_WAIT");
                assert!(tw.is_some(), "{st:?}");
                assert_eq!(st.last().map(|x| x.0), Some("CLOSED"), "{st:?}");
            }
            "simultaneous-close" => {
                assert!(
                    t.steps
                        .iter()
                        .any(|(_, s)| s.after.state == synack_engine::State::Closing)
                );
                assert!(states(&t).iter().any(|x| x.0 == "TIME_WAIT"));
            }
            "last-ack-lost" => {
                assert_eq!(k.iter().filter(|x| x.0.fin()).count(), 2, "{k:?}");
                assert_eq!(states(&t).last().map(|x| x.0), Some("CLOSED"));
            }
            "abort" => {
                assert!(segs(&t, Side::A).iter().any(|x| x.0.rst()));
                assert_eq!(states(&t).last().map(|x| x.0), Some("CLOSED"));
            }
            "accept-queue" => {
                // Nobody accepted; the last ACK was dropped: the kernel sent
                // that SYN-ACK again and kept the request socket.
                assert!(t.kernel.iter().any(|o| o.queue.is_some_and(|q| q.0 >= 1)));
                let b = segs(&t, Side::B);
                let on80: Vec<_> = b.iter().filter(|x| x.0.syn()).collect();
                let again = on80
                    .iter()
                    .any(|x| on80.iter().filter(|y| y.1 == x.1).count() > 1);
                assert!(again, "a SYN-ACK sent again: {b:?}");
                assert!(t.kernel.iter().all(|o| !o.accepted));
                // With tcp_abort_on_overflow=1 the second listener (port 81)
                // answered the ACK that found its queue full with a RST.
                let rst: Vec<_> = t
                    .link
                    .iter()
                    .filter(|r| r.from == Side::B)
                    .filter_map(|r| parse_segment(&r.bytes, false).ok())
                    .filter(|p| p.tcp.flags.rst())
                    .collect();
                assert_eq!(rst.len(), 1, "{rst:?}");
                assert_eq!(rst[0].tcp.src_port, 81);
                assert!(has_event(&t, Event::Reset));
            }
            "time-wait" => {
                // The kernel held TIME_WAIT for 60 s by its own timer, and
                // acknowledged the late copy of our FIN.
                let tw = t.kernel.iter().find(|o| o.state == "TIME_WAIT").unwrap();
                let left = tw.timer.unwrap().as_secs();
                assert!((55..=60).contains(&left), "{left}");
                let fins = segs(&t, Side::A).iter().filter(|x| x.0.fin()).count();
                assert_eq!(fins, 2);
                assert!(segs(&t, Side::B).last().unwrap().0 == TcpFlags::ACK);
            }
            "third-ack-data" => {
                third_segment_carries_request(&t, Side::A);
                // A SYN with data and no Fast Open: Linux acknowledged the
                // SYN only (ack = ISN + 1), keeping none of the data.
                let syn = segs(&t, Side::A)
                    .into_iter()
                    .find(|x| x.0 == TcpFlags::SYN && x.5 > 0)
                    .unwrap();
                let sa = segs(&t, Side::B)
                    .into_iter()
                    .find(|x| x.0 == TcpFlags::SYN_ACK && x.4 == 40066)
                    .unwrap();
                assert_eq!(sa.2, syn.1.wrapping_add(1));
            }
            "unreachable" => {
                // The kernel's firewall answered each SYN with ICMP code 13
                // quoting it; synack's RFC client kept retrying (a soft
                // error), then timed out.
                let syns = segs(&t, Side::A);
                let icmps: Vec<_> = t
                    .link
                    .iter()
                    .filter(|r| r.from == Side::B)
                    .map(|r| synack_wire::parse_icmp(&r.bytes, true).unwrap())
                    .collect();
                assert_eq!(icmps.len(), syns.len(), "{icmps:?}");
                assert!(
                    icmps
                        .iter()
                        .all(|e| e.code == 13 && e.quoted_seq.get() == syns[0].1)
                );
                assert!(has_event(&t, Event::TimedOut));
                assert!(
                    t.steps
                        .iter()
                        .any(|(_, s)| s.rule == synack_engine::Rule::IcmpError)
                );
            }
            "three-way-close" => three_segment_close(&t, Side::B),
            "options" => {
                // The SYN offered MSS 1400 and window scale only: the
                // kernel's SYN-ACK echoes no SACK-permitted, no timestamps.
                let syn = t.link.iter().find(|r| r.from == Side::A).unwrap();
                let syn = parse_segment(&syn.bytes, false).unwrap().tcp.options;
                assert_eq!(syn.mss, Some(1400));
                assert!(!syn.sack_permitted && syn.timestamps.is_none());
                let sa = t.link.iter().find(|r| r.from == Side::B).unwrap();
                let sa = parse_segment(&sa.bytes, false).unwrap().tcp.options;
                assert!(sa.window_scale.is_some());
                assert!(!sa.sack_permitted && sa.timestamps.is_none(), "{sa:?}");
                // The third segment's window is scaled by our shift 7.
                let third = segs(&t, Side::A)[1];
                assert_eq!(third.0, TcpFlags::ACK);
                let raw = t.link.iter().filter(|r| r.from == Side::A).nth(1).unwrap();
                assert_eq!(
                    parse_segment(&raw.bytes, false).unwrap().tcp.window,
                    64240 >> 7
                );
                let (_, a) = answer(&t, Lang::En);
                assert!(a.contains("501 × 128 = 64128 bytes"), "{a}");
            }
            other => panic!("{other}: no kernel check"),
        }
        // The closing answer is built from this run's numbers: none missing.
        for lang in [Lang::En, Lang::Zh] {
            let (_, a) = answer(&t, lang);
            assert!(
                !a.contains(" ?") && !a.contains("？ ") && !a.contains(" ?,"),
                "{}: {a}",
                s.name
            );
        }
    }
}

/// (flags, seq, ack, TSval, destination port, payload length) of what `side` sent.
fn segs(t: &Trace, side: Side) -> Vec<(TcpFlags, u32, u32, u32, u16, usize)> {
    t.link
        .iter()
        .filter(|r| r.from == side)
        .filter_map(|r| parse_segment(&r.bytes, false).ok())
        .map(|p| {
            (
                p.tcp.flags,
                p.tcp.seq.get(),
                p.tcp.ack.get(),
                p.tcp.options.timestamps.map_or(0, |x| x.0),
                p.tcp.dst_port,
                p.tcp.payload.len(),
            )
        })
        .collect()
}

/// `client`'s first segment after its SYN is an ACK that carries the
/// request, and the server acknowledges the request's bytes.
fn third_segment_carries_request(t: &Trace, client: Side) {
    let c = segs(t, client);
    let syn = c.first().unwrap();
    let third = c.iter().find(|x| !x.0.syn()).unwrap();
    assert!(third.0.ack(), "{c:?}");
    assert_eq!(third.5, synack_scenario::REQUEST.len(), "{c:?}");
    assert_eq!(third.1, syn.1.wrapping_add(1));
    let end = third.1.wrapping_add(synack_scenario::REQUEST.len() as u32);
    assert!(segs(t, client.other()).iter().any(|x| x.2 == end));
    // Exactly one SYN of this connection (a SYN with data may follow, from
    // another client), and no pure ACK before the data.
    assert_eq!(c.iter().filter(|x| x.0.syn() && x.5 == 0).count(), 1);
}

/// After `first`'s FIN the other side sends exactly one segment, a FIN
/// that acknowledges it, and `first` acknowledges that: three segments.
fn three_segment_close(t: &Trace, first: Side) {
    let all: Vec<_> = t
        .link
        .iter()
        .map(|r| (r.from, parse_segment(&r.bytes, false).unwrap().tcp))
        .collect();
    let i = all.iter().position(|(_, s)| s.flags.fin()).unwrap();
    let tail = &all[i..];
    assert_eq!(tail.len(), 3, "{tail:?}");
    let (fin, reply, last) = (&tail[0], &tail[1], &tail[2]);
    assert_eq!(fin.0, first);
    assert_eq!(reply.0, first.other());
    assert_eq!(reply.1.flags, TcpFlags::FIN_ACK);
    assert_eq!(reply.1.ack.get(), fin.1.seq.get().wrapping_add(1));
    assert_eq!(last.1.flags, TcpFlags::ACK);
    assert_eq!(last.1.ack.get(), reply.1.seq.get().wrapping_add(1));
}

/// What Linux's connect() reports for each ICMP error nftables can send,
/// against synack's model of it (`synack_engine::icmp::linux_errno`).
#[test]
fn linux_connect_errors_for_icmp_rejections_are_the_ones_synack_models() {
    use synack_wire::Unreachable as U;
    let t = run_with(sc("unreachable"), Side::B, Side::A);
    let Some(t) = t else { return };
    let call = t
        .kernel
        .iter()
        .find_map(|o| match o.cause {
            synack_trace::ObsCause::Call(c) => Some(c),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        call,
        format!(
            "connect() → {}",
            synack_engine::icmp::linux_errno(U::AdminProhibited)
        )
    );
    // The other rejections, each from a firewall of the kernel's own.
    for (how, reason) in [
        ("port-unreachable", U::Port),
        ("host-unreachable", U::Host),
        ("no-route", U::Net),
    ] {
        let got = synack_net::harness::in_lab(move || {
            let mut run =
                synack_net::harness::KernelRun::start(synack_engine::Config::rfc(), false, 80, 0)?;
            run.firewall(
                "output",
                &format!("tcp dport 80 reject with icmpx type {how}"),
            )?;
            let to = run.ours;
            let e = std::net::TcpStream::connect_timeout(&to, std::time::Duration::from_secs(5))
                .err()
                .map(|e| e.raw_os_error());
            Ok(e)
        })
        .unwrap();
        let errno = match got {
            Some(Some(libc_errno)) => errno_name(libc_errno),
            other => panic!("{how}: connect() gave {other:?}"),
        };
        assert_eq!(errno, synack_engine::icmp::linux_errno(reason), "{how}");
    }
}

fn errno_name(e: i32) -> &'static str {
    match e {
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        101 => "ENETUNREACH",
        110 => "ETIMEDOUT",
        _ => "other",
    }
}

#[test]
fn the_kernel_client_gives_up_on_linux_schedule() {
    let Some(t) = run_with(sc("filtered"), Side::B, Side::A) else {
        return;
    };
    // tcp_syn_retries=2 with linear timeouts: SYNs at 0..5 s, ETIMEDOUT at 7 s.
    let syns = kernel_flags(&t, Side::A);
    assert!(syns.iter().all(|x| x == &(TcpFlags::SYN, true)), "{syns:?}");
    assert_eq!(syns.len(), 6, "{syns:?}");
    assert_eq!(states(&t).last().map(|x| x.0), Some("CLOSED"));
    let (_, a) = answer(&t, Lang::En);
    assert!(a.contains("the kernel did the same"), "{a}");
}

#[test]
fn the_kernel_client_closes_and_synack_answers_fin_ack() {
    let Some(t) = run_with(sc("three-way-close"), Side::B, Side::A) else {
        return;
    };
    three_segment_close(&t, Side::A);
    // The kernel acknowledged our FIN+ACK and held TIME_WAIT.
    assert!(
        states(&t).iter().any(|x| x.0 == "TIME_WAIT"),
        "{:?}",
        states(&t)
    );
}

#[test]
fn the_kernel_client_sends_its_request_on_the_third_segment() {
    let Some(t) = run_with(sc("third-ack-data"), Side::B, Side::A) else {
        return;
    };
    third_segment_carries_request(&t, Side::A);
    // The application's write() was seen waiting while the socket was in
    // SYN_SENT, before synack answered.
    let first_frame = t.link.first().unwrap().sent_at;
    assert!(
        t.kernel.iter().any(|o| o.state == "SYN_SENT"
            && o.at <= first_frame
            && matches!(o.cause, synack_trace::ObsCause::Call(c) if c.starts_with("write()"))),
        "{:?}",
        t.kernel
    );
}

fn run_with(s: Scenario, synack_side: Side, closer: Side) -> Option<Trace> {
    run_opts(Options {
        scenario: s,
        synack_side,
        closer,
        ..Options::default()
    })
}

#[test]
fn kernel_as_client_and_both_close_orders() {
    let cases = [
        // (synack plays, who closes first, the kernel ends in)
        (Side::A, Side::A, "CLOSED"), // synack closes first: kernel LAST_ACK → gone
        (Side::A, Side::B, "TIME_WAIT"), // the kernel (server) closes first
        (Side::B, Side::A, "TIME_WAIT"), // the kernel (client) closes first
        (Side::B, Side::B, "CLOSED"), // synack (server) closes first
    ];
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(us, closer, end)| {
            std::thread::spawn(move || (us, closer, end, run_with(sc("close"), us, closer)))
        })
        .collect();
    for h in handles {
        let (us, closer, end, t) = h.join().unwrap();
        let Some(t) = t else { continue };
        let kernel = us.other();
        // The kernel's segments come from the kernel's side of the diagram.
        assert!(t.link.iter().any(|r| r.from == kernel));
        let first_syn = t
            .link
            .iter()
            .find(|r| parse_segment(&r.bytes, false).unwrap().tcp.flags == TcpFlags::SYN)
            .unwrap();
        assert_eq!(first_syn.from, Side::A, "the client sends the first SYN");
        let ev = if us == Side::A {
            Event::Connected
        } else {
            Event::Accepted
        };
        assert!(has_event(&t, ev), "{us:?}/{closer:?}");
        let last = states(&t).last().map(|k| k.0);
        assert_eq!(last, Some(end), "{us:?}/{closer:?}: {:?}", states(&t));
        // The first FIN comes from the closer.
        let fin = t
            .link
            .iter()
            .find(|r| parse_segment(&r.bytes, false).unwrap().tcp.flags.fin())
            .unwrap();
        assert_eq!(fin.from, closer);
    }
}

#[test]
fn kernel_client_reaches_synack_in_every_handshake_scenario() {
    let scenarios = [
        sc("normal"),
        sc("syn-lost"),
        sc("synack-lost"),
        sc("ack-lost"),
        sc("data"),
        sc("refused"),
    ];
    let handles: Vec<_> = scenarios
        .into_iter()
        .map(|s| std::thread::spawn(move || (s, run_with(s, Side::B, Side::A))))
        .collect();
    for h in handles {
        let (s, t) = h.join().unwrap();
        let Some(t) = t else { continue };
        if s == sc("refused") {
            // synack's closed port answers the kernel's SYN with RST+ACK.
            let rst = t.link.iter().find(|r| r.from == Side::B).unwrap();
            assert_eq!(
                parse_segment(&rst.bytes, false).unwrap().tcp.flags,
                TcpFlags::RST_ACK
            );
            continue;
        }
        assert!(has_event(&t, Event::Accepted), "{}", s.name);
        let dropped = t
            .link
            .iter()
            .filter(|r| matches!(r.fate, Fate::Dropped { .. }))
            .count();
        let want = usize::from(matches!(s.name, "syn-lost" | "synack-lost" | "ack-lost"));
        assert_eq!(dropped, want, "{}", s.name);
    }
}

/// Items of the kernel narration that were once false: the kernel's ISN
/// origin, the state placed at the frame that caused it, IPv6's MSS.
#[test]
fn kernel_facts_come_from_the_kernel() {
    let Some(t) = run(sc("normal")) else { return };
    let text = render(&t, Format::Text, Lang::En, Style::PLAIN);
    assert!(text.contains("the Linux kernel's own choice"), "{text}");
    assert!(!text.contains("4 µs clock plus a keyed hash of the addresses and ports, so"));
    // The kernel's ESTABLISHED was seen right after our ACK crossed, and
    // the narration places it at that frame's time.
    let est = t
        .kernel
        .iter()
        .find(|o| o.state == "ESTABLISHED" && o.remote == t.client)
        .unwrap();
    let synack_trace::ObsCause::Frame(i) = est.cause else {
        panic!("{est:?}")
    };
    let ack = &t.link[i];
    assert_eq!(ack.from, Side::A);
    let p = parse_segment(&ack.bytes, false).unwrap();
    assert_eq!(p.tcp.flags, TcpFlags::ACK);
    let stamp = synack_explain::clock(ack.sent_at);
    assert!(
        text.contains(&format!(
            "[{stamp}] server (Linux kernel)  socket state ESTABLISHED"
        )),
        "{stamp}: {text}"
    );
    // Over IPv6 synack offers what the link carries: 1500 − 40 − 20.
    let Some(t6) = run_opts(Options {
        scenario: sc("normal"),
        client: "[2001:db8::10]:40000".parse().unwrap(),
        server: "[2001:db8::20]:80".parse().unwrap(),
        ..Options::default()
    }) else {
        return;
    };
    let mss = |side| {
        t6.link
            .iter()
            .filter(|r| r.from == side)
            .find_map(|r| parse_segment(&r.bytes, false).unwrap().tcp.options.mss)
    };
    assert_eq!(mss(Side::A), Some(1440));
    assert_eq!(mss(Side::A), mss(Side::B));
}
