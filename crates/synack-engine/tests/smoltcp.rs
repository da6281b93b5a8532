//! Interop with smoltcp, in process: our client ↔ smoltcp server and
//! smoltcp client ↔ our server. Both must reach ESTABLISHED, agree on ISNs
//! and options as seen on the wire (parsed by smoltcp's own parser), and
//! carry data both ways.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod smol;

use core::net::SocketAddr;

use smoltcp::socket::tcp::State as SmolState;
use smoltcp::wire::{Ipv4Packet, TcpPacket, TcpSeqNumber};
use synack_engine::{Config, ConnHandle, Endpoint, Event, Instant, State};

const OURS: [u8; 4] = [10, 0, 0, 1];
const SMOL: [u8; 4] = [10, 0, 0, 2];

fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
}

/// A segment as smoltcp's parser reads it.
#[derive(Debug)]
struct Wire {
    from_us: bool,
    syn: bool,
    seq: TcpSeqNumber,
    mss: Option<u16>,
    ws: Option<u8>,
    sack: bool,
    ts: bool,
}

fn parse(bytes: &[u8], from_us: bool) -> Wire {
    let ip = Ipv4Packet::new_checked(bytes).unwrap();
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    assert!(tcp.verify_checksum(&ip.src_addr().into(), &ip.dst_addr().into()));
    let mut w = Wire {
        from_us,
        syn: tcp.syn(),
        seq: tcp.seq_number(),
        mss: None,
        ws: None,
        sack: false,
        ts: false,
    };
    let mut opts = tcp.options();
    while !opts.is_empty() {
        let (rest, opt) = smoltcp::wire::TcpOption::parse(opts).unwrap();
        match opt {
            smoltcp::wire::TcpOption::MaxSegmentSize(m) => w.mss = Some(m),
            smoltcp::wire::TcpOption::WindowScale(s) => w.ws = Some(s),
            smoltcp::wire::TcpOption::SackPermitted => w.sack = true,
            smoltcp::wire::TcpOption::TimeStamp { .. } => w.ts = true,
            smoltcp::wire::TcpOption::EndOfList => break,
            _ => {}
        }
        opts = rest;
    }
    w
}

struct Lab {
    ep: Endpoint,
    host: smol::Host,
    now_us: u64,
    wire: Vec<Wire>,
    events: Vec<(ConnHandle, Event)>,
}

impl Lab {
    fn new(timestamps: bool) -> Lab {
        let mut cfg = Config::rfc();
        cfg.timestamps = timestamps;
        Lab {
            ep: Endpoint::new(cfg),
            host: smol::Host::new(SMOL, 7, timestamps),
            now_us: 1_000,
            wire: Vec::new(),
            events: Vec::new(),
        }
    }

    fn run(&mut self, rounds: usize) {
        let mut buf = [0u8; 2000];
        for _ in 0..rounds {
            self.host.poll(self.now_us);
            let now = Instant::from_micros(self.now_us);
            while let Some(p) = self.host.dev.tx.pop_front() {
                self.wire.push(parse(&p, false));
                self.ep.handle(now, &p).unwrap();
            }
            while let Some(t) = self.ep.poll_transmit(now, &mut buf).unwrap() {
                self.wire.push(parse(&buf[..t.len], true));
                self.host.dev.rx.push_back(buf[..t.len].to_vec());
            }
            while let Some(e) = self.ep.poll_event() {
                self.events.push(e);
            }
            self.now_us += 100;
            self.ep.handle_timeout(Instant::from_micros(self.now_us));
        }
    }

    fn syn(&self, from_us: bool) -> &Wire {
        self.wire
            .iter()
            .find(|w| w.from_us == from_us && w.syn)
            .unwrap()
    }

