//! One probe: a kernel `connect()` to a port, timed, its result in nmap's
//! words. What the socket says is always there: the errno, the ICMP error
//! the kernel queued with its sender (`IP_RECVERR`, no privilege needed),
//! the kernel's own RTT (`TCP_INFO`). With the right to capture, the
//! probe's own frames are read too (libpcap on `any`, a filter for its
//! 4-tuple and ICMP errors) and tracked by `synack analyze`'s code, which
//! gives the time on the wire, the RST's TTL and the narration.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use synack_capture::reader::Frame;
use synack_capture::{Attempt, Live};
use synack_wire::{TcpFlags, Unreachable};

use crate::LiveError;
use crate::libpcap::Capture;
use crate::sys::{ProbeSocket, QueuedIcmp, interrupted};

/// How to probe.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// How long to wait for the connect to end.
    pub timeout: Duration,
    /// Capture the probe's own frames when allowed.
    pub capture: bool,
}

/// nmap's port states, plus a probe that could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Open,
    Closed,
    Filtered,
    /// No SYN left this host (no route, a local firewall, no address).
    Error,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Open => "open",
            Verdict::Closed => "closed",
            Verdict::Filtered => "filtered",
            Verdict::Error => "error",
        }
    }
}

/// The verdict's reason: nmap's word (`syn-ack`, `reset`, `no-response`,
/// `admin-prohibited`, `host-unreach`, …) or, for an error, the errno's.
pub type Reason = &'static str;

/// An ICMP error about the probe, as the kernel passed it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IcmpReport {
    /// ICMPv6 rather than ICMP.
    pub v6: bool,
    #[serde(rename = "type")]
    pub icmp_type: u8,
    pub code: u8,
    /// Who sent it (a router, or the host itself).
    pub from: Option<IpAddr>,
    /// nmap's word for it.
    pub reason: &'static str,
}

/// Whether the probe's frames were captured, and if not why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum Captured {
    /// This many frames of the probe (and ICMP errors) were read.
    Frames(usize),
    /// Not asked for.
    Off,
    /// Asked for but not possible (no privilege, no libpcap), with why.
    Unavailable(String),
}

/// One frame the probe captured.
#[derive(Debug, Clone)]
pub struct OwnedFrame {
    pub ts_ns: i64,
    pub data: Vec<u8>,
    pub wire_len: u32,
}

/// What one probe found.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// The address probed.
    #[serde(serialize_with = "synack_capture::attempt::display")]
    pub target: SocketAddr,
    /// The probe's own address and port (unknown when no SYN left).
    #[serde(serialize_with = "display_opt")]
    pub local: Option<SocketAddr>,
    /// When the SYN was asked for, in ns since the Unix epoch.
    pub time_ns: i64,
    pub state: Verdict,
    pub reason: Reason,
    /// connect() until it ended (or until the timeout), in µs, measured by
    /// synack (so it includes the time to wake this process).
    pub connect_us: f64,
    /// The kernel's smoothed RTT after the handshake (`TCP_INFO`), µs;
    /// none when it took no sample.
    pub kernel_rtt_us: Option<f64>,
    /// The last SYN → the SYN-ACK or RST, on the wire, µs (a capture only).
    pub wire_rtt_us: Option<f64>,
    /// SYNs sent again (from the capture, else the kernel's count).
    pub syn_retransmissions: Option<u32>,
    pub icmp: Option<IcmpReport>,
    /// TTL (IPv4) or hop limit (IPv6) of the RST that closed the port.
    pub rst_ttl: Option<u8>,
    /// The errno the connect ended with, as text.
    pub error: Option<String>,
    pub captured: Captured,
    /// Where the capture and the socket disagree, said plainly.
    pub disagreement: Option<String>,
    /// The probe's attempt as `synack analyze` reads it (a capture only).
    #[serde(skip)]
    pub attempt: Option<Attempt>,
    #[serde(skip)]
    pub frames: Vec<OwnedFrame>,
    /// The link type of `frames`.
    #[serde(skip)]
    pub linktype: i32,
}

fn display_opt<S: serde::Serializer>(a: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => synack_capture::attempt::display(a, s),
        None => s.serialize_none(),
    }
}

impl Probe {
    /// The best RTT there is and where it comes from: the wire, the
    /// kernel's sample, or the connect() time.
    pub fn rtt_us(&self) -> Option<(f64, &'static str)> {
        match self.state {
            Verdict::Open | Verdict::Closed => {}
            _ => return None,
        }
        self.wire_rtt_us
            .map(|r| (r, "wire"))
            .or(self.kernel_rtt_us.map(|r| (r, "kernel")))
            .or(Some((self.connect_us, "connect")))
    }
}

