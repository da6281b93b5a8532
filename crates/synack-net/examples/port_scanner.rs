//! A small port scanner over a TUN device, in a network namespace of its
//! own: the Linux kernel listens on port 80, nothing on 81, and an nftables
//! rule drops SYNs to 82. synack's engine sends one SYN to each and says
//! what came back, in nmap's words: open (syn-ack), closed (reset),
//! filtered (no-response). Needs root (or a user namespace) and `nft`.
//!
//! sudo cargo run -p synack-net --example port_scanner

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::time::Duration;

use synack_engine::{Config, Endpoint, Event};
use synack_net::{Driver, Lab};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let found = std::thread::spawn(scan)
        .join()
        .map_err(|_| "the lab thread panicked")?;
    match found {
        Ok(lines) => {
            for l in &lines {
                println!("{l}");
            }
            let want = [
                "80/tcp open syn-ack",
                "81/tcp closed reset",
                "82/tcp filtered no-response",
            ];
            if lines.iter().map(String::as_str).eq(want) {
                Ok(())
            } else {
                Err(format!("expected {want:?}").into())
            }
        }
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED (needs root and nft; set CI to make this a failure): {e}");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn scan() -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let lab = Lab::create()?;
    let nft = |rule: &str| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let out = Command::new("nft").args(rule.split(' ')).output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("nft {rule}: {}", String::from_utf8_lossy(&out.stderr)).into())
        }
    };
    nft("add table inet scan")?;
    nft("add chain inet scan in { type filter hook input priority 0 ; }")?;
    nft("add rule inet scan in tcp dport 82 drop")?;
    let kernel = Lab::kernel_addr(false);
    let _open = TcpListener::bind((kernel, 80))?;
    let mut cfg = Config::linux().with_secrets([5; 16], 5);
    // One SYN each: a scanner does not wait for retransmissions.
    cfg.syn_schedule = synack_engine::Schedule::Exponential { retries: 0 };
    let mut d = Driver::new(lab.tun, Endpoint::new(cfg));
    let mut lines = Vec::new();
    for (i, port) in [80u16, 81, 82].into_iter().enumerate() {
        let from = SocketAddr::new(Lab::synack_addr(false), 50_000 + i as u16);
        let h = d.ep.connect(d.now(), from, SocketAddr::new(kernel, port))?;
        let seen = |d: &Driver| d.events.iter().find(|e| e.1 == h).map(|e| e.2);
        d.run_until(Duration::from_millis(1500), |d| seen(d).is_some())?;
        let verdict = match seen(&d) {
            Some(Event::Connected) => "open syn-ack",
            Some(Event::Refused) => "closed reset",
            _ => "filtered no-response",
        };
        lines.push(format!("{port}/tcp {verdict}"));
        let now = d.now();
        let _ = d.ep.abort(now, h);
        d.flush()?;
    }
    Ok(lines)
}
