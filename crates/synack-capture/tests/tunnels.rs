//! Handshakes inside tunnels: IP in IP (both families), GRE (plain, keyed,
//! bridging Ethernet, PPTP's enhanced GRE carrying PPP), ERSPAN types I to
//! III, VXLAN (4789 and Linux's 8472), Geneve (carrying Ethernet and IP),
//! a tunnel inside a tunnel, a segment fragmented inside a tunnel and a
//! tunnel packet fragmented itself. Each capture holds an established
//! handshake and a refused SYN between inner addresses; analyze must find
//! both with the frames tshark decodes as their SYNs and SYN-ACKs, and
//! count the tunnel packets. (The kernel's own VXLAN is the CLI's
//! `analyze_tunnels.rs`: this kernel builds no other tunnel.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::net::{IpAddr, SocketAddr};
use std::process::Command;

use synack_capture::synth;
use synack_wire::tunnel::Tunnel;
use synack_wire::{IpHeader, TcpFlags, TcpOptions, Unreachable, emit_unreachable};

const C4: &str = "192.168.50.1";
const S4: &str = "192.168.50.2";
const C6: &str = "2001:db8:50::1";
const S6: &str = "2001:db8:50::2";

/// An outer IP packet of `protocol` from `a` to `b` around `payload`.
fn ip(a: &str, b: &str, protocol: u8, payload: &[u8]) -> Vec<u8> {
    let (a, b): (IpAddr, IpAddr) = (a.parse().unwrap(), b.parse().unwrap());
    let mut p = vec![0u8; 40 + payload.len()];
    let hl = IpHeader::new(a, b)
        .emit_protocol(&mut p, payload.len(), protocol)
        .unwrap();
    p.truncate(hl);
    p.extend_from_slice(payload);
    p
}

fn udp(dst_port: u16, body: &[u8]) -> Vec<u8> {
    let mut u = [40000u16, dst_port, (8 + body.len()) as u16, 0]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect::<Vec<u8>>();
    u.extend_from_slice(body);
    u
}

/// An Ethernet frame of IP around `packet`.
fn ether(packet: &[u8]) -> Vec<u8> {
    let t: [u8; 2] = if packet[0] >> 4 == 6 {
        [0x86, 0xdd]
    } else {
        [0x08, 0]
    };
    let mut e = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, t[0], t[1]];
    e.extend_from_slice(packet);
    e
}

