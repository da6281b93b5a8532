//! Lines a tcpdump user recognises (print-tcp.c conventions): flag letters,
//! absolute numbers on the SYNs, relative once both ISNs are known, options
//! in wire order. Segments the link lost are shown as comments.

use std::fmt::Write as _;

use synack_engine::sim::{Fate, Side};
use synack_wire::options::{OptionIter, TcpOption};
use synack_wire::parse_segment;

use synack_trace::Trace;

pub fn render(trace: &Trace) -> String {
    let mut out = String::new();
    let mut isn: [Option<u32>; 2] = [None, None];
    for rec in &trace.link {
        let Ok(p) = parse_segment(&rec.bytes, false) else {
            if let Ok(e) = synack_wire::parse_icmp(&rec.bytes, false) {
                let _ = writeln!(out, "{}", icmp_line(rec, &e));
            }
            continue;
        };
        let t = &p.tcp;
        let i = usize::from(rec.from == Side::B);
        if t.flags.syn() {
            isn[i] = Some(t.seq.get());
        }
        let both = isn[0].is_some() && isn[1].is_some();
        let rel = |v: u32, base: Option<u32>| {
            if both && !t.flags.syn() {
                v.wrapping_sub(base.unwrap_or(0))
            } else {
                v
            }
        };
        let us = rec.sent_at.as_micros();
        let mut line = format!(
            "{:02}:{:02}:{:02}.{:06} IP{} {}.{} > {}.{}: Flags [{}]",
            us / 3_600_000_000,
            us / 60_000_000 % 60,
            us / 1_000_000 % 60,
            us % 1_000_000,
            if p.ip.src.is_ipv6() { "6" } else { "" },
            p.ip.src,
            t.src_port,
            p.ip.dst,
            t.dst_port,
            t.flags.tcpdump()
        );
        let len = t.payload.len() as u32;
        let seq = rel(t.seq.get(), isn[i]);
        if len > 0 {
            let _ = write!(line, ", seq {}:{}", seq, seq.wrapping_add(len));
        } else if t.flags.syn() || t.flags.fin() || t.flags.rst() {
            let _ = write!(line, ", seq {seq}");
        }
        if t.flags.ack() {
            let _ = write!(line, ", ack {}", rel(t.ack.get(), isn[1 - i]));
        }
        let _ = write!(line, ", win {}", t.window);
        let raw = synack_wire::TcpPacket::new_checked(&rec.bytes[p.ip.header_len()..])
            .map(|pk| pk.options().to_vec())
            .unwrap_or_default();
        if !raw.is_empty() {
            let opts: Vec<String> = OptionIter::new(&raw)
                .filter_map(Result::ok)
                .map(|o| match o {
                    TcpOption::EndOfList => "eol".to_string(),
                    TcpOption::Nop => "nop".to_string(),
                    TcpOption::Mss(m) => format!("mss {m}"),
                    TcpOption::WindowScale(w) => format!("wscale {w}"),
                    TcpOption::SackPermitted => "sackOK".to_string(),
                    TcpOption::Sack(b) => format!("sack {}", b.len() / 8),
                    TcpOption::Timestamps { tsval, tsecr } => format!("TS val {tsval} ecr {tsecr}"),
                    TcpOption::FastOpen { cookie, .. } => format!("tfo cookie {}", hex(cookie)),
                    TcpOption::Unknown { kind, data } => format!("opt-{kind}:{}", hex(data)),
                })
                .collect();
            let _ = write!(line, ", options [{}]", opts.join(","));
        }
        let _ = write!(line, ", length {len}");
        if matches!(rec.fate, Fate::Dropped { .. }) {
            let _ = writeln!(out, "# lost on the link: {line}");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// An ICMP error as tcpdump prints it.
fn icmp_line(rec: &synack_engine::sim::LinkRecord, e: &synack_wire::IcmpError) -> String {
    use synack_wire::Unreachable as U;
    let us = rec.sent_at.as_micros();
    let q = e.quoted_dst;
    let what = match (e.v6, e.reason) {
        (false, U::Port) => format!("ICMP {} tcp port {} unreachable", q.ip(), q.port()),
        (false, U::AdminProhibited) => {
            format!("ICMP host {} unreachable - admin prohibited filter", q.ip())
        }
        (false, r) => format!(
            "ICMP {} {}",
            q.ip(),
            crate::words::unreachable(r, crate::Lang::En)
        ),
        (true, U::Port) => format!(
            "ICMP6, destination unreachable, unreachable port, {} tcp port {}",
            q.ip(),
            q.port()
        ),
        (true, U::AdminProhibited) => format!(
            "ICMP6, destination unreachable, unreachable prohibited {}",
            q.ip()
        ),
        (true, r) => format!(
            "ICMP6, destination unreachable, {} {}",
            crate::words::unreachable(r, crate::Lang::En),
            q.ip()
        ),
    };
    format!(
        "{:02}:{:02}:{:02}.{:06} IP{} {} > {}: {what}, length {}",
        us / 3_600_000_000,
        us / 60_000_000 % 60,
        us / 1_000_000 % 60,
        us % 1_000_000,
        if e.v6 { "6" } else { "" },
        e.ip.src,
        e.ip.dst,
        rec.bytes.len().saturating_sub(e.ip.header_len())
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
