//! Diagnoses of captures the Linux kernel made, in namespaces this test
//! creates: an nftables rule that rejects with ICMP and one that drops, a
//! listener that never accepts, a closed port, a stale connection on the
//! ports of a new SYN, a simultaneous open, SYN cookies forced, and a
//! capture cut down to one direction. ICMP fields are checked against
//! tshark, and the repeated SYNs and SYN-ACKs the diagnoses rest on against
//! tshark's `tcp.analysis.retransmission`; the rest against what the test
//! made happen. Each diagnosis is also checked not to appear where the
//! kernel did the ordinary thing. RSTs injected after a handshake are
//! judged against what the kernel's socket did with each.
//!
//! Needs root (the lab); without it the test says SKIPPED, and under CI it
//! fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use synack_capture::synth::raw_pcap;
use synack_capture::{Attempt, Id, analyze};
use synack_engine::Config;
use synack_net::harness::{KernelRun, SEC, in_lab};
use synack_net::{Dir, Fault, NetError};

/// `synack explain --peer linux` with these arguments, its capture (in
/// `scratch`).
fn kernel_capture(scratch: &common::Scratch, name: &str, args: &[&str]) -> PathBuf {
    let file = scratch.join(&format!("{name}.pcap"));
    let mut a = vec![
        "explain",
        "--peer",
        "linux",
        "--format",
        "json",
        "--pcap",
        file.to_str().unwrap(),
    ];
    a.extend(args);
    common::synack_ok(&a);
    file
}

fn attempts(file: &Path) -> Vec<Attempt> {
    let f = std::fs::File::open(file).unwrap();
    analyze(f, &file.display().to_string()).unwrap().attempts
}

fn ids(v: &[Attempt]) -> Vec<Option<(Id, &'static str)>> {
    v.iter()
        .map(|a| a.diagnosis.as_ref().map(|d| (d.id, d.reason)))
        .collect()
}

/// tshark's view of the ICMP errors: frame, sender, type, code.
fn tshark_icmp(file: &Path, v6: bool) -> Option<Vec<(u64, String, u8, u8)>> {
    let (filter, src, proto) = if v6 {
        ("icmpv6", "ipv6.src", "icmpv6")
    } else {
        ("icmp", "ip.src", "icmp")
    };
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-Y", filter, "-T", "fields", "-E", "occurrence=f"])
        .args(["-e", "frame.number", "-e", src])
        .args([
            "-e",
            &format!("{proto}.type"),
            "-e",
            &format!("{proto}.code"),
        ])
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but tshark is missing"
            );
            eprintln!("SKIPPED the tshark comparison: tshark is not installed");
            return None;
        }
    };
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (
                    f[0].parse().unwrap(),
                    f[1].to_string(),
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                )
            })
            .collect(),
    )
}

/// The frames tshark marks `tcp.analysis.retransmission`.
fn tshark_retransmissions(file: &Path) -> Option<Vec<u64>> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args([
            "-Y",
            "tcp.analysis.retransmission",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => Some(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| l.trim().parse().unwrap())
                .collect(),
        ),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but tshark is missing"
            );
            eprintln!("SKIPPED the tshark comparison: tshark is not installed");
            None
        }
    }
}

/// Every SYN and SYN-ACK after the first of its attempt, in frame order:
/// what tshark calls retransmissions in a capture of handshakes only.
fn handshake_repeats(all: &[Attempt]) -> Vec<u64> {
    let mut v: Vec<u64> = all
        .iter()
        .flat_map(|a| {
            a.syn_frames
                .iter()
                .skip(1)
                .chain(a.synack_frames.iter().skip(1))
        })
        .copied()
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn a_firewall_reject_is_diagnosed_from_the_icmp_error_v4_and_v6() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("diag");
    for v6 in [false, true] {
        let mut args = vec!["--scenario", "unreachable"];
        if v6 {
            args.push("--ipv6");
        }
        let file = kernel_capture(
            &scratch,
            if v6 { "unreachable6" } else { "unreachable" },
            &args,
        );
        let all = attempts(&file);
        assert_eq!(all.len(), 1, "{all:#?}");
        let d = all[0].diagnosis.clone().expect("a diagnosis");
        assert_eq!((d.id, d.reason), (Id::Icmp, "admin-prohibited"));
        let i = d.icmp.clone().unwrap();
        assert_eq!(i.quoted_frame, all[0].syn_frames.first().copied());
        assert_eq!(Some(i.quoted_seq), all[0].client_isn);
        if let Some(t) = tshark_icmp(&file, v6) {
            let first = t.first().expect("tshark sees the ICMP error");
            assert_eq!(
                (d.frames[0], i.router.clone(), i.kind, i.code),
                first.clone(),
                "synack and tshark on the ICMP error"
            );
        }
        // Every SYN the engine repeated after it is named: the engine's RFC
        // profile takes the error as soft.
        let later: Vec<u64> = all[0]
            .syn_frames
            .iter()
            .copied()
            .filter(|f| *f > d.frames[0])
            .collect();
        assert_eq!(i.syns_after, later);
    }
}

