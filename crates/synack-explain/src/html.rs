//! One self-contained page (no network, no files beside it): the ladder
//! diagram, each step expandable with its arithmetic, checks, states and
//! rule, and the answer. Keyboard stepping (→/j, ←/k, Home, End, Esc)
//! fades what has not happened yet. `#selftest` in the address makes the
//! page step itself and write what it saw into `#selftest` (for tests in
//! a headless browser).

use std::fmt::Write as _;

use crate::svg::esc;
use crate::words::Lang;
use crate::{Answer, Report, Style};
use synack_trace::Trace;

const CSS: &str = "body{font:14px/1.45 system-ui,'Noto Sans CJK SC',sans-serif;max-width:1040px;margin:1em auto;padding:0 1em;color:#111}\
h1{font-size:1.25em}.sub{color:#555;margin-top:-.6em}.keys{color:#666;font-size:.9em}\
#diagram{overflow-x:auto;border:1px solid #ddd;border-radius:4px;padding:4px}\
ol#steps{padding-left:2.2em}summary{cursor:pointer;font-family:'DejaVu Sans Mono',monospace;white-space:pre-wrap}\
pre{white-space:pre-wrap;margin:.2em 0 .7em 1em;font-family:'DejaVu Sans Mono','Noto Sans Mono CJK SC',monospace}\
li.current>details>summary{background:#ffe58a}#answer{border-top:2px solid #05a;margin-top:1.5em}";

const JS: &str = r#"(function(){
var errors=[];window.addEventListener('error',function(e){errors.push(String(e.message));});
var steps=[].slice.call(document.querySelectorAll('#steps>li'));
var rows=[].slice.call(document.querySelectorAll('svg .row'));
var cur=-1;
function show(i){if(!steps.length)return;cur=Math.max(0,Math.min(steps.length-1,i));var t=+steps[cur].dataset.t;
rows.forEach(function(r){var rt=+r.dataset.t;r.classList.toggle('future',rt>t);r.classList.toggle('now',rt===t);});
steps.forEach(function(s,j){s.classList.toggle('current',j===cur);s.querySelector('details').open=(j===cur);});
if(steps[cur].scrollIntoView)steps[cur].scrollIntoView({block:'nearest'});}
function all(){cur=-1;rows.forEach(function(r){r.classList.remove('future','now');});
steps.forEach(function(s){s.classList.remove('current');});}
document.addEventListener('keydown',function(e){var k=e.key;
if(k==='ArrowRight'||k==='j'||k===' '){show(cur+1);e.preventDefault();}
else if(k==='ArrowLeft'||k==='k'){show(cur-1);e.preventDefault();}
else if(k==='Home'){show(0);}else if(k==='End'){show(steps.length-1);}else if(k==='Escape'){all();}});
steps.forEach(function(s,j){s.querySelector('summary').addEventListener('click',function(e){e.preventDefault();show(j);});});
if(location.hash==='#selftest'){
function key(k){document.dispatchEvent(new KeyboardEvent('keydown',{key:k}));}
function fut(){return document.querySelectorAll('svg .future').length;}
var out={frames:document.querySelectorAll('svg line.frame').length,rows:rows.length,steps:steps.length,stepped:[]};
for(var n=0;n<3&&n<steps.length;n++){key('ArrowRight');out.stepped.push({cur:cur,open:document.querySelectorAll('details[open]').length,future:fut()});}
key('End');out.end={cur:cur,future:fut()};key('ArrowLeft');out.back=cur;key('Escape');out.reset=fut();
out.errors=errors;var p=document.getElementById('selftest');p.hidden=false;p.textContent=JSON.stringify(out);}
})();"#;

