//! The JSON's numbers checked independently of the engine: acks recomputed
//! from the segments each side received, seqs from what each side sent, and
//! state changes against the transitions RFC 9293 allows.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::collections::HashMap;

use serde_json::Value;
mod common;

use common::{render, sc};
use synack_explain::{Format, Lang, Profile, Style};
use synack_scenario::{Options, Scenario, run_sim as run};

fn doc(s: Scenario, isn: Option<(u32, u32)>) -> Value {
    let t = run(&Options {
        scenario: s,
        client_isn: isn.map(|i| i.0),
        server_isn: isn.map(|i| i.1),
        profile: Profile::Rfc,
        ..Options::default()
    })
    .unwrap();
    serde_json::from_str(&render(&t, Format::Json, Lang::En, Style::PLAIN)).unwrap()
}

fn u(v: &Value) -> u32 {
    v.as_u64().unwrap() as u32
}

const ALLOWED: &[(&str, &str)] = &[
    ("CLOSED", "SYN-SENT"),
    ("LISTEN", "SYN-RECEIVED"),
    ("SYN-SENT", "ESTABLISHED"),
    ("SYN-SENT", "SYN-RECEIVED"),
    ("SYN-SENT", "CLOSED"),
    ("SYN-RECEIVED", "ESTABLISHED"),
    ("SYN-RECEIVED", "CLOSED"),
    ("SYN-RECEIVED", "FIN-WAIT-1"),
    ("SYN-RECEIVED", "CLOSE-WAIT"),
    ("ESTABLISHED", "FIN-WAIT-1"),
    ("ESTABLISHED", "CLOSE-WAIT"),
    ("ESTABLISHED", "CLOSED"),
    ("FIN-WAIT-1", "FIN-WAIT-2"),
    ("FIN-WAIT-1", "CLOSING"),
    ("FIN-WAIT-1", "TIME-WAIT"),
    ("FIN-WAIT-2", "TIME-WAIT"),
    ("CLOSE-WAIT", "LAST-ACK"),
    ("CLOSING", "TIME-WAIT"),
    ("LAST-ACK", "CLOSED"),
    ("TIME-WAIT", "CLOSED"),
    // Rule 19: a passive open reset in SYN-RECEIVED goes back to LISTEN.
    ("SYN-RECEIVED", "LISTEN"),
    // Rule 43: a SYN cookie's ACK rebuilds the connection, established.
    ("LISTEN", "ESTABLISHED"),
];