    /// Both sides saw the same ISNs and options.
    fn check_agreement(&self, ours: ConnHandle) {
        let c = self.ep.connection(ours).unwrap();
        let (our_syn, their_syn) = (self.syn(true), self.syn(false));
        assert_eq!(c.iss().get(), our_syn.seq.0 as u32);
        assert_eq!(c.irs().get(), their_syn.seq.0 as u32);
        let n = c.negotiated();
        assert_eq!(n.send_mss, their_syn.mss.unwrap().min(1460));
        assert_eq!(
            n.window_scaling,
            our_syn.ws.is_some() && their_syn.ws.is_some()
        );
        assert_eq!(n.snd_shift, their_syn.ws.unwrap_or(0));
        assert_eq!(n.sack, our_syn.sack && their_syn.sack);
        assert_eq!(n.timestamps, our_syn.ts && their_syn.ts);
        assert_eq!(c.peer_syn_options().mss, their_syn.mss);
    }

    fn exchange_data(&mut self, ours: ConnHandle) {
        let now = Instant::from_micros(self.now_us);
        assert_eq!(self.ep.send(now, ours, b"from synack").unwrap(), 11);
        self.run(5);
        let mut got = [0u8; 64];
        let n = self.host.tcp().recv_slice(&mut got).unwrap();
        assert_eq!(&got[..n], b"from synack");
        self.host.tcp().send_slice(b"from smoltcp").unwrap();
        self.run(5);
        let n = self.ep.recv(ours, &mut got).unwrap();
        assert_eq!(&got[..n], b"from smoltcp");
    }
}

fn our_client_to_smoltcp_server(timestamps: bool) {
    let mut lab = Lab::new(timestamps);
    lab.host.tcp().listen(80).unwrap();
    let h = lab
        .ep
        .connect(Instant::ZERO, addr(OURS, 40000), addr(SMOL, 80))
        .unwrap();
    lab.run(5);
    assert_eq!(lab.ep.connection(h).unwrap().state(), State::Established);
    assert_eq!(lab.host.tcp().state(), SmolState::Established);
    assert!(lab.events.contains(&(h, Event::Connected)));
    lab.check_agreement(h);
    lab.exchange_data(h);
    // Orderly close, us first.
    lab.ep.close(Instant::from_micros(lab.now_us), h).unwrap();
    lab.run(5);
    assert_eq!(lab.host.tcp().state(), SmolState::CloseWait);
    lab.host.tcp().close();
    lab.run(5);
    assert_eq!(lab.ep.connection(h).unwrap().state(), State::TimeWait);
    assert_eq!(lab.host.tcp().state(), SmolState::Closed);
}

fn smoltcp_client_to_our_server(timestamps: bool) {
    let mut lab = Lab::new(timestamps);
    lab.ep.listen(addr(OURS, 80)).unwrap();
    lab.host.connect((OURS, 80), 49152);
    lab.run(5);
    assert_eq!(lab.host.tcp().state(), SmolState::Established);
    let h = lab
        .events
        .iter()
        .find(|(_, e)| *e == Event::Accepted)
        .map(|(h, _)| *h)
        .expect("accepted");
    assert_eq!(lab.ep.connection(h).unwrap().state(), State::Established);
    lab.check_agreement(h);
    lab.exchange_data(h);
    // smoltcp closes first; we follow.
    lab.host.tcp().close();
    lab.run(5);
    assert_eq!(lab.ep.connection(h).unwrap().state(), State::CloseWait);
    lab.ep.close(Instant::from_micros(lab.now_us), h).unwrap();
    lab.run(5);
    assert!(lab.ep.connection(h).is_none());
    assert!(lab.events.contains(&(h, Event::Closed)));
    assert_eq!(lab.host.tcp().state(), SmolState::TimeWait);
}

#[test]
fn our_client_smoltcp_server() {
    our_client_to_smoltcp_server(false);
}

#[test]
fn our_client_smoltcp_server_with_timestamps() {
    our_client_to_smoltcp_server(true);
}

#[test]
fn smoltcp_client_our_server() {
    smoltcp_client_to_our_server(false);
}

#[test]
fn smoltcp_client_our_server_with_timestamps() {
    smoltcp_client_to_our_server(true);
}

#[test]
fn smoltcp_to_closed_port_is_refused() {
    let mut lab = Lab::new(false);
    lab.host.connect((OURS, 81), 49152);
    lab.run(5);
    assert_eq!(lab.host.tcp().state(), SmolState::Closed);
}