/// A GRE header (`flags`, `protocol`, the optional words as given) then
/// `body`.
fn gre(flags: u16, protocol: u16, words: &[u32], body: &[u8]) -> Vec<u8> {
    let mut g: Vec<u8> = [flags, protocol]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect();
    g.extend(words.iter().flat_map(|w| w.to_be_bytes()));
    g.extend_from_slice(body);
    g
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// How each case wraps an inner IP packet.
type Wrap = fn(&[u8]) -> Vec<u8>;

fn cases() -> Vec<(&'static str, Tunnel, bool, Wrap)> {
    vec![
        ("ipip", Tunnel::IpInIp, false, |p| {
            ip("10.0.0.1", "10.0.0.2", 4, p)
        }),
        ("6in4", Tunnel::IpInIp, true, |p| {
            ip("10.0.0.1", "10.0.0.2", 41, p)
        }),
        ("4in6", Tunnel::IpInIp, false, |p| {
            ip("fd00::1", "fd00::2", 4, p)
        }),
        ("gre", Tunnel::Gre, false, |p| {
            ip("10.0.0.1", "10.0.0.2", 47, &gre(0, 0x0800, &[], p))
        }),
        ("gre key seq csum", Tunnel::Gre, true, |p| {
            let g = gre(0xb000, 0x86dd, &[0, 7, 1], p);
            ip("10.0.0.1", "10.0.0.2", 47, &g)
        }),
        ("gretap", Tunnel::Gre, false, |p| {
            ip(
                "10.0.0.1",
                "10.0.0.2",
                47,
                &gre(0x2000, 0x6558, &[9], &ether(p)),
            )
        }),
        ("pptp", Tunnel::Gre, false, |p| {
            let ppp = cat(&[&[0xff, 0x03, 0x00, 0x21], p]);
            let key = ((ppp.len() as u32) << 16) | 0x1234;
            ip(
                "10.0.0.1",
                "10.0.0.2",
                47,
                &gre(0x3081, 0x880b, &[key, 5, 4], &ppp),
            )
        }),
        ("pptp compressed", Tunnel::Gre, false, |p| {
            let ppp = cat(&[&[0x21], p]);
            let key = ((ppp.len() as u32) << 16) | 0x1234;
            ip(
                "10.0.0.1",
                "10.0.0.2",
                47,
                &gre(0x3001, 0x880b, &[key, 5], &ppp),
            )
        }),
        ("erspan1", Tunnel::Erspan, false, |p| {
            ip("10.0.0.1", "10.0.0.2", 47, &gre(0, 0x88be, &[], &ether(p)))
        }),
        ("erspan2", Tunnel::Erspan, false, |p| {
            let e = cat(&[&[0x10, 0, 0, 0x64, 0, 0, 0, 3], &ether(p)]);
            ip("10.0.0.1", "10.0.0.2", 47, &gre(0x1000, 0x88be, &[1], &e))
        }),
        ("erspan3", Tunnel::Erspan, false, |p| {
            let h = [0x20, 0, 0, 0x64, 0, 0, 0, 9, 0, 0, 0, 0];
            let e = cat(&[&h, &ether(p)]);
            ip("10.0.0.1", "10.0.0.2", 47, &gre(0x1000, 0x22eb, &[1], &e))
        }),
        ("erspan3 platform", Tunnel::Erspan, true, |p| {
            let h = [0x20, 0, 0, 0x64, 0, 0, 0, 9, 0, 0, 0, 1];
            let e = cat(&[&h, &[0x08, 0, 0, 0, 0, 0, 0, 0], &ether(p)]);
            ip("10.0.0.1", "10.0.0.2", 47, &gre(0x1000, 0x22eb, &[1], &e))
        }),
        ("vxlan", Tunnel::Vxlan, false, |p| {
            let v = cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &ether(p)]);
            ip("10.0.0.1", "10.0.0.2", 17, &udp(4789, &v))
        }),
        ("vxlan v6", Tunnel::Vxlan, true, |p| {
            let v = cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &ether(p)]);
            ip("fd00::1", "fd00::2", 17, &udp(4789, &v))
        }),
        ("geneve", Tunnel::Geneve, false, |p| {
            let h = [0x02, 0, 0x65, 0x58, 0, 0, 42, 0, 1, 2, 3, 1, 0, 0, 0, 0];
            let g = cat(&[&h, &ether(p)]);
            ip("10.0.0.1", "10.0.0.2", 17, &udp(6081, &g))
        }),
        ("geneve ip", Tunnel::Geneve, false, |p| {
            let g = cat(&[&[0, 0, 0x08, 0x00, 0, 0, 42, 0], p]);
            ip("10.0.0.1", "10.0.0.2", 17, &udp(6081, &g))
        }),
        ("ipip in vxlan", Tunnel::Vxlan, false, |p| {
            let inner = ip("10.9.0.1", "10.9.0.2", 4, p);
            let v = cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &ether(&inner)]);
            ip("10.0.0.1", "10.0.0.2", 17, &udp(4789, &v))
        }),
    ]
}

/// An established handshake and a refused SYN, as inner IP packets.
fn handshakes(v6: bool) -> Vec<Vec<u8>> {
    let (c, s) = if v6 { (C6, S6) } else { (C4, S4) };
    let at = |ip: &str, port: u16| SocketAddr::new(ip.parse().unwrap(), port);
    let (c1, s80, c2, s81) = (at(c, 40001), at(s, 80), at(c, 40002), at(s, 81));
    let mss = TcpOptions {
        mss: Some(1400),
        ..TcpOptions::default()
    };
    let seg = |a, b, flags, seq, ack, o| synth::ip_segment(a, b, flags, seq, ack, 0, o).unwrap();
    let none = TcpOptions::default();
    vec![
        seg(c1, s80, TcpFlags::SYN, 1000, 0, mss),
        seg(s80, c1, TcpFlags::SYN_ACK, 5000, 1001, mss),
        seg(c1, s80, TcpFlags::ACK, 1001, 5001, none),
        seg(c2, s81, TcpFlags::SYN, 7000, 0, mss),
        seg(
            s81,
            c2,
            TcpFlags(TcpFlags::RST.0 | TcpFlags::ACK.0),
            0,
            7001,
            none,
        ),
    ]
}

fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let frames: Vec<(f64, Vec<u8>)> = packets
        .iter()
        .enumerate()
        .map(|(i, p)| (1.0 + i as f64 * 0.01, p.clone()))
        .collect();
    synth::raw_pcap(&frames)
}

/// (SYN frames, SYN-ACK frames) by tshark, or `None` without it.
fn tshark(name: &str, file: &[u8], extra: &[&str]) -> Option<(Vec<u64>, Vec<u64>)> {
    // A directory per case: the tests run side by side.
    let case = name.replace(' ', "-");
    let dir = std::env::temp_dir().join(format!("synack-tunnels-{}-{case}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.pcap");
    std::fs::write(&path, file).unwrap();
    let frames = |filter: &str| {
        let out = Command::new("tshark")
            .args(extra)
            .args(["-Y", filter, "-T", "fields", "-e", "frame.number", "-r"])
            .arg(&path)
            .output();
        match out {
            Ok(o) => Some(
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(|l| l.trim().parse().unwrap())
                    .collect(),
            ),
            Err(e) => {
                assert!(std::env::var_os("CI").is_none(), "CI is set: tshark: {e}");
                eprintln!("SKIPPED the tshark check: {e}");
                None
            }
        }
    };
    let syns = frames("tcp.flags.syn == 1 && tcp.flags.ack == 0");
    let synacks = frames("tcp.flags.syn == 1 && tcp.flags.ack == 1");
    let _ = std::fs::remove_dir_all(&dir);
    Some((syns?, synacks?))
}

/// The attempts analyze finds, their totals.
fn analyze(file: &[u8]) -> (Vec<synack_capture::Attempt>, synack_capture::Totals) {
    let mut attempts = Vec::new();
    let t = synack_capture::analyze_each(file, "t", |a| attempts.push(a.clone())).unwrap();
    attempts.sort_by_key(|a| a.first_frame);
    (attempts, t)
}

fn count(t: &synack_capture::Totals, k: Tunnel) -> u64 {
    let i = Tunnel::ALL.iter().position(|&x| x == k).unwrap();
    t.tunnelled[i]
}

fn check(name: &str, file: &[u8], tunnel: Tunnel, tunnelled: u64, extra: &[&str]) {
    let (a, t) = analyze(file);
    assert_eq!(a.len(), 2, "{name}: {a:?}");
    assert_eq!(a[0].outcome.name(), "established", "{name}");
    assert_eq!(a[1].outcome.name(), "refused", "{name}");
    assert_eq!(a[0].server.port(), 80, "{name}: the inner ports");
    assert_eq!(
        a[0].client.ip().to_string(),
        if a[0].ip_version == 6 { C6 } else { C4 },
        "{name}: the inner addresses"
    );
    assert_eq!(a[0].bad_checksums + a[1].bad_checksums, 0, "{name}");
    assert_eq!(count(&t, tunnel), tunnelled, "{name}");
    let total: u64 = t.tunnelled.iter().sum();
    assert_eq!(
        total, tunnelled,
        "{name}: counted once, as the outer tunnel"
    );
    let syns: Vec<u64> = a.iter().flat_map(|x| x.syn_frames.clone()).collect();
    let synacks: Vec<u64> = a.iter().flat_map(|x| x.synack_frames.clone()).collect();
    if let Some((ts, tsa)) = tshark(name, file, extra) {
        assert_eq!((syns, synacks), (ts, tsa), "{name}: as tshark decodes it");
    }
    // The same on two threads, split (bytes) and dealt (a frame filter).
    let outcomes = |v: &[synack_capture::Attempt]| -> Vec<(u64, String)> {
        v.iter()
            .map(|x| (x.first_frame, x.outcome.name().to_string()))
            .collect()
    };
    for dealt in [false, true] {
        let mut two = Vec::new();
        let pass = synack_capture::Pass::new(1000);
        let mut all = |_: &synack_capture::reader::Frame<'_>| true;
        let keep: Option<&mut dyn FnMut(&synack_capture::reader::Frame<'_>) -> bool> =
            if dealt { Some(&mut all) } else { None };
        let t2 = synack_capture::analyze_parallel(
            file,
            "t",
            pass,
            2,
            keep,
            |_| {},
            |x| two.push(x.clone()),
        )
        .unwrap();
        two.sort_by_key(|x| x.first_frame);
        assert_eq!(
            outcomes(&two),
            outcomes(&a),
            "{name}: two threads, dealt {dealt}"
        );
        assert_eq!(
            t2.tunnelled, t.tunnelled,
            "{name}: two threads, dealt {dealt}"
        );
        assert_eq!(
            t2.reassembled, t.reassembled,
            "{name}: two threads, dealt {dealt}"
        );
    }
}

#[test]
fn handshakes_inside_each_tunnel_are_found_as_tshark_decodes_them() {
    for (name, tunnel, v6, wrap) in cases() {
        let packets: Vec<Vec<u8>> = handshakes(v6).iter().map(|p| wrap(p)).collect();
        check(name, &pcap(&packets), tunnel, 5, &[]);
    }
}

#[test]
fn linuxs_vxlan_port_is_opened_too() {
    let packets: Vec<Vec<u8>> = handshakes(false)
        .iter()
        .map(|p| {
            let v = cat(&[&[0x08, 0, 0, 0, 0, 0, 1, 0], &ether(p)]);
            ip("10.0.0.1", "10.0.0.2", 17, &udp(8472, &v))
        })
        .collect();
    // tshark decodes 8472 as VXLAN only when told.
    check(
        "8472",
        &pcap(&packets),
        Tunnel::Vxlan,
        5,
        &["-d", "udp.port==8472,vxlan"],
    );
}

/// IPv4 fragments of `packet` (no options): its payload in pieces of
/// `size` bytes (a multiple of 8).
fn fragments(packet: &[u8], size: usize, id: u16) -> Vec<Vec<u8>> {
    let (head, payload) = packet.split_at(20);
    payload
        .chunks(size)
        .enumerate()
        .map(|(i, chunk)| {
            let mut h = head.to_vec();
            h[2..4].copy_from_slice(&((20 + chunk.len()) as u16).to_be_bytes());
            h[4..6].copy_from_slice(&id.to_be_bytes());
            let more = (i + 1) * size < payload.len();
            let word = (i * size / 8) as u16 | if more { 0x2000 } else { 0 };
            h[6..8].copy_from_slice(&word.to_be_bytes());
            h[10..12].copy_from_slice(&[0, 0]);
            let sum = synack_wire::checksum::checksum(&h);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
            h.extend_from_slice(chunk);
            h
        })
        .collect()
}

#[test]
fn fragments_inside_a_tunnel_and_of_one_are_put_together() {
    let vxlan = |p: &[u8]| {
        let v = cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &ether(p)]);
        ip("10.0.0.1", "10.0.0.2", 17, &udp(4789, &v))
    };
    let inner = handshakes(false);
    // The SYN in two inner fragments, each in a VXLAN packet of its own.
    let mut packets: Vec<Vec<u8>> = fragments(&inner[0], 16, 9)
        .iter()
        .map(|f| vxlan(f))
        .collect();
    packets.extend(inner[1..].iter().map(|p| vxlan(p)));
    let (a, t) = analyze(&pcap(&packets));
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(
        (a[0].syn_frames.clone(), a[0].outcome.name()),
        (vec![2], "established")
    );
    assert_eq!((t.reassembled, count(&t, Tunnel::Vxlan)), (1, 6));
    check("inner fragments", &pcap(&packets), Tunnel::Vxlan, 6, &[]);

    // The VXLAN packet carrying the SYN-ACK in two outer fragments.
    let mut packets: Vec<Vec<u8>> = inner.iter().map(|p| vxlan(p)).collect();
    let pieces = fragments(&packets[1], 48, 10);
    packets.splice(1..2, pieces);
    let (a, t) = analyze(&pcap(&packets));
    assert_eq!(
        a[0].synack_frames,
        vec![3],
        "at the piece that completed it"
    );
    assert_eq!((t.reassembled, count(&t, Tunnel::Vxlan)), (1, 5));
    check("outer fragments", &pcap(&packets), Tunnel::Vxlan, 5, &[]);
}