/// Now, in ns since the Unix epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The ICMP error's reason in nmap's words.
fn icmp_report(q: &QueuedIcmp) -> IcmpReport {
    let reason = match (q.v6, q.icmp_type) {
        (false, 3) => synack_capture::diagnose::icmp_reason(Unreachable::from_v4(q.code, 0)),
        (true, 1) => synack_capture::diagnose::icmp_reason(Unreachable::from_v6(q.code)),
        (false, 11) | (true, 3) => "time-exceeded",
        _ => "icmp",
    };
    IcmpReport {
        v6: q.v6,
        icmp_type: q.icmp_type,
        code: q.code,
        from: q.from,
        reason,
    }
}

fn errno_text(e: i32) -> String {
    let name = match e {
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        _ => "",
    };
    let text = std::io::Error::from_raw_os_error(e).to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_string();
    if name.is_empty() {
        text
    } else {
        format!("{name} ({text})")
    }
}

/// The verdict from what the socket said: its errno (0: connected, `None`:
/// still trying at the timeout) and the ICMP error queued on it.
fn classify(errno: Option<i32>, icmp: Option<&IcmpReport>) -> (Verdict, Reason) {
    match (errno, icmp) {
        (Some(0), _) => (Verdict::Open, "syn-ack"),
        (_, Some(i)) => (Verdict::Filtered, i.reason),
        (Some(libc::ECONNREFUSED), None) => (Verdict::Closed, "reset"),
        (None | Some(libc::ETIMEDOUT), None) => (Verdict::Filtered, "no-response"),
        (Some(libc::EHOSTUNREACH), None) => (Verdict::Filtered, "host-unreach"),
        (Some(libc::ENETUNREACH), None) => (Verdict::Error, "no-route"),
        (Some(_), None) => (Verdict::Error, "local-error"),
    }
}

/// The capture filter for one probe: its 4-tuple (the local address is not
/// known before the connect, the port is) and ICMP errors.
fn filter(target: SocketAddr, local_port: u16) -> String {
    format!(
        "(tcp and host {} and port {} and port {local_port}) or (icmp and icmp[icmptype] == icmp-unreach) or (icmp and icmp[icmptype] == icmp-timxceed) or (icmp6 and (ip6[40] == 1 or ip6[40] == 3))",
        target.ip(),
        target.port()
    )
}

/// Probes of one run: the capture is opened once (opening one takes tens
/// of ms) and given each probe's filter in turn.
pub struct Prober {
    cfg: ProbeConfig,
    capture: Option<Result<Capture, String>>,
}

impl Prober {
    pub fn new(cfg: ProbeConfig) -> Prober {
        Prober { cfg, capture: None }
    }

    /// The capture set for a probe from local `port` to `target`, holding
    /// none of an earlier probe's frames; or why there is none.
    fn capture_for(&mut self, target: SocketAddr, port: u16) -> Result<&mut Capture, String> {
        let expr = filter(target, port);
        let ready = match self.capture.take() {
            None => Capture::open("any", &expr, 4, 2).map_err(|e| e.to_string()),
            Some(Ok(mut c)) => c
                .set_filter(&expr)
                .and_then(|()| c.discard())
                .map(|()| c)
                .map_err(|e| e.to_string()),
            Some(Err(why)) => Err(why),
        };
        match self.capture.insert(ready) {
            Ok(c) => Ok(c),
            Err(why) => Err(why.clone()),
        }
    }

    /// Probe `target` once. `None` when Ctrl-C came before it ended.
    pub fn probe(&mut self, target: SocketAddr) -> Result<Option<Probe>, LiveError> {
        let sock =
            ProbeSocket::bound(target.is_ipv6()).map_err(LiveError::io("making a socket"))?;
        let port = sock
            .local()
            .map_err(LiveError::io("reading the socket's port"))?
            .port();
        let cfg = self.cfg.clone();
        let (cap, captured) = match cfg.capture {
            false => (None, Captured::Off),
            true => match self.capture_for(target, port) {
                Ok(c) => (Some(c), Captured::Frames(0)),
                Err(why) => (None, Captured::Unavailable(why)),
            },
        };
        probe_on(sock, target, &cfg, cap, captured)
    }
}

/// Read whatever the capture has now, within `ms`.
fn drain(cap: &mut Capture, into: &mut Vec<OwnedFrame>, ms: u64) -> Result<(), LiveError> {
    let until = Instant::now() + Duration::from_millis(ms);
    loop {
        match cap.next_frame()? {
            Some(f) => into.push(OwnedFrame {
                ts_ns: f.ts_ns,
                data: f.data.to_vec(),
                wire_len: f.wire_len,
            }),
            None if Instant::now() >= until => return Ok(()),
            None => {}
        }
    }
}

