//! `synack analyze --format html` on every public capture, loaded by
//! headless Chromium: a section per attempt (up to the page's limit),
//! failures first, each attempt's frames drawn (at least its SYNs and
//! SYN-ACKs), no script error. Screenshots go to `target/browser/`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn synack(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .env("LANG", "C")
        .output()
        .unwrap();
    assert!(out.status.success(), "synack {args:?}");
    out.stdout
}

#[test]
fn every_public_capture_is_drawn_attempt_by_attempt_failures_first() {
    let (Some(dir), Some(bin)) = (common::public_captures(), common::chromium()) else {
        return;
    };
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser");
    std::fs::create_dir_all(&out).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{} captures", files.len());
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let fs = f.to_str().unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&synack(&["analyze", "--format", "json", fs])).unwrap();
        let attempts = json["files"][0]["attempts"].as_array().unwrap().clone();
        let page = out.join(format!("analyze-{name}.html"));
        std::fs::write(&page, synack(&["analyze", "--format", "html", fs])).unwrap();
        let profile =
            std::env::temp_dir().join(format!("synack-chromium-a-{}-{name}", std::process::id()));
        let st = common::page_selftest(bin, &page, &profile);
        let drawn = st["attempts"].as_array().unwrap();
        assert_eq!(drawn.len(), attempts.len().min(1000), "{name}");
        assert!(
            st["errors"].as_array().unwrap().is_empty(),
            "{name}: {}",
            st["errors"]
        );
        // Failures first.
        let failed: Vec<bool> = drawn
            .iter()
            .map(|a| a["failed"].as_bool().unwrap())
            .collect();
        assert!(
            failed.windows(2).all(|w| w[0] || !w[1]),
            "{name}: {failed:?}"
        );
        let want_failed = attempts
            .iter()
            .take(1000)
            .filter(|a| {
                [
                    "refused",
                    "no_answer",
                    "half_open",
                    "reset_during_handshake",
                ]
                .contains(&a["outcome"].as_str().unwrap())
            })
            .count();
        if attempts.len() <= 1000 {
            assert_eq!(failed.iter().filter(|f| **f).count(), want_failed, "{name}");
            // Each attempt's handshake segments are drawn (failures first
            // reorders: compare the totals).
            let handshake: u64 = attempts
                .iter()
                .map(|a| {
                    (a["syn_frames"].as_array().unwrap().len()
                        + a["synack_frames"].as_array().unwrap().len()) as u64
                })
                .sum();
            let frames: u64 = drawn.iter().map(|a| a["frames"].as_u64().unwrap()).sum();
            assert!(
                frames >= handshake,
                "{name}: {frames} frames drawn, {handshake} SYNs and SYN-ACKs"
            );
        }
        if name.contains("nowebaccess") || name.contains("tcp_handshake") {
            let png = out.join(format!("analyze-{name}.png"));
            let _ = Command::new(bin)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--window-size=1100,1200",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg(format!("--screenshot={}", png.display()))
                .arg(format!("file://{}", page.display()))
                .output();
            assert!(
                std::fs::metadata(&png).is_ok_and(|m| m.len() > 10_000),
                "{name}: screenshot"
            );
        }
        let _ = std::fs::remove_dir_all(&profile);
    }
}
