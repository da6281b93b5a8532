//! Script packets against live ones: the bytes built for `<` (the live ISN
//! and TS offset applied, options in the script's order, checksums that
//! verify), and every field `>` compares, each difference named.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use synack_script::ast::{Action, Packet};
use synack_script::packet::{Live, Map, build, check};

fn pkt(line: &str) -> Packet {
    match synack_script::parse(line).unwrap().events.remove(0).action {
        Action::Packet(p) => p,
        a => panic!("{a:?}"),
    }
}

fn map() -> Map {
    Map {
        isn: Some(1_000_000),
        ts_offset: Some(5_000),
        local: Some("192.168.0.1:8080".parse().unwrap()),
        remote: Some("192.0.2.1:48123".parse().unwrap()),
    }
}

#[test]
fn inbound_packets_carry_the_live_numbers() {
    let p = pkt("0 < . 1:11(10) ack 1 win 502 <nop,nop,TS val 200 ecr 700,sack 1:5>");
    let bytes = build(&p, &map()).unwrap();
    // Checksums verify (the kernel would drop it otherwise).
    let seg = synack_wire::parse_segment(&bytes, true).unwrap();
    assert_eq!(seg.tcp.seq.0, 1);
    assert_eq!(
        seg.tcp.ack.0, 1_000_001,
        "ack = script ack + the system's ISN"
    );
    assert_eq!(
        seg.tcp.options.timestamps,
        Some((200, 5_700)),
        "ecr = script ecr + the TS offset"
    );
    assert_eq!(
        seg.tcp.options.sack.unwrap().as_slice(),
        &[(1_000_001, 1_000_005)]
    );
    assert_eq!((seg.tcp.window, seg.tcp.payload.len()), (502, 10));
    assert_eq!(seg.tcp.src_port, 48123);
    let live = Live::parse(&bytes).unwrap();
    let order: Vec<String> = live.options.iter().map(|o| o.text()).collect();
    // 22 bytes of options, padded to 24 with end-of-options.
    assert_eq!(
        order,
        [
            "nop",
            "nop",
            "TS val 200 ecr 5700",
            "sack 1000001:1000005",
            "eol"
        ]
    );
    // ECN marks and TTL go in the IP header; a window past 16 bits is refused.
    let b = build(&pkt("0 < [ce, ttl 9] S 0:0(0) win 1"), &map()).unwrap();
    let ip = synack_wire::parse_ip(&b, true).unwrap();
    assert_eq!((ip.ip.tos & 3, ip.ip.ttl), (3, 9));
    assert!(
        build(&pkt("0 < S 0:0(0) win 70000"), &map())
            .unwrap_err()
            .contains("16-bit")
    );
}

/// What the system sent, as bytes, from an inbound-style line.
fn sent(line: &str) -> Live {
    let m = Map {
        isn: Some(0),
        ts_offset: Some(0),
        local: Some("192.0.2.1:48123".parse().unwrap()),
        remote: Some("192.168.0.1:8080".parse().unwrap()),
    };
    Live::parse(&build(&pkt(line), &m).unwrap()).unwrap()
}

#[test]
fn outbound_packets_are_compared_field_by_field() {
    let live = sent(
        "0 < S. 1000:1000(0) ack 1 win 64240 <mss 1460,sackOK,TS val 777 ecr 100,nop,wscale 7>",
    );
    let fresh = || Map {
        remote: Some("192.0.2.1:48123".parse().unwrap()),
        local: Some("192.168.0.1:0".parse().unwrap()),
        ..Map::default()
    };
    // The first packet fixes the ISN, the port and the TS offset.
    let mut m = fresh();
    check(
        &pkt("0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 10 ecr 100,nop,wscale 7>"),
        &live,
        &mut m,
    )
    .unwrap();
    assert_eq!((m.isn, m.ts_offset), (Some(1000), Some(767)));
    assert_eq!(m.local, Some("192.168.0.1:8080".parse().unwrap()));
    let field = |line: &str| check(&pkt(line), &live, &mut fresh()).unwrap_err();
    let d = field("0 > S 0:0(0)");
    assert_eq!(
        (d.field.as_str(), d.expected.as_str(), d.actual.as_str()),
        ("flags", "S", "S.")
    );
    let d = field("0 > S. 0:0(0) ack 2 <...>");
    assert_eq!((d.field.as_str(), d.actual.as_str()), ("ack", "1 (-1)"));
    let d = field("0 > S. 0:5(5) ack 1 <...>");
    assert_eq!(d.field, "length");
    let d = field("0 > S. 0:0(0) ack 1 win 100 <...>");
    assert_eq!((d.field.as_str(), d.actual.as_str()), ("win", "64240"));
    let d = field("0 > S. 0:0(0) ack 1 <mss 1460>");
    assert_eq!(d.field, "options");
    assert_eq!(
        d.actual,
        "<mss 1460,sackOK,TS val 777 ecr 100,nop,wscale 7>"
    );
    let d = field("0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 1 ecr 99,nop,wscale 7>");
    assert_eq!(d.field, "options", "the TS ecr is checked");
    let d = field("0 > S. 0:0(0) ack 1");
    assert_eq!((d.field.as_str(), d.expected.as_str()), ("options", "none"));
    let d = field("0 > [ect0] S. 0:0(0) ack 1 <...>");
    assert_eq!(
        (d.field.as_str(), d.expected.as_str(), d.actual.as_str()),
        ("ecn", "ect0", "noecn")
    );
    // Once the ISN is known, seq is relative to it.
    let mut m = fresh();
    m.isn = Some(990);
    let d = check(&pkt("0 > S. 0:0(0) ack 1 <...>"), &live, &mut m).unwrap_err();
    assert_eq!(
        (d.field.as_str(), d.actual.as_str()),
        ("seq", "10 (live 1000)")
    );
}
