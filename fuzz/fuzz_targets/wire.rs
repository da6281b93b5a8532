//! Any bytes as IPv4/IPv6 + TCP, strict and truncated; what parses is
//! emitted and parsed again, and must come back the same. The same bytes
//! as an ICMP error, and as the packet an ICMP error would quote: the
//! error synack would write about them parses back to the same quote.
//! The same bytes as a tunnel packet: what is inside lies within them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synack_wire::{
    IpHeader, OptionLayout, Unreachable, emit_segment, emit_unreachable, parse_icmp,
    parse_ip_truncated, parse_segment,
};

fuzz_target!(|data: &[u8]| {
    let _ = parse_ip_truncated(data);
    let _ = parse_segment(data, true);
    let _ = parse_icmp(data, true);
    let _ = parse_icmp(data, false);
    for truncated in [false, true] {
        if let Some(t) = synack_wire::tunnel::open(data, truncated) {
            let (at, end) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
            let inner = t.inner.as_ptr() as usize;
            assert!(inner >= at && inner + t.inner.len() <= end, "inside the packet");
        }
    }
    if let Ok(seg) = parse_segment(data, false) {
        let mut b = vec![0u8; 1400];
        if let Ok(n) = emit_unreachable(&mut b, seg.ip.dst, Unreachable::AdminProhibited, data) {
            let e = parse_icmp(b.get(..n).unwrap_or(&[]), true).expect("our own ICMP parses");
            assert_eq!(e.quoted_seq, seg.tcp.seq);
            assert_eq!(e.ip.dst, seg.ip.src);
        }
    }
    let Ok(seg) = parse_segment(data, false) else {
        return;
    };
    let ip = IpHeader::new(seg.ip.src, seg.ip.dst);
    let mut buf = vec![0u8; 60 + 40 + seg.tcp.payload.len()];
    for layout in [OptionLayout::Linux, OptionLayout::Compact] {
        let Ok(n) = emit_segment(&mut buf, &ip, &seg.tcp, layout) else {
            // Options that do not fit 40 bytes when written our way.
            continue;
        };
        let again = parse_segment(buf.get(..n).unwrap_or(&[]), true).expect("our own bytes parse");
        assert_eq!(again.tcp, seg.tcp, "emit then parse gives the same segment");
        assert_eq!((again.ip.src, again.ip.dst), (seg.ip.src, seg.ip.dst));
    }
});
