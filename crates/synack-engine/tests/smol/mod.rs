//! smoltcp on an in-memory IP device (no Ethernet), for interop tests and
//! the side-by-side benchmark. Packets are plain `Vec<u8>` IP datagrams.
#![allow(dead_code)]

use std::collections::VecDeque;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{ChecksumCapabilities, Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

#[derive(Default)]
pub struct Queue {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: VecDeque<Vec<u8>>,
}

pub struct Rx(Vec<u8>);
pub struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut v = vec![0; len];
        let r = f(&mut v);
        self.0.push_back(v);
        r
    }
}

impl Device for Queue {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((Rx(p), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ip;
        c.max_transmission_unit = 1500;
        // Compute and verify every checksum.
        c.checksum = ChecksumCapabilities::default();
        c
    }
}

/// One smoltcp host: an interface with `addr/24`, its device and sockets.
pub struct Host {
    pub iface: Interface,
    pub dev: Queue,
    pub sockets: SocketSet<'static>,
    pub socket: SocketHandle,
}

impl Host {
    pub fn new(addr: [u8; 4], seed: u64, timestamps: bool) -> Host {
        let mut dev = Queue::default();
        let mut cfg = Config::new(HardwareAddress::Ip);
        cfg.random_seed = seed;
        let mut iface = Interface::new(cfg, &mut dev, Instant::ZERO);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(
                IpAddress::v4(addr[0], addr[1], addr[2], addr[3]),
                24,
            ));
        });
        let mut sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 8192]),
            tcp::SocketBuffer::new(vec![0; 8192]),
        );
        sock.set_ack_delay(None);
        sock.set_nagle_enabled(false);
        if timestamps {
            sock.set_tsval_generator(Some(|| 4242));
        }
        let mut sockets = SocketSet::new(Vec::new());
        let socket = sockets.add(sock);
        Host {
            iface,
            dev,
            sockets,
            socket,
        }
    }

    pub fn tcp(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(self.socket)
    }

    pub fn poll(&mut self, now_us: u64) {
        self.iface.poll(
            Instant::from_micros(now_us as i64),
            &mut self.dev,
            &mut self.sockets,
        );
    }

    pub fn connect(&mut self, remote: ([u8; 4], u16), local_port: u16) {
        let (a, p) = remote;
        let sock = self.sockets.get_mut::<tcp::Socket>(self.socket);
        sock.connect(
            self.iface.context(),
            (IpAddress::v4(a[0], a[1], a[2], a[3]), p),
            local_port,
        )
        .expect("smoltcp connect");
    }
}
