//! `synack explain`: run a scenario and narrate it from the step records.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use synack_explain::{Format, Lang, Profile, Report, Style};
use synack_scenario::{Options, Scenario};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  synack explain                                 the normal handshake, in your locale's language
  synack explain --lang zh --scenario ack-lost   what happens when the third ACK is lost (in Chinese)
  synack explain --isn client=1000,server=5000   textbook numbers: seq=1000, ack=1001, ...
  synack explain --seed 7 --scenario isn         a reproducible run (fixed ISN keys)
  synack explain --brief --scenario syn-lost     the diagram and the answer only
  synack explain -v --scenario syn-lost          every detail at every step (by default each is said once)
  synack explain --scenario filtered --profile linux   Linux's SYN retransmission schedule
  synack explain --format json | jq '.steps[] | select(.cause.kind==\"sent\")'
  synack explain --format tcpdump --scenario close --closer server
  synack explain --format html --scenario syn-lost > syn-lost.html   a page to step through in a browser
  synack explain --format svg --lang zh > handshake.svg              the diagram for slides
  sudo synack explain --peer linux --role server   the kernel connects to synack")]
pub struct Args {
    /// What to show.
    #[arg(long, value_enum, default_value = "normal")]
    scenario: ScenarioArg,
    /// The peer: `linux` is the Linux kernel's TCP, in a private network
    /// namespace made for the run (needs root); `sim` is a second synack engine
    /// over a simulated link; `auto` uses linux when it can, sim otherwise.
    #[arg(long, value_enum, default_value_t = PeerArg::Auto)]
    peer: PeerArg,
    /// Language of the narration (default: from LC_ALL / LC_MESSAGES / LANG; Chinese for zh_*).
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// `text` narration with a sequence diagram, `json` step records (schema
    /// synack.explain/1), `tcpdump` lines, an `svg` sequence diagram, or an
    /// `html` page (diagram, steps to expand, keyboard stepping; works offline).
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Fixed initial sequence numbers, e.g. `client=1000,server=5000` (default: RFC 6528).
    #[arg(long, value_parser = parse_isn, value_name = "client=N,server=M")]
    isn: Option<(Option<u32>, Option<u32>)>,
    /// Fixed keys for synack's ISNs and other random choices, so that a run
    /// can be repeated exactly (default: fresh keys every run).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Retransmission timers and other choices: `rfc` or `linux` (Linux 6.x).
    #[arg(long, value_enum, default_value_t = ProfileArg::Rfc)]
    profile: ProfileArg,
    /// Use IPv6 (simulated: 2001:db8::10 and ::20; Linux peer: fd77::2 and ::1).
    #[arg(long)]
    ipv6: bool,
    /// Who closes first in `--scenario close` (default: the client).
    #[arg(long, value_enum)]
    closer: Option<SideArg>,
    /// The side synack plays against the Linux kernel: `server` makes the
    /// kernel the client connecting to synack (the simulated peer runs synack
    /// on both sides).
    #[arg(long, value_enum, default_value_t = SideArg::Client)]
    role: SideArg,
    /// One-way delay of the simulated link, in milliseconds (default 10; the
    /// kernel peer's link is the TUN device, with no delay added).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    delay_ms: Option<u64>,
    /// Also write every segment to this pcap file (Wireshark and tshark open it).
    #[arg(long, value_name = "FILE")]
    pcap: Option<std::path::PathBuf>,
    /// In a terminal: one step at a time, the diagram drawn up to it; Enter
    /// for the next, q to stop.
    #[arg(long)]
    step: bool,
    /// Only the diagram and the answer; the step-by-step narration is left out.
    #[arg(long)]
    brief: bool,
    /// Every detail at every step: a segment's options where it is sent
    /// and where it arrives, the ISN's origin and each rule's text each
    /// time (by default each is said once).
    #[arg(short, long)]
    verbose: bool,
    /// Fit the text into this many columns (default: the terminal's width,
    /// or `COLUMNS`; unwrapped when not writing to a terminal).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(40..))]
    width: Option<u16>,
    /// Against the Linux peer: leave the kernel's retry settings at their
    /// defaults instead of shortening them for the run (`filtered` then
    /// takes about two minutes, as Linux really does).
    #[arg(long)]
    kernel_defaults: bool,
    /// Colour: `auto` (when writing to a terminal and NO_COLOR is unset), `always`, `never`.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

/// `--scenario`: the library's scenarios, named and described by it.
#[derive(Clone, Copy)]
struct ScenarioArg(Scenario);

static SCENARIOS: std::sync::LazyLock<Vec<ScenarioArg>> =
    std::sync::LazyLock::new(|| synack_scenario::ALL.into_iter().map(ScenarioArg).collect());

impl clap::ValueEnum for ScenarioArg {
    fn value_variants<'a>() -> &'a [Self] {
        &SCENARIOS
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.name).help(self.0.about))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PeerArg {
    Auto,
    Linux,
    Sim,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SideArg {
    Client,
    Server,
}

impl From<SideArg> for synack_engine::sim::Side {
    fn from(s: SideArg) -> Self {
        match s {
            SideArg::Client => synack_engine::sim::Side::A,
            SideArg::Server => synack_engine::sim::Side::B,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LangArg {
    En,
    Zh,
}

impl LangArg {
    /// The language asked for, else the locale's (LC_ALL/LC_MESSAGES/LANG).
    pub fn or_env(a: Option<LangArg>) -> Lang {
        match a {
            Some(LangArg::En) => Lang::En,
            Some(LangArg::Zh) => Lang::Zh,
            None => Lang::from_env(),
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
    Tcpdump,
    /// The sequence diagram as a standalone SVG (slides, notes).
    Svg,
    /// One self-contained page: diagram, every step, the answer; keyboard stepping.
    Html,
    /// A packetdrill script that replays the run with the client as the
    /// system under test: `synack script` runs it against the kernel.
    Packetdrill,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ProfileArg {
    Rfc,
    Linux,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

fn parse_isn(s: &str) -> Result<(Option<u32>, Option<u32>), String> {
    let (mut c, mut sv) = (None, None);
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: expected client=N or server=N"))?;
        let n: u32 = v
            .trim()
            .parse()
            .map_err(|_| format!("`{v}`: an ISN is a number from 0 to 4294967295"))?;
        match k.trim() {
            "client" => c = Some(n),
            "server" => sv = Some(n),
            other => return Err(format!("`{other}`: expected `client` or `server`")),
        }
    }
    if c.is_none() && sv.is_none() {
        return Err("expected client=N, server=N or both".into());
    }
    Ok((c, sv))
}

impl Args {
    /// Whether this run may use the Linux peer.
    pub fn wants_linux(&self) -> bool {
        self.peer != PeerArg::Sim
    }

    pub fn requires_linux(&self) -> bool {
        self.peer == PeerArg::Linux
    }
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Tcpdump => Format::Tcpdump,
            FormatArg::Svg => Format::Svg,
            FormatArg::Html => Format::Html,
            // Written by the CLI, not rendered (see `packetdrill`).
            FormatArg::Packetdrill => Format::Text,
        }
    }
}

pub fn run(args: &Args) -> Result<(), String> {
    check(args);
    let opts = options(args)?;
    let trace = run_trace(args, &opts)?;
    ignored_against_the_kernel(args, &trace);
    if let Some(path) = &args.pcap {
        synack_net::pcap::write_trace(path, &trace)
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    if matches!(args.format, FormatArg::Packetdrill) {
        return write_out(packetdrill(&trace)?.as_bytes());
    }
    let answers = synack_scenario::answers(&trace);
    let lang = LangArg::or_env(args.lang);
    let stdout = std::io::stdout();
    let style = style(args, &stdout);
    let format = args.format.into();
    let mut out = stdout.lock();
    let pause = args.step
        && format == Format::Text
        && std::io::stdin().is_terminal()
        && stdout.is_terminal();
    let written = if pause {
        let [en, zh] = &answers;
        let report = Report::new(&trace, if lang == Lang::Zh { zh } else { en }, lang, style);
        step_through(&mut out, &report, lang, style)
    } else if args.brief && format == Format::Text {
        let [en, zh] = &answers;
        let report = Report::new(&trace, if lang == Lang::Zh { zh } else { en }, lang, style);
        out.write_all(report.to_brief().as_bytes())
    } else {
        out.write_all(synack_explain::render(&trace, &answers, format, lang, style).as_bytes())
    };
    match written {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not an error worth reporting.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing output: {e}")),
    }
}

/// The run's frames as a packetdrill script, its client the system under
/// test: what the client sent, what reached it (a frame the link dropped
/// on the way to the client never did), when.
fn packetdrill(trace: &synack_explain::Trace) -> Result<String, String> {
    use synack_engine::sim::Fate;
    let segs: Vec<synack_script::write::Seg> = trace
        .link
        .iter()
        .filter_map(|r| {
            let ip = synack_wire::parse_ip(&r.bytes, false).ok()?;
            let tcp = synack_wire::TcpPacket::new_checked(ip.tcp).ok()?;
            let from_client = std::net::SocketAddr::new(ip.ip.src, tcp.src_port()) == trace.client;
            let to_client = std::net::SocketAddr::new(ip.ip.dst, tcp.dst_port()) == trace.client;
            if !from_client && !to_client {
                return None;
            }
            let at = if from_client {
                r.sent_at
            } else if matches!(r.fate, Fate::Dropped { .. }) {
                return None;
            } else {
                r.deliver_at.unwrap_or(r.sent_at)
            };
            Some(synack_script::write::Seg {
                at_ns: i64::try_from(at.as_nanos()).unwrap_or(i64::MAX),
                from_client,
                bytes: r.bytes.clone(),
            })
        })
        .collect();
    let origin = synack_script::write::Origin {
        what: format!("synack explain --scenario {}", trace.scenario),
        client: trace.client,
        server: trace.server,
    };
    synack_script::write::script(&origin, &segs)
}

fn write_out(bytes: &[u8]) -> Result<(), String> {
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing output: {e}")),
    }
}

/// Options that cannot apply stop the run (exit 2, as clap's own) or are
/// warned about, before anything runs; a bad --pcap path is found now, not
/// after the run.
fn check(args: &Args) {
    let scenario = args.scenario.0;
    let conflict = |msg: String| -> ! {
        clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, msg).exit()
    };
    if args.role == SideArg::Server && !scenario.server_role {
        conflict(format!(
            "--role server applies to the textbook scenarios; in --scenario {} synack is the client\n",
            scenario.name
        ));
    }
    if args.closer.is_some() && !scenario.closer {
        warn(&format!(
            "--closer applies to --scenario close; {} ignores it",
            scenario.name
        ));
    }
    if let Some(path) = &args.pcap
        && let Err(e) = std::fs::File::create(path)
    {
        clap::Error::raw(
            clap::error::ErrorKind::InvalidValue,
            format!("--pcap {}: {e}\n", path.display()),
        )
        .exit();
    }
    if args.kernel_defaults && args.peer == PeerArg::Sim {
        warn("--kernel-defaults applies to the Linux peer; the simulated peer ignores it");
    }
    if args.role == SideArg::Server && args.peer == PeerArg::Sim {
        conflict(
            "--role server needs the Linux peer: with --peer sim synack plays both sides\n".into(),
        );
    }
}

/// The scenario's options from the command line.
fn options(args: &Args) -> Result<Options, String> {
    let (client_isn, server_isn) = args.isn.unwrap_or((None, None));
    let opts = Options {
        scenario: args.scenario.0,
        client_isn,
        server_isn,
        seed: args.seed,
        delay: Duration::from_millis(args.delay_ms.unwrap_or(10)),
        profile: match args.profile {
            ProfileArg::Rfc => Profile::Rfc,
            ProfileArg::Linux => Profile::LinuxCompat,
        },
        closer: args.closer.unwrap_or(SideArg::Client).into(),
        synack_side: args.role.into(),
        kernel_defaults: args.kernel_defaults,
        ..Options::default()
    };
    if !args.ipv6 {
        return Ok(opts);
    }
    Ok(Options {
        client: "[2001:db8::10]:40000".parse().map_err(|e| format!("{e}"))?,
        server: "[2001:db8::20]:80".parse().map_err(|e| format!("{e}"))?,
        ..opts
    })
}

/// Run the scenario against the peer asked for; `auto` falls back to the
/// simulator when the kernel's lab cannot be made, and says why.
fn run_trace(args: &Args, opts: &Options) -> Result<synack_trace::Trace, String> {
    match args.peer {
        PeerArg::Sim => synack_scenario::run_sim(opts),
        PeerArg::Linux => {
            synack_scenario::run_linux(opts).map_err(|e| format!("the Linux peer: {e}"))
        }
        PeerArg::Auto => match synack_scenario::run_linux(opts) {
            Ok(t) => Ok(t),
            Err(
                e @ (synack_net::NetError::Namespace(_)
                | synack_net::NetError::Tun(_)
                | synack_net::NetError::TunDenied(_)),
            ) => {
                let hint = match e {
                    synack_net::NetError::Namespace(_) => "run as root for the Linux kernel",
                    _ => "the Linux peer needs a working /dev/net/tun",
                };
                eprintln!("synack: using the simulated peer ({e}); {hint}");
                synack_scenario::run_sim(opts)
            }
            Err(e) => Err(format!("the Linux peer: {e}")),
        },
    }
}

/// Colour and width: as asked, else from the terminal (NO_COLOR, COLUMNS).
fn style(args: &Args, stdout: &std::io::Stdout) -> Style {
    let color = match args.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let width = args
        .width
        .map(usize::from)
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse::<usize>().ok())
                .filter(|&c| c >= 40)
        })
        .or_else(|| terminal_size::terminal_size_of(stdout).map(|(w, _)| usize::from(w.0).max(40)));
    Style {
        color,
        width,
        verbose: args.verbose,
    }
}

fn warn(msg: &str) {
    eprintln!("synack: warning: {msg}");
}

/// Options the kernel peer cannot honour: it picks its own ISN, and its
/// link has no simulated delay.
fn ignored_against_the_kernel(args: &Args, trace: &synack_explain::Trace) {
    let Some(kernel) = trace.kernel_side() else {
        return;
    };
    let (client, server) = args.isn.unwrap_or((None, None));
    let fixed = if kernel == synack_engine::sim::Side::A {
        client
    } else {
        server
    };
    if fixed.is_some() {
        let who = if kernel == synack_engine::sim::Side::A {
            "client"
        } else {
            "server"
        };
        warn(&format!(
            "the kernel is the {who} and picks its own ISN: --isn {who}=… was ignored"
        ));
    }
    if args.delay_ms.is_some() {
        warn("--delay-ms applies to the simulated link; against the kernel it was ignored");
    }
}

/// `--step`: the diagram grows with the narration; each step waits for
/// Enter, and `q` ends the walk (the answer still comes).
fn step_through(
    out: &mut impl Write,
    report: &Report,
    lang: Lang,
    style: Style,
) -> std::io::Result<()> {
    write!(out, "{}\n{}", report.header, report.diagram_head)?;
    let prompt = lang.t("[Enter: next step, q: stop]", "［回车：下一步，q：结束］");
    let mut drawn = 0;
    let mut line = String::new();
    for (at, block) in report.step_times.iter().zip(&report.steps) {
        while let Some((_, row)) = report.diagram_rows.get(drawn).filter(|(t, _)| t <= at) {
            write!(out, "{row}")?;
            drawn += 1;
        }
        write!(out, "\n{block}{}", style.dim(prompt))?;
        out.flush()?;
        line.clear();
        std::io::stdin().lock().read_line(&mut line)?;
        if line.trim().eq_ignore_ascii_case("q") {
            break;
        }
    }
    write!(out, "\n{}", report.answer)
}
