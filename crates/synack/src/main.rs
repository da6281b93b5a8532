//! The `synack` command line: a thin consumer of the library crates.

mod analyze;
mod bench;
mod bench_analyze;
mod device;
mod explain;
mod input;
mod probe;
mod progress;
mod report;
mod script;
mod watch;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "synack",
    version,
    about = "The TCP three-way handshake, run for real and explained step by step",
    long_about = "synack runs TCP handshakes with its own sans-IO engine and shows every \
decision it made: the segment, the flags, the seq/ack arithmetic, the state before and \
after, and the RFC rule that applied.",
    after_help = "Examples:\n  synack explain                 # a handshake, step by step (the Linux kernel as the peer when root)\n  synack explain --format json   # every step record, including transmissions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a handshake and explain every step: against the Linux kernel's
    /// TCP in a private namespace when synack can make one (as root), else
    /// between two synack engines over a simulated link.
    Explain(explain::Args),
    /// Connect to ADDR through a TUN device you made (your namespace or VM);
    /// narrates the handshake, optionally sends text, closes.
    Connect(device::Args),
    /// Listen on ADDR (synack's address on a TUN device you made) for one
    /// connection, narrate it, close.
    Listen(device::Args),
    /// Find every TCP connection attempt in pcap/pcapng captures: the three
    /// steps with their frames, ISNs, retransmissions, outcome, RTT, and zeek's
    /// conn_state/history, each step checked with the engine's rule ids.
    Analyze(analyze::Args),
    /// Probe HOST:PORT with real handshakes, tcping-style: a line per probe
    /// with nmap's verdict and reason (open/syn-ack, closed/reset,
    /// filtered/no-response or the ICMP error), the RTT, a summary.
    Probe(probe::Args),
    /// Watch an interface live: each handshake reported as analyze reports
    /// it (outcome, diagnosis, RTT), a summary at Ctrl-C.
    Watch(watch::Args),
    /// Run packetdrill scripts against the Linux kernel (a namespace of
    /// their own, over tun0) and against synack's engine: every event
    /// narrated, pass/fail per script, where the two differ.
    Script(script::Args),
    /// Benchmarks: `synack bench live` (engine over TUN against the kernel),
    /// `synack bench analyze` (capture analysis against tshark and tcpdump).
    #[command(subcommand)]
    Bench(bench::Command),
    /// Shell completions on standard output, e.g.
    /// `synack completions bash > /etc/bash_completion.d/synack`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The manual page (roff) on standard output: `synack man | man -l -`.
    Man,
}

/// The command line, with `explain --help` listing the questions each
/// scenario answers (from the scenario crate, so it cannot go stale).
fn cli_command() -> clap::Command {
    Cli::command().mut_subcommand("explain", |c| {
        let examples = c.get_after_help().map(|h| h.to_string()).unwrap_or_default();
        c.after_long_help(format!(
            "{examples}\n\nThe questions learners ask, and the scenarios (--scenario NAME) that answer them:\n{}",
            synack_scenario::questions::listing()
        ))
    })
}

fn main() -> ExitCode {
    let cli = match Cli::from_arg_matches(&cli_command().get_matches()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // Without root, the Linux peer needs a user namespace; it can only be
    // entered while the process has one thread, i.e. now.
    let wants_lab = match &cli.command {
        Command::Explain(a) => a.wants_linux(),
        Command::Script(a) => a.wants_linux(),
        Command::Bench(bench::Command::Live { .. }) => true,
        Command::Bench(_) => false,
        Command::Connect(_)
        | Command::Listen(_)
        | Command::Analyze(_)
        | Command::Probe(_)
        | Command::Watch(_)
        | Command::Completions { .. }
        | Command::Man => false,
    };
    if wants_lab
        && let Err(e) = synack_net::lab::prepare_unprivileged()
        && matches!(&cli.command, Command::Explain(a) if !a.requires_linux())
    {
        // `--peer linux` reports the lab's own error later; auto just notes it.
        eprintln!("synack: no user namespace ({e}); the Linux peer is not available");
    }
    let result = match cli.command {
        Command::Explain(args) => explain::run(&args),
        Command::Bench(cmd) => bench::run(&cmd),
        Command::Analyze(args) => return exit(analyze::run(&args)),
        Command::Probe(args) => return exit(probe::run(&args)),
        Command::Watch(args) => return exit(watch::run(&args)),
        Command::Script(args) => return exit(script::run(&args)),
        Command::Connect(args) => return exit(device::run(&args, false)),
        Command::Listen(args) => return exit(device::run(&args, true)),
        Command::Completions { shell } => {
            let mut cmd = cli_command();
            clap_complete::generate(shell, &mut cmd, "synack", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(cli_command())
            .render(&mut std::io::stdout())
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::BrokenPipe => Ok(()),
                _ => Err(format!("writing the manual: {e}")),
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synack: {e}");
            ExitCode::from(1)
        }
    }
}

/// `connect`/`listen` report their outcome in the exit code, ping-style.
fn exit(r: Result<u8, String>) -> ExitCode {
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("synack: {e}");
            ExitCode::from(2)
        }
    }
}