#[test]
fn a_dropping_firewall_is_no_response_with_the_kernels_own_schedule() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("diag");
    // The kernel connects; synack's side drops every SYN.
    let file = kernel_capture(
        &scratch,
        "filtered",
        &["--scenario", "filtered", "--role", "server"],
    );
    let all = attempts(&file);
    assert_eq!(all.len(), 1);
    let d = all[0].diagnosis.clone().unwrap();
    assert_eq!(d.id, Id::NoResponse);
    let s = d.schedule.unwrap();
    assert_eq!(s.syns, all[0].syn_frames.len());
    assert!(s.syns >= 3, "{s:?}");
    // Linux 6.5 and later space the first retries 1 s apart; before, doubling.
    let linear = Path::new("/proc/sys/net/ipv4/tcp_syn_linear_timeouts").exists();
    assert_eq!(
        s.suggests,
        if linear { "linux" } else { "doubling-1s" },
        "{s:?}"
    );
    // tshark sees the same SYNs as retransmissions.
    if let Some(t) = tshark_retransmissions(&file) {
        assert_eq!(
            t,
            handshake_repeats(&all),
            "tshark's tcp.analysis.retransmission"
        );
    }
}

#[test]
fn a_full_accept_queue_shows_as_a_synack_after_the_ack() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("diag");
    let file = kernel_capture(&scratch, "accept-queue", &["--scenario", "accept-queue"]);
    let all = attempts(&file);
    let after_ack: Vec<&Attempt> = all
        .iter()
        .filter(|a| {
            a.ack_frame
                .is_some_and(|ack| a.synack_frames.iter().any(|f| *f > ack))
        })
        .collect();
    assert!(
        !after_ack.is_empty(),
        "the kernel dropped no third ACK: {all:#?}"
    );
    for a in &all {
        let d = a.diagnosis.as_ref().map(|d| d.id);
        let dropped = after_ack.iter().any(|b| b.first_frame == a.first_frame);
        let reset = !a.rst.is_empty();
        match (dropped, reset) {
            (true, false) => assert_eq!(d, Some(Id::SynackLostOrAckDropped)),
            (false, true) => assert_eq!(d, Some(Id::Reset)),
            (false, false) => assert_eq!(d, None, "{a:#?}"),
            (true, true) => {}
        }
    }
    // tshark calls the SYN-ACK after the ACK a retransmission too, and
    // each such diagnosis rests on one.
    if let Some(t) = tshark_retransmissions(&file) {
        assert_eq!(
            t,
            handshake_repeats(&all),
            "tshark's tcp.analysis.retransmission"
        );
        for a in &after_ack {
            let d = a.diagnosis.as_ref().unwrap();
            assert!(
                d.frames.iter().any(|f| t.contains(f)),
                "{d:?} vs tshark {t:?}"
            );
        }
    }
    // The listener with tcp_abort_on_overflow=1 answers with a RST instead.
    assert!(all.iter().any(|a| a.diagnosis.as_ref().is_some_and(|d| {
        d.id == Id::Reset && d.from == Some("server") && d.state == Some("established")
    })));
}

#[test]
fn ordinary_kernel_handshakes_need_no_diagnosis_and_odd_ones_get_theirs() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("diag");
    for (scenario, want) in [
        ("normal", vec![None]),
        // A lost SYN-ACK, recovered: retransmissions, nothing odd.
        ("synack-lost", vec![None]),
        ("refused", vec![Some((Id::Reset, "reset"))]),
        (
            "simultaneous-open",
            vec![Some((Id::SimultaneousOpen, "syn-syn"))],
        ),
        // A rebooted client opens again on the same ports.
        (
            "half-open",
            vec![None, Some((Id::PortReuse, "challenge-ack"))],
        ),
    ] {
        let file = kernel_capture(&scratch, scenario, &["--scenario", scenario]);
        let all = attempts(&file);
        assert_eq!(ids(&all), want, "{scenario}");
        if let (Some(t), "normal" | "refused") = (tshark_retransmissions(&file), scenario) {
            assert!(
                t.is_empty() && handshake_repeats(&all).is_empty(),
                "{scenario}: {t:?}"
            );
        }
    }
}

