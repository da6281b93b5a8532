//! The parser: every construct of packetdrill's grammar this runner takes,
//! what it makes unsupported, and malformed scripts, each an error with its
//! line and column, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use synack_script::ast::*;
use synack_script::parse;

fn one(src: &str) -> Event {
    let s = parse(src).unwrap();
    assert_eq!(s.events.len(), 1, "{src}");
    s.events.into_iter().next().unwrap()
}

fn packet(src: &str) -> Packet {
    match one(src).action {
        Action::Packet(p) => p,
        a => panic!("{src}: {a:?}"),
    }
}

fn call(src: &str) -> Syscall {
    match one(src).action {
        Action::Syscall(c) => c,
        a => panic!("{src}: {a:?}"),
    }
}

fn error(src: &str) -> (u32, u32, String) {
    let e = parse(src).expect_err(src);
    (e.pos.line, e.pos.col, e.message)
}

#[test]
fn event_times() {
    assert_eq!(one("0 close(3) = 0").time, Time::At(0));
    assert_eq!(one("0.100 close(3) = 0").time, Time::At(100_000));
    assert_eq!(one("+.1 close(3) = 0").time, Time::After(100_000));
    assert_eq!(one("+0 close(3) = 0").time, Time::After(0));
    assert_eq!(one("* close(3) = 0").time, Time::Any);
    assert_eq!(
        one("0.1~0.25 close(3) = 0").time,
        Time::Range {
            lo: 100_000,
            hi: 250_000,
            relative: false
        }
    );
    assert_eq!(
        one("+0~+0.02 close(3) = 0").time,
        Time::Range {
            lo: 0,
            hi: 20_000,
            relative: true
        }
    );
    // A blocking call's end: `...0.2` after the start time.
    let c = call("+.1...0.2 accept(3, ..., ...) = 4");
    assert_eq!(c.end, Some(200_000));
    assert_eq!(
        one("+.1...0.2 accept(3, ..., ...) = 4").time,
        Time::After(100_000)
    );
}

#[test]
fn packets() {
    let p = packet("0 < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>");
    assert_eq!(p.dir, Dir::In);
    assert_eq!(p.flags, 0x002);
    assert_eq!((p.start, p.end, p.win), (0, 0, Some(65535)));
    assert_eq!(
        p.options,
        Options::List(vec![
            TcpOpt::Mss(1460),
            TcpOpt::SackOk,
            TcpOpt::Ts { val: 100, ecr: 0 },
            TcpOpt::Nop,
            TcpOpt::Wscale(7)
        ])
    );
    let p = packet("+0 > S. 0:0(0) ack 1 <...>");
    assert_eq!(
        (p.dir, p.flags, p.ack, p.options.clone()),
        (Dir::Out, 0x012, Some(1), Options::Any)
    );
    let p = packet("0 > P. 1:1001(1000) ack 1 win 502 urg 3");
    assert_eq!((p.flags, p.len(), p.urg), (0x018, 1000, Some(3)));
    // Every flag letter.
    assert_eq!(packet("0 > FSRPUEW. 0:0(0)").flags, 0x0ff);
    assert_eq!(packet("0 > - 0:0(0)").flags, 0);
    // IP information: ECN marks, tos, ttl.
    let p = packet("0 < [ect0] S 0:0(0) win 1");
    assert_eq!(p.ip.ecn, Some(EcnMark::Ect0));
    let p = packet("0 > [ce, tos 0x20, ttl 3] . 1:1(0) ack 1");
    assert_eq!(
        (p.ip.ecn, p.ip.tos, p.ip.ttl),
        (Some(EcnMark::Ce), Some(0x20), Some(3))
    );
    for (m, want) in [
        ("noecn", EcnMark::NoEcn),
        ("ect1", EcnMark::Ect1),
        ("ect01", EcnMark::Ect01),
    ] {
        assert_eq!(packet(&format!("0 > [{m}] . 1:1(0)")).ip.ecn, Some(want));
    }
    // The other options: SACK blocks, eol, Fast Open (with and without a cookie).
    let p = packet("0 < . 1:1(0) ack 1 win 1 <sack 1:101 201:301,eol>");
    assert_eq!(
        p.options,
        Options::List(vec![TcpOpt::Sack(vec![(1, 101), (201, 301)]), TcpOpt::Eol])
    );
    let p = packet("0 < S 0:0(0) win 1 <FO,FO abcd1234,FOEXP 0102030405060708>");
    assert_eq!(
        p.options,
        Options::List(vec![
            TcpOpt::FastOpen {
                cookie: vec![],
                exp: false
            },
            TcpOpt::FastOpen {
                cookie: vec![0xab, 0xcd, 0x12, 0x34],
                exp: false
            },
            TcpOpt::FastOpen {
                cookie: vec![1, 2, 3, 4, 5, 6, 7, 8],
                exp: true
            },
        ])
    );
}