/// The page for `trace` with its `answer`, in `lang`.
pub fn render(trace: &Trace, answer: &Answer, lang: Lang) -> String {
    let report = Report::new(trace, answer, lang, Style::PLAIN);
    let mut out = String::new();
    let html_lang = match lang {
        Lang::En => "en",
        Lang::Zh => "zh-CN",
    };
    let mut head = report.header.lines();
    let title = head.next().unwrap_or_default();
    let sub: Vec<&str> = head.map(str::trim).collect();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{html_lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body>",
        esc(&format!("synack: {}", trace.scenario))
    );
    let _ = writeln!(
        out,
        "<h1>{}</h1><p class=\"sub\">{}</p>",
        esc(title),
        esc(&sub.join(" "))
    );
    let _ = writeln!(
        out,
        "<p class=\"keys\">{}</p>",
        esc(lang.t(
            "Step through the run: → or j next, ← or k back, Home, End; Esc shows everything. Click a step to open it.",
            "逐步查看：→ 或 j 下一步，← 或 k 上一步，Home、End；Esc 显示全部。点击某一步可展开。",
        ))
    );
    let _ = writeln!(
        out,
        "<div id=\"diagram\">{}</div>",
        crate::svg::element(trace, lang)
    );
    let _ = writeln!(
        out,
        "<h2>{}</h2>\n<ol id=\"steps\">",
        lang.t("Step by step", "逐步说明")
    );
    for (i, step) in report.steps.iter().enumerate() {
        let t = report.step_times.get(i).map_or(0, |t| t.as_micros());
        let mut lines = step.lines();
        let first = lines.next().unwrap_or_default();
        let rest: Vec<&str> = lines.collect();
        let _ = writeln!(
            out,
            "<li data-t=\"{t}\"><details><summary>{}</summary><pre>{}</pre></details></li>",
            esc(first.trim()),
            esc(&rest.join("\n"))
        );
    }
    let _ = writeln!(out, "</ol>");
    let (q, a) = answer;
    let _ = writeln!(
        out,
        "<section id=\"answer\"><h2>{}</h2><p>{}</p></section>",
        esc(q),
        esc(a)
    );
    let _ = writeln!(
        out,
        "<pre id=\"selftest\" hidden></pre><script>{JS}</script></body></html>"
    );
    out
}

/// One attempt of a capture, for [`capture_page`].
pub struct CaptureSection {
    /// e.g. `#3 10.0.0.1:40000 → 10.0.0.2:80`.
    pub title: String,
    /// Not established (refused, no answer, half-open, reset during the
    /// handshake): shown first.
    pub failed: bool,
    /// The attempt's report, as `synack analyze` prints it.
    pub text: String,
    /// Its frames, for the diagram.
    pub trace: Trace,
}

const CAPTURE_JS: &str = r#"(function(){
var errors=[];window.addEventListener('error',function(e){errors.push(String(e.message));});
if(location.hash==='#selftest'){var out=[].slice.call(document.querySelectorAll('section.attempt')).map(function(s){
return {frames:s.querySelectorAll('svg line.frame').length,failed:s.dataset.failed==='1'};});
var p=document.getElementById('selftest');p.hidden=false;p.textContent=JSON.stringify({attempts:out,errors:errors});}
})();"#;

/// `synack analyze --format html`: one self-contained page for a capture,
/// a diagram per attempt, failures first (in capture order within each);
/// `notes` (what the reading found: damage, attempts not drawn) under the
/// heading, a paragraph each.
pub fn capture_page(
    file: &str,
    lang: Lang,
    notes: &[String],
    mut sections: Vec<CaptureSection>,
) -> String {
    sections.sort_by_key(|s| !s.failed);
    let failed = sections.iter().filter(|s| s.failed).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}\
section.attempt{{border-top:1px solid #ccc;margin-top:1em}}section.failed h2{{color:#b00}}</style></head><body>",
        if lang == Lang::Zh { "zh-CN" } else { "en" },
        esc(&format!("synack analyze: {file}"))
    );
    let _ = writeln!(
        out,
        "<h1>{}</h1><p class=\"sub\">{}</p>",
        esc(file),
        esc(&match lang {
            Lang::En => format!(
                "{} connection attempt{}, {failed} failed; failures first.",
                sections.len(),
                if sections.len() == 1 { "" } else { "s" }
            ),
            Lang::Zh => format!(
                "{} 次连接尝试，{failed} 次失败；失败的排在前面。",
                sections.len()
            ),
        })
    );
    for n in notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(n));
    }
    for s in &sections {
        let _ = writeln!(
            out,
            "<section class=\"attempt{}\" data-failed=\"{}\"><h2>{}</h2><pre>{}</pre><div class=\"diagram\">{}</div></section>",
            if s.failed { " failed" } else { "" },
            u8::from(s.failed),
            esc(&s.title),
            esc(s.text.trim_end()),
            crate::svg::element(&s.trace, lang)
        );
    }
    let _ = writeln!(
        out,
        "<pre id=\"selftest\" hidden></pre><script>{CAPTURE_JS}</script></body></html>"
    );
    out
}
