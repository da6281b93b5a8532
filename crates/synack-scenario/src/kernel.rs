//! The Linux kernel as the peer: a lab of the run's own, the scenario's
//! `linux` run in it, and the trace of what was observed.

use std::net::SocketAddr;

use synack_engine::State;
use synack_engine::sim::Side;
use synack_net::NetError;
use synack_net::harness::{KernelRun, TraceInfo, in_lab};
use synack_trace::Trace;

use crate::Options;
use crate::sim::{config, origin};

/// Sysctls every answer about retransmissions may cite, read as they are.
const SCHEDULE_SYSCTLS: [&str; 3] = [
    "net/ipv4/tcp_syn_retries",
    "net/ipv4/tcp_syn_linear_timeouts",
    "net/ipv4/tcp_synack_retries",
];

/// Run `o.scenario` against the kernel in a lab of its own.
pub fn run_linux(o: &Options) -> Result<Trace, NetError> {
    let o = o.clone();
    in_lab(move || run(&o))
}

fn run(o: &Options) -> Result<Trace, NetError> {
    let synack_server = o.synack_side == Side::B;
    let (mut a, mut b) = (
        config(o, Side::A, o.client_isn),
        config(o, Side::B, o.server_isn),
    );
    (o.scenario.tune)(o, &mut a, &mut b);
    let cfg = if synack_server { b } else { a };
    let our_isn = origin(&cfg, o);
    let small_backlog = (synack_server
        && cfg.syn_backlog < synack_engine::Config::rfc().syn_backlog)
        .then_some(cfg.syn_backlog);
    let v6 = o.client.is_ipv6();
    let (ours, theirs) = if synack_server { (80, 0) } else { (40000, 80) };
    let mut run = KernelRun::start(cfg, v6, ours, theirs)?;
    if synack_server {
        run.kernel_side = Side::A;
    }
    run.keep_defaults = o.kernel_defaults;
    for s in SCHEDULE_SYSCTLS {
        run.read_sysctl(s);
    }
    let keep = (o.scenario.linux)(&mut run, o)?;
    // Let the last frames land and the kernel's last change be seen.
    run.wait(std::time::Duration::from_millis(50))?;
    let (client, server) = ends(&run);
    let initial = initial(&run, server);
    let t = run.finish(TraceInfo {
        scenario: o.scenario.name,
        profile: o.profile,
        client,
        server,
        initial,
        our_isn,
        syn_backlog: small_backlog,
    });
    drop(keep);
    Ok(t)
}

/// Client and server addresses: synack's and the kernel's as the run used
/// them (a kernel client's port is the one on its first frame).
fn ends(run: &KernelRun) -> (SocketAddr, SocketAddr) {
    if run.kernel_side == Side::B {
        return (run.ours, run.theirs);
    }
    let kernel_client = run
        .d
        .log
        .iter()
        .filter(|c| c.dir == synack_net::Dir::FromKernel)
        .find_map(|c| synack_wire::parse_segment(&c.bytes, false).ok())
        .map_or(run.theirs, |p| SocketAddr::new(p.ip.src, p.tcp.src_port));
    (kernel_client, run.ours)
}

/// Each side's state when the run began: LISTEN where a listener on the
/// server's address existed before the first frame.
fn initial(run: &KernelRun, server: SocketAddr) -> [State; 2] {
    let first = run.d.log.first().map(|c| c.at);
    let kernel_listens = run.d.observer.as_ref().is_some_and(|o| {
        o.observations.iter().any(|x| {
            x.state == "LISTEN"
                && x.local == server
                && first.is_none_or(|f| x.at.as_nanos() <= f.as_nanos() as u64)
        })
    });
    let synack_listens = run
        .d
        .steps
        .first()
        .is_some_and(|s| s.before.state == State::Listen);
    let server_state = if run.kernel_side == Side::B {
        kernel_listens
    } else {
        synack_listens
    };
    [
        State::Closed,
        if server_state {
            State::Listen
        } else {
            State::Closed
        },
    ]
}
