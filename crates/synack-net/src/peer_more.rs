//! `explain --peer linux` for the scenarios beyond the textbook: synack is
//! the client and the kernel the other end (a listener, or for simultaneous
//! open a socket connecting back). Loss and forged segments are made on the
//! TUN device; the kernel is shown as captured and as /proc reports it.

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use synack_engine::sim::Side;
use synack_engine::{Config, ConnHandle, Ecn, Endpoint, Event, IsnMode, State};
use synack_explain::{Options, Peer, Profile, REQUEST, RESPONSE, Scenario, Trace};
use synack_wire::TcpFlags;

use crate::peer::{Sampler, build_trace, io};
use crate::{Dir, Driver, Fault, Lab, NetError, lab};

/// The kernel listener's backlog in `syn-flood`: this many spoofed SYNs
/// fill its SYN queue.
const FLOOD_BACKLOG: i32 = 4;
/// Where the spoofed SYNs come from (on the lab's subnet, so the kernel's
/// answers reach the device, where they are dropped).
const SPOOFED_V4: [u8; 4] = [10, 77, 0, 66];

pub fn supports(s: Scenario) -> bool {
    matches!(
        s,
        Scenario::SimultaneousOpen
            | Scenario::OldDuplicate
            | Scenario::HalfOpen
            | Scenario::SynFlood
            | Scenario::Ecn
            | Scenario::FastOpen
            | Scenario::Isn
            | Scenario::SimultaneousClose
            | Scenario::LastAckLost
            | Scenario::Abort
            | Scenario::TimeWaitRst
    )
}

fn cmd(e: impl std::fmt::Display) -> NetError {
    NetError::Command(e.to_string())
}

const SEC: Duration = Duration::from_secs(1);

struct Lab2 {
    d: Driver,
    ours: SocketAddr,
    theirs: SocketAddr,
    sampler: Sampler,
}

impl Lab2 {
    fn until(&mut self, t: Duration, done: impl FnMut(&Driver) -> bool) -> Result<bool, NetError> {
        self.d.run_until(t, done)
    }

    fn accept(&mut self, l: &TcpListener) -> Result<TcpStream, NetError> {
        l.set_nonblocking(true).map_err(io)?;
        let mut got = None;
        self.until(3 * SEC, |_| {
            got = l.accept().ok();
            got.is_some()
        })?;
        let (s, _) = got.ok_or_else(|| cmd("the kernel never completed accept()"))?;
        s.set_nonblocking(false).map_err(io)?;
        s.set_read_timeout(Some(3 * SEC)).map_err(io)?;
        self.sampler.with(|g| g.accepted = true);
        Ok(s)
    }

    fn connected(&mut self, h: ConnHandle) -> Result<(), NetError> {
        let ok = self.until(5 * SEC, |d| {
            d.ep.connection(h)
                .is_some_and(|c| c.state() == State::Established)
        })?;
        if ok {
            Ok(())
        } else {
            Err(cmd("the handshake with the kernel did not complete"))
        }
    }

    /// connect from `from`, complete the handshake, accept on the kernel side.
    fn open(
        &mut self,
        from: SocketAddr,
        l: &TcpListener,
    ) -> Result<(ConnHandle, TcpStream), NetError> {
        let h = self
            .d
            .ep
            .connect(self.d.now(), from, self.theirs)
            .map_err(cmd)?;
        self.connected(h)?;
        Ok((h, self.accept(l)?))
    }

    /// Turn for a while so the sampler sees the last state.
    fn settle(&mut self) -> Result<(), NetError> {
        self.until(SEC / 5, |_| false).map(|_| ())
    }

    /// A segment no engine made, from `from` to the kernel.
    fn craft(&self, from: SocketAddr, flags: TcpFlags, seq: u32) -> Result<Vec<u8>, NetError> {
        synack_explain::more::forge(self.d.ep.config(), from, self.theirs, flags, seq)
            .map_err(NetError::Emit)
    }
}

pub(crate) fn run(o: &Options, lab: Lab, release: String) -> Result<Trace, NetError> {
    let mut cfg = match o.profile {
        Profile::Rfc => Config::rfc(),
        Profile::Linux => Config::linux(),
    }
    .with_secrets(*b"synack-client-ky", 1);
    if let Some(n) = o.client_isn {
        cfg.isn = IsnMode::Fixed(n);
    }
    match o.scenario {
        Scenario::Ecn => cfg.ecn = Ecn::Request,
        Scenario::FastOpen => {
            cfg.fast_open = true;
            lab::sysctl("net/ipv4/tcp_fastopen", "3")?;
        }
        // Without a per-connection offset the cookie's option bits show.
        Scenario::SynFlood => lab::sysctl("net/ipv4/tcp_timestamps", "2")?,
        _ => {}
    }
    let v6 = o.client.is_ipv6();
    let ours = SocketAddr::new(Lab::synack_addr(v6), 40000);
    let theirs = SocketAddr::new(Lab::kernel_addr(v6), 80);
    let d = Driver::new(lab.tun, Endpoint::new(cfg));
    let sampler = Sampler::start(d.epoch(), theirs, ours);
    let mut l = Lab2 {
        d,
        ours,
        theirs,
        sampler,
    };
    let keep = drive(o, &mut l)?;
    l.settle()?;
    let samples = l.sampler.finish();
    let peer = Peer::Linux {
        kernel_side: Side::B,
        release,
    };
    let mut t = build_trace(
        &l.d,
        Side::B,
        (ours, theirs),
        peer,
        samples,
        (o.scenario, o.profile),
        o.client_isn.is_some(),
    );
    t.closer = o.closer;
    drop(keep);
    Ok(t)
}

