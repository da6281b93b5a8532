//! What several scenarios do the same way: the request and response of
//! the data scenarios, and the textbook kernel runs (synack connects to a
//! kernel listener; the kernel's application connects to synack).

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use synack_engine::sim::{Fault, Side};
use synack_engine::{ConnHandle, Event, Instant};
use synack_net::harness::{KernelRun, SEC, cmd, io};
use synack_net::{Dir, NetError};

use crate::Options;

pub const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
pub const RESPONSE: &[u8] = b"HTTP/1.0 200 OK\r\n\r\nhello\n";

pub fn no_tune(_: &Options, _: &mut synack_engine::Config, _: &mut synack_engine::Config) {}

/// synack's client gives up after two SYN retransmissions, to keep runs
/// that nothing answers short (the schedule's shape is kept).
pub fn short_syn_retries(
    _: &Options,
    a: &mut synack_engine::Config,
    _: &mut synack_engine::Config,
) {
    use synack_engine::Schedule;
    a.syn_schedule = match a.syn_schedule {
        Schedule::LinuxSyn { linear, .. } => Schedule::LinuxSyn { retries: 2, linear },
        Schedule::Exponential { .. } => Schedule::Exponential { retries: 2 },
    };
}

pub fn no_faults(_: &Options) -> Vec<Fault> {
    Vec::new()
}

/// The simulated link drops the `n`th segment `role` sends.
pub fn sim_lose(role: Side, n: usize) -> Vec<Fault> {
    vec![Fault::DropNth { from: role, n }]
}

/// The driver drops the `n`th segment `role` (client A, server B) sends,
/// whoever plays it.
pub fn lose(run: &mut KernelRun, role: Side, n: usize) {
    let dir = if role == run.kernel_side {
        Dir::FromKernel
    } else {
        Dir::ToKernel
    };
    run.d.faults.push(synack_net::Fault::DropNth { dir, n });
}

/// synack connects to the kernel's listener, the handshake completes, the
/// kernel's application accepts.
pub fn synack_connects(
    run: &mut KernelRun,
) -> Result<(ConnHandle, TcpListener, TcpStream), NetError> {
    let l = run.listen()?;
    let (h, s) = run.open(run.ours, &l)?;
    Ok((h, l, s))
}

/// How long the lab's application waits in connect(): longer than Linux's
/// default SYN retries take, so a timeout it reports is the kernel's.
pub const CONNECT_LIMIT: Duration = Duration::from_secs(180);

