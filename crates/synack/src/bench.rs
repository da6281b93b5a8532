//! `synack bench live`: synack over TUN against the kernel, next to the
//! kernel's own loopback rate, in a network namespace made for the run.

use std::io::IsTerminal;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Full handshakes per second between synack on a TUN device and a kernel
    /// listener (SYN, SYN-ACK, ACK, accept, RST), side by side with a raw TUN
    /// loop doing the same with no engine (the floor for any driver) and the
    /// kernel's loopback connect/accept rate, in the same namespace. Prints
    /// `synack/raw-tun ratio:` and `synack/kernel-loopback ratio:`. Then both
    /// loops on a TUN device with two queues, a thread and a kernel listener
    /// per queue, against one thread on one queue: `2-queue scaling:`. Needs
    /// root (a private network namespace is created and removed).
    Live {
        /// Handshakes per measurement.
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        count: u64,
        /// Write every packet of the synack run to this pcap file (it slows
        /// the measurement down).
        #[arg(long, value_name = "FILE")]
        pcap: Option<std::path::PathBuf>,
    },
    /// `synack analyze` on a capture (generated when none is given) side by
    /// side with `tshark -2`, tcpdump's SYN filter and a raw read: MB/s,
    /// packets/s, peak memory and the ratios.
    Analyze(crate::bench_analyze::Args),
}

pub fn run(cmd: &Command) -> Result<(), String> {
    match cmd {
        Command::Analyze(a) => crate::bench_analyze::run(a),
        Command::Live { count, pcap } => {
            let show = std::io::stderr().is_terminal();
            let mut progress = |m: &str| {
                if show {
                    eprintln!("measuring {m}");
                }
            };
            let r = synack_net::bench::live(*count as usize, pcap.clone(), &mut progress)
                .map_err(|e| e.to_string())?;
            println!("handshakes per measurement: {}", r.handshakes);
            println!(
                "synack over TUN -> kernel listener: {:>10.0} handshakes/s",
                r.synack_per_s
            );
            println!(
                "raw TUN loop -> kernel listener:    {:>10.0} handshakes/s",
                r.raw_tun_per_s
            );
            println!(
                "kernel loopback connect+accept:     {:>10.0} handshakes/s",
                r.kernel_loopback_per_s
            );
            println!(
                "synack/raw-tun ratio: {:.2}",
                r.synack_per_s / r.raw_tun_per_s
            );
            println!(
                "synack/kernel-loopback ratio: {:.2}",
                r.synack_per_s / r.kernel_loopback_per_s
            );
            let q = r.queues;
            println!(
                "two TUN queues, a thread each: synack {:.0} handshakes/s (one thread {:.0}), raw TUN loop {:.0} (one thread {:.0})",
                q.synack_two, q.synack_one, q.raw_two, q.raw_one
            );
            println!(
                "2-queue scaling: synack {:.2}, raw TUN loop {:.2}",
                q.synack_two / q.synack_one,
                q.raw_two / q.raw_one
            );
            Ok(())
        }
    }
}