/// The TCP header fields of a captured frame: source, destination, flags,
/// TTL.
fn tcp_of(linktype: i32, f: &OwnedFrame) -> Option<(SocketAddr, SocketAddr, TcpFlags, u8)> {
    let ip = synack_capture::link::ip_packet(linktype, &f.data)?;
    let p = synack_wire::parse_ip_truncated(ip).ok()?;
    let t = p.tcp;
    let port = |i: usize| Some(u16::from_be_bytes([*t.get(i)?, *t.get(i + 1)?]));
    let flags = TcpFlags(u16::from_be_bytes([*t.get(12)?, *t.get(13)?]) & 0x0fff);
    Some((
        SocketAddr::new(p.ip.src, port(0)?),
        SocketAddr::new(p.ip.dst, port(2)?),
        flags,
        p.ip.ttl,
    ))
}

/// Whether the frame that ends the handshake's story, as the socket told
/// it, has been captured: the third ACK, the RST, the ICMP error.
fn story_captured(
    linktype: i32,
    frames: &[OwnedFrame],
    target: SocketAddr,
    v: Verdict,
    icmp: bool,
) -> bool {
    let tcp = || frames.iter().filter_map(|f| tcp_of(linktype, f));
    match v {
        _ if icmp => frames.iter().any(|f| tcp_of(linktype, f).is_none()),
        Verdict::Open => tcp().any(|(s, _, fl, _)| {
            s != target && fl.contains(TcpFlags::ACK) && !fl.contains(TcpFlags::SYN)
        }),
        Verdict::Closed => tcp().any(|(s, _, fl, _)| s == target && fl.contains(TcpFlags::RST)),
        _ => true,
    }
}

/// The probe's attempt from its frames, through `synack analyze`'s tracker.
fn attempt_of(linktype: i32, frames: &[OwnedFrame], local: SocketAddr) -> Option<Attempt> {
    let mut live = Live::new(16).without_checksums();
    let mut found = Vec::new();
    let mut keep = |a: &Attempt| found.push(a.clone());
    for (i, f) in frames.iter().enumerate() {
        let frame = Frame {
            number: i as u64 + 1,
            ts: f.ts_ns as f64 / 1e9,
            ts_ns: f.ts_ns,
            interface: 0,
            linktype,
            data: &f.data,
            truncated: f.data.len() < f.wire_len as usize,
            wire_len: f.wire_len,
            end: 0,
        };
        live.frame(&frame, &mut keep);
    }
    live.finish(&mut keep);
    found.into_iter().find(|a| a.client == local)
}

/// The socket's side of a probe: the connect, waited for.
struct Waited {
    errno: Option<i32>,
    elapsed: Duration,
    interrupted: bool,
}

fn wait_connect(
    sock: &ProbeSocket,
    timeout: Duration,
    cap: &mut Option<&mut Capture>,
    frames: &mut Vec<OwnedFrame>,
    t0: Instant,
) -> Result<Waited, LiveError> {
    loop {
        let left = timeout.saturating_sub(t0.elapsed());
        let slice = left.min(Duration::from_millis(20));
        let done = sock
            .wait(i32::try_from(slice.as_millis()).unwrap_or(20).max(1))
            .map_err(LiveError::io("waiting for the connect"))?;
        let elapsed = t0.elapsed();
        if let Some(c) = cap.as_mut() {
            drain(c, frames, 0)?;
        }
        if done {
            let e = sock
                .error()
                .map_err(LiveError::io("reading the connect's result"))?;
            return Ok(Waited {
                errno: Some(e),
                elapsed,
                interrupted: false,
            });
        }
        if interrupted() || elapsed >= timeout {
            return Ok(Waited {
                errno: None,
                elapsed,
                interrupted: interrupted(),
            });
        }
    }
}

