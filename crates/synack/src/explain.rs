//! `synack explain`: run one handshake between two engines on the simulated
//! link and print the step records as they happened.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use synack_engine::sim::{Pair, Side, SimLink};
use synack_engine::{Action, Cause, Config, Endpoint, Event, Instant, IsnMode, SegInfo, Step};

#[derive(clap::Args)]
pub struct Args {
    /// Client ISN (default: RFC 6528, a keyed hash of the 4-tuple plus a clock).
    #[arg(long)]
    client_isn: Option<u32>,
    /// Server ISN.
    #[arg(long)]
    server_isn: Option<u32>,
    /// One-way delay of the simulated link, in milliseconds.
    #[arg(long, default_value_t = 10)]
    delay_ms: u64,
    /// `decisions`: what each side decided; `raw`: also every transmission.
    #[arg(long, value_enum, default_value_t = StepsShown::Decisions)]
    steps: StepsShown,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum StepsShown {
    Decisions,
    Raw,
}

const CLIENT: &str = "192.0.2.10:40000";
const SERVER: &str = "198.51.100.20:80";

pub fn run(args: &Args) -> Result<(), String> {
    let client: SocketAddr = CLIENT.parse().map_err(|e| format!("{e}"))?;
    let server: SocketAddr = SERVER.parse().map_err(|e| format!("{e}"))?;
    let mut a = Config::rfc().with_secrets(*b"synack client ke", 1);
    let mut b = Config::rfc().with_secrets(*b"synack server ke", 2);
    if let Some(n) = args.client_isn {
        a.isn = IsnMode::Fixed(n);
    }
    if let Some(n) = args.server_isn {
        b.isn = IsnMode::Fixed(n);
    }
    let link = SimLink::new(Duration::from_millis(args.delay_ms), 1);
    let mut pair = Pair::new(Endpoint::new(a), Endpoint::new(b), link);
    pair.b.listen(server).map_err(|e| e.to_string())?;
    pair.a
        .connect(Instant::ZERO, client, server)
        .map_err(|e| e.to_string())?;
    let done = pair.run_until(Instant::from_millis(10_000), |p| {
        p.has_event(Side::A, Event::Connected) && p.has_event(Side::B, Event::Accepted)
    });
    print!("{}", render(&pair, args.steps));
    if done {
        Ok(())
    } else {
        Err("the handshake did not complete".into())
    }
}

fn render(pair: &Pair, shown: StepsShown) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "client {CLIENT}  <->  server {SERVER}\n");
    for (side, step) in &pair.steps {
        if shown == StepsShown::Decisions && step.action == Action::Transmitted {
            continue;
        }
        let who = match side {
            Side::A => "client",
            Side::B => "server",
        };
        let _ = writeln!(out, "{} {who:<6} {}", ms(step.at), line(step));
    }
    out
}

fn ms(t: Instant) -> String {
    format!("{:>9.3} ms", t.as_micros() as f64 / 1000.0)
}

fn seg(s: &SegInfo) -> String {
    let mut t = format!("[{}] seq={}", s.flags.tcpdump(), s.seq);
    if s.flags.ack() {
        let _ = write!(t, " ack={}", s.ack);
    }
    let _ = write!(t, " win={} len={}", s.window, s.payload_len);
    let o = &s.options;
    let mut opts = Vec::new();
    if let Some(m) = o.mss {
        opts.push(format!("mss {m}"));
    }
    if o.sack_permitted {
        opts.push("sackOK".into());
    }
    if let Some((v, e)) = o.timestamps {
        opts.push(format!("TS val {v} ecr {e}"));
    }
    if let Some(w) = o.window_scale {
        opts.push(format!("wscale {w}"));
    }
    if !opts.is_empty() {
        let _ = write!(t, " <{}>", opts.join(","));
    }
    t
}

fn line(step: &Step) -> String {
    let cause = match &step.cause {
        Cause::Received(s) => format!("got {}", seg(s)),
        Cause::Sent(s) => format!("sent {}", seg(s)),
        Cause::Timer(k) => format!("timer {k:?}"),
        Cause::User(c) => format!("call {c:?}"),
        Cause::Malformed(e) => format!("malformed: {e}"),
    };
    format!(
        "{:<12} -> {:<12} {cause}; {:?}; rule {}: {} ({})",
        step.before.state.rfc_name(),
        step.after.state.rfc_name(),
        step.action,
        step.rule.id(),
        step.rule.summary(),
        step.rule.source()
    )
}