/// Sockets that must outlive the run (closing them would show states the
/// scenario never had).
type Keep = (Option<TcpListener>, Vec<TcpStream>);

fn drive(o: &Options, l: &mut Lab2) -> Result<Keep, NetError> {
    let (ours, theirs) = (l.ours, l.theirs);
    let listen = || TcpListener::bind(theirs).map_err(io);
    match o.scenario {
        Scenario::SimultaneousOpen => {
            // The kernel's SYN waits on the device while ours goes out.
            let k = crate::connect_from(theirs, ours).map_err(io)?;
            let h = l.d.ep.connect(l.d.now(), ours, theirs).map_err(cmd)?;
            l.d.flush()?;
            l.connected(h)?;
            l.until(SEC, |_| {
                crate::kernel::state_of(theirs, ours) == Some("ESTABLISHED")
            })?;
            Ok((None, vec![k]))
        }
        Scenario::OldDuplicate => {
            let listener = listen()?;
            // Our SYN is lost and goes again after 1 s; meanwhile an old
            // duplicate SYN from our address reaches the kernel.
            l.d.faults.push(Fault::DropNth {
                dir: Dir::ToKernel,
                n: 1,
            });
            let h = l.d.ep.connect(l.d.now(), ours, theirs).map_err(cmd)?;
            l.d.flush()?;
            let iss = l.d.ep.connection(h).map_or(0, |c| c.iss().get());
            let old = l.craft(
                ours,
                TcpFlags::SYN,
                iss.wrapping_sub(synack_explain::more::OLD_DISTANCE),
            )?;
            l.d.inject(&old)?;
            l.connected(h)?;
            let s = l.accept(&listener)?;
            Ok((Some(listener), vec![s]))
        }
        Scenario::HalfOpen => {
            let listener = listen()?;
            let (_, s) = l.open(ours, &listener)?;
            l.until(SEC / 5, |_| false)?;
            // synack reboots: every TCB gone, another ISN key.
            let mut cfg =
                l.d.ep
                    .config()
                    .clone()
                    .with_secrets(*b"synack-reboot-ky", 3);
            if let IsnMode::Fixed(n) = cfg.isn {
                cfg.isn = IsnMode::Fixed(n.wrapping_add(1_000_000));
            }
            l.d.ep = Endpoint::new(cfg);
            let (_, s2) = l.open(ours, &listener)?;
            Ok((Some(listener), vec![s, s2]))
        }
        Scenario::SynFlood => {
            let listener = crate::listen_with_backlog(theirs, FLOOD_BACKLOG).map_err(io)?;
            let spoofed: IpAddr = if theirs.is_ipv4() {
                IpAddr::from(SPOOFED_V4)
            } else {
                IpAddr::from([0xfd77, 0, 0, 0, 0, 0, 0, 0x66])
            };
            l.d.faults.push(Fault::Blackhole(spoofed));
            // One more than the backlog: Linux calls the queue full only
            // when it holds more than the backlog.
            for i in 0..=FLOOD_BACKLOG as u16 {
                let from = SocketAddr::new(spoofed, 20_000 + i * 7);
                let syn = l.craft(from, TcpFlags::SYN, 0x5eed_0000 + u32::from(i) * 977)?;
                l.d.inject(&syn)?;
            }
            l.until(SEC / 10, |_| false)?;
            // The kernel holds nothing for us until our ACK arrives.
            let (_, s) = l.open(ours, &listener)?;
            Ok((Some(listener), vec![s]))
        }
        Scenario::Ecn => {
            let listener = listen()?;
            let (_, s) = l.open(ours, &listener)?;
            // The second connection's ECN-setup SYN (our 3rd segment) is lost.
            l.d.faults.push(Fault::DropNth {
                dir: Dir::ToKernel,
                n: 3,
            });
            let second = SocketAddr::new(ours.ip(), ours.port() + 1);
            let (_, s2) = l.open(second, &listener)?;
            Ok((Some(listener), vec![s, s2]))
        }
        Scenario::FastOpen => {
            let listener = listen()?;
            crate::set_fastopen(&listener, 16).map_err(io)?;
            let mut streams = Vec::new();
            for k in 0..2u16 {
                let from = SocketAddr::new(ours.ip(), ours.port() + k);
                l.d.ep
                    .connect_with_data(l.d.now(), from, theirs, REQUEST)
                    .map_err(cmd)?;
                let mut s = l.accept(&listener)?;
                let mut b = vec![0u8; REQUEST.len()];
                let mut got = 0;
                while got < b.len() {
                    l.until(SEC / 20, |_| false)?;
                    match s.read(&mut b[got..]) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(io(e)),
                    }
                }
                streams.push(s);
            }
            if let Some(s) = streams.last_mut() {
                s.write_all(RESPONSE).map_err(io)?;
            }
            l.until(2 * SEC, |d| d.has_event(Event::Readable))?;
            Ok((Some(listener), streams))
        }
        Scenario::Isn => {
            // Two 4-tuples, three rounds half a second apart; each connection
            // is aborted so the next round can reuse its tuple.
            let listener = listen()?;
            let start = l.d.elapsed();
            for round in 0..3u32 {
                let at = start + SEC * round / 2;
                l.until(at.saturating_sub(l.d.elapsed()), |_| false)?;
                for k in 0..2u16 {
                    let from = SocketAddr::new(ours.ip(), ours.port() + k);
                    let h = l.d.ep.connect(l.d.now(), from, theirs).map_err(cmd)?;
                    l.connected(h)?;
                    let _ = listener.accept();
                    l.d.ep.abort(l.d.now(), h).map_err(cmd)?;
                    l.d.flush()?;
                }
            }
            Ok((Some(listener), vec![]))
        }
        Scenario::SimultaneousClose | Scenario::LastAckLost | Scenario::Abort => {
            let listener = listen()?;
            let (h, s) = l.open(ours, &listener)?;
            l.until(SEC / 5, |_| false)?;
            match o.scenario {
                Scenario::SimultaneousClose => {
                    s.shutdown(Shutdown::Write).map_err(io)?;
                    l.d.ep.close(l.d.now(), h).map_err(cmd)?;
                    l.d.flush()?;
                    l.until(3 * SEC, |d| {
                        d.ep.connection(h)
                            .is_some_and(|c| c.state() == State::TimeWait)
                    })?;
                    Ok((Some(listener), vec![s]))
                }
                Scenario::LastAckLost => {
                    // We close first; the kernel answers EOF with its FIN;
                    // our last ACK is lost, so its FIN comes again.
                    l.d.ep.close(l.d.now(), h).map_err(cmd)?;
                    l.until(SEC, |_| {
                        crate::kernel::state_of(theirs, ours) == Some("CLOSE_WAIT")
                    })?;
                    let sent = l.d.log.iter().filter(|c| c.dir == Dir::ToKernel).count();
                    l.d.faults.push(Fault::DropNth {
                        dir: Dir::ToKernel,
                        n: sent + 1,
                    });
                    drop(s);
                    l.until(5 * SEC, |_| crate::kernel::state_of(theirs, ours).is_none())?;
                    Ok((Some(listener), vec![]))
                }
                _ => {
                    l.d.ep.abort(l.d.now(), h).map_err(cmd)?;
                    l.d.flush()?;
                    l.until(SEC / 2, |_| crate::kernel::state_of(theirs, ours).is_none())?;
                    Ok((Some(listener), vec![s]))
                }
            }
        }
        Scenario::TimeWaitRst => {
            // The kernel closes first and holds TIME_WAIT; a RST with its
            // RCV.NXT then arrives from our address.
            let listener = listen()?;
            let (h, s) = l.open(ours, &listener)?;
            l.until(SEC / 5, |_| false)?;
            drop(s);
            l.until(2 * SEC, |d| d.has_event(Event::PeerClosed))?;
            l.d.ep.close(l.d.now(), h).map_err(cmd)?;
            l.until(2 * SEC, |_| {
                crate::kernel::state_of(theirs, ours) == Some("TIME_WAIT")
            })?;
            l.until(SEC / 5, |_| false)?;
            let fin =
                l.d.log
                    .iter()
                    .filter(|c| c.dir == Dir::ToKernel)
                    .filter_map(|c| synack_wire::parse_segment(&c.bytes, false).ok())
                    .find(|p| p.tcp.flags.fin())
                    .map(|p| p.tcp.seq.get().wrapping_add(1))
                    .ok_or_else(|| cmd("no FIN of ours"))?;
            let rst = l.craft(ours, TcpFlags::RST, fin)?;
            l.d.inject(&rst)?;
            l.until(SEC, |_| crate::kernel::state_of(theirs, ours).is_none())?;
            Ok((Some(listener), vec![]))
        }
        s => Err(cmd(format!("{}: no run against the kernel", s.name()))),
    }
}