#[test]
fn what_a_tunnel_holds_besides_tcp_is_not_counted() {
    // ARP in VXLAN, and UDP on the port without the I flag.
    let arp = [&[0xff; 6][..], &[2, 0, 0, 0, 0, 1, 0x08, 0x06], &[0; 28]].concat();
    let v = cat(&[&[0x08, 0, 0, 0, 0, 0, 42, 0], &arp]);
    let not_vxlan = cat(&[&[0, 0, 0, 0, 0, 0, 42, 0], &ether(&handshakes(false)[0])]);
    let packets = vec![
        ip("10.0.0.1", "10.0.0.2", 17, &udp(4789, &v)),
        ip("10.0.0.1", "10.0.0.2", 17, &udp(4789, &not_vxlan)),
    ];
    let (a, t) = analyze(&pcap(&packets));
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(t.tunnelled, [0; Tunnel::ALL.len()]);
}

#[test]
fn tunnels_nested_past_the_limit_are_left() {
    let mut p = handshakes(false)[0].clone();
    for _ in 0..20 {
        p = ip("10.0.0.1", "10.0.0.2", 4, &p);
    }
    let (a, t) = analyze(&pcap(&[p]));
    assert!(a.is_empty(), "deeper than opened: {a:?}");
    assert_eq!(t.tunnelled, [0; Tunnel::ALL.len()]);
}

