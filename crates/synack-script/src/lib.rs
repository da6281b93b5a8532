//! synack-script: packetdrill scripts, parsed and run against a system
//! under test, event by event, with the live values recorded.
//!
//! - [`parse::parse`]: packetdrill's language (syntax.md) into [`ast`].
//! - [`run::run`]: the executor over a [`run::Sut`].
//! - [`engine::EngineSut`]: synack's engine, Linux profile, virtual clock.
//! - [`linux::LinuxSut`]: the kernel, in a private namespace over `tun0`.
//! - [`narrate`]: the report in words, zh and en.

pub mod ast;
pub mod calls;
pub mod compare;
pub mod engine;
pub mod error;
mod lex;
pub mod linux;
pub mod narrate;
pub mod packet;
pub mod parse;
pub mod report;
pub mod run;
pub mod settings;
pub mod write;

pub use error::{ParseError, RunError};
pub use parse::parse;

use report::{Peer, Report};
use settings::Settings;

/// Which systems a script runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peers {
    Linux,
    Engine,
    Both,
}

/// Parse and run one script. The kernel's run has the engine's beside it
/// as its model; `Both` gives the kernel's report, then the engine's.
pub fn check(
    name: &str,
    source: &str,
    settings: &Settings,
    peers: Peers,
) -> Result<Vec<Report>, ParseError> {
    let script = parse(source)?;
    // The script's own options (its IP version) count for the engine too.
    let effective = settings
        .clone()
        .with_script(&script)
        .unwrap_or_else(|_| settings.clone());
    let mut engine_sut = engine::EngineSut::new(&effective);
    let model = run::run(name, source, &script, settings, &mut engine_sut);
    if peers == Peers::Engine {
        return Ok(vec![model]);
    }
    let mut kernel = match linux::run(name, source, &script, settings) {
        Ok(r) => r,
        Err(e) => {
            let mut r = Report::new(name, Peer::Linux);
            r.result = report::Verdict::Error;
            r.error = Some(e.to_string());
            r
        }
    };
    if kernel.result != report::Verdict::Unsupported {
        compare::attach_model(&mut kernel, &model);
    }
    Ok(match peers {
        Peers::Both => vec![kernel, model],
        _ => vec![kernel],
    })
}
