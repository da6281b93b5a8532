//! Any bytes as IPv4/IPv6 + TCP, strict and truncated; what parses is
//! emitted and parsed again, and must come back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synack_wire::{IpHeader, OptionLayout, emit_segment, parse_ip_truncated, parse_segment};

fuzz_target!(|data: &[u8]| {
    let _ = parse_ip_truncated(data);
    let _ = parse_segment(data, true);
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
