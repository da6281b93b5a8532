//! The other views of `synack analyze`: `-F` (checked against tcpdump's
//! reading of the same expression), `--ports` (against tshark's oracle of
//! the public captures), `--format zeek` (read back as zeek-cut reads it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::PathBuf;

use common::synack;
use std::process::{Command, Output};

fn public(name: &str) -> Option<PathBuf> {
    Some(common::public_captures()?.join(name))
}

fn jsonl(out: &Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn tool(name: &str) -> bool {
    let ok = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stderr.is_empty());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {name} is missing"
        );
        eprintln!("SKIPPED: {name} is not installed");
    }
    ok
}

/// What an attempt is, apart from frame numbers (which a filtered file
/// renumbers).
fn gist(v: &[serde_json::Value]) -> Vec<String> {
    let mut g: Vec<String> = v
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {} {}",
                a["client"], a["server"], a["outcome"], a["history"], a["diagnosis"]["id"]
            )
        })
        .collect();
    g.sort();
    g
}

#[test]
fn a_tcpdump_filter_means_what_it_means_to_tcpdump() {
    if !tool("tcpdump") {
        return;
    }
    let cases = [
        ("chrissanders-synscan.pcapng", "tcp port 22 or tcp port 80"),
        (
            "chrissanders-synscan.pcapng",
            "tcp[tcpflags] & tcp-syn != 0",
        ),
        ("chrissanders-http_ip4and6.pcapng", "ip6"),
        ("zeek-mixed-vlan-mpls.pcap", "vlan and host 10.20.80.1"),
        ("zeek-mixed-vlan-mpls.pcap", "mpls and host 10.1.2.1"),
    ];
    let tmp = std::env::temp_dir().join(format!("synack-bpf-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for (i, (file, expr)) in cases.iter().enumerate() {
        let Some(path) = public(file) else { return };
        let cut = tmp.join(format!("cut{i}.pcap"));
        let st = Command::new("tcpdump")
            .arg("-r")
            .arg(&path)
            .arg("-w")
            .arg(&cut)
            .arg(expr)
            .output()
            .unwrap();
        assert!(st.status.success(), "tcpdump {expr}: {st:?}");
        let theirs = jsonl(&synack([
            "analyze",
            "--format",
            "jsonl",
            cut.to_str().unwrap(),
        ]));
        let ours = jsonl(&synack([
            "analyze",
            "--format",
            "jsonl",
            "-F",
            expr,
            path.to_str().unwrap(),
        ]));
        assert!(!ours.is_empty(), "{file} {expr}: nothing kept");
        assert_eq!(gist(&ours), gist(&theirs), "{file} -F '{expr}'");
    }
    let _ = std::fs::remove_dir_all(&tmp);
    // A mistake in the expression is a bad argument, said before any reading.
    let Some(path) = public("chrissanders-synscan.pcapng") else {
        return;
    };
    let out = synack(["analyze", "-F", "port 22 and", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("-F 'port 22 and': libpcap: can't parse filter expression: syntax error"),
        "{err}"
    );
    assert_eq!(err.matches("libpcap").count(), 1, "{err}");
}

#[test]
fn the_port_table_agrees_with_tsharks_view_of_the_scan() {
    let Some(scan) = public("chrissanders-synscan.pcapng") else {
        return;
    };
    let oracle: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(scan.with_file_name("chrissanders-synscan.oracle.json")).unwrap(),
    )
    .unwrap();
    // tshark's streams: a SYN-ACK makes the port open, a RST from the
    // server closed, nothing filtered.
    let mut want = std::collections::BTreeMap::new();
    for st in oracle["streams"].as_array().unwrap() {
        let server = st["server"].as_str().unwrap().to_string();
        let hs = &st["handshake"];
        let state = if hs["synack_frames"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
        {
            "open"
        } else if st["rst"]
            .as_array()
            .is_some_and(|v| v.iter().any(|r| r["from"] == "server"))
        {
            "closed"
        } else {
            "filtered"
        };
        let e = want.entry(server).or_insert(state);
        if state == "open" || (state == "closed" && *e == "filtered") {
            *e = state;
        }
    }
    let rows = jsonl(&synack([
        "analyze",
        "--ports",
        "--format",
        "jsonl",
        scan.to_str().unwrap(),
    ]));
    let got: std::collections::BTreeMap<String, &str> = rows
        .iter()
        .map(|r| {
            let host: std::net::IpAddr = r["host"].as_str().unwrap().parse().unwrap();
            (
                std::net::SocketAddr::new(host, r["port"].as_u64().unwrap() as u16).to_string(),
                r["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
    let reasons: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert_eq!(
        reasons,
        ["no-response", "reset", "syn-ack"].into_iter().collect()
    );
    // The text table says the same, one row per port, under its header.
    let out = synack(["analyze", "--ports", scan.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("HOST          PORT"), "{text}");
    let open = text.lines().filter(|l| l.contains(" open ")).count();
    assert_eq!(open, want.values().filter(|s| **s == "open").count());
}

#[test]
fn the_zeek_log_reads_as_zeek_cut_reads_it() {
    let Some(http) = public("chrissanders-http_ip4and6.pcapng") else {
        return;
    };
    let out = synack(["analyze", "--format", "zeek", http.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "#separator \\x09");
    let fields: Vec<&str> = lines
        .iter()
        .find_map(|l| l.strip_prefix("#fields\t"))
        .unwrap()
        .split('\t')
        .collect();
    let types: Vec<&str> = lines
        .iter()
        .find_map(|l| l.strip_prefix("#types\t"))
        .unwrap()
        .split('\t')
        .collect();
    assert_eq!(fields.len(), types.len());
    assert!(lines.last().unwrap().starts_with("#close\t"));
    let rows: Vec<Vec<&str>> = lines
        .iter()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
        .collect();
    let json = jsonl(&synack([
        "analyze",
        "--format",
        "jsonl",
        http.to_str().unwrap(),
    ]));
    assert_eq!(rows.len(), json.len());
    let col = |row: &Vec<&str>, name: &str| -> String {
        row[fields.iter().position(|f| *f == name).unwrap()].to_string()
    };
    for (row, a) in rows.iter().zip(&json) {
        assert_eq!(row.len(), fields.len());
        let ns = a["start_time_ns"].as_i64().unwrap();
        assert_eq!(
            col(row, "ts"),
            format!("{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1000)
        );
        let client: std::net::SocketAddr = a["client"].as_str().unwrap().parse().unwrap();
        assert_eq!(col(row, "id.orig_h"), client.ip().to_string());
        assert_eq!(col(row, "id.orig_p"), client.port().to_string());
        assert_eq!(col(row, "conn_state"), a["conn_state"].as_str().unwrap());
        assert_eq!(col(row, "history"), a["history"].as_str().unwrap());
        assert_eq!(col(row, "orig_pkts"), a["packets"][0].to_string());
        let uid = col(row, "uid");
        assert!(uid.starts_with('C') && uid.len() == 18, "{uid}");
        // Counts are counts, times are times.
        for (f, t) in fields.iter().zip(&types) {
            let v = col(row, f);
            match *t {
                "count" | "port" => assert!(v.parse::<u64>().is_ok(), "{f} = {v}"),
                "time" | "interval" => assert!(v.parse::<f64>().is_ok(), "{f} = {v}"),
                _ => assert!(!v.is_empty(), "{f} is empty"),
            }
        }
    }
    // The same uid for the same attempt, run after run.
    let again = synack(["analyze", "--format", "zeek", http.to_str().unwrap()]);
    let uids = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('\t').nth(1).unwrap().to_string())
            .collect()
    };
    assert_eq!(uids(&text), uids(&String::from_utf8_lossy(&again.stdout)));
}

/// `--summary --format jsonl` is a line per file holding what the JSON
/// document's object for that file holds but its attempts; formats that
/// have no summary refuse `--summary` instead of printing nothing.
#[test]
fn a_jsonl_summary_is_a_line_per_file_and_other_formats_refuse_it() {
    let (Some(a), Some(b)) = (
        public("chrissanders-synscan.pcapng"),
        public("tcpdump-tfo-5c1fa7f9ae91.pcap"),
    ) else {
        return;
    };
    let (a, b) = (a.display().to_string(), b.display().to_string());
    let common = [
        "analyze",
        "--summary",
        "--progress",
        "never",
        "--threads",
        "1",
    ];
    let lines = jsonl(&synack(
        [&common[..], &["--format", "jsonl", &a, &b]].concat(),
    ));
    let doc = synack([&common[..], &["--format", "json", &a, &b]].concat());
    let doc: serde_json::Value = serde_json::from_slice(&doc.stdout).unwrap();
    let objects = doc["files"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    for (line, object) in lines.iter().zip(objects) {
        let mut object = object.clone();
        object.as_object_mut().unwrap().remove("attempts");
        assert_eq!(line, &object);
        assert!(line["summary"]["attempts"].as_u64() > Some(0));
    }
    for format in ["zeek", "html", "packetdrill"] {
        let out = synack([&common[..], &["--format", format, &a]].concat());
        assert_eq!(out.status.code(), Some(2), "{format}");
        assert!(out.stdout.is_empty(), "{format}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--summary"),
            "{format}"
        );
    }
}

/// A summary under `--filter` counts the attempts it kept and says how
/// many it left out, on one thread and on two: with the kept ones they
/// are every attempt of the file.
#[test]
fn a_filtered_summary_says_what_it_left_out() {
    let Some(scan) = public("chrissanders-synscan.pcapng") else {
        return;
    };
    let scan = scan.display().to_string();
    let summary = |extra: &[&str]| {
        let args = [
            &["analyze", "--summary", "--format", "json"],
            extra,
            &[&scan],
        ]
        .concat();
        let out = synack(&args);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["files"][0]["summary"].clone()
    };
    let all = summary(&[]);
    assert_eq!(all["attempts_left_out"], 0);
    for threads in ["1", "2"] {
        let kept = summary(&["--filter", "outcome=refused", "--threads", threads]);
        let (k, l) = (
            kept["attempts"].as_u64(),
            kept["attempts_left_out"].as_u64(),
        );
        assert_eq!(k, kept["outcomes"]["refused"].as_u64());
        assert!(k > Some(0) && l > Some(0), "{kept}");
        assert_eq!(k.zip(l).map(|(k, l)| k + l), all["attempts"].as_u64());
        let text = synack([
            "analyze",
            "--summary",
            "--filter",
            "outcome=refused",
            "--threads",
            threads,
            &scan,
        ]);
        let head = String::from_utf8_lossy(&text.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        let said = format!(
            "{} connection attempts kept by --filter, {} left out",
            k.unwrap_or(0),
            l.unwrap_or(0)
        );
        assert!(head.contains(&said), "{head}");
    }
    let text = synack(["analyze", "--summary", &scan]);
    assert!(!String::from_utf8_lossy(&text.stdout).contains("--filter"));
}

/// The Chinese report of every public capture, attempts and all, leaves
/// none of the English report's words behind (option names, rule ids and
/// flags stay as they are).
#[test]
fn the_chinese_report_has_no_english_words_left() {
    let Some(dir) = common::public_captures() else {
        return;
    };
    let english = [
        "none",
        "yes",
        "true",
        "false",
        "offered",
        "negotiated",
        "scaling",
        "accepted",
        "requested",
        "issued",
        "frames",
        "frame",
        "attempts",
        "damaged",
        "checksums",
        "established",
        "refused",
        "answer",
        "client",
        "server",
        "retransmissions",
    ];
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.to_string_lossy().to_string();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        seen += 1;
        let out = synack(["analyze", "-v", "--lang", "zh", &name]);
        let text = String::from_utf8(out.stdout).unwrap();
        let text = text.replace(&name, "");
        // Brackets hold ids (`[half-open: client-silent, 确定]`, `[S.]`),
        // the same in every language.
        let mut plain = String::new();
        let mut depth = 0;
        for c in text.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                _ if depth == 0 => plain.push(c),
                _ => {}
            }
        }
        let text = plain;
        // Flags (`--no-checksums`) are the command's own words.
        let words: Vec<&str> = text
            .split(|c: char| !(c.is_ascii_alphabetic() || c == '-'))
            .filter(|w| !w.starts_with("--"))
            .flat_map(|w| w.split('-'))
            .collect();
        for word in words {
            assert!(
                !english.contains(&word),
                "{name}: {word:?} in the Chinese report:\n{text}"
            );
        }
    }
    assert!(seen >= 10, "{seen} public captures");
}