fn check(d: &Value) -> usize {
    let mut acks_checked = 0;
    let name = d["scenario"].as_str().unwrap();
    assert_eq!(d["schema"], "synack.explain/1");
    let steps = d["steps"].as_array().unwrap();
    // Per connection (side and 4-tuple): the next sequence number expected
    // from the peer, computed only from segments received in order, and the
    // next new sequence number to send. A new TCB starts afresh.
    let mut expect: HashMap<String, u32> = HashMap::new();
    let mut next_new: HashMap<String, u32> = HashMap::new();
    for st in steps {
        let side = format!("{} {} {}", st["side"], st["local"], st["remote"]);
        let b0 = st["before"]["state"].as_str().unwrap();
        if (b0 == "CLOSED" || b0 == "LISTEN")
            && st["cause"]["kind"] != "sent"
            && st["after"]["state"] != b0
        {
            expect.remove(&side);
            next_new.remove(&side);
        }
        let (b, a) = (
            st["before"]["state"].as_str().unwrap(),
            st["after"]["state"].as_str().unwrap(),
        );
        assert!(
            b == a || ALLOWED.contains(&(b, a)),
            "{name}: {b} -> {a} is not an RFC transition"
        );
        let cause = &st["cause"];
        let Some(seg) = cause.get("segment") else {
            continue;
        };
        let flags: Vec<&str> = seg["flag_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        let has = |f: &str| flags.contains(&f);
        let (seq, ack, len) = (u(&seg["seq"]), u(&seg["ack"]), u(&seg["payload_len"]));
        let seg_len = len + u32::from(has("SYN")) + u32::from(has("FIN"));
        assert_eq!(u(&seg["seg_len"]), seg_len, "{name}: SEG.LEN");
        match cause["kind"].as_str().unwrap() {
            "received" if st["action"]["kind"] != "transmitted" => {
                // A SYN sets the expectation only while synchronizing; in a
                // synchronized state it meets a challenge ACK (rule 33).
                if has("SYN") && matches!(b0, "LISTEN" | "SYN-SENT" | "CLOSED") {
                    // Data on a SYN is acknowledged only when Fast Open
                    // accepted it (rule 41), else not (rule 21).
                    let accepted = steps.iter().any(|s| {
                        s["cause"] == *cause && s["action"]["note"] == "fast_open_data_accepted"
                    });
                    let n = if accepted { seg_len } else { 1 };
                    expect.insert(side.clone(), seq.wrapping_add(n));
                } else if expect.get(&side) == Some(&seq) && !has("RST") {
                    expect.insert(side.clone(), seq.wrapping_add(seg_len));
                }
            }
            "sent" => {
                let stateless = st["conn"].is_null();
                if has("SYN") && !stateless {
                    match next_new.get(&side) {
                        // Data on the SYN (Fast Open) counts too.
                        None => {
                            next_new.insert(side.clone(), seq.wrapping_add(seg_len));
                        }
                        // Retransmitted SYN or SYN-ACK: the same ISN.
                        Some(&n) => assert_eq!(
                            seq.wrapping_add(1),
                            n.wrapping_sub(len),
                            "{name}: SYN retransmitted with a new ISN"
                        ),
                    }
                } else if !has("RST") && !stateless {
                    let n = *next_new.get(&side).expect("a SYN comes first");
                    // New data starts at the next new byte; a retransmission
                    // may start earlier, never later.
                    assert!(
                        seq.wrapping_sub(n) as i32 <= 0,
                        "{name}: seq {seq} skips ahead of {n}"
                    );
                    if seq == n {
                        next_new.insert(side.clone(), n.wrapping_add(seg_len));
                    }
                }
                if has("ACK") && !has("RST") {
                    assert_eq!(
                        Some(ack),
                        expect.get(&side).copied(),
                        "{name}: ack of a {} from the {}",
                        seg["flags"],
                        st["side"]
                    );
                    acks_checked += 1;
                }
                if has("RST") && has("ACK") && seq == 0 {
                    // Rule 28: ack = SEG.SEQ + SEG.LEN of the SYN answered;
                    // the closed side holds no state, so compute it here.
                    let syn = steps
                        .iter()
                        .find(|s| s["side"] == st["side"] && s["cause"]["kind"] == "received")
                        .unwrap();
                    let g = &syn["cause"]["segment"];
                    assert_eq!(
                        ack,
                        u(&g["seq"]).wrapping_add(u(&g["seg_len"])),
                        "{name}: RST+ACK ack"
                    );
                    acks_checked += 1;
                }
            }
            _ => {}
        }
    }
    acks_checked
}

#[test]
fn every_scenario_has_consistent_arithmetic() {
    for s in synack_scenario::ALL {
        let n = check(&doc(s, Some((1000, 5000))));
        // Only the filtered SYNs carry no acknowledgment at all.
        let silent = s == sc("filtered") || s == sc("unreachable");
        assert_eq!(n == 0, silent, "{}: {n} acks checked", s.name);
        check(&doc(s, None));
        // ISNs just below 2^32: the arithmetic wraps.
        check(&doc(s, Some((u32::MAX - 1, u32::MAX))));
    }
}

#[test]
fn textbook_numbers() {
    let d = doc(sc("normal"), Some((1000, 5000)));
    let sent: Vec<(String, u32, u32)> = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["cause"]["kind"] == "sent")
        .map(|s| {
            let g = &s["cause"]["segment"];
            (
                g["flags"].as_str().unwrap().to_string(),
                u(&g["seq"]),
                u(&g["ack"]),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("S".to_string(), 1000, 0),
            ("S.".to_string(), 5000, 1001),
            (".".to_string(), 1001, 5001)
        ]
    );
}

#[test]
fn rule_ids_and_states_are_present() {
    let d = doc(sc("normal"), Some((1000, 5000)));
    let rules: Vec<u64> = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"]["kind"] != "transmitted")
        .map(|s| s["rule"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(rules, [1, 13, 14, 37, 4, 15]);
    let last = d["steps"].as_array().unwrap().last().unwrap();
    assert_eq!(last["after"]["state"], "ESTABLISHED");
    assert_eq!(last["after"]["linux_state"], "ESTABLISHED");
}