/// The kernel's capture of a request and response, with only the frames
/// from `keep` left: what a tap on one direction sees.
#[test]
fn one_direction_of_a_kernel_capture_is_called_one_sided() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("diag");
    let file = kernel_capture(&scratch, "data", &["--scenario", "data"]);
    assert_eq!(ids(&attempts(&file)), vec![None]);
    let all = attempts(&file);
    let (client, server): (SocketAddr, SocketAddr) = (all[0].client, all[0].server);
    let f = std::fs::File::open(&file).unwrap();
    let (packets, _) = synack_capture::packets(f, "data", 10_000).unwrap();
    for (keep, from) in [(client, "client"), (server, "server")] {
        let one: Vec<(f64, Vec<u8>)> = packets
            .iter()
            .filter(|p| {
                synack_wire::parse_ip(&p.bytes, false).is_ok_and(|ip| ip.ip.src == keep.ip())
            })
            .map(|p| (p.ts, p.bytes.clone()))
            .collect();
        let cut = scratch.join(&format!("data-{from}-only.pcap"));
        std::fs::write(&cut, raw_pcap(&one)).unwrap();
        let v = attempts(&cut);
        assert_eq!(v.len(), 1, "{from}: {v:#?}");
        let d = v[0].diagnosis.clone().unwrap();
        assert_eq!((d.id, d.from), (Id::OneSidedCapture, Some(from)));
        assert_eq!(v[0].outcome.name(), "one_sided");
    }
}

/// synack connects with its third ACK lost on the way (and so not in the
/// capture, which is taken at the kernel's side), then, 2 s later, opens a
/// second connection so that the capture goes on. With `cookies` the
/// kernel answers from a SYN cookie (tcp_syncookies=2) and keeps no state;
/// without, it keeps a request and sends its SYN-ACK again after 1 s.
fn lost_third_ack(cookies: bool) -> Result<Vec<(f64, Vec<u8>)>, NetError> {
    in_lab(move || {
        let mut run = KernelRun::start(Config::linux(), false, 40000, 80)?;
        // No per-connection offset, so the cookie's option bits show.
        run.sysctl("net/ipv4/tcp_timestamps", "2")?;
        run.sysctl("net/ipv4/tcp_syncookies", if cookies { "2" } else { "1" })?;
        let _l = run.listen()?;
        run.d.faults.push(Fault::DropNth {
            dir: Dir::ToKernel,
            n: 2,
        });
        let (ours, theirs) = (run.ours, run.theirs);
        let now = run.d.now();
        run.d
            .ep
            .connect(now, ours, theirs)
            .map_err(synack_net::harness::cmd)?;
        run.wait(2 * SEC + Duration::from_millis(500))?;
        let mut second = ours;
        second.set_port(40001);
        let now = run.d.now();
        run.d
            .ep
            .connect(now, second, theirs)
            .map_err(synack_net::harness::cmd)?;
        run.wait(SEC / 5)?;
        Ok(run
            .d
            .log
            .iter()
            .filter(|c| !(c.dropped && c.dir == Dir::ToKernel))
            .map(|c| (c.at.as_secs_f64() + 1_000.0, c.bytes.clone()))
            .collect())
    })
}

#[test]
fn a_forced_syn_cookie_is_seen_by_its_silence_and_its_tsval() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("diag");
    let frames = lost_third_ack(true).unwrap();
    let file = scratch.join("cookie.pcap");
    std::fs::write(&file, raw_pcap(&frames)).unwrap();
    let all = attempts(&file);
    assert_eq!(all.len(), 2, "{all:#?}");
    let d = all[0].diagnosis.clone().expect("a diagnosis");
    assert_eq!(d.id, Id::SynCookie, "{d:#?}");
    assert_eq!(
        d.signs,
        vec!["no-synack-retransmission", "tsval-encodes-options"]
    );
    assert_eq!(all[1].diagnosis.as_ref().map(|d| d.id), None);

    // The same with state kept: the kernel repeats its SYN-ACK, and synack
    // answers it, so the handshake completes late. No cookie.
    let frames = lost_third_ack(false).unwrap();
    let file = scratch.join("no-cookie.pcap");
    std::fs::write(&file, raw_pcap(&frames)).unwrap();
    let all = attempts(&file);
    assert_eq!(all[0].synack_frames.len(), 2, "{all:#?}");
    assert_eq!(ids(&all), vec![None, None]);
}

/// Frames as the driver logged them: time, IP packet.
type Frames = Vec<(f64, Vec<u8>)>;

/// What each injected RST did: its seq, and whether the kernel's socket
/// was still there right after the write that carried it (the kernel
/// handles a packet inside that write, so sock_diag then shows its doing).
type Injected = Vec<(u32, bool)>;

