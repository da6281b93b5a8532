//! Beyond the textbook handshake, against the Linux kernel over TUN:
//! simultaneous open, an old duplicate SYN, RFC 5961, SYN cookies, ECN,
//! Fast Open and the close variants. Each test makes its own namespace;
//! without the rights it skips when `CI` is unset and fails when it is set.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use common::in_lab;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use synack_engine::{Config, ConnHandle, Ecn, Endpoint, Event, Note, State};
use synack_net::{Dir, Driver, Fault, Lab, kernel, lab};
use synack_wire::{
    FastOpenCookie, IpHeader, OptionLayout, SeqNum, TcpFlags, TcpOptions, TcpRepr, emit_segment,
    parse_segment,
};

fn linux() -> Config {
    Config::linux().with_secrets([9; 16], 9)
}

const SEC: Duration = Duration::from_secs(1);

/// (flags, seq, ack, options, payload length) of what the kernel sent.
fn from_kernel(d: &Driver) -> Vec<(TcpFlags, u32, u32, TcpOptions, usize)> {
    d.log
        .iter()
        .filter(|c| c.dir == Dir::FromKernel)
        .filter_map(|c| parse_segment(&c.bytes, false).ok())
        .map(|p| {
            (
                p.tcp.flags,
                p.tcp.seq.get(),
                p.tcp.ack.get(),
                p.tcp.options,
                p.tcp.payload.len(),
            )
        })
        .collect()
}

fn craft(
    src: SocketAddr,
    dst: SocketAddr,
    flags: TcpFlags,
    seq: u32,
    ack: u32,
    options: TcpOptions,
) -> Vec<u8> {
    craft_data(src, dst, flags, seq, ack, options, &[])
}

fn craft_data(
    src: SocketAddr,
    dst: SocketAddr,
    flags: TcpFlags,
    seq: u32,
    ack: u32,
    options: TcpOptions,
    payload: &[u8],
) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags,
        window: 64240,
        urgent: 0,
        options,
        payload,
    };
    let mut buf = vec![0u8; 200 + payload.len()];
    let n = emit_segment(
        &mut buf,
        &IpHeader::new(src.ip(), dst.ip()),
        &repr,
        OptionLayout::Linux,
    )
    .unwrap();
    buf.truncate(n);
    buf
}

fn syn_opts() -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        ..TcpOptions::default()
    }
}

/// synack (client) connected to a kernel listener; the accepted stream.
struct Up {
    /// Kept open: the port keeps listening.
    #[allow(dead_code)]
    listener: TcpListener,
    d: Driver,
    h: ConnHandle,
    stream: TcpStream,
    local: SocketAddr,
    remote: SocketAddr,
}

