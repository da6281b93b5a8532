//! Linux's default retry schedules, measured against this kernel and
//! compared with the figures answers quote (`src/linux_defaults.rs`):
//! a client's SYN nothing answers (the `filtered` scenario with the
//! kernel's defaults kept), and a listener's SYN-ACK to a SYN nobody will
//! acknowledge. About two minutes; `SYNACK_BLESS=1` rewrites the figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use synack_engine::sim::Side;
use synack_engine::{Config, Instant, State};
use synack_net::harness::{KernelRun, SEC, TraceInfo, in_lab};
use synack_scenario::Options;
use synack_scenario::linux_defaults::{Measured, SYN, SYN_ACK};
use synack_trace::findings::Kind;
use synack_trace::{Findings, IsnOrigin, Profile, Trace};
use synack_wire::TcpFlags;

const SCHEDULE_SYSCTLS: [&str; 3] = [
    "net/ipv4/tcp_syn_retries",
    "net/ipv4/tcp_syn_linear_timeouts",
    "net/ipv4/tcp_synack_retries",
];

/// What one run showed, owned.
#[derive(Debug)]
struct Seen {
    release: String,
    settings: Vec<(String, String)>,
    sends_ms: Vec<u64>,
    gave_up_ms: Option<u64>,
}

fn ms_since(first: Instant, at: Instant) -> u64 {
    at.as_micros().saturating_sub(first.as_micros()) / 1000
}

fn seen(t: &Trace, side: Side, kind: Kind, gave_up: Option<Instant>) -> Seen {
    let f = Findings::new(t);
    let s = f.schedule(side, kind).expect("the kernel sent the segment");
    let first = *s.sends.first().expect("at least one send");
    let release = match &t.peer {
        synack_trace::Peer::Linux { release, .. } => release.clone(),
        _ => panic!("a kernel run"),
    };
    let settings = t
        .settings
        .iter()
        .filter(|s| s.name.contains("retries") || s.name.contains("linear"))
        .inspect(|s| assert_eq!(Some(&s.value), s.default.as_ref(), "{} changed", s.name))
        .map(|s| (s.name.clone(), s.value.clone()))
        .collect();
    Seen {
        release,
        settings,
        sends_ms: s.sends.iter().map(|&a| ms_since(first, a)).collect(),
        gave_up_ms: gave_up.map(|g| ms_since(first, g)),
    }
}

/// The kernel connects to synack's listener; every SYN is dropped.
fn syn_run() -> Option<Seen> {
    let t = common::run_linux(Options {
        scenario: common::sc("filtered"),
        synack_side: Side::B,
        kernel_defaults: true,
        ..Options::default()
    })?;
    let gave_up = Findings::new(&t).gave_up(Side::A);
    Some(seen(&t, Side::A, Kind::Syn, gave_up))
}

/// A SYN no engine made, from an address whose replies are dropped: the
/// kernel's listener re-sends its SYN-ACK until it drops the request.
fn synack_run() -> Option<Seen> {
    let r = in_lab(|| {
        let mut run = KernelRun::start(Config::rfc(), false, 40000, 80)?;
        for s in SCHEDULE_SYSCTLS {
            run.read_sysctl(s);
        }
        let _l = run.listen_with_backlog(8)?;
        let from = SocketAddr::from(([10, 77, 0, 66], 40066));
        run.d.faults.push(synack_net::Fault::Blackhole(from.ip()));
        let syn = synack_engine::forge(run.d.ep.config(), from, run.theirs, TcpFlags::SYN, 7)
            .map_err(synack_net::NetError::Emit)?;
        run.d.inject(&syn)?;
        let mut was_there = false;
        let theirs = run.theirs;
        let end = run.d.elapsed() + 120 * SEC;
        while run.d.elapsed() < end {
            run.wait(Duration::from_millis(20))?;
            let there = run.kernel_state(theirs, from).is_some();
            if was_there && !there {
                break;
            }
            was_there |= there;
        }
        run.wait(Duration::from_millis(20))?;
        Ok(run.finish(TraceInfo {
            scenario: "synack-defaults",
            profile: Profile::Rfc,
            client: from,
            server: theirs,
            initial: [State::Closed, State::Listen],
            our_isn: IsnOrigin::Fixed,
            syn_backlog: None,
        }))
    });
    let t = match r {
        Ok(t) => t,
        Err(synack_net::NetError::Namespace(e)) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED (set CI to make this a failure): {e}");
            return None;
        }
        Err(e) => panic!("SYN-ACK run: {e}"),
    };
    let gave_up = Findings::new(&t)
        .left(Side::B, State::SynReceived)
        .map(|e| e.at);
    Some(seen(&t, Side::B, Kind::SynAck, gave_up))
}

