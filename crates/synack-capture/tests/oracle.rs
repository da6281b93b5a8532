//! Every public capture in ../shared/captures/public against its oracle
//! (computed with tshark; see the README there): per stream the client,
//! server, SYN and SYN-ACK frames, the third ACK, the ISNs and the
//! retransmission counts must agree.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::path::PathBuf;

use serde_json::Value;

fn captures() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures/public");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {} is missing",
        dir.display()
    );
    eprintln!("SKIPPED: {} not found", dir.display());
    None
}

fn frames(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

#[test]
fn handshakes_agree_with_the_tshark_oracle() {
    let Some(dir) = captures() else { return };
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for oracle_path in files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".oracle.json"))
    {
        let oracle: Value =
            serde_json::from_str(&std::fs::read_to_string(oracle_path).unwrap()).unwrap();
        let name = oracle["capture"].as_str().unwrap();
        let file = std::fs::File::open(dir.join(name)).unwrap();
        let a = synack_capture::analyze(std::io::BufReader::new(file), name).unwrap();
        assert!(
            a.summary.damaged_at.is_none(),
            "{name}: {:?}",
            a.summary.damaged_at
        );
        assert_eq!(
            Some(a.summary.frames),
            oracle["file"]["packets"].as_u64(),
            "{name}: frame count"
        );
        for st in oracle["streams"].as_array().unwrap() {
            let hs = &st["handshake"];
            let syn = frames(&hs["syn_frames"]);
            let synack = frames(&hs["synack_frames"]);
            let Some(&first) = syn.first().or(synack.first()) else {
                continue;
            };
            let ours = a
                .attempts
                .iter()
                .find(|x| x.syn_frames.first().or(x.synack_frames.first()) == Some(&first));
            let Some(ours) = ours else {
                failures.push(format!(
                    "{name} stream {}: no attempt starting at frame {first}",
                    st["stream"]
                ));
                continue;
            };
            checked += 1;
            let mut diff = |what: &str, got: String, want: String| {
                if got != want {
                    failures.push(format!(
                        "{name} stream {} {what}: got {got}, tshark oracle {want}",
                        st["stream"]
                    ));
                }
            };
            diff(
                "client",
                ours.client.clone(),
                st["client"].as_str().unwrap_or("").to_string(),
            );
            diff(
                "server",
                ours.server.clone(),
                st["server"].as_str().unwrap_or("").to_string(),
            );
            diff(
                "syn_frames",
                format!("{:?}", ours.syn_frames),
                format!("{syn:?}"),
            );
            diff(
                "synack_frames",
                format!("{:?}", ours.synack_frames),
                format!("{synack:?}"),
            );
            diff(
                "ack_frame",
                format!("{:?}", ours.ack_frame),
                format!("{:?}", hs["ack_frame"].as_u64()),
            );
            diff(
                "client_isn",
                format!("{:?}", ours.client_isn.map(u64::from)),
                format!("{:?}", hs["client_isn_raw"].as_u64()),
            );
            diff(
                "server_isn",
                format!("{:?}", ours.server_isn.map(u64::from)),
                format!("{:?}", hs["server_isn_raw"].as_u64()),
            );
            diff(
                "syn_retransmissions",
                ours.syn_retransmissions.to_string(),
                hs["syn_retransmissions"].to_string(),
            );
            diff(
                "synack_retransmissions",
                ours.synack_retransmissions.to_string(),
                hs["synack_retransmissions"].to_string(),
            );
            diff(
                "simultaneous_open",
                ours.simultaneous_open.to_string(),
                hs["simultaneous_open"].to_string(),
            );
        }
    }
    eprintln!("compared {checked} streams");
    assert!(checked > 1990, "only {checked} streams compared");
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