/// synack connects and the kernel accepts; synack's side then injects
/// RSTs: one far behind the kernel's RCV.NXT, then (after the kernel's
/// application has written) one in its window but not RCV.NXT, then one
/// with RCV.NXT.
fn injected_rsts() -> Result<(Frames, Injected), NetError> {
    in_lab(move || {
        let mut run = KernelRun::start(Config::linux(), false, 40000, 80)?;
        let l = run.listen()?;
        let ours = run.ours;
        let (h, mut s) = run.open(ours, &l)?;
        run.wait(SEC / 10)?;
        let nxt = run
            .d
            .ep
            .connection(h)
            .map(|c| c.vars().snd_nxt.get())
            .ok_or_else(|| synack_net::harness::cmd("no connection"))?;
        let mut done = Vec::new();
        for (i, seq) in [nxt.wrapping_sub(1 << 30), nxt.wrapping_add(100), nxt]
            .into_iter()
            .enumerate()
        {
            let rst = run.craft(ours, synack_wire::TcpFlags::RST, seq)?;
            run.d.inject(&rst)?;
            let theirs = run.theirs;
            done.push((seq, run.kernel_state(theirs, ours).is_some()));
            if i == 0 {
                std::io::Write::write_all(&mut s, b"still here")
                    .map_err(synack_net::harness::io)?;
            }
            run.wait(SEC / 5)?;
        }
        let frames = run.d.log.iter();
        let frames = frames.map(|c| (c.at.as_secs_f64() + 1_000.0, c.bytes.clone()));
        Ok((frames.collect(), done))
    })
}

#[test]
fn a_rst_after_the_handshake_is_judged_as_the_kernel_judged_it() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("diag");
    let (frames, done) = injected_rsts().unwrap();
    let taken: Vec<bool> = done.iter().map(|d| !d.1).collect();
    assert_eq!(taken, [false, false, true], "the kernel: {done:?}");
    let file = scratch.join("rst-window.pcap");
    std::fs::write(&file, raw_pcap(&frames)).unwrap();
    let all = attempts(&file);
    assert_eq!(all.len(), 1, "{all:#?}");
    let a = &all[0];
    let judged: Vec<(u32, bool, Option<&str>)> = (a.checks.iter())
        .filter(|c| c.what == synack_capture::What::EstablishedRst)
        .map(|c| (c.got.unwrap(), c.ok, c.detail))
        .collect();
    let want: Vec<_> = done.iter().map(|d| d.0).zip(taken).collect();
    let got: Vec<_> = judged.iter().map(|j| (j.0, j.1)).collect();
    assert_eq!(got, want, "{:#?}", a.checks);
    let details: Vec<_> = judged.iter().map(|j| j.2).collect();
    assert_eq!(
        details,
        [Some("outside-window"), Some("in-window"), Some("exact")]
    );
    let rsts: Vec<u64> = a.rst.iter().map(|r| r.frame).collect();
    let d = a.diagnosis.clone().unwrap();
    assert_eq!((d.reason, d.frames.to_vec()), ("reset", vec![rsts[2]]));
    assert_eq!(a.outcome.name(), "reset_after_establishment");
    // The frame right after the RST in the kernel's window is its
    // challenge ACK: from port 80, acknowledging RCV.NXT.
    let next = &frames[usize::try_from(rsts[1]).unwrap()].1;
    let v = synack_wire::parse_segment(next, false).unwrap();
    assert_eq!(
        (
            v.tcp.src_port,
            v.tcp.flags.ack(),
            v.tcp.ack.get(),
            v.tcp.payload.len()
        ),
        (80, true, done[2].0, 0)
    );

    // Cut before the RST the kernel took: the connection went on.
    let cut = scratch.join("rst-ignored.pcap");
    let upto = usize::try_from(rsts[2] - 1).unwrap();
    std::fs::write(&cut, raw_pcap(&frames[..upto])).unwrap();
    let all = attempts(&cut);
    let a = &all[0];
    assert_eq!(a.outcome.name(), "established");
    let d = a.diagnosis.clone().unwrap();
    assert_eq!(
        (d.reason, d.window_test, d.expected, d.frames.first()),
        (
            "ignored-reset",
            Some("outside-window"),
            Some(done[2].0),
            Some(&rsts[0])
        )
    );
    // It went on: the kernel's data after the first RST.
    assert!(
        d.frames.get(1).is_some_and(|&f| f > rsts[0] && f < rsts[1]),
        "{d:#?}"
    );
    // The report's summary counts no reset.
    for (lang, line) in [
        ("en", "diagnoses: RST its receiver ignored 1\n"),
        ("zh", "诊断: 被接收方忽略的 RST 1\n"),
    ] {
        let out = common::synack_ok(["analyze", "--lang", lang, cut.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(line), "{text}");
        assert!(
            !text.contains("reset 1") && !text.contains("复位 1"),
            "{text}"
        );
    }
}