/// A VXLAN packet of network `vni` around `p`.
fn vxlan_of(vni: u8, p: &[u8]) -> Vec<u8> {
    let v = cat(&[&[0x08, 0, 0, 0, 0, 0, vni, 0], &ether(p)]);
    ip("10.0.0.1", "10.0.0.2", 17, &udp(4789, &v))
}

#[test]
fn the_networks_the_tunnels_carry_are_listed_once_each() {
    let hs = handshakes(false);
    let packets: Vec<Vec<u8>> = hs
        .iter()
        .enumerate()
        .map(|(i, p)| vxlan_of(if i < 3 { 1 } else { 2 }, p))
        .collect();
    let (_, t) = analyze(&pcap(&packets));
    assert_eq!(
        t.tunnel_networks,
        vec![(Tunnel::Vxlan, 1), (Tunnel::Vxlan, 2)]
    );
    let one: Vec<Vec<u8>> = hs.iter().map(|p| vxlan_of(7, p)).collect();
    assert_eq!(
        analyze(&pcap(&one)).1.tunnel_networks,
        vec![(Tunnel::Vxlan, 7)]
    );
    // GRE and IP in IP name no network.
    let gre: Vec<Vec<u8>> = hs
        .iter()
        .map(|p| ip("10.0.0.1", "10.0.0.2", 4, p))
        .collect();
    assert!(analyze(&pcap(&gre)).1.tunnel_networks.is_empty());
    // As many as there are, up to the limit.
    let many: Vec<Vec<u8>> = (0..100u8).map(|i| vxlan_of(i, &hs[0])).collect();
    let n = analyze(&pcap(&many)).1.tunnel_networks.len();
    assert_eq!(n, synack_capture::MAX_TUNNEL_NETWORKS);
}

/// A Geneve packet of network `vni` around the IP packet `p`.
fn geneve_of(vni: u8, p: &[u8]) -> Vec<u8> {
    let g = cat(&[&[0, 0, 0x08, 0x00, 0, 0, vni, 0], p]);
    ip("10.0.0.3", "10.0.0.4", 17, &udp(6081, &g))
}

/// An attempt's first frame, outcome, network and diagnosis.
type Row = (u64, String, Option<(Tunnel, u32)>, Option<String>);

