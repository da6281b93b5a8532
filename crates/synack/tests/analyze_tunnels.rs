//! Connections carried by the kernel's own VXLAN, captured on the wire
//! beneath it, as cloud traffic mirroring and overlay networks hand them
//! to engineers: every segment is a UDP datagram between the tunnel's
//! ends. Two namespaces this test makes, a veth between them, and two
//! VXLAN devices over it: one on the IANA port 4789, one on Linux's
//! default 8472 (flannel's). analyze must find each tunnel's open and
//! refused port between the inner addresses, at the frames and with the
//! `tcp.stream` tshark decodes, on one thread and two, and say how many
//! packets it took out of tunnels. (Before it looked inside, it found
//! "0 connection attempts" here.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use common::Ns;

const SENTINEL: &[u8] = b"synack: the tunnels are done";
/// The underlay: the tunnel's ends.
const C: &str = "10.201.0.1";
const S: &str = "10.201.0.2";
/// Each tunnel: its VXLAN id, port (0: the kernel's default), and inner
/// subnet.
const TUNNELS: [(&str, &str, &str); 2] = [("42", "4789", "192.168.78"), ("43", "0", "192.168.79")];

/// The underlay: a pair of namespaces joined by a veth, eth0 in each, with
/// the addresses `C` and `S`.
fn underlay() -> (Ns, Ns) {
    let (c, s) = (Ns::new(), Ns::new());
    let peer = s.tid.to_string();
    c.ok(
        "ip",
        &[
            "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", &peer,
        ],
    );
    for (ns, me) in [(&c, C), (&s, S)] {
        ns.ok("ip", &["addr", "add", &format!("{me}/24"), "dev", "eth0"]);
        ns.ok("ip", &["link", "set", "eth0", "up"]);
    }
    (c, s)
}

/// The underlay and the VXLAN devices over it.
fn tunnels() -> (Ns, Ns) {
    let (c, s) = underlay();
    for (ns, me, other, host) in [(&c, C, S, "1"), (&s, S, C, "2")] {
        for (i, (id, port, net)) in TUNNELS.iter().enumerate() {
            let dev = format!("vx{i}");
            ns.ok(
                "ip",
                &[
                    "link", "add", &dev, "type", "vxlan", "id", id, "remote", other, "local", me,
                    "dstport", port, "dev", "eth0",
                ],
            );
            ns.ok(
                "ip",
                &["addr", "add", &format!("{net}.{host}/24"), "dev", &dev],
            );
            ns.ok("ip", &["link", "set", &dev, "up"]);
        }
    }
    (c, s)
}

/// Through each tunnel, a connection to port 80 (a listener) and a SYN to
/// 81 (none), captured on the client's eth0 into `file`; the capture ends
/// once a datagram sent after them all is in the file.
fn capture(file: &Path) {
    let (c, s) = tunnels();
    let listeners: Vec<TcpListener> = s.run(|| {
        TUNNELS
            .iter()
            .map(|(_, _, net)| TcpListener::bind(format!("{net}.2:80")).unwrap())
            .collect()
    });
    let path = file.to_path_buf();
    c.run(move || {
        let dump = common::tcpdump_on("eth0", &path, &[]);
        for (_, _, net) in TUNNELS {
            let open = TcpStream::connect(format!("{net}.2:80")).unwrap();
            drop(open);
            let refused = TcpStream::connect(format!("{net}.2:81"));
            assert!(refused.is_err(), "nothing listens on 81");
        }
        let udp = UdpSocket::bind(format!("{C}:0")).unwrap();
        udp.send_to(SENTINEL, format!("{S}:9")).unwrap();
        common::stop_once_written(dump, &path, SENTINEL);
    });
    drop(listeners);
}

/// (client, server, outcome, SYN frames, SYN-ACK frames, tcp.stream) of
/// each attempt, and the file's counts.
type Found = (String, String, String, Vec<u64>, Vec<u64>, Option<u64>);

fn attempts(out: &[u8]) -> (Vec<Found>, Value) {
    let v: Value = serde_json::from_slice(out).unwrap();
    let f = v["files"][0].clone();
    let frames = |x: &Value| -> Vec<u64> {
        x.as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect()
    };
    let mut a: Vec<Found> = f["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["client"].as_str().unwrap().to_string(),
                a["server"].as_str().unwrap().to_string(),
                a["outcome"].as_str().unwrap().to_string(),
                frames(&a["syn_frames"]),
                frames(&a["synack_frames"]),
                a["tcp_stream"].as_u64(),
            )
        })
        .collect();
    a.sort_by_key(|x| x.3.first().copied());
    (a, f)
}

