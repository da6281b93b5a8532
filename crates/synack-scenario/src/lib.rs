//! synack-scenario: what `synack explain` can show. Each scenario is one
//! file in `scenarios/`: its name, what it shows, the engines' settings and
//! drive on the simulated link, its run against the Linux kernel, and its
//! answer composed of findings. [`ALL`] (in `scenarios/mod.rs`) is the
//! registry: adding a scenario is its file and two lines there.

#![forbid(unsafe_code)]

mod common;
mod kernel;
pub mod linux_defaults;
pub mod questions;
mod scenarios;
mod sim;
mod syn_schedule;
pub mod tell;

use std::net::SocketAddr;
use std::time::Duration;

use synack_engine::Config;
use synack_engine::sim::{Fault, Side};
use synack_explain::{Answer, Lang};
use synack_net::NetError;
use synack_net::harness::KernelRun;
use synack_trace::{Findings, Profile, Trace};

pub use common::{REQUEST, RESPONSE};
pub use kernel::run_linux;
pub use sim::{SimRun, run_sim};
pub use syn_schedule::predict as linux_syn_model;

/// One scenario. A scenario never appears in a renderer: it makes a trace
/// and says which findings its answer uses.
pub struct Def {
    pub name: &'static str,
    /// What it shows, in a line (the CLI's help).
    pub about: &'static str,
    /// Whether synack may play the server against the kernel.
    pub server_role: bool,
    /// Whether `--closer` (who closes first) means anything here.
    pub closer: bool,
    /// Engine settings of the simulator's client and server.
    pub tune: fn(&Options, &mut Config, &mut Config),
    /// What the simulated link does to segments.
    pub faults: fn(&Options) -> Vec<Fault>,
    pub sim: fn(&mut SimRun<'_>) -> Result<(), String>,
    /// The run against the kernel; what it returns is kept open until the
    /// trace is taken (closing it would show states the scenario never had).
    pub linux: fn(&mut KernelRun, &Options) -> Result<Keep, NetError>,
    pub answer: fn(&Ask<'_>) -> Answer,
}

/// Kernel sockets that must outlive a run.
pub type Keep = (Vec<std::net::TcpListener>, Vec<std::net::TcpStream>);

pub type Scenario = &'static Def;

pub use scenarios::ALL;

/// The scenario called `name`.
pub fn by_name(name: &str) -> Option<Scenario> {
    ALL.iter().copied().find(|d| d.name == name)
}

impl std::fmt::Debug for Def {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Def {
    fn eq(&self, other: &Def) -> bool {
        self.name == other.name
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub scenario: Scenario,
    pub client_isn: Option<u32>,
    pub server_isn: Option<u32>,
    /// Fixed keys for synack's ISNs and random choices, for reproducible
    /// runs; `None`: fresh ones every run.
    pub seed: Option<u64>,
    /// One-way delay of the simulated link.
    pub delay: Duration,
    pub profile: Profile,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Who closes first in the close scenarios that let you choose.
    pub closer: Side,
    /// Which side synack plays against the Linux kernel (the simulated peer
    /// runs synack on both).
    pub synack_side: Side,
    /// Against the kernel: keep its retry settings at their defaults
    /// instead of shortening them (runs take up to minutes).
    pub kernel_defaults: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            scenario: ALL[0],
            client_isn: None,
            server_isn: None,
            seed: None,
            delay: Duration::from_millis(10),
            profile: Profile::Rfc,
            client: SocketAddr::from(([192, 0, 2, 10], 40000)),
            server: SocketAddr::from(([198, 51, 100, 20], 80)),
            closer: Side::A,
            synack_side: Side::A,
            kernel_defaults: false,
        }
    }
}

/// What an answer is composed from: the trace and its findings only.
pub struct Ask<'a> {
    pub t: &'a Trace,
    pub f: Findings<'a>,
    pub lang: Lang,
}

impl Ask<'_> {
    /// English or Chinese.
    pub fn pick(&self, en: String, zh: String) -> String {
        match self.lang {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
    pub fn q(&self, en: &str, zh: &str) -> String {
        self.lang.t(en, zh).to_string()
    }
}

/// The answers of a trace of one of these scenarios, in both languages
/// (JSON carries both); empty for any other trace.
pub fn answers(t: &Trace) -> [Answer; 2] {
    let Some(s) = by_name(t.scenario) else {
        return Default::default();
    };
    [Lang::En, Lang::Zh].map(|lang| {
        let ask = Ask {
            t,
            f: Findings::new(t),
            lang,
        };
        (s.answer)(&ask)
    })
}
