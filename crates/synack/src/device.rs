//! `synack connect` and `synack listen` on a TUN device the user made.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use synack_explain::{Format, Lang, Profile, Report, Style};
use synack_net::device::{DeviceOpts, Outcome};

#[derive(clap::Args)]
#[command(after_help = "Examples (as root, in a namespace or VM of your own):
  ip tuntap add dev tun0 mode tun && ip addr add 10.9.0.1/24 dev tun0 && ip link set tun0 up
  synack connect 10.9.0.1:80 --tun tun0 --local 10.9.0.2 --send $'GET / HTTP/1.0\\r\\n\\r\\n'
  synack listen 10.9.0.2:8080 --tun tun0        # then: curl http://10.9.0.2:8080/

Exit status: 0 the handshake completed, 1 refused or no answer, 2 bad arguments or another error.")]
pub struct Args {
    /// `connect`: the address to connect to. `listen`: synack's own address and port.
    addr: SocketAddr,
    /// The TUN device (IFF_TUN, no packet info) synack takes the far end of.
    #[arg(long, value_name = "NAME")]
    tun: String,
    /// synack's own address on the device (connect only; port optional, default 40000).
    #[arg(long, value_name = "IP[:PORT]")]
    local: Option<String>,
    /// Text to send once connected.
    #[arg(long)]
    send: Option<String>,
    /// Seconds to wait for the handshake.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    #[arg(long, value_enum, default_value_t = crate::explain::ProfileArg::Rfc)]
    profile: crate::explain::ProfileArg,
    /// Fixed ISN for synack's side.
    #[arg(long)]
    isn: Option<u32>,
    #[arg(long, value_enum)]
    lang: Option<crate::explain::LangArg>,
    #[arg(long, value_enum, default_value_t = crate::explain::FormatArg::Text)]
    format: crate::explain::FormatArg,
    /// Write every packet to this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
}

fn parse_local(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 40000))
        .map_err(|_| format!("--local {s}: expected an IP address, optionally with :port"))
}

/// Returns the exit code.
pub fn run(args: &Args, listening: bool) -> Result<u8, String> {
    if !(args.timeout > 0.0 && args.timeout < 86_400.0) {
        return Err("--timeout: seconds between 0 and 86400".into());
    }
    let (local, remote) = if listening {
        (args.addr, None)
    } else {
        let local = parse_local(
            args.local
                .as_deref()
                .ok_or("connect needs --local IP (synack's own address on the device)")?,
        )?;
        (local, Some(args.addr))
    };
    let opts = DeviceOpts {
        device: args.tun.clone(),
        local,
        remote,
        send: args.send.as_ref().map(|s| s.as_bytes().to_vec()),
        timeout: Duration::from_secs_f64(args.timeout),
        profile: match args.profile {
            crate::explain::ProfileArg::Rfc => Profile::Rfc,
            crate::explain::ProfileArg::Linux => Profile::LinuxCompat,
        },
        isn: args.isn,
        pcap: args.pcap.clone(),
    };
    let result = if listening {
        synack_net::device::listen(&opts)
    } else {
        synack_net::device::connect(&opts)
    };
    let (trace, outcome) = result.map_err(|e| e.to_string())?;
    let lang = crate::explain::LangArg::or_env(args.lang);
    let format = args.format.into();
    if format == Format::Text {
        let r = Report::new(&trace, &(String::new(), String::new()), lang, Style::PLAIN);
        print!("{}\n{}", r.diagram, r.steps.concat());
    } else {
        print!(
            "{}",
            synack_explain::render(&trace, &Default::default(), format, lang, Style::PLAIN)
        );
    }
    let (line, code) = outcome_line(&outcome, lang);
    if format == Format::Text {
        println!("\n{line}");
    } else {
        eprintln!("synack: {line}");
    }
    Ok(code)
}

/// The outcome in a sentence, and the exit code it gives (ping-style).
fn outcome_line(outcome: &Outcome, lang: Lang) -> (String, u8) {
    match outcome {
        Outcome::Established { rtt, received } => {
            let ms = rtt.as_secs_f64() * 1e3;
            let mut l = match lang {
                Lang::En => format!("connection established, handshake RTT {ms:.3} ms"),
                Lang::Zh => format!("连接已建立，握手往返时间 {ms:.3} 毫秒"),
            };
            if !received.is_empty() {
                l += &format!(
                    "; {} {:?}",
                    lang.t("received", "收到"),
                    String::from_utf8_lossy(received)
                );
            }
            (l, 0)
        }
        Outcome::Refused => (
            lang.t("connection refused (RST)", "连接被拒绝（RST）")
                .to_string(),
            1,
        ),
        Outcome::NoAnswer => (
            lang.t(
                "no answer within the timeout (filtered?)",
                "超时未收到应答（被过滤？）",
            )
            .to_string(),
            1,
        ),
    }
}
