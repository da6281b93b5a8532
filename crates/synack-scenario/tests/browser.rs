//! The drawn formats in a real browser: for every scenario the HTML page is
//! loaded by headless Chromium, which steps through it itself (`#selftest`)
//! and reports what its DOM shows: every frame of the trace drawn, stepping
//! forward, back, to the end and out again, no script error. The SVG is
//! read by an XML parser, and rendered once by Chromium. Screenshots are
//! kept in `target/browser/` (CI keeps them as artefacts).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use synack_explain::{Format, Lang, Report, Style};
use synack_scenario::{ALL, Options, Scenario};
use synack_trace::Trace;

fn chromium() -> Option<&'static str> {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(c);
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but Chromium is missing"
    );
    eprintln!("SKIPPED (set CI to make this a failure): Chromium is not installed");
    None
}

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn trace(s: Scenario) -> Trace {
    synack_scenario::run_sim(&Options {
        scenario: s,
        seed: Some(1),
        ..Options::default()
    })
    .unwrap()
}

/// Chromium, headless, on `url`, with `args`; its standard output.
fn run_chromium(bin: &str, profile: &Path, args: &[&str], url: &str) -> String {
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium {args:?} {url}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the page's self-test wrote into `#selftest`.
fn selftest(dom: &str) -> serde_json::Value {
    let start = dom
        .find("<pre id=\"selftest\">")
        .expect("the self-test ran")
        + 19;
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

fn check_page(bin: &str, s: Scenario, t: &Trace, lang: Lang) -> Vec<String> {
    let mut bad = Vec::new();
    let dir = out_dir();
    let tag = format!("{}-{}", s.name, if lang == Lang::Zh { "zh" } else { "en" });
    let page = dir.join(format!("{tag}.html"));
    std::fs::write(&page, common::render(t, Format::Html, lang, Style::PLAIN)).unwrap();
    let profile =
        std::env::temp_dir().join(format!("synack-chromium-{}-{tag}", std::process::id()));
    let url = format!("file://{}", page.display());
    let dom = run_chromium(bin, &profile, &["--dump-dom"], &format!("{url}#selftest"));
    let st = selftest(&dom);
    let [en, zh] = synack_scenario::answers(t);
    let answer = if lang == Lang::Zh { zh } else { en };
    let steps = Report::new(t, &answer, lang, Style::PLAIN).steps.len() as u64;
    let want = |what: &str, got: &serde_json::Value, v: u64| {
        (got.as_u64() != Some(v)).then(|| format!("{tag}: {what} {got}, want {v}"))
    };
    bad.extend(want("frames drawn", &st["frames"], t.link.len() as u64));
    bad.extend(want("steps", &st["steps"], steps));
    for (i, s) in st["stepped"].as_array().unwrap().iter().enumerate() {
        bad.extend(want("step index", &s["cur"], i as u64));
        bad.extend(want("open steps", &s["open"], 1));
    }
    let fut: Vec<u64> = st["stepped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["future"].as_u64().unwrap())
        .collect();
    if fut.windows(2).any(|w| w[1] > w[0]) {
        bad.push(format!("{tag}: stepping forward showed less: {fut:?}"));
    }
    bad.extend(want(
        "last step",
        &st["end"]["cur"],
        steps.saturating_sub(1),
    ));
    bad.extend(want("faded at the end", &st["end"]["future"], 0));
    bad.extend(want("step back", &st["back"], steps.saturating_sub(2)));
    bad.extend(want("faded after Esc", &st["reset"], 0));
    if st["errors"].as_array().is_none_or(|e| !e.is_empty()) {
        bad.push(format!("{tag}: script errors {}", st["errors"]));
    }
    if lang == Lang::En {
        let png = dir.join(format!("{tag}.png"));
        run_chromium(
            bin,
            &profile,
            &[
                &format!("--screenshot={}", png.display()),
                "--window-size=1100,1600",
            ],
            &url,
        );
        if std::fs::metadata(&png).map_or(true, |m| m.len() < 10_000) {
            bad.push(format!("{tag}: no screenshot"));
        }
    }
    let _ = std::fs::remove_dir_all(&profile);
    bad
}

#[test]
fn every_scenario_page_works_in_chromium() {
    let Some(bin) = chromium() else { return };
    let jobs: Vec<(Scenario, Lang)> = ALL
        .into_iter()
        .flat_map(|s| [(s, Lang::En), (s, Lang::Zh)])
        .collect();
    let mut bad = Vec::new();
    for chunk in jobs.chunks(4) {
        let hs: Vec<_> = chunk
            .iter()
            .map(|&(s, lang)| std::thread::spawn(move || check_page(bin, s, &trace(s), lang)))
            .collect();
        for h in hs {
            bad.extend(h.join().unwrap());
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The SVG is well-formed XML with a line per frame and a row per moment;
/// Chromium renders one.
#[test]
fn every_scenario_svg_is_xml_with_every_frame() {
    for s in ALL {
        let t = trace(s);
        for lang in [Lang::En, Lang::Zh] {
            let svg = common::render(&t, Format::Svg, lang, Style::PLAIN);
            let doc =
                roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            let root = doc.root_element();
            assert_eq!(root.tag_name().name(), "svg");
            let frames = root
                .descendants()
                .filter(|n| n.has_tag_name("line"))
                .filter(|n| {
                    n.attribute("class")
                        .is_some_and(|c| c.split(' ').any(|x| x == "frame"))
                })
                .count();
            assert_eq!(frames, t.link.len(), "{}", s.name);
            // Every label is a frame's numbers as the trace holds them.
            for f in t.all_frames() {
                let seq = format!("seq={}", f.seq());
                assert!(svg.contains(&seq), "{}: {seq}", s.name);
            }
        }
    }
    let Some(bin) = chromium() else { return };
    let t = trace(synack_scenario::by_name("normal").unwrap());
    let dir = out_dir();
    let path = dir.join("normal-zh.svg");
    std::fs::write(
        &path,
        common::render(&t, Format::Svg, Lang::Zh, Style::PLAIN),
    )
    .unwrap();
    let png = dir.join("normal-zh-svg.png");
    let profile = std::env::temp_dir().join(format!("synack-chromium-svg-{}", std::process::id()));
    run_chromium(
        bin,
        &profile,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1000,600",
        ],
        &format!("file://{}", path.display()),
    );
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        std::fs::metadata(&png).unwrap().len() > 5_000,
        "the SVG rendered"
    );
}