/// One probe on a bound socket, with its capture if there is one.
fn probe_on(
    sock: ProbeSocket,
    target: SocketAddr,
    cfg: &ProbeConfig,
    mut cap: Option<&mut Capture>,
    captured: Captured,
) -> Result<Option<Probe>, LiveError> {
    let linktype = cap.as_ref().map_or(0, |c| c.linktype());
    let time_ns = now_ns();
    let mut frames = Vec::new();
    // The SYN may be answered inside connect() itself (a RST on a local
    // link is handled in the same softirq), so the clock starts before it.
    let t0 = Instant::now();
    let waited = match sock.connect(target) {
        Ok(()) => wait_connect(&sock, cfg.timeout, &mut cap, &mut frames, t0)?,
        Err(e) => Waited {
            errno: Some(e.raw_os_error().unwrap_or(libc::EIO)),
            elapsed: t0.elapsed(),
            interrupted: false,
        },
    };
    if waited.interrupted {
        return Ok(None);
    }
    let icmp = sock.queued_icmp().ok().flatten().map(|q| icmp_report(&q));
    let (state, reason) = classify(waited.errno, icmp.as_ref());
    let local = sock.local().ok().filter(|a| !a.ip().is_unspecified());
    let (kernel_rtt, kernel_retrans) = match state {
        Verdict::Open => sock.tcp_info().map_or((None, None), |(r, n)| {
            ((r > 0).then_some(f64::from(r)), Some(n))
        }),
        _ => (None, None),
    };
    let mut p = Probe {
        target,
        local,
        time_ns,
        state,
        reason,
        // Whole nanoseconds, so the JSON carries no float noise.
        connect_us: waited.elapsed.as_nanos() as f64 / 1e3,
        kernel_rtt_us: kernel_rtt,
        wire_rtt_us: None,
        syn_retransmissions: kernel_retrans,
        icmp,
        rst_ttl: None,
        error: waited.errno.filter(|e| *e != 0).map(errno_text),
        captured,
        disagreement: None,
        attempt: None,
        frames: Vec::new(),
        linktype,
    };
    if let Some(c) = cap.as_mut() {
        finish_capture(&mut p, c, frames)?;
    }
    Ok(Some(p))
}

/// Read the capture until it holds the frame that ends the story (at most
/// a second), and take from it what only the wire shows.
fn finish_capture(
    p: &mut Probe,
    cap: &mut Capture,
    mut frames: Vec<OwnedFrame>,
) -> Result<(), LiveError> {
    let until = Instant::now() + Duration::from_secs(1);
    while !story_captured(p.linktype, &frames, p.target, p.state, p.icmp.is_some())
        && Instant::now() < until
    {
        drain(cap, &mut frames, 10)?;
    }
    p.captured = Captured::Frames(frames.len());
    p.rst_ttl = frames
        .iter()
        .filter_map(|f| tcp_of(p.linktype, f))
        .find(|(s, _, fl, _)| *s == p.target && fl.contains(TcpFlags::RST))
        .map(|(.., ttl)| ttl);
    if let Some(local) = p.local {
        p.attempt = attempt_of(p.linktype, &frames, local);
    }
    if let Some(a) = &p.attempt {
        p.wire_rtt_us = a
            .syn_to_synack_s
            .or(a.syn_to_rst_s)
            .map(|s| (s * 1e9).round() / 1e3);
        p.syn_retransmissions = Some(u32::try_from(a.syn_retransmissions).unwrap_or(u32::MAX));
        p.disagreement = disagreement(p, a);
    }
    p.frames = frames;
    Ok(())
}

/// What the capture shows against what the socket said.
fn disagreement(p: &Probe, a: &Attempt) -> Option<String> {
    let wire = if !a.synack_frames.is_empty() {
        Verdict::Open
    } else if a.syn_to_rst_s.is_some() {
        Verdict::Closed
    } else {
        Verdict::Filtered
    };
    (wire != p.state).then(|| {
        format!(
            "the socket says {} ({}) but the capture shows {}",
            p.state.name(),
            p.reason,
            match wire {
                Verdict::Open => "a SYN-ACK",
                Verdict::Closed => "a RST",
                _ => "no SYN-ACK and no RST",
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_says_the_verdict_in_nmaps_words() {
        let icmp = |t, c, v6| {
            icmp_report(&QueuedIcmp {
                v6,
                icmp_type: t,
                code: c,
                from: None,
                errno: 0,
            })
        };
        assert_eq!(classify(Some(0), None), (Verdict::Open, "syn-ack"));
        assert_eq!(
            classify(Some(libc::ECONNREFUSED), None),
            (Verdict::Closed, "reset")
        );
        assert_eq!(classify(None, None), (Verdict::Filtered, "no-response"));
        // Linux makes ECONNREFUSED of a port unreachable too: the ICMP decides.
        let port = icmp(3, 3, false);
        assert_eq!(
            classify(Some(libc::ECONNREFUSED), Some(&port)),
            (Verdict::Filtered, "port-unreach")
        );
        for (t, c, v6, r) in [
            (3, 13, false, "admin-prohibited"),
            (3, 1, false, "host-unreach"),
            (3, 0, false, "net-unreach"),
            (1, 1, true, "admin-prohibited"),
            (1, 4, true, "port-unreach"),
            (1, 3, true, "host-unreach"),
            (11, 0, false, "time-exceeded"),
        ] {
            assert_eq!(
                classify(Some(libc::EHOSTUNREACH), Some(&icmp(t, c, v6))).1,
                r,
                "{t}/{c}"
            );
        }
        assert_eq!(
            classify(Some(libc::ENETUNREACH), None),
            (Verdict::Error, "no-route")
        );
        assert!(errno_text(libc::ECONNREFUSED).starts_with("ECONNREFUSED (Connection refused"));
    }
}