#[test]
fn syscalls() {
    let c = call("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3");
    assert_eq!(
        c.args,
        vec![
            Expr::Any,
            Expr::Word("SOCK_STREAM".into()),
            Expr::Word("IPPROTO_TCP".into())
        ]
    );
    assert_eq!(c.ret, Expr::Int(3));
    let c = call("+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0");
    assert_eq!(
        c.args.get(3),
        Some(&Expr::Struct(vec![
            ("onoff".into(), Expr::Int(1)),
            ("linger".into(), Expr::Int(0))
        ]))
    );
    let c = call("+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0");
    assert_eq!(
        c.args.get(2),
        Some(&Expr::Or(vec![
            Expr::Word("O_RDWR".into()),
            Expr::Word("O_NONBLOCK".into())
        ]))
    );
    let c = call("+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)");
    assert_eq!(
        (c.ret.clone(), c.errno.as_deref()),
        (Expr::Int(-1), Some("EINPROGRESS"))
    );
    let c = call("+0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)");
    assert_eq!((c.ret.clone(), c.errno.clone()), (Expr::Int(2), None));
    let c = call("+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0");
    assert_eq!(
        c.args.get(3),
        Some(&Expr::Array(vec![Expr::Word("ECONNREFUSED".into())]))
    );
    let c = call(
        r#"0 connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}, 16) = 0"#,
    );
    assert!(matches!(c.args.get(1), Some(Expr::Struct(f)) if f.len() == 3));
    let c = call(r#"0 write(4, "hello"..., 5) = 5"#);
    assert_eq!(c.args.get(1), Some(&Expr::Str("hello".into())));
    for name in [
        "bind", "listen", "accept", "read", "send", "recv", "sendto", "recvfrom", "close",
        "shutdown",
    ] {
        assert_eq!(call(&format!("0 {name}(3, ...) = 0")).name, name);
    }
}

#[test]
fn options_commands_and_comments() {
    let s = parse(
        "--tolerance_usecs=10000\n--ip_version=ipv6\n`sysctl -q net.ipv4.tcp_ecn=1`\n\
         // a comment\n/* a\n block */ 0 close(3) = 0 // trailing\n+0 `echo hi`\n",
    )
    .unwrap();
    assert_eq!(
        s.options,
        vec![
            ("tolerance_usecs".into(), "10000".into()),
            ("ip_version".into(), "ipv6".into())
        ]
    );
    assert_eq!(s.events.len(), 3);
    assert_eq!(
        s.events[0].action,
        Action::Shell("sysctl -q net.ipv4.tcp_ecn=1".into())
    );
    assert_eq!(s.events[1].pos, Pos { line: 6, col: 11 });
    assert_eq!(s.events[2].action, Action::Shell("echo hi".into()));
}

#[test]
fn unsupported_constructs_parse_and_are_named() {
    let named = |src: &str| match one(src).action {
        Action::Unsupported(what) => what,
        a => panic!("{src}: {a:?}"),
    };
    assert!(named("0 %{ assert tcpi_rto == 1 }%").contains("assertion block"));
    assert!(
        named("0 sendmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 10}], msg_flags=0}, 0) = 10")
            .contains("sendmsg")
    );
    assert!(named("0 recvmsg(3, ..., 0) = 10").contains("recvmsg"));
    assert!(named("0 ioctl(3, SIOCINQ, [0]) = 0").contains("ioctl"));
    assert!(named("0 epoll_create(1) = 4").contains("epoll"));
    assert!(named("0 > udp (100)").contains("UDP"));
    assert!(named("0 < icmp unreachable port_unreachable").contains("ICMP"));
    assert!(named("0 < [1:1(0)] icmp unreachable frag_needed mtu 1200").contains("ICMP"));
    // Several on one line each: the next event still parses.
    let s = parse("0 > udp (100)\n+0 close(3) = 0\n").unwrap();
    assert_eq!(s.events.len(), 2);
}

#[test]
fn malformed_scripts_say_where_and_why() {
    let (l, c, m) = error("0 < S 0:10(5) win 100");
    assert_eq!((l, c), (1, 7));
    assert!(m.contains("bad sequence arithmetic 0:10(5)"), "{m}");
    let (l, c, m) =
        error("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) win 1 <mss 1460,md5 1>");
    assert_eq!((l, c), (2, 31));
    assert!(m.contains("unknown TCP option `md5`"), "{m}");
    let (l, c, m) = error("\n\n   +0 < S 0:0(0) <mss 1460>");
    assert_eq!((l, c), (3, 7));
    assert!(m.contains("needs `win N`"), "{m}");
    let (l, _, m) = error("0 > S. 0:0(0) ack 1 <...");
    assert_eq!(l, 1);
    assert!(m.contains("`<...` is not closed"), "{m}");
    let (_, _, m) = error("0 > S. 0:0(0) ack 1 <mss 1460,nop");
    assert!(m.contains("not closed by `>`"), "{m}");
    let (l, c, m) = error("0 close(3) = 0\nclose(4) = 0");
    assert_eq!((l, c), (2, 1));
    assert!(m.contains("expected an event time"), "{m}");
    assert!(error("0 > Q 0:0(0)").2.contains("`Q` is not a TCP flag"));
    assert!(
        error("0 > S 0:0(0) ack 99999999999")
            .2
            .contains("out of range")
    );
    assert!(
        error("0 < S 0:0(0) win 1 <wscale 300>")
            .2
            .contains("out of range")
    );
    assert!(error("0 < S 0:0(0) win 1 <TS val 1>").2.contains("ecr"));
    assert!(error("0 < S 0:0(0) win 1 <FO abc>").2.contains("cookie"));
    assert!(error("0 close(3 = 0").2.contains("expected"));
    assert!(
        error("0 close(3) = 0 (unclosed note")
            .2
            .contains("never closed")
    );
    assert!(error("0 `sysctl").2.contains("never closed"));
    assert!(error("/* open").2.contains("never closed"));
    assert!(error("0 %{ x").2.contains("never closed"));
    assert!(error("0.1~0.05 close(3) = 0").2.contains("ends before"));
    assert!(
        error("0 close(3) = 0\n--ip_version=ipv6")
            .2
            .contains("before the first event")
    );
}

#[test]
fn no_input_panics() {
    // Every prefix of a full script, and a few byte-level oddities.
    let full = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packetdrill/active/open-v4.pkt"
    ))
    .unwrap();
    for n in 0..full.len() {
        if let Some(prefix) = full.get(..n) {
            let _ = parse(prefix);
        }
    }
    for odd in [
        "\0",
        "0 < S 4294967295:0(1) win 1",
        "-",
        "+",
        "...",
        "0 x(",
        "0 x(((((",
        "\u{feff}0 close(3) = 0",
        "0 < S 0:0(0) win 1 <sack 1:2 3:4 5:6 7:8 9:10>",
    ] {
        let _ = parse(odd);
    }
}
