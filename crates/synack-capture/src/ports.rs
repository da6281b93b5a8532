//! nmap's view of a capture: per host and port, the state (`open`,
//! `closed`, `filtered`) and its reason (`syn-ack`, `reset`,
//! `no-response`, an ICMP reason such as `admin-prohibited`), from every
//! attempt to it; a host in an overlay network (VXLAN, Geneve) is one of
//! that network's, apart from a host of the same address in another. Memory
//! follows the ports seen, not the attempts.
//!
//! nmap's fourth state, `unfiltered`, answers an ACK probe (a RST to an ACK
//! means the port is reachable, open or closed); SYN attempts never give it,
//! so this table never shows it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

use crate::attempt::{Attempt, Outcome};
use crate::beneath::{Network, Zone};
use crate::diagnose::Id;

/// What one attempt says about its port, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Filtered,
    Closed,
    Open,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Closed => "closed",
            State::Filtered => "filtered",
        }
    }
}

/// One host and port.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub host: String,
    pub port: u16,
    /// The overlay network the host is in (`Attempt::network`).
    pub network: Option<Network>,
    pub state: State,
    /// nmap's reason for the state.
    pub reason: &'static str,
    /// Attempts to this port, and how many gave the state shown.
    pub attempts: u64,
    pub agreeing: u64,
    /// The shortest SYN → answer time of those (SYN-ACK, or RST).
    pub rtt_s: Option<f64>,
    /// The first frame of the attempt the state comes from.
    pub frame: u64,
}

/// The table, filled one attempt at a time.
#[derive(Debug, Clone, Default)]
pub struct Ports {
    rows: BTreeMap<(Zone, SocketAddr), Row>,
}

/// The state an attempt shows, its reason and its SYN → answer time;
/// `None` for one that shows nothing about the port (a capture of one
/// direction, an ICMP error about something else).
fn verdict(a: &Attempt) -> Option<(State, &'static str, Option<f64>)> {
    let d = a.diagnosis.as_ref();
    if !a.synack_frames.is_empty() {
        return Some((State::Open, "syn-ack", a.syn_to_synack_s));
    }
    match (a.outcome, d.map(|d| d.id)) {
        (Outcome::Refused, _) => Some((State::Closed, "reset", a.syn_to_rst_s)),
        (_, Some(Id::Icmp)) => Some((State::Filtered, d?.reason, None)),
        (Outcome::NoAnswer, _) => Some((State::Filtered, "no-response", None)),
        _ => None,
    }
}

impl Ports {
    pub fn add(&mut self, a: &Attempt) {
        let server = a.server;
        let v = verdict(a);
        let zone = a.network.map_or(0, Network::zone);
        let row = self.rows.entry((zone, server)).or_insert_with(|| Row {
            host: server.ip().to_string(),
            port: server.port(),
            network: a.network,
            state: State::Filtered,
            reason: "no-response",
            attempts: 0,
            agreeing: 0,
            rtt_s: None,
            frame: a.first_frame,
        });
        row.attempts += 1;
        let Some((state, reason, rtt)) = v else {
            return;
        };
        if state > row.state || row.agreeing == 0 {
            row.state = state;
            row.reason = reason;
            row.agreeing = 0;
            row.rtt_s = None;
            row.frame = a.first_frame;
        }
        if state == row.state {
            row.agreeing += 1;
            row.rtt_s = match (row.rtt_s, rtt) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
        }
    }

    /// Rows with at least one attempt that said something, by network,
    /// host and port.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.values().filter(|r| r.agreeing > 0)
    }
}
