//! What the command's test files share.

/// Whether the tests run as root (the lab needs it), read from
/// /proc/self/status rather than asked of libc.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Whether the tests may make network namespaces (root); SKIPPED
/// without, unless CI is set, where that is a failure.
#[allow(dead_code)]
pub fn can_make_namespaces() -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the namespace tests cannot run: not root"
    );
    eprintln!("SKIPPED (set CI to make this a failure): needs root for the network namespaces");
    false
}

/// A thread in a network namespace of its own: closures sent to it run
/// there, and so do the commands they start (children inherit the
/// thread's namespace). The namespace ends with the thread, so nothing is
/// left on the host whatever happens to the test.
#[allow(dead_code)] // not every test file uses it
pub struct Ns {
    jobs: Option<std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The thread's id: `/proc/<tid>/ns/net` names the namespace.
    pub tid: i32,
}

#[allow(dead_code)]
impl Ns {
    pub fn new() -> Ns {
        let (tx, rx) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            synack_net::lab::private_namespace().unwrap();
            tid_tx.send(synack_net::gettid()).unwrap();
            for job in rx {
                job();
            }
        });
        Ns {
            jobs: Some(tx),
            thread: Some(thread),
            tid: tid_rx.recv().unwrap(),
        }
    }

    /// Run `f` in the namespace and wait for its result.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        self.jobs
            .as_ref()
            .unwrap()
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .unwrap();
        rx.recv().expect("the namespace's job panicked")
    }

    /// A command run in the namespace, its output.
    pub fn cmd(&self, prog: &str, args: &[&str]) -> std::process::Output {
        let (prog, args): (String, Vec<String>) =
            (prog.into(), args.iter().map(|s| s.to_string()).collect());
        self.run(move || {
            std::process::Command::new(&prog)
                .args(&args)
                .output()
                .unwrap_or_else(|e| panic!("{prog}: {e}"))
        })
    }

    /// `cmd` that must succeed.
    pub fn ok(&self, prog: &str, args: &[&str]) {
        let o = self.cmd(prog, args);
        assert!(
            o.status.success(),
            "{prog} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[allow(dead_code)]
/// Words as a POSIX shell splits them, for the examples: single and double
/// quotes group, and are removed.
pub fn shell_words(s: &str) -> Vec<String> {
    let (mut words, mut cur, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in s.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (_, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// `synack ARGS` run to its end, in the C locale.
#[allow(dead_code)]
pub fn synack<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .env("LANG", "C")
        .output()
        .unwrap_or_else(|e| panic!("synack: {e}"))
}

/// The same, which must be a success (its stderr says why not).
#[allow(dead_code)]
pub fn synack_ok<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> std::process::Output {
    let out = synack(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// tcpdump capturing on `lo` into `file` (`extra`: a count, a filter),
/// returned once it says it is listening, so nothing sent after is missed.
/// Run it in the namespace whose loopback it is to capture.
#[allow(dead_code)]
pub fn tcpdump_on_lo(file: &std::path::Path, extra: &[String]) -> std::process::Child {
    tcpdump_on("lo", file, extra)
}

/// The same on interface `dev`.
#[allow(dead_code)]
pub fn tcpdump_on(dev: &str, file: &std::path::Path, extra: &[String]) -> std::process::Child {
    use std::io::BufRead;
    let mut dump = std::process::Command::new("tcpdump")
        .args(["-i", dev, "-U", "-n", "-w"])
        .arg(file)
        .args(extra)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("tcpdump (scripts/test.sh installs it)");
    let mut said = std::io::BufReader::new(dump.stderr.take().expect("piped"));
    let mut line = String::new();
    while !line.contains("listening on") {
        line.clear();
        assert!(
            said.read_line(&mut line).unwrap_or(0) > 0,
            "tcpdump ended: {line}"
        );
    }
    dump
}

/// tcpdump `dump` stopped once `file` holds `sentinel` (a datagram sent
/// after everything the test captures): everything before it is in the
/// file too, whatever the timing.
#[allow(dead_code)]
pub fn stop_once_written(mut dump: std::process::Child, file: &std::path::Path, sentinel: &[u8]) {
    let seen =
        || std::fs::read(file).is_ok_and(|b| b.windows(sentinel.len()).any(|w| w == sentinel));
    // A bound on a failure, not a wait for the result.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seen() {
        assert!(
            std::time::Instant::now() < deadline,
            "tcpdump never wrote the datagram"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = dump.kill();
    let _ = dump.wait();
}

/// tshark's fields of `file`'s frames (`-T fields`), one line per frame
/// shown, with `args` before them (a display filter, preferences); `None`
/// when tshark is missing and CI unset (a failure under CI).
#[allow(dead_code)]
pub fn tshark_fields(file: &std::path::Path, args: &[&str], fields: &[&str]) -> Option<String> {
    let mut cmd = std::process::Command::new("tshark");
    cmd.args(args).args(["-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    match cmd.arg("-r").arg(file).output() {
        Ok(out) => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "CI is set: tshark: {e}");
            eprintln!("SKIPPED the tshark check: {e}");
            None
        }
    }
}

/// A directory of one test's own for the files it writes, removed when
/// the test ends, passed or failed (the guard is dropped as a panic
/// unwinds): the harness runs no teardown, and a directory shared by a
/// process's tests would be left behind.
#[allow(dead_code)]
pub struct Scratch(std::path::PathBuf);

#[allow(dead_code)]
impl Scratch {
    /// `synack-WHAT-PID-N` in the temporary directory.
    pub fn new(what: &str) -> Scratch {
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("synack-{what}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch(dir)
    }

    /// A file's path in it.
    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// ../shared/captures/public, or `None` (SKIPPED, said on stderr) when it
/// is missing and `CI` is unset.
#[allow(dead_code)]
pub fn public_captures() -> Option<std::path::PathBuf> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures/public");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the public captures are missing"
    );
    eprintln!("SKIPPED: no public captures");
    None
}

#[allow(dead_code)]
/// Headless Chromium's command, or `None` (a failure under `CI`) when it
/// is not installed.
pub fn chromium() -> Option<&'static str> {
    if std::process::Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some("chromium");
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but Chromium is missing"
    );
    eprintln!("SKIPPED (set CI to make this a failure): Chromium is not installed");
    None
}

#[allow(dead_code)]
/// What an analyze page's self-test found when `chromium` loaded it
/// (`profile`: a directory of its own for the browser): each attempt
/// drawn, with its frames, and any script error.
pub fn page_selftest(
    chromium: &str,
    page: &std::path::Path,
    profile: &std::path::Path,
) -> serde_json::Value {
    let dom = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}#selftest", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    let at = dom
        .find("<pre id=\"selftest\">")
        .expect("the self-test ran")
        + 19;
    let end = at + dom[at..].find("</pre>").unwrap();
    serde_json::from_str(&dom[at..end].replace("&quot;", "\"")).unwrap()
}