/// SYN frames, SYN-ACK frames and each SYN's `tcp.stream`.
type Handshakes = (Vec<u64>, Vec<u64>, Vec<Option<u64>>);

/// tshark's [`Handshakes`].
fn tshark_handshakes(file: &Path) -> Option<Handshakes> {
    let args = ["-d", "udp.port==8472,vxlan", "-Y", "tcp.flags.syn == 1"];
    let fields = ["frame.number", "tcp.flags.ack", "tcp.stream"];
    let t = common::tshark_fields(file, &args, &fields)?;
    let (mut syns, mut synacks, mut streams) = (Vec::new(), Vec::new(), Vec::new());
    for l in t.lines() {
        let w: Vec<&str> = l.split('\t').collect();
        let n: u64 = w[0].parse().unwrap();
        if w[1] == "1" || w[1] == "True" {
            synacks.push(n);
        } else {
            syns.push(n);
            streams.push(Some(w[2].parse().unwrap()));
        }
    }
    Some((syns, synacks, streams))
}

#[test]
fn connections_in_the_kernels_vxlan_are_found_inside() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("tunnels");
    let file = scratch.join("vxlan.pcap");
    capture(&file);
    let name = file.to_str().unwrap();
    let one = common::synack_ok(["analyze", "--format", "json", "--threads", "1", name]);
    let (found, counts) = attempts(&one.stdout);
    assert_eq!(found.len(), 4, "{found:?}");
    for (i, (_, _, net)) in TUNNELS.iter().enumerate() {
        let (open, refused) = (&found[2 * i], &found[2 * i + 1]);
        assert!(open.0.starts_with(&format!("{net}.1:")), "{open:?}");
        assert_eq!(open.1, format!("{net}.2:80"));
        assert!(open.2 == "established" || open.2 == "closed", "{open:?}");
        assert_eq!((open.3.len(), open.4.len()), (1, 1), "{open:?}");
        assert_eq!(refused.1, format!("{net}.2:81"));
        assert_eq!(refused.2, "refused", "{refused:?}");
    }
    // Every TCP segment came out of VXLAN, and nothing else was counted.
    let tshark = |fields: &[&str]| {
        let args = ["-d", "udp.port==8472,vxlan", "-Y", "tcp"];
        common::tshark_fields(&file, &args, fields)
    };
    let tcp_frames = tshark(&["frame.number"]).map(|t| t.lines().count() as u64);
    let tunnelled = counts["tunnelled_packets"].clone();
    assert_eq!(tunnelled.as_object().unwrap().len(), 1, "{tunnelled}");
    let vxlan = tunnelled["vxlan"].as_u64().unwrap();
    assert!(vxlan >= 4 * 2, "{tunnelled}");
    if let Some(n) = tcp_frames {
        assert_eq!(vxlan, n, "the segments tshark finds in VXLAN");
    }
    // The SYNs and SYN-ACKs, and the stream of each, as tshark has them.
    if let Some((syns, synacks, streams)) = tshark_handshakes(&file) {
        let ours = |k: fn(&Found) -> Vec<u64>| -> Vec<u64> { found.iter().flat_map(k).collect() };
        assert_eq!(ours(|a| a.3.clone()), syns);
        assert_eq!(ours(|a| a.4.clone()), synacks);
        assert_eq!(found.iter().map(|a| a.5).collect::<Vec<_>>(), streams);
    }
    // Two threads, split over the mapped file and dealt from a stream.
    let without_streams = |v: Vec<Found>| -> Vec<Found> {
        v.into_iter()
            .map(|mut a| {
                a.5 = None;
                a
            })
            .collect()
    };
    let split = common::synack_ok(["analyze", "--format", "json", "--threads", "2", name]);
    let (two, counts2) = attempts(&split.stdout);
    assert_eq!(without_streams(two), without_streams(found.clone()));
    assert_eq!(counts2["tunnelled_packets"], tunnelled);
    let out = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(["analyze", "--format", "json", "--threads", "2", "-"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    let (dealt, counts3) = attempts(&out.stdout);
    assert_eq!(without_streams(dealt), without_streams(found));
    assert_eq!(counts3["tunnelled_packets"], tunnelled);
    // Each network once; and said, since a 4-tuple reused in both would
    // be taken as one conversation.
    let nets = serde_json::json!([{"kind": "vxlan", "id": 42}, {"kind": "vxlan", "id": 43}]);
    assert_eq!(counts["tunnel_networks"], nets);
    assert_eq!(counts2["tunnel_networks"], nets);
    let text = String::from_utf8(common::synack_ok(["analyze", name]).stdout).unwrap();
    assert!(
        text.contains("the tunnels carry 2 networks (VXLAN 42, VXLAN 43)"),
        "{text}"
    );
    for (lang, says) in [
        (
            "en",
            format!("{vxlan} packets taken out of tunnels (VXLAN {vxlan})"),
        ),
        ("zh", format!("{vxlan} 个包取自隧道（VXLAN {vxlan}）")),
    ] {
        let text = common::synack_ok(["analyze", "--lang", lang, name]);
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(text.contains(&says), "{text}");
    }
}

/// Two tenants, each a pair of namespaces on VXLAN 42 or 43 over the one
/// underlay veth (the VXLAN devices are made there and moved into the
/// tenants', as container overlays do), with the same inner addresses and
/// the client's one ephemeral port: the same 4-tuple in both networks, both
/// connections open at once. Captured on the underlay.
fn two_tenants(file: &Path) {
    let (c, s) = underlay();
    let tenants = tenants_over(&c, &s);
    tenants_connect(file, (c, s), tenants);
}

/// A client and a server namespace per tenant, each with its VXLAN device
/// (42, 43) made in `c` or `s` over the underlay and moved in, and the
/// tenant's address on it.
fn tenants_over(c: &Ns, s: &Ns) -> Vec<(Ns, Ns)> {
    let tenants: Vec<(Ns, Ns)> = ["42", "43"]
        .iter()
        .map(|_| (Ns::new(), Ns::new()))
        .collect();
    for (side, ns, me, other, host) in [(0, c, C, S, "1"), (1, s, S, C, "2")] {
        for (id, t) in ["42", "43"].iter().zip(&tenants) {
            let dev = format!("vx{id}");
            let tenant = if side == 0 { &t.0 } else { &t.1 };
            ns.ok(
                "ip",
                &[
                    "link", "add", &dev, "type", "vxlan", "id", id, "remote", other, "local", me,
                    "dstport", "4789", "dev", "eth0",
                ],
            );
            ns.ok(
                "ip",
                &["link", "set", &dev, "netns", &tenant.tid.to_string()],
            );
            tenant.ok(
                "ip",
                &["addr", "add", &format!("192.168.77.{host}/24"), "dev", &dev],
            );
            tenant.ok("ip", &["link", "set", &dev, "up"]);
        }
    }
    tenants
}

/// The rest of [`two_tenants`]: the connections, captured into `file` (the
/// underlay kept until they are in it).
fn tenants_connect(file: &Path, (c, _s): (Ns, Ns), tenants: Vec<(Ns, Ns)>) {
    let listeners: Vec<TcpListener> = tenants
        .iter()
        .map(|(_, srv)| srv.run(|| TcpListener::bind("192.168.77.2:80").unwrap()))
        .collect();
    for (cl, _) in &tenants {
        cl.ok(
            "sysctl",
            &["-qw", "net.ipv4.ip_local_port_range=40000 40000"],
        );
    }
    let path = file.to_path_buf();
    let dump = c.run(move || common::tcpdump_on("eth0", &path, &[]));
    let open: Vec<TcpStream> = tenants
        .iter()
        .map(|(cl, _)| cl.run(|| TcpStream::connect("192.168.77.2:80").unwrap()))
        .collect();
    let ports: Vec<u16> = open
        .iter()
        .map(|t| t.local_addr().unwrap().port())
        .collect();
    assert_eq!(ports, [40000, 40000], "one 4-tuple in both networks");
    // Accepted, so that both close with FINs (a listener closed on
    // connections it has not accepted resets them).
    let accepted: Vec<TcpStream> = listeners.iter().map(|l| l.accept().unwrap().0).collect();
    drop(open);
    drop(accepted);
    drop(listeners);
    let path = file.to_path_buf();
    c.run(move || {
        let udp = UdpSocket::bind(format!("{C}:0")).unwrap();
        udp.send_to(SENTINEL, format!("{S}:9")).unwrap();
        common::stop_once_written(dump, &path, SENTINEL);
    });
}

/// The same 4-tuple in two VXLAN networks is two connections, each in its
/// network, neither a reused port. Taken as one conversation (as by 4-tuple
/// alone, tshark's way), the second SYN ended the first connection as a
/// port reuse and the two closes were one attempt's.
#[test]
fn two_tenants_on_one_4_tuple_are_two_connections() {
    if !common::can_make_namespaces() {
        return;
    }
    let scratch = common::Scratch::new("tenants");
    let file = scratch.join("tenants.pcap");
    two_tenants(&file);
    let name = file.to_str().unwrap();
    for threads in ["1", "2"] {
        two_connections_in_json(&file, threads);
    }
    // The page draws each connection with its own network's frames: six
    // each (SYN, SYN-ACK, ACK, two FINs, the last ACK), not one tenant's
    // cut short at the other's SYN and the other's with both closes.
    if let Some(bin) = common::chromium() {
        let page = scratch.join("tenants.html");
        let html = common::synack_ok(["analyze", "--format", "html", name]).stdout;
        std::fs::write(&page, html).unwrap();
        let st = common::page_selftest(bin, &page, &scratch.join("chromium"));
        let frames: Vec<u64> = (st["attempts"].as_array().unwrap().iter())
            .map(|a| a["frames"].as_u64().unwrap())
            .collect();
        assert_eq!(frames, [6, 6], "{st}");
        assert!(st["errors"].as_array().unwrap().is_empty(), "{st}");
    }
    // nmap's table: the server of each tenant, a row each.
    let table = String::from_utf8(common::synack_ok(["analyze", "--ports", name]).stdout).unwrap();
    for id in [42, 43] {
        let row = table
            .lines()
            .find(|l| l.contains(&format!("in VXLAN {id}")));
        assert!(
            row.is_some_and(|r| r.contains("80/tcp") && r.contains("open")),
            "{table}"
        );
    }
    for (lang, says) in [
        (
            "en",
            [
                "192.168.77.1:40000 → 192.168.77.2:80 in VXLAN 43",
                "conversations are told apart by network and 4-tuple (tshark by 4-tuple alone",
            ],
        ),
        (
            "zh",
            [
                "192.168.77.1:40000 → 192.168.77.2:80（在 VXLAN 43 中）",
                "连接按所在网络和四元组区分（tshark 只按四元组",
            ],
        ),
    ] {
        let text = common::synack_ok(["analyze", "--verbose", "--lang", lang, name]);
        let text = String::from_utf8(text.stdout).unwrap();
        for says in says {
            assert!(text.contains(says), "{text}");
        }
    }
}

/// analyze's JSON of the tenants' capture on `threads`: two connections,
/// one in each network, closed, neither a reused port nor diagnosed; their
/// SYNs and SYN-ACKs (and, on one thread, their streams) as tshark has them.
fn two_connections_in_json(file: &Path, threads: &str) {
    let name = file.to_str().unwrap();
    let out = common::synack_ok(["analyze", "--format", "json", "--threads", threads, name]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut a: Vec<Value> = v["files"][0]["attempts"].as_array().unwrap().clone();
    a.sort_by_key(|x| x["first_frame"].as_u64());
    assert_eq!(a.len(), 2, "{a:?}");
    for (x, id) in a.iter().zip([42, 43]) {
        assert_eq!(x["network"], serde_json::json!({"kind": "vxlan", "id": id}));
        assert_eq!(x["client"], "192.168.77.1:40000");
        assert_eq!(x["server"], "192.168.77.2:80");
        assert_eq!(x["port_reuse"], false, "{x}");
        assert_eq!(x["outcome"], "closed", "{x}");
        assert_eq!(x["diagnosis"], Value::Null, "{x}");
    }
    // Each SYN as tshark finds it, with its tcp.stream (tshark too
    // starts a conversation at a SYN with a new ISN, though by 4-tuple
    // alone it then puts the first network's FINs in the second's).
    if let Some((syns, synacks, streams)) = tshark_handshakes(file) {
        let frames = |k: &str| -> Vec<u64> {
            a.iter()
                .flat_map(|x| x[k].as_array().unwrap().clone())
                .map(|n| n.as_u64().unwrap())
                .collect()
        };
        let ours = (frames("syn_frames"), frames("synack_frames"));
        assert_eq!(ours, (syns, synacks));
        if threads == "1" {
            let ours: Vec<Option<u64>> = a.iter().map(|x| x["tcp_stream"].as_u64()).collect();
            assert_eq!(ours, streams);
        }
    }
}