/// Within 3 % or 60 ms: the kernel's timers fire on jiffies.
fn close(stored: u64, now: u64) -> bool {
    stored.abs_diff(now) <= (stored * 3 / 100).max(60)
}

fn agrees(name: &str, stored: &Measured, now: &Seen) -> Vec<String> {
    let mut bad = Vec::new();
    if now.release != stored.release {
        eprintln!(
            "{name}: measured on Linux {}, this is {}",
            stored.release, now.release
        );
    }
    let settings: Vec<(String, String)> = stored
        .settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if settings != now.settings {
        bad.push(format!(
            "{name}: settings {:?} now {:?}",
            settings, now.settings
        ));
    }
    if stored.sends_ms.len() != now.sends_ms.len()
        || !stored
            .sends_ms
            .iter()
            .zip(&now.sends_ms)
            .all(|(&a, &b)| close(a, b))
    {
        bad.push(format!(
            "{name}: sends at {:?} ms, now at {:?} ms",
            stored.sends_ms, now.sends_ms
        ));
    }
    if !now.gave_up_ms.is_some_and(|g| close(stored.gave_up_ms, g)) {
        bad.push(format!(
            "{name}: gave up at {} ms, now at {:?} ms",
            stored.gave_up_ms, now.gave_up_ms
        ));
    }
    bad
}

fn source(name: &str, s: &Seen) -> String {
    let settings: Vec<String> = s
        .settings
        .iter()
        .map(|(k, v)| format!("(\"{k}\", \"{v}\")"))
        .collect();
    let sends: Vec<String> = s.sends_ms.iter().map(u64::to_string).collect();
    format!(
        "pub static {name}: Measured = Measured {{\n    release: \"{}\",\n    settings: &[{}],\n    sends_ms: &[{}],\n    gave_up_ms: {},\n}};\n",
        s.release,
        settings.join(", "),
        sends.join(", "),
        s.gave_up_ms.expect("the kernel gave up")
    )
}

fn bless(syn: &Seen, synack: &Seen) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/linux_defaults.rs");
    let text = std::fs::read_to_string(path).unwrap();
    let (head, rest) = text.split_once("// measured:begin\n").unwrap();
    let (_, tail) = rest.split_once("// measured:end\n").unwrap();
    let body = format!(
        "/// A client's SYN that nothing answers.\n{}\n/// A listener's SYN-ACK that nothing acknowledges.\n{}",
        source("SYN", syn),
        source("SYN_ACK", synack)
    );
    std::fs::write(
        path,
        format!("{head}// measured:begin\n{body}// measured:end\n{tail}"),
    )
    .unwrap();
    let fmt = std::process::Command::new("rustfmt")
        .args(["--edition", "2024", path])
        .status()
        .unwrap();
    assert!(fmt.success(), "rustfmt {path}");
}

#[test]
fn default_schedules_are_the_ones_answers_quote() {
    let syn = std::thread::spawn(syn_run);
    let synack = synack_run();
    let syn = syn.join().unwrap();
    let (Some(syn), Some(synack)) = (syn, synack) else {
        return;
    };
    if std::env::var_os("SYNACK_BLESS").is_some() {
        bless(&syn, &synack);
        return;
    }
    let mut bad = agrees("SYN", &SYN, &syn);
    bad.extend(agrees("SYN-ACK", &SYN_ACK, &synack));
    assert!(
        bad.is_empty(),
        "Linux's defaults differ from src/linux_defaults.rs (SYNACK_BLESS=1 re-measures):\n{}",
        bad.join("\n")
    );
}