fn connect_up(lab: Lab, cfg: Config, port: u16) -> Up {
    let listener = TcpListener::bind((Lab::kernel_addr(false), port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut d = Driver::new(lab.tun, Endpoint::new(cfg));
    let local = SocketAddr::new(Lab::synack_addr(false), 40000);
    let remote = listener.local_addr().unwrap();
    let h = d.ep.connect(d.now(), local, remote).unwrap();
    assert!(
        d.run_until(3 * SEC, |d| d.has_event(Event::Connected))
            .unwrap()
    );
    let stream = accept(&mut d, &listener);
    Up {
        listener,
        d,
        h,
        stream,
        local,
        remote,
    }
}

/// The kernel's socket was reset: reading it says so.
fn assert_reset(s: &mut TcpStream) {
    let mut b = [0u8; 1];
    s.set_read_timeout(Some(SEC)).unwrap();
    let e = s.read(&mut b).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

/// The kernel's side of a connection the driver is completing (nonblocking
/// listener, turned until accept() succeeds); reads time out after 3 s.
fn accept(d: &mut Driver, listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let mut got = None;
    assert!(
        d.run_until(3 * SEC, |_| {
            got = listener.accept().ok();
            got.is_some()
        })
        .unwrap()
    );
    let s = got.unwrap().0;
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(3 * SEC)).unwrap();
    s
}

fn notes(d: &Driver) -> Vec<Note> {
    d.steps
        .iter()
        .filter_map(|s| match s.action {
            synack_engine::Action::Note(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// Linux: rules 6, 19.
#[test]
fn simultaneous_open_with_the_kernel() {
    in_lab(|lab| {
        let mut d = Driver::new(lab.tun, Endpoint::new(linux()));
        let ours = SocketAddr::new(Lab::synack_addr(false), 5000);
        let theirs = SocketAddr::new(Lab::kernel_addr(false), 6000);
        // The kernel's SYN leaves first and waits on the device; ours goes
        // out before we read it: the two SYNs cross.
        let mut k = synack_net::connect_from(theirs, ours).unwrap();
        let h = d.ep.connect(d.now(), ours, theirs).unwrap();
        d.flush().unwrap();
        assert!(
            d.run_until(3 * SEC, |d| d.has_event(Event::Connected))
                .unwrap()
        );
        assert!(
            d.run_until(SEC, |_| kernel::state_of(theirs, ours)
                == Some("ESTABLISHED"))
                .unwrap()
        );
        // We went through SYN-RECEIVED (rule 6), not straight to ESTABLISHED.
        assert!(d.steps.iter().any(|s| s.after.state == State::SynReceived));
        let k_flags: Vec<TcpFlags> = from_kernel(&d).iter().map(|x| x.0).collect();
        assert_eq!(k_flags.first(), Some(&TcpFlags::SYN));
        assert!(k_flags.contains(&TcpFlags::SYN_ACK), "{k_flags:?}");
        // Data both ways over the connection neither side listened for.
        k.set_nonblocking(false).unwrap();
        k.write_all(b"crossed").unwrap();
        assert!(
            d.run_until(3 * SEC, |d| d
                .ep
                .connection(h)
                .is_some_and(|c| c.readable() >= 7))
                .unwrap()
        );
        d.ep.send(d.now(), h, b"ok").unwrap();
        d.flush().unwrap();
        k.set_read_timeout(Some(3 * SEC)).unwrap();
        let mut b = [0u8; 2];
        k.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ok");
    });
}

/// Linux: rules 2, 19, 22.
#[test]
fn old_duplicate_syn_into_the_kernel_listener_is_vetoed() {
    in_lab(|lab| {
        let listener = TcpListener::bind((Lab::kernel_addr(false), 8080)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let remote = listener.local_addr().unwrap();
        let local = SocketAddr::new(Lab::synack_addr(false), 40000);
        let mut d = Driver::new(lab.tun, Endpoint::new(linux()));
        // Our own SYN is lost and goes again after 1 s: meanwhile an old
        // duplicate SYN from our address arrives first.
        d.faults.push(Fault::DropNth {
            dir: Dir::ToKernel,
            n: 1,
        });
        d.ep.connect(d.now(), local, remote).unwrap();
        d.flush().unwrap();
        let old_isn = 90u32;
        d.inject(&craft(local, remote, TcpFlags::SYN, old_isn, 0, syn_opts()))
            .unwrap();
        assert!(
            d.run_until(3 * SEC, |d| d.has_event(Event::Connected))
                .unwrap()
        );
        let k = from_kernel(&d);
        // The kernel answered the ghost: SYN-ACK acknowledging 91.
        assert_eq!((k[0].0, k[0].2), (TcpFlags::SYN_ACK, old_isn + 1), "{k:?}");
        // We vetoed it with <SEQ=91><CTL=RST> (rule 2).
        let rst = d
            .log
            .iter()
            .filter(|c| c.dir == Dir::ToKernel)
            .filter_map(|c| parse_segment(&c.bytes, false).ok())
            .find(|p| p.tcp.flags.rst())
            .unwrap();
        assert_eq!(rst.tcp.seq.get(), old_isn + 1);
        // The kernel dropped the ghost and accepted the real connection.
        accept(&mut d, &listener);
        // Its second SYN-ACK acknowledges our real ISN.
        let ours =
            d.ep.find(&synack_engine::Tuple { local, remote })
                .unwrap()
                .iss();
        assert!(
            k.iter()
                .chain(from_kernel(&d).iter())
                .any(|x| x.0 == TcpFlags::SYN_ACK && x.2 == ours.get().wrapping_add(1))
        );
    });
}

/// Linux: rules 31, 32, 33.
#[test]
fn kernel_answers_blind_rst_and_syn_with_challenge_acks() {
    in_lab(|lab| {
        let mut up = connect_up(lab, linux(), 8081);
        let c = up.d.ep.connection(up.h).unwrap().vars();
        let (rcv_nxt_kernel, our_rcv) = (c.snd_nxt.get(), c.rcv_nxt.get());
        let acks = |d: &Driver| {
            from_kernel(d)
                .iter()
                .filter(|x| x.0 == TcpFlags::ACK && x.4 == 0)
                .count()
        };
        let before = acks(&up.d);
        // Out of the window: dropped silently.
        up.d.inject(&craft(
            up.local,
            up.remote,
            TcpFlags::RST,
            rcv_nxt_kernel.wrapping_add(1 << 30),
            0,
            TcpOptions::default(),
        ))
        .unwrap();
        up.d.run_until(SEC / 5, |_| false).unwrap();
        assert_eq!(acks(&up.d), before);
        // In the window, not exact: one challenge ACK with the kernel's
        // RCV.NXT; a second within 500 ms gets none (rate limit).
        for _ in 0..2 {
            up.d.inject(&craft(
                up.local,
                up.remote,
                TcpFlags::RST,
                rcv_nxt_kernel.wrapping_add(100),
                0,
                TcpOptions::default(),
            ))
            .unwrap();
            up.d.run_until(SEC / 10, |_| false).unwrap();
        }
        let k = from_kernel(&up.d);
        let challenge: Vec<_> = k
            .iter()
            .filter(|x| x.0 == TcpFlags::ACK && x.4 == 0)
            .skip(before)
            .collect();
        assert_eq!(challenge.len(), 1, "{k:?}");
        assert_eq!((challenge[0].1, challenge[0].2), (our_rcv, rcv_nxt_kernel));
        assert_eq!(kernel::state_of(up.remote, up.local), Some("ESTABLISHED"));
        // A SYN in ESTABLISHED, after the limit's 500 ms: a challenge ACK too.
        up.d.run_until(SEC * 6 / 10, |_| false).unwrap();
        up.d.inject(&craft(
            up.local,
            up.remote,
            TcpFlags::SYN,
            12345,
            0,
            syn_opts(),
        ))
        .unwrap();
        up.d.run_until(SEC / 5, |_| false).unwrap();
        assert_eq!(acks(&up.d), before + 2);
        assert_eq!(kernel::state_of(up.remote, up.local), Some("ESTABLISHED"));
        // The exact RST resets it.
        up.d.inject(&craft(
            up.local,
            up.remote,
            TcpFlags::RST,
            rcv_nxt_kernel,
            0,
            TcpOptions::default(),
        ))
        .unwrap();
        up.d.run_until(SEC / 5, |_| false).unwrap();
        assert_reset(&mut up.stream);
    });
}

/// Linux: rules 2, 24, 31, 33.
#[test]
fn rebooted_synack_reconnects_through_the_kernels_challenge_ack() {
    in_lab(|lab| {
        let mut up = connect_up(lab, linux(), 8082);
        // synack reboots: all state gone, a new ISN key. It opens again from
        // the same port.
        up.d.ep = Endpoint::new(Config::linux().with_secrets([77; 16], 77));
        let h = up.d.ep.connect(up.d.now(), up.local, up.remote).unwrap();
        let ok =
            up.d.run_until(4 * SEC, |d| {
                d.ep.connection(h)
                    .is_some_and(|c| c.state() == State::Established)
            })
            .unwrap();
        assert!(ok);
        // The kernel's answer to the new SYN was an ACK (the challenge), our
        // reply the RST with that ack as seq, then the retried SYN got in.
        let k = from_kernel(&up.d);
        let first_after = k.iter().rev().find(|x| x.0 == TcpFlags::SYN_ACK).unwrap();
        assert!(k.iter().any(|x| x.0 == TcpFlags::ACK && x.4 == 0));
        assert!(
            up.d.steps
                .iter()
                .any(|s| s.rule == synack_engine::Rule::SynSentBadAck)
        );
        let iss = up.d.ep.connection(h).unwrap().iss().get();
        assert_eq!(first_after.2, iss.wrapping_add(1));
        // The kernel's old socket was reset.
        assert_reset(&mut up.stream);
    });
}

/// Linux: rules 43, 45.
#[test]
fn kernel_syn_cookies_keep_no_state_and_carry_options_in_tsval() {
    in_lab(|lab| {
        lab::sysctl("net/ipv4/tcp_syncookies", "2").unwrap();
        // No random per-connection offset: the cookie's option bits show.
        lab::sysctl("net/ipv4/tcp_timestamps", "2").unwrap();
        let listener = TcpListener::bind((Lab::kernel_addr(false), 8083)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let remote = listener.local_addr().unwrap();
        let local = SocketAddr::new(Lab::synack_addr(false), 40000);
        let mut d = Driver::new(lab.tun, Endpoint::new(linux()));
        // Our third ACK is lost: the kernel has nothing to retransmit.
        d.faults.push(Fault::DropNth {
            dir: Dir::ToKernel,
            n: 2,
        });
        let h = d.ep.connect(d.now(), local, remote).unwrap();
        assert!(
            d.run_until(3 * SEC, |d| d.has_event(Event::Connected))
                .unwrap()
        );
        d.run_until(SEC * 3 / 2, |_| false).unwrap();
        let k = from_kernel(&d);
        let synacks: Vec<_> = k.iter().filter(|x| x.0 == TcpFlags::SYN_ACK).collect();
        assert_eq!(
            synacks.len(),
            1,
            "a cookie SYN-ACK is never retransmitted: {k:?}"
        );
        assert_eq!(kernel::state_of(remote, local), None, "no SYN_RECV socket");
        // TSval's low 6 bits: our window scale 7, SACK (0x10), no ECN.
        let (tsval, _) = synacks[0].3.timestamps.unwrap();
        assert_eq!(tsval & 0x3f, 7 | 0x10);
        // Data from us carries the ACK with the cookie: the kernel rebuilds
        // the connection from it.
        d.ep.send(d.now(), h, b"via cookie").unwrap();
        let mut s = accept(&mut d, &listener);
        let mut b = [0u8; 10];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"via cookie");
        // A forged cookie ACK from another port builds nothing.
        let other = SocketAddr::new(local.ip(), 40001);
        d.inject(&craft(
            other,
            remote,
            TcpFlags::ACK,
            1000,
            0xdead_beef,
            TcpOptions::default(),
        ))
        .unwrap();
        d.run_until(SEC / 5, |_| false).unwrap();
        assert!(listener.accept().is_err());
    });
}

/// Linux: rules 9, 40.
#[test]
fn ecn_with_the_kernel_as_server_and_as_client() {
    in_lab(|lab| {
        // tcp_ecn=2 (the default): the kernel accepts ECN when asked.
        let cfg = Config {
            ecn: Ecn::Request,
            ..linux()
        };
        let up = connect_up(lab, cfg, 8084);
        let k = from_kernel(&up.d);
        let synack = k.iter().find(|x| x.0.syn()).unwrap();
        assert_eq!(synack.0, TcpFlags::SYN_ACK | TcpFlags::ECE);
        assert!(up.d.ep.connection(up.h).unwrap().negotiated().ecn);
        assert!(notes(&up.d).contains(&Note::EcnAgreed));
    });
    // tcp_ecn=1: the kernel asks as a client; its first SYN is lost and the
    // retransmission is plain (rule 9), which gets a plain SYN-ACK.
    in_lab(|lab| {
        lab::sysctl("net/ipv4/tcp_ecn", "1").unwrap();
        let ours = SocketAddr::new(Lab::synack_addr(false), 9000);
        let mut d = Driver::new(lab.tun, Endpoint::new(linux()));
        d.ep.listen(ours).unwrap();
        d.faults.push(Fault::DropNth {
            dir: Dir::FromKernel,
            n: 1,
        });
        let client = std::thread::spawn(move || TcpStream::connect_timeout(&ours, 5 * SEC));
        assert!(
            d.run_until(5 * SEC, |d| d.has_event(Event::Accepted))
                .unwrap()
        );
        client.join().unwrap().unwrap();
        let syns: Vec<TcpFlags> = from_kernel(&d)
            .iter()
            .filter(|x| x.0.syn())
            .map(|x| x.0)
            .collect();
        let sec = TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR;
        assert_eq!(syns[..2], [sec, TcpFlags::SYN], "{syns:?}");
        // The plain retransmission gets a plain SYN-ACK.
        let ours_synack = d
            .log
            .iter()
            .filter(|c| c.dir == Dir::ToKernel)
            .filter_map(|c| c.flags())
            .find(|f| f.syn())
            .unwrap();
        assert_eq!(ours_synack, TcpFlags::SYN_ACK);
    });
    in_lab(|lab| {
        lab::sysctl("net/ipv4/tcp_ecn", "1").unwrap();
        let ours = SocketAddr::new(Lab::synack_addr(false), 9001);
        let mut d = Driver::new(lab.tun, Endpoint::new(linux()));
        d.ep.listen(ours).unwrap();
        let client = std::thread::spawn(move || TcpStream::connect_timeout(&ours, 5 * SEC));
        assert!(
            d.run_until(5 * SEC, |d| d.has_event(Event::Accepted))
                .unwrap()
        );
        client.join().unwrap().unwrap();
        let synack = d
            .log
            .iter()
            .filter(|c| c.dir == Dir::ToKernel)
            .filter_map(|c| c.flags())
            .find(|f| f.syn())
            .unwrap();
        assert_eq!(synack, TcpFlags::SYN_ACK | TcpFlags::ECE);
        assert!(notes(&d).contains(&Note::EcnAgreed));
    });
}

/// Linux: rule 41.
#[test]
fn fast_open_with_the_kernel_listener() {
    in_lab(|lab| {
        lab::sysctl("net/ipv4/tcp_fastopen", "3").unwrap();
        let listener = TcpListener::bind((Lab::kernel_addr(false), 8085)).unwrap();
        synack_net::set_fastopen(&listener, 16).unwrap();
        listener.set_nonblocking(true).unwrap();
        let remote = listener.local_addr().unwrap();
        let cfg = Config {
            fast_open: true,
            ..linux()
        };
        let mut d = Driver::new(lab.tun, Endpoint::new(cfg));
        let accept_hello = |d: &mut Driver| {
            let mut s = accept(d, &listener);
            let mut b = [0u8; 5];
            s.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"hello");
        };
        // First connection: a cookie request; the kernel gives a cookie.
        let a = SocketAddr::new(Lab::synack_addr(false), 41000);
        d.ep.connect_with_data(d.now(), a, remote, b"hello")
            .unwrap();
        accept_hello(&mut d);
        let k = from_kernel(&d);
        let cookie = k
            .iter()
            .find(|x| x.0.syn())
            .and_then(|x| x.3.fast_open)
            .unwrap();
        assert!(!cookie.is_request() && cookie.as_bytes().len() >= 4);
        assert!(notes(&d).contains(&Note::FastOpenCookieLearned));
        // Second: data on the SYN, acknowledged by the SYN-ACK.
        let b = SocketAddr::new(Lab::synack_addr(false), 41001);
        let seen = k.len();
        let h =
            d.ep.connect_with_data(d.now(), b, remote, b"hello")
                .unwrap();
        accept_hello(&mut d);
        let iss = d.ep.connection(h).unwrap().iss().get();
        let k = from_kernel(&d);
        let synack = k[seen..].iter().find(|x| x.0.syn()).unwrap();
        assert_eq!(
            synack.2,
            iss.wrapping_add(1 + 5),
            "the SYN-ACK acknowledges the data"
        );
        // Third, with a forged cookie: the kernel takes only the SYN, we
        // send the data again after the handshake.
        d.ep.remember_fast_open_cookie(remote.ip(), FastOpenCookie::new(&[1; 8]).unwrap());
        let c = SocketAddr::new(Lab::synack_addr(false), 41002);
        let seen = from_kernel(&d).len();
        let h =
            d.ep.connect_with_data(d.now(), c, remote, b"hello")
                .unwrap();
        accept_hello(&mut d);
        let iss = d.ep.connection(h).unwrap().iss().get();
        let k = from_kernel(&d);
        let synack = k[seen..].iter().find(|x| x.0.syn()).unwrap();
        assert_eq!(
            synack.2,
            iss.wrapping_add(1),
            "only the SYN is acknowledged"
        );
        assert!(
            notes(&d).contains(&Note::FastOpenDataResent { bytes: 5 }),
            "{:?}",
            notes(&d)
        );
    });
}

/// Linux: rules 48, 49.
#[test]
fn simultaneous_close_with_the_kernel_ends_in_time_wait_on_both_sides() {
    in_lab(|lab| {
        let mut up = connect_up(lab, linux(), 8086);
        // The kernel's FIN waits on the device while ours goes out.
        up.stream.shutdown(Shutdown::Write).unwrap();
        up.d.ep.close(up.d.now(), up.h).unwrap();
        up.d.flush().unwrap();
        assert!(
            up.d.run_until(3 * SEC, |d| d
                .ep
                .connection(up.h)
                .is_some_and(|c| c.state() == State::TimeWait))
                .unwrap()
        );
        assert!(up.d.steps.iter().any(|s| s.after.state == State::Closing));
        assert!(
            up.d.run_until(SEC, |_| kernel::state_of(up.remote, up.local)
                == Some("TIME_WAIT"))
                .unwrap()
        );
    });
}

/// Linux: rules 47, 49.
#[test]
fn lost_last_ack_both_ways_with_the_kernel() {
    // synack in LAST-ACK: the kernel's last ACK is lost, our FIN goes again,
    // the kernel in TIME_WAIT acknowledges it again.
    in_lab(|lab| {
        let mut up = connect_up(lab, linux(), 8087);
        up.stream.shutdown(Shutdown::Write).unwrap();
        assert!(
            up.d.run_until(3 * SEC, |d| d.has_event(Event::PeerClosed))
                .unwrap()
        );
        // Whatever the kernel sends next (the ACK of our FIN) is lost.
        let next = from_kernel(&up.d).len() + 1;
        up.d.faults.push(Fault::DropNth {
            dir: Dir::FromKernel,
            n: next,
        });
        up.d.ep.close(up.d.now(), up.h).unwrap();
        assert!(
            up.d.run_until(5 * SEC, |d| d.has_event(Event::Closed))
                .unwrap()
        );
        let fins =
            up.d.log
                .iter()
                .filter(|c| c.dir == Dir::ToKernel && c.flags().is_some_and(|f| f.fin()))
                .count();
        assert_eq!(fins, 2, "our FIN was retransmitted");
        assert_eq!(kernel::state_of(up.remote, up.local), Some("TIME_WAIT"));
    });
    // The kernel in LAST_ACK: our last ACK is lost, the kernel's FIN goes
    // again, we acknowledge it again from TIME-WAIT (rule 49).
    in_lab(|lab| {
        let mut up = connect_up(lab, linux(), 8088);
        up.d.ep.close(up.d.now(), up.h).unwrap();
        let mut b = [0u8; 1];
        up.stream.set_read_timeout(Some(3 * SEC)).unwrap();
        // Pump the driver while the kernel reads EOF.
        assert!(
            up.d.run_until(SEC, |_| kernel::state_of(up.remote, up.local)
                == Some("CLOSE_WAIT"))
                .unwrap()
        );
        let sent = up.d.log.iter().filter(|c| c.dir == Dir::ToKernel).count();
        up.d.faults.push(Fault::DropNth {
            dir: Dir::ToKernel,
            n: sent + 1,
        });
        assert_eq!(up.stream.read(&mut b).unwrap(), 0);
        drop(up.stream);
        assert!(
            up.d.run_until(5 * SEC, |_| kernel::state_of(up.remote, up.local).is_none())
                .unwrap()
        );
        let kfins = from_kernel(&up.d).iter().filter(|x| x.0.fin()).count();
        assert_eq!(kfins, 2, "the kernel's FIN was retransmitted");
        assert_eq!(
            up.d.ep.connection(up.h).map(|c| c.state()),
            Some(State::TimeWait)
        );
    });
}

/// Linux: rules 50, 53, 54.
#[test]
fn rst_in_time_wait_and_abort_with_the_kernel() {
    // RST into the kernel's TIME_WAIT: with tcp_rfc1337=0 (the default)
    // Linux removes it (the RFC 9293 choice, not RFC 1337's).
    in_lab(|lab| {
        let mut up = connect_up(lab, linux(), 8089);
        drop(up.stream);
        assert!(
            up.d.run_until(3 * SEC, |d| d.has_event(Event::PeerClosed))
                .unwrap()
        );
        up.d.ep.close(up.d.now(), up.h).unwrap();
        assert!(
            up.d.run_until(3 * SEC, |d| d.has_event(Event::Closed))
                .unwrap()
        );
        assert_eq!(kernel::state_of(up.remote, up.local), Some("TIME_WAIT"));
        let snd_nxt =
            up.d.log
                .iter()
                .filter(|c| c.dir == Dir::ToKernel)
                .filter_map(|c| parse_segment(&c.bytes, false).ok())
                .find(|p| p.tcp.flags.fin())
                // The kernel's RCV.NXT: just past our FIN.
                .map(|p| p.tcp.seq.get().wrapping_add(1))
                .unwrap();
        up.d.inject(&craft(
            up.local,
            up.remote,
            TcpFlags::RST,
            snd_nxt,
            0,
            TcpOptions::default(),
        ))
        .unwrap();
        assert!(
            up.d.run_until(SEC, |_| kernel::state_of(up.remote, up.local).is_none())
                .unwrap()
        );
    });
    // ABORT: our RST with SEQ=SND.NXT resets the kernel's socket.
    in_lab(|lab| {
        let mut up = connect_up(lab, linux(), 8090);
        up.d.ep.abort(up.d.now(), up.h).unwrap();
        up.d.flush().unwrap();
        assert_reset(&mut up.stream);
        assert_eq!(kernel::state_of(up.remote, up.local), None);
    });
}

/// Linux: rules 11, 12, 16, 21, 23, 26, 38.
#[test]
fn kernel_listener_resets_acks_ignores_rsts_and_does_not_ack_syn_data() {
    in_lab(|lab| {
        let listener = TcpListener::bind((Lab::kernel_addr(false), 8091)).unwrap();
        let remote = listener.local_addr().unwrap();
        let mut d = Driver::new(lab.tun, Endpoint::new(linux()));
        let a = SocketAddr::new(Lab::synack_addr(false), 42000);
        // A RST to a listener: no answer (rule 11).
        d.inject(&craft(
            a,
            remote,
            TcpFlags::RST,
            5,
            0,
            TcpOptions::default(),
        ))
        .unwrap();
        d.run_until(SEC / 5, |_| false).unwrap();
        assert!(from_kernel(&d).is_empty());
        // An ACK to a listener: <SEQ=SEG.ACK><CTL=RST> (rule 12).
        d.inject(&craft(
            a,
            remote,
            TcpFlags::ACK,
            5,
            7777,
            TcpOptions::default(),
        ))
        .unwrap();
        d.run_until(SEC / 5, |_| false).unwrap();
        let k = from_kernel(&d);
        assert_eq!((k[0].0, k[0].1), (TcpFlags::RST, 7777), "{k:?}");
        // A SYN with 10 bytes and no Fast Open: the SYN-ACK acknowledges only
        // the SYN (rule 21).
        let b = SocketAddr::new(Lab::synack_addr(false), 42001);
        d.inject(&craft_data(
            b,
            remote,
            TcpFlags::SYN,
            1000,
            0,
            syn_opts(),
            b"0123456789",
        ))
        .unwrap();
        d.run_until(SEC / 5, |_| false).unwrap();
        let k = from_kernel(&d);
        let synack = k.iter().find(|x| x.0 == TcpFlags::SYN_ACK).unwrap();
        assert_eq!(synack.2, 1001);
        // Then an ACK that acknowledges the wrong number: RST (rule 16).
        let seen = k.len();
        d.inject(&craft(
            b,
            remote,
            TcpFlags::ACK,
            1001,
            synack.1.wrapping_add(9),
            TcpOptions::default(),
        ))
        .unwrap();
        d.run_until(SEC / 5, |_| false).unwrap();
        let k = from_kernel(&d);
        assert!(
            k[seen..]
                .iter()
                .any(|x| x.0 == TcpFlags::RST && x.1 == synack.1.wrapping_add(9)),
            "{k:?}"
        );
        // A SYN-ACK reaching the listener (for an old SYN of its own): RST
        // with its ack as seq (rule 23).
        let seen = k.len();
        let c = SocketAddr::new(Lab::synack_addr(false), 42002);
        d.inject(&craft(c, remote, TcpFlags::SYN_ACK, 300, 4444, syn_opts()))
            .unwrap();
        d.run_until(SEC / 5, |_| false).unwrap();
        let k = from_kernel(&d);
        assert!(
            k[seen..]
                .iter()
                .any(|x| x.0 == TcpFlags::RST && x.1 == 4444),
            "{k:?}"
        );
        // A RST to a port where nothing listens: never answered (rule 26).
        let seen = k.len();
        let closed = SocketAddr::new(remote.ip(), 8099);
        d.inject(&craft(
            c,
            closed,
            TcpFlags::RST_ACK,
            1,
            1,
            TcpOptions::default(),
        ))
        .unwrap();
        d.run_until(SEC / 5, |_| false).unwrap();
        assert_eq!(from_kernel(&d).len(), seen);
        // An unknown option (kind 99) on a SYN is ignored (rule 38).
        let mut opts = syn_opts();
        assert!(opts.unknown.push(99, &[1, 2]));
        let e = SocketAddr::new(Lab::synack_addr(false), 42003);
        d.inject(&craft(e, remote, TcpFlags::SYN, 500, 0, opts))
            .unwrap();
        d.run_until(SEC / 5, |_| false).unwrap();
        let k = from_kernel(&d);
        assert!(
            k[seen..]
                .iter()
                .any(|x| x.0 == TcpFlags::SYN_ACK && x.2 == 501),
            "{k:?}"
        );
    });
}

/// Linux: rule 42.
#[test]
fn kernel_isns_on_one_tuple_follow_its_clock() {
    // Linux: ISN = SipHash(tuple, secret) + (ns >> 6). Two connections on
    // the same 4-tuple, some time apart: the ISNs differ by the elapsed
    // time in 64 ns ticks; another tuple at the same time is unrelated.
    in_lab(|lab| {
        let listener = TcpListener::bind((Lab::kernel_addr(false), 8095)).unwrap();
        let remote = listener.local_addr().unwrap();
        let mut d = Driver::new(lab.tun, Endpoint::new(linux()));
        let isn_at = |d: &mut Driver, seq: u32, from: SocketAddr| {
            let seen = d.log.len();
            d.inject(&craft(from, remote, TcpFlags::SYN, seq, 0, syn_opts()))
                .unwrap();
            d.run_until(SEC / 5, |d| d.log.len() > seen + 1).unwrap();
            let c = d.log[seen + 1..]
                .iter()
                .find(|c| c.dir == Dir::FromKernel)
                .unwrap()
                .clone();
            let p = parse_segment(&c.bytes, false).unwrap();
            assert_eq!(p.tcp.flags, TcpFlags::SYN_ACK);
            let isn = p.tcp.seq.get();
            // Free the tuple again: our RST drops the request.
            d.inject(&craft(
                from,
                remote,
                TcpFlags::RST,
                seq.wrapping_add(1),
                0,
                TcpOptions::default(),
            ))
            .unwrap();
            (c.at, isn)
        };
        let a = SocketAddr::new(Lab::synack_addr(false), 43000);
        let (t1, i1) = isn_at(&mut d, 1000, a);
        d.run_until(SEC / 2, |_| false).unwrap();
        let (t2, i2) = isn_at(&mut d, 2000, a);
        let ticks = (t2 - t1).as_nanos() as f64 / 64.0;
        let got = f64::from(i2.wrapping_sub(i1));
        assert!(
            (got - ticks).abs() < 0.01 * ticks,
            "ISN advanced {got}, clock {ticks:.0} ticks"
        );
        let b = SocketAddr::new(Lab::synack_addr(false), 43001);
        let (t3, i3) = isn_at(&mut d, 3000, b);
        let if_same = f64::from(i2) + (t3 - t2).as_nanos() as f64 / 64.0;
        assert!(
            (f64::from(i3) - if_same).abs() > 1e6,
            "another tuple, another offset"
        );
    });
}

/// Linux: rules 25, 27.
#[test]
fn kernel_data_to_a_forgotten_connection_is_reset() {
    in_lab(|lab| {
        let mut up = connect_up(lab, linux(), 8092);
        // synack forgets the connection; the kernel's next data meets no TCB.
        up.d.ep = Endpoint::new(linux());
        up.stream.write_all(b"anyone?").unwrap();
        assert!(
            up.d.run_until(SEC, |d| d
                .log
                .iter()
                .any(|c| c.dir == Dir::ToKernel && c.flags() == Some(TcpFlags::RST)))
                .unwrap()
        );
        assert_reset(&mut up.stream);
    });
}

/// Linux: rules 29, 30, 51.
#[test]
fn kernel_acks_unacceptable_segments_and_holds_a_fin_after_a_hole() {
    in_lab(|lab| {
        let mut up = connect_up(lab, linux(), 8093);
        let c = up.d.ep.connection(up.h).unwrap().vars();
        let (snd, rcv) = (c.snd_nxt.get(), c.rcv_nxt.get());
        let before = from_kernel(&up.d).len();
        // Data far outside the window: an ACK with the kernel's RCV.NXT, no data taken.
        up.d.inject(&craft_data(
            up.local,
            up.remote,
            TcpFlags::ACK | TcpFlags::PSH,
            snd.wrapping_add(1 << 30),
            rcv,
            TcpOptions::default(),
            b"zz",
        ))
        .unwrap();
        up.d.run_until(SEC / 5, |_| false).unwrap();
        let k = from_kernel(&up.d);
        assert!(
            k[before..]
                .iter()
                .any(|x| x.0 == TcpFlags::ACK && x.2 == snd),
            "{k:?}"
        );
        // A FIN after a 100-byte hole: held, the kernel stays ESTABLISHED.
        up.d.run_until(SEC * 6 / 10, |_| false).unwrap();
        up.d.inject(&craft(
            up.local,
            up.remote,
            TcpFlags::FIN_ACK,
            snd.wrapping_add(100),
            rcv,
            TcpOptions::default(),
        ))
        .unwrap();
        up.d.run_until(SEC / 5, |_| false).unwrap();
        assert_eq!(kernel::state_of(up.remote, up.local), Some("ESTABLISHED"));
    });
}

/// Linux: rules 52, 54.
#[test]
fn kernel_closing_with_unread_data_resets() {
    in_lab(|lab| {
        let mut up = connect_up(lab, linux(), 8094);
        up.d.ep.send(up.d.now(), up.h, b"unread").unwrap();
        up.d.run_until(SEC / 5, |_| false).unwrap();
        drop(up.stream);
        assert!(up.d.run_until(SEC, |d| d.has_event(Event::Reset)).unwrap());
        assert!(!up.d.has_event(Event::PeerClosed));
    });
}

/// Linux: rules 47, 51.
#[test]
fn kernel_fin_rides_on_its_last_data_segment() {
    // Our window holds 1000 bytes; the kernel writes 1500 and shuts down:
    // the last 500 wait for our window and leave with the FIN.
    in_lab(|lab| {
        let cfg = Config {
            recv_window: 1000,
            window_scale: None,
            ..linux()
        };
        let mut up = connect_up(lab, cfg, 8096);
        up.stream.write_all(&[b'x'; 1500]).unwrap();
        up.stream.shutdown(Shutdown::Write).unwrap();
        assert!(
            up.d.run_until(SEC, |d| d
                .ep
                .connection(up.h)
                .is_some_and(|c| c.readable() == 1000))
                .unwrap()
        );
        let mut buf = [0u8; 1000];
        assert_eq!(up.d.ep.recv(up.h, &mut buf).unwrap(), 1000);
        // The kernel probes the closed window; our answer opens it.
        assert!(
            up.d.run_until(5 * SEC, |d| d.has_event(Event::PeerClosed))
                .unwrap()
        );
        let fin = from_kernel(&up.d).into_iter().find(|x| x.0.fin()).unwrap();
        assert_eq!(fin.4, 500, "the FIN came with the last 500 bytes");
        assert_eq!(up.d.ep.connection(up.h).unwrap().readable(), 500);
        assert_eq!(up.d.ep.connection(up.h).unwrap().state(), State::CloseWait);
    });
}

/// Linux: rules 5, 10.
#[test]
fn kernel_in_syn_sent_drops_a_bare_ack_and_closes_without_rst() {
    in_lab(|lab| {
        let mut d = Driver::new(lab.tun, Endpoint::new(linux()));
        // Nobody answers the kernel: its packets never reach the engine.
        d.faults.push(Fault::DropAll {
            dir: Dir::FromKernel,
        });
        let ours = SocketAddr::new(Lab::synack_addr(false), 7000);
        let theirs = SocketAddr::new(Lab::kernel_addr(false), 7001);
        let k = synack_net::connect_from(theirs, ours).unwrap();
        d.run_until(SEC / 5, |_| false).unwrap();
        let syn = from_kernel(&d)
            .into_iter()
            .find(|x| x.0 == TcpFlags::SYN)
            .unwrap();
        // An ACK of the SYN without SYN or RST: dropped (rule 5).
        let before = from_kernel(&d).len();
        d.inject(&craft(
            ours,
            theirs,
            TcpFlags::ACK,
            5000,
            syn.1.wrapping_add(1),
            TcpOptions::default(),
        ))
        .unwrap();
        d.run_until(SEC / 5, |_| false).unwrap();
        assert_eq!(from_kernel(&d).len(), before, "no answer");
        assert_eq!(kernel::state_of(theirs, ours), Some("SYN_SENT"));
        // CLOSE in SYN-SENT: the socket goes, no RST (rule 10).
        drop(k);
        d.run_until(SEC / 2, |_| false).unwrap();
        assert!(
            from_kernel(&d).iter().all(|x| !x.0.rst()),
            "{:?}",
            from_kernel(&d)
        );
        assert_eq!(kernel::state_of(theirs, ours), None);
    });
}

/// Linux: rules 18, 34.
/// (On rule 18 Linux takes its own way; see below.)
#[test]
fn kernel_half_open_meets_a_new_syn_and_an_ack_of_unsent_data_gets_an_ack() {
    in_lab(|lab| {
        let listener = TcpListener::bind((Lab::kernel_addr(false), 8097)).unwrap();
        let remote = listener.local_addr().unwrap();
        let mut d = Driver::new(lab.tun, Endpoint::new(linux()));
        let a = SocketAddr::new(Lab::synack_addr(false), 44000);
        d.inject(&craft(a, remote, TcpFlags::SYN, 1000, 0, syn_opts()))
            .unwrap();
        d.run_until(SEC / 5, |_| false).unwrap();
        let seen = from_kernel(&d).len();
        // A new SYN (another ISN) on the half-open tuple.
        d.inject(&craft(a, remote, TcpFlags::SYN, 90_000, 0, syn_opts()))
            .unwrap();
        d.run_until(SEC / 5, |_| false).unwrap();
        let k = from_kernel(&d);
        let reply: Vec<_> = k[seen..].iter().map(|x| (x.0, x.2)).collect();
        // Linux differs from rule 18 here: RFC 9293 returns a passive
        // SYN-RECEIVED to LISTEN and answers nothing; Linux 6.x answers the
        // new SYN with a SYN-ACK of its own, as a fresh request.
        assert_eq!(reply, [(TcpFlags::SYN_ACK, 90_001)]);
        drop(listener);
    });
    in_lab(|lab| {
        let mut up = connect_up(lab, linux(), 8098);
        let c = up.d.ep.connection(up.h).unwrap().vars();
        let (snd, rcv) = (c.snd_nxt.get(), c.rcv_nxt.get());
        let before = from_kernel(&up.d).len();
        // SEG.ACK beyond what the kernel sent: an ACK back, nothing taken.
        up.d.inject(&craft(
            up.local,
            up.remote,
            TcpFlags::ACK,
            snd,
            rcv.wrapping_add(5000),
            TcpOptions::default(),
        ))
        .unwrap();
        up.d.run_until(SEC / 5, |_| false).unwrap();
        let k = from_kernel(&up.d);
        assert!(
            k[before..]
                .iter()
                .any(|x| x.0 == TcpFlags::ACK && x.2 == snd),
            "{k:?}"
        );
        assert_eq!(kernel::state_of(up.remote, up.local), Some("ESTABLISHED"));
    });
}