/// The kernel's application connects to `target` without waiting and at
/// once writes `request`, so its write() waits for the handshake; only
/// when the kernel holds it there (read from /proc) does the driver turn
/// and synack answer the SYN. Then `app` runs on the socket.
pub fn kernel_writes_while_connecting(
    run: &mut KernelRun,
    target: SocketAddr,
    request: &'static [u8],
    app: impl FnOnce(TcpStream) -> std::io::Result<()> + Send + 'static,
) -> Result<KernelClient, NetError> {
    use std::io::Write;
    let epoch = run.d.epoch();
    let from = SocketAddr::new(run.theirs.ip(), 0);
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel::<(i32, Option<SocketAddr>)>();
    let thread = std::thread::spawn(move || {
        let now = || Instant::from_nanos(epoch.elapsed().as_nanos() as u64);
        let mut c = synack_net::connect_from(from, target).map_err(|e| (now(), e.kind()))?;
        c.set_nonblocking(false).map_err(|e| (now(), e.kind()))?;
        let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = tid_tx.send((synack_net::gettid(), c.local_addr().ok()));
        c.write_all(request).map_err(|e| (now(), e.kind()))?;
        let _ = wait.recv_timeout(Duration::from_secs(10));
        app(c).map_err(|e| (now(), e.kind()))
    });
    let (tid, local) = tid_rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| cmd("the kernel's application did not start connecting"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !synack_net::harness::waits_in_write(tid) {
        if std::time::Instant::now() > deadline {
            return Err(cmd(format!(
                "the kernel's write() never waited for the handshake (thread {tid}: {:?})",
                synack_net::harness::blocked_in(tid)
            )));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    // Asleep in write() on a SYN_SENT socket: the wait for the handshake.
    let local = local.ok_or_else(|| cmd("the kernel's socket has no address"))?;
    if run.kernel_state(local, target) != Some("SYN_SENT") {
        return Err(cmd(
            "the kernel's socket is not in SYN_SENT while write() waits",
        ));
    }
    run.d.after_call("write() waits for the handshake");
    Ok(KernelClient { thread, target, go })
}

/// The kernel's application, connecting to synack from a thread of the lab.
pub struct KernelClient {
    thread: JoinHandle<Result<(), (Instant, std::io::ErrorKind)>>,
    target: SocketAddr,
    go: std::sync::mpsc::Sender<()>,
}

/// The kernel connects to `target`; once told to go, `app` runs on the
/// connected socket. Until then the socket stays as the handshake left it,
/// so its ESTABLISHED is there for the observer to see.
pub fn kernel_connects(
    run: &mut KernelRun,
    target: SocketAddr,
    app: impl FnOnce(TcpStream) -> std::io::Result<()> + Send + 'static,
) -> KernelClient {
    let epoch = run.d.epoch();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let now = || Instant::from_nanos(epoch.elapsed().as_nanos() as u64);
        let c =
            TcpStream::connect_timeout(&target, CONNECT_LIMIT).map_err(|e| (now(), e.kind()))?;
        let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = wait.recv_timeout(Duration::from_secs(10));
        app(c).map_err(|e| (now(), e.kind()))
    });
    KernelClient { thread, target, go }
}

impl KernelClient {
    /// Let the application go on past its connect().
    pub fn go(&self) {
        let _ = self.go.send(());
    }

    /// Turn until the application is done; record what its connect() said.
    pub fn finish(self, run: &mut KernelRun, within: Duration) -> Result<(), NetError> {
        self.go();
        run.until(within, |_| self.thread.is_finished())?;
        let r = self
            .thread
            .join()
            .map_err(|_| cmd("the kernel's application panicked"))?;
        if let Err((at, kind)) = r {
            let call = match kind {
                std::io::ErrorKind::ConnectionRefused => "connect() → ECONNREFUSED",
                std::io::ErrorKind::TimedOut => "connect() → ETIMEDOUT",
                std::io::ErrorKind::HostUnreachable => "connect() → EHOSTUNREACH",
                std::io::ErrorKind::NetworkUnreachable => "connect() → ENETUNREACH",
                std::io::ErrorKind::ConnectionReset => "read() → ECONNRESET",
                _ => "the application's call failed",
            };
            let local = kernel_client_addr(run).unwrap_or(self.target);
            run.call_returned(at, local, self.target, call);
        }
        Ok(())
    }
}

/// The kernel client's address, from its first frame.
pub fn kernel_client_addr(run: &KernelRun) -> Option<SocketAddr> {
    run.d
        .log
        .iter()
        .filter(|c| c.dir == Dir::FromKernel)
        .find_map(|c| synack_wire::parse_segment(&c.bytes, false).ok())
        .map(|p| SocketAddr::new(p.ip.src, p.tcp.src_port))
}

/// synack listens; the kernel connects and runs `app`; synack's side waits
/// until it has accepted. Returns synack's connection.
pub fn kernel_connects_to_us(
    run: &mut KernelRun,
    app: impl FnOnce(TcpStream) -> std::io::Result<()> + Send + 'static,
) -> Result<(KernelClient, Option<ConnHandle>), NetError> {
    run.d.ep.listen(run.ours).map_err(cmd)?;
    let target = run.ours;
    let client = kernel_connects(run, target, app);
    run.until(5 * SEC, |d| d.has_event(Event::Accepted))?;
    // The kernel's ESTABLISHED was seen when our SYN-ACK (or its ACK) crossed.
    client.go();
    let h = run
        .d
        .events
        .iter()
        .find(|e| e.2 == Event::Accepted)
        .map(|e| e.1);
    Ok((client, h))
}

/// Read `n` bytes from the kernel's socket while turning the driver.
pub fn read_kernel(run: &mut KernelRun, s: &mut TcpStream, n: usize) -> Result<(), NetError> {
    s.set_nonblocking(true).map_err(io)?;
    let mut got = Vec::new();
    run.until(5 * SEC, |_| {
        let mut b = [0u8; 256];
        if let Ok(k) = s.read(&mut b) {
            got.extend_from_slice(b.get(..k).unwrap_or(&[]));
        }
        got.len() >= n
    })?;
    s.set_nonblocking(false).map_err(io)?;
    Ok(())
}