/// The [`Row`]s of `file`'s attempts on one thread, split and dealt, the
/// three the same.
fn overlaid(name: &str, file: &[u8]) -> Vec<Row> {
    let row = |x: &synack_capture::Attempt| {
        (
            x.first_frame,
            x.outcome.name().to_string(),
            x.network.map(|n| (n.tunnel, n.id)),
            x.diagnosis
                .as_ref()
                .map(|d| format!("{:?} {}", d.id, d.reason)),
        )
    };
    let one: Vec<_> = analyze(file).0.iter().map(row).collect();
    for dealt in [false, true] {
        let mut two = Vec::new();
        let mut all = |_: &synack_capture::reader::Frame<'_>| true;
        let keep: Option<&mut dyn FnMut(&synack_capture::reader::Frame<'_>) -> bool> =
            if dealt { Some(&mut all) } else { None };
        let pass = synack_capture::Pass::new(1000);
        synack_capture::analyze_parallel(file, "t", pass, 2, keep, |_| {}, |x| two.push(row(x)))
            .unwrap();
        two.sort_by_key(|r| r.0);
        assert_eq!(two, one, "{name}: two threads, dealt {dealt}");
    }
    one
}

/// Two tenants' overlays (VXLAN 1, Geneve 1) and the plain network all
/// carrying 192.168.50.1:40001 -> 192.168.50.2:80 (or the IPv6 pair) at
/// once, their segments interleaved: established in VXLAN 1, an ICMP error
/// inside Geneve 1 quoting that network's SYN, refused in the plain one.
fn three_networks(v6: bool) -> Vec<u8> {
    let (c, s, router) = if v6 {
        (C6, S6, "2001:db8:50::fe")
    } else {
        (C4, S4, "192.168.50.254")
    };
    let at = |ip: &str, port: u16| SocketAddr::new(ip.parse().unwrap(), port);
    let (cl, sv) = (at(c, 40001), at(s, 80));
    let none = TcpOptions::default();
    let seg = |a, b, flags, seq, ack| synth::ip_segment(a, b, flags, seq, ack, 0, none).unwrap();
    let syn2 = seg(cl, sv, TcpFlags::SYN, 3000, 0);
    let mut icmp = vec![0u8; 1500];
    let why = Unreachable::AdminProhibited;
    let n = emit_unreachable(&mut icmp, router.parse().unwrap(), why, &syn2).unwrap();
    icmp.truncate(n);
    let rst_ack = TcpFlags(TcpFlags::RST.0 | TcpFlags::ACK.0);
    pcap(&[
        vxlan_of(1, &seg(cl, sv, TcpFlags::SYN, 1000, 0)),
        geneve_of(1, &syn2),
        seg(cl, sv, TcpFlags::SYN, 9000, 0),
        vxlan_of(1, &seg(sv, cl, TcpFlags::SYN_ACK, 5000, 1001)),
        geneve_of(1, &icmp),
        seg(sv, cl, rst_ack, 0, 9001),
        vxlan_of(1, &seg(cl, sv, TcpFlags::ACK, 1001, 5001)),
    ])
}

/// [`three_networks`] is three conversations, each answered in its own
/// network. Taken as one, the second SYN was a reused port and the first
/// SYN-ACK's ack a crafted mistake.
#[test]
fn one_4_tuple_in_two_overlay_networks_is_two_conversations() {
    for v6 in [false, true] {
        let file = three_networks(v6);
        let got = overlaid("two overlays", &file);
        let row = |frame, outcome: &str, net, diagnosis: &str| {
            (frame, outcome.to_string(), net, Some(diagnosis.to_string()))
        };
        let want = vec![
            (1, "established".to_string(), Some((Tunnel::Vxlan, 1)), None),
            row(
                2,
                "unreachable",
                Some((Tunnel::Geneve, 1)),
                "Icmp admin-prohibited",
            ),
            row(3, "refused", None, "Reset reset"),
        ];
        assert_eq!(got, want, "v6 {v6}");
        let (a, _) = analyze(&file);
        let json = |i: usize| serde_json::to_value(&a[i]).unwrap()["network"].clone();
        assert_eq!(json(0), serde_json::json!({"kind": "vxlan", "id": 1}));
        assert_eq!(json(2), serde_json::Value::Null);
        // nmap's table: the port in each network, with its own state (as
        // one host, the open answer outweighed the other two).
        let mut ports = synack_capture::ports::Ports::default();
        a.iter().for_each(|x| ports.add(x));
        let rows: Vec<_> = ports
            .rows()
            .map(|r| {
                (
                    r.network.map(|n| (n.tunnel, n.id)),
                    r.port,
                    r.state.name(),
                    r.reason,
                    r.attempts,
                )
            })
            .collect();
        let want = vec![
            (None, 80, "closed", "reset", 1),
            (Some((Tunnel::Vxlan, 1)), 80, "open", "syn-ack", 1),
            (
                Some((Tunnel::Geneve, 1)),
                80,
                "filtered",
                "admin-prohibited",
                1,
            ),
        ];
        assert_eq!(rows, want, "v6 {v6}");
    }
}

/// Two tenants' SYNs on one 4-tuple, each in two IP fragments with the
/// same IP id, in VXLAN 1 and VXLAN 2, their pieces interleaved: each
/// network's pieces make its own SYN (as one packet's, they overlapped
/// with different bytes and both were lost).
#[test]
fn fragments_are_put_together_within_their_network() {
    let at = |ip: &str, port: u16| SocketAddr::new(ip.parse().unwrap(), port);
    let (cl, sv) = (at(C4, 40001), at(S4, 80));
    let mss = TcpOptions {
        mss: Some(1400),
        ..TcpOptions::default()
    };
    let seg = |flags, seq, ack| synth::ip_segment(cl, sv, flags, seq, ack, 0, mss).unwrap();
    let one = fragments(&seg(TcpFlags::SYN, 1000, 0), 16, 9);
    let two = fragments(&seg(TcpFlags::SYN, 3000, 0), 16, 9);
    let packets = vec![
        vxlan_of(1, &one[0]),
        vxlan_of(2, &two[0]),
        vxlan_of(1, &one[1]),
        vxlan_of(2, &two[1]),
    ];
    let file = pcap(&packets);
    let (a, t) = analyze(&file);
    assert_eq!((t.reassembled, t.fragments_lost), (2, 0));
    let got: Vec<_> = a
        .iter()
        .map(|x| (x.syn_frames.clone(), x.client_isn, x.network.map(|n| n.id)))
        .collect();
    assert_eq!(
        got,
        vec![
            (vec![3], Some(1000), Some(1)),
            (vec![4], Some(3000), Some(2))
        ]
    );
    assert_eq!(overlaid("fragments in two networks", &file).len(), 2);
}

/// Direct server return: the balancer sends the client's segments to the
/// server in IP in IP, the server answers the client plain. A tunnel
/// without a network id keeps the segments in the network they were in:
/// one conversation, established.
#[test]
fn a_tunnel_without_a_network_id_keeps_one_conversation() {
    let at = |ip: &str, port: u16| SocketAddr::new(ip.parse().unwrap(), port);
    let (cl, sv) = (at(C4, 40001), at(S4, 80));
    let none = TcpOptions::default();
    let seg = |a, b, flags, seq, ack| synth::ip_segment(a, b, flags, seq, ack, 0, none).unwrap();
    let balanced = |p: &[u8]| ip("10.0.0.9", "10.0.0.2", 4, p);
    let packets = vec![
        balanced(&seg(cl, sv, TcpFlags::SYN, 1000, 0)),
        seg(sv, cl, TcpFlags::SYN_ACK, 5000, 1001),
        balanced(&seg(cl, sv, TcpFlags::ACK, 1001, 5001)),
    ];
    let got = overlaid("dsr", &pcap(&packets));
    assert_eq!(got, vec![(1, "established".to_string(), None, None)]);
}

/// An overlay inside another (a tenant's VXLAN carried in a Geneve
/// mirror): the segments are in the innermost network.
#[test]
fn the_innermost_overlay_is_the_network() {
    let packets: Vec<Vec<u8>> = handshakes(false)
        .iter()
        .map(|p| geneve_of(9, &vxlan_of(5, p)))
        .collect();
    let got = overlaid("nested", &pcap(&packets));
    let nets: Vec<_> = got.iter().map(|r| r.2).collect();
    assert_eq!(nets, vec![Some((Tunnel::Vxlan, 5)); 2], "{got:?}");
}
