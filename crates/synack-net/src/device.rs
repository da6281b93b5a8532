//! `synack connect` and `synack listen` on a TUN device the user made (in
//! their own namespace or VM): synack takes the device's far end.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use synack_engine::sim::Side;
use synack_engine::{Config, Endpoint, Event, IsnMode, State};
use synack_trace::{IsnOrigin, Peer, Profile, Trace};

use crate::harness::{TraceInfo, trace_of};
use crate::{Dir, Driver, NetError, sys};

#[derive(Debug, Clone)]
pub struct DeviceOpts {
    pub device: String,
    /// synack's own address on the device.
    pub local: SocketAddr,
    /// Where to connect (connect only).
    pub remote: Option<SocketAddr>,
    /// Bytes to send once connected.
    pub send: Option<Vec<u8>>,
    /// How long to wait for the handshake.
    pub timeout: Duration,
    pub profile: Profile,
    pub isn: Option<u32>,
    pub pcap: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handshake complete; `rtt` is SYN → SYN-ACK (or SYN-ACK → ACK when
    /// listening); `received` what the peer sent before it closed or went quiet.
    Established { rtt: Duration, received: Vec<u8> },
    /// RST in answer to our SYN.
    Refused,
    /// Nothing within the timeout (or the retries ran out).
    NoAnswer,
}

fn open(o: &DeviceOpts) -> Result<Driver, NetError> {
    // TUNSETIFF would create a missing device: refuse instead of inventing one.
    // /proc/thread-self/net/dev lists this namespace's devices (/sys shows
    // the namespace sysfs was mounted in).
    let devices = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap_or_default();
    let exists = devices
        .lines()
        .filter_map(|l| l.split_once(':'))
        .any(|(name, _)| name.trim() == o.device);
    if !exists {
        return Err(NetError::Command(format!(
            "no network device named {} (create one: ip tuntap add dev {} mode tun)",
            o.device, o.device
        )));
    }
    let (fd, _) = sys::open_tun(&o.device).map_err(NetError::Tun)?;
    let mut cfg = match o.profile {
        Profile::Rfc => Config::rfc(),
        Profile::LinuxCompat => Config::linux(),
    };
    // Fresh secrets per run: the ISN must not be predictable.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    cfg = cfg.with_secrets(nanos.to_le_bytes(), nanos as u64);
    if let Some(n) = o.isn {
        cfg.isn = IsnMode::Fixed(n);
    }
    let mut d = Driver::new(fd, Endpoint::new(cfg));
    if let Some(p) = &o.pcap {
        d.pcap_to(p)?;
    }
    Ok(d)
}

fn gap(
    d: &Driver,
    first: (Dir, synack_wire::TcpFlags),
    then: (Dir, synack_wire::TcpFlags),
) -> Duration {
    let t = |(dir, f): (Dir, synack_wire::TcpFlags)| {
        d.log
            .iter()
            .find(|c| c.dir == dir && c.flags() == Some(f))
            .map(|c| c.at)
    };
    match (t(first), t(then)) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => Duration::ZERO,
    }
}

fn exchange(
    d: &mut Driver,
    h: synack_engine::ConnHandle,
    send: &Option<Vec<u8>>,
) -> Result<Vec<u8>, NetError> {
    if let Some(data) = send {
        let now = d.now();
        d.ep.send(now, h, data)
            .map_err(|e| NetError::Command(e.to_string()))?;
    }
    // Take what the peer sends until it closes, or for one second.
    d.run_until(Duration::from_secs(1), |d| d.has_event(Event::PeerClosed))?;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = d.ep.recv(h, &mut buf) {
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
    }
    let now = d.now();
    if d.ep.close(now, h).is_ok() {
        d.run_until(Duration::from_secs(3), |d| {
            d.has_event(Event::Closed)
                || d.ep
                    .connection(h)
                    .is_none_or(|c| c.state() == State::TimeWait)
        })?;
    }
    Ok(received)
}

/// Connect through the device; the peer is on the other side of it.
pub fn connect(o: &DeviceOpts) -> Result<(Trace, Outcome), NetError> {
    let remote = o
        .remote
        .ok_or_else(|| NetError::Command("connect needs an address to connect to".into()))?;
    let mut d = open(o)?;
    let h =
        d.ep.connect(d.now(), o.local, remote)
            .map_err(|e| NetError::Command(e.to_string()))?;
    d.run_until(o.timeout, |d| {
        d.has_event(Event::Connected) || d.has_event(Event::Refused) || d.has_event(Event::TimedOut)
    })?;
    let outcome = if d.has_event(Event::Connected) {
        let rtt = gap(
            &d,
            (Dir::ToKernel, synack_wire::TcpFlags::SYN),
            (Dir::FromKernel, synack_wire::TcpFlags::SYN_ACK),
        );
        let received = exchange(&mut d, h, &o.send)?;
        Outcome::Established { rtt, received }
    } else if d.has_event(Event::Refused) {
        Outcome::Refused
    } else {
        // Give up quietly: closing in SYN-SENT sends nothing (rule 10).
        let now = d.now();
        let _ = d.ep.close(now, h);
        Outcome::NoAnswer
    };
    d.flush_pcap()?;
    let trace = finish(&d, o, Side::B, (o.local, remote));
    Ok((trace, outcome))
}

/// Listen on the device for one connection.
pub fn listen(o: &DeviceOpts) -> Result<(Trace, Outcome), NetError> {
    let mut d = open(o)?;
    d.ep.listen(o.local)
        .map_err(|e| NetError::Command(e.to_string()))?;
    d.run_until(o.timeout, |d| d.has_event(Event::Accepted))?;
    let Some(&(_, h, _)) = d.events.iter().find(|e| e.2 == Event::Accepted) else {
        d.flush_pcap()?;
        let trace = finish(&d, o, Side::A, (o.local, o.local));
        return Ok((trace, Outcome::NoAnswer));
    };
    let remote =
        d.ep.connection(h)
            .map(|c| c.tuple().remote)
            .unwrap_or(o.local);
    let rtt = gap(
        &d,
        (Dir::ToKernel, synack_wire::TcpFlags::SYN_ACK),
        (Dir::FromKernel, synack_wire::TcpFlags::ACK),
    );
    let received = exchange(&mut d, h, &o.send)?;
    d.flush_pcap()?;
    let trace = finish(&d, o, Side::A, (remote, o.local));
    Ok((trace, Outcome::Established { rtt, received }))
}

fn finish(d: &Driver, o: &DeviceOpts, peer_side: Side, addrs: (SocketAddr, SocketAddr)) -> Trace {
    let peer = Peer::Device {
        side: peer_side,
        device: o.device.clone(),
    };
    let listened = peer_side == Side::A;
    trace_of(
        d,
        peer_side,
        peer,
        TraceInfo {
            scenario: if listened { "listen" } else { "connect" },
            profile: o.profile,
            client: addrs.0,
            server: addrs.1,
            initial: [
                State::Closed,
                if listened {
                    State::Listen
                } else {
                    State::Closed
                },
            ],
            our_isn: if o.isn.is_some() {
                IsnOrigin::Fixed
            } else {
                IsnOrigin::Rfc6528 { fresh_key: true }
            },
            syn_backlog: None,
        },
    )
}
