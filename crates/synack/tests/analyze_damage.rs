//! Damaged captures as engineers bring them: a compressed file cut off in a
//! copy, a capture cut inside a frame. `analyze` reports where and why, in
//! both languages and in JSON, analyses what came before and exits 0; a
//! compressed file with nothing readable in it exits 1 and says so.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Scratch, synack};
use serde_json::Value;

/// `sh -c cmd`, its status and stdout; `None` if the shell says the tool is
/// missing (a failure under CI).
fn sh(cmd: &str) -> Option<Vec<u8>> {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    if out.status.code() == Some(127) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set: {cmd}: {out:?}"
        );
        eprintln!("SKIPPED: {cmd}: the tool is not installed");
        return None;
    }
    Some(out.stdout)
}

fn json_file(path: &Path) -> (Output, Value) {
    let out = synack([
        "analyze",
        "--summary",
        "--format",
        "json",
        path.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (out, v["files"][0].clone())
}

/// A 4 MB capture compressed by gzip, zstd and xz and cut in half: the
/// frames are exactly the whole records before the offset reported, that
/// offset is a record's end in the original and no further than the tool's
/// own decoder gets, and every output says the file was cut off.
#[test]
fn a_compressed_capture_cut_off_is_analysed_up_to_the_cut() {
    let dir = Scratch::new("damage");
    let plain = dir.join("x.pcap");
    let cfg = synack_capture::synth::SynthConfig {
        target_bytes: 4 << 20,
        ..Default::default()
    };
    synack_capture::synth::write(std::fs::File::create(&plain).unwrap(), &cfg).unwrap();
    let original = std::fs::read(&plain).unwrap();
    let ends = synack_capture::synth::record_ends(&original);
    for (tool, ext) in [("gzip", "gz"), ("zstd -q", "zst"), ("xz", "xz")] {
        let packed = dir.join(&format!("x.pcap.{ext}"));
        let Some(bytes) = sh(&format!("{tool} -c {}", plain.display())) else {
            continue;
        };
        std::fs::write(&packed, &bytes[..bytes.len() / 2]).unwrap();
        let decoded = sh(&format!("{tool} -dc {} 2>/dev/null", packed.display())).unwrap();
        let (out, file) = json_file(&packed);
        assert_eq!(out.status.code(), Some(0), "{ext}: {out:?}");
        let at = file["damaged_at"]["byte"].as_u64().unwrap() as usize;
        assert_eq!(file["damaged_at"]["kind"], "ends-early", "{ext}: {file}");
        assert!(ends.contains(&at), "{ext}: byte {at} is no record's end");
        assert!(
            at <= decoded.len(),
            "{ext}: {at} past the {} decoded",
            decoded.len()
        );
        let frames = ends.iter().filter(|&&e| e <= at).count();
        assert!(frames > 1000, "{ext}: {frames} frames");
        assert_eq!(file["frames"], frames, "{ext}");
        let err = String::from_utf8_lossy(&out.stderr);
        let said = format!(
            "{}: damaged at byte {at}: the data ends before its own end marker (a compressed file cut off); everything before it is analysed",
            packed.display()
        );
        assert!(err.contains(&said), "{ext}: {err}");
        let zh = synack([
            "analyze",
            "--summary",
            "--lang",
            "zh",
            packed.to_str().unwrap(),
        ]);
        let text = String::from_utf8_lossy(&zh.stdout);
        assert!(
            text.contains(&format!(
                "文件在字节偏移 {at} 处损坏：数据在其结束标记之前就结束了（压缩文件被截断）；之前的内容已分析"
            )),
            "{ext}: {text}"
        );
        // Cut inside its first block: nothing could be read, exit 1.
        std::fs::write(&packed, &bytes[..20]).unwrap();
        let out = synack(["analyze", packed.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{ext}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "it ends before its first block does (cut off), so nothing in it could be read"
            ),
            "{ext}: {err}"
        );
    }
}

/// A plain capture cut inside its second frame, as a file (mapped) and on
/// standard input: one frame, said in the singular, and the same offset
/// and kind both ways.
#[test]
fn a_capture_cut_inside_a_frame_says_where() {
    let dir = Scratch::new("cut");
    let mut cap = Vec::new();
    let cfg = synack_capture::synth::SynthConfig {
        target_bytes: 100_000,
        ..Default::default()
    };
    synack_capture::synth::write(&mut cap, &cfg).unwrap();
    let ends = synack_capture::synth::record_ends(&cap);
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &cap[..ends[0] + 20]).unwrap();
    let (out, file) = json_file(&cut);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(file["frames"], 1);
    assert_eq!(file["damaged_at"]["byte"], ends[0]);
    assert_eq!(file["damaged_at"]["kind"], "ends-inside-frame");
    let text = synack(["analyze", "--summary", cut.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("cut.pcap: 1 frame, 1 connection attempt ("),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "damaged at byte {}: the file ends inside a frame (cut off)",
            ends[0]
        )),
        "{text}"
    );
    // The HTML page says it too, under its heading.
    let page = synack(["analyze", "--format", "html", cut.to_str().unwrap()]);
    let page = String::from_utf8_lossy(&page.stdout);
    assert!(
        page.contains(&format!(
            "<p class=\"note\">damaged at byte {}: the file ends inside a frame (cut off); everything before it is analysed</p>",
            ends[0]
        )),
        "{page}"
    );
    let piped = sh(&format!(
        "{} analyze --summary --format json - < {}",
        env!("CARGO_BIN_EXE_synack"),
        cut.display()
    ))
    .unwrap();
    let v: Value = serde_json::from_slice(&piped).unwrap();
    assert_eq!(v["files"][0]["damaged_at"], file["damaged_at"]);
    assert_eq!(v["files"][0]["frames"], 1);
}
