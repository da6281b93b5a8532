//! The executor's own lateness is not charged to the system under test: on
//! a busy machine the runner may take an action milliseconds after it was
//! due, and a packet the system sent on time must still pass.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use synack_script::calls::{Call, Ret};
use synack_script::engine::EngineSut;
use synack_script::error::RunError;
use synack_script::report::RuleRef;
use synack_script::report::{MismatchKind, Peer, Socket, Verdict};
use synack_script::run::{self, Sent, Started, Sut};
use synack_script::settings::Settings;

/// The engine, with every socket dump costing `cost_us` of its clock: the
/// executor dumps the sockets after each event, so the next action starts
/// that much late, as with the kernel's sock_diag on a loaded machine.
struct Slow {
    inner: EngineSut,
    cost_us: i64,
}

impl Sut for Slow {
    fn peer(&self) -> Peer {
        self.inner.peer()
    }
    fn begin(&mut self) {
        self.inner.begin()
    }
    fn now(&mut self) -> i64 {
        self.inner.now()
    }
    fn sleep_until(&mut self, t: i64) -> Result<(), RunError> {
        self.inner.sleep_until(t)
    }
    fn inject(&mut self, packet: &[u8]) -> Result<(), RunError> {
        self.inner.inject(packet)
    }
    fn outbound(&mut self, deadline: i64) -> Result<Option<Sent>, RunError> {
        self.inner.outbound(deadline)
    }
    fn start_call(&mut self, call: &Call) -> Result<Started, RunError> {
        self.inner.start_call(call)
    }
    fn blocked(&mut self, deadline: i64) -> Result<Option<(i64, Ret)>, RunError> {
        self.inner.blocked(deadline)
    }
    fn shell(&mut self, command: &str) -> Result<(i32, String), String> {
        self.inner.shell(command)
    }
    fn sockets(&mut self) -> Vec<Socket> {
        let sockets = self.inner.sockets();
        let t = self.inner.now() + self.cost_us;
        let _ = self.inner.sleep_until(t);
        sockets
    }
    fn rules(&mut self) -> Vec<RuleRef> {
        self.inner.rules()
    }
}

/// The client's ACK answers the SYN-ACK at once; the script lists it after
/// a second injected segment due at the same instant.
const SCRIPT: &str = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+0.02 < S. 0:0(0) ack 1 win 64240 <mss 1460>
+0 < . 1:1(0) ack 1 win 501
+0 > . 1:1(0) ack 1 <...>
";

fn run_with(cost_us: i64, script: &str) -> synack_script::report::Report {
    let settings = Settings::default();
    let parsed = synack_script::parse(script).unwrap();
    let mut sut = Slow {
        inner: EngineSut::new(&settings),
        cost_us,
    };
    run::run("t.pkt", script, &parsed, &settings, &mut sut)
}

#[test]
fn a_packet_on_time_for_a_late_action_passes() {
    let quick = run_with(0, SCRIPT);
    assert_eq!(quick.result, Verdict::Pass, "{:?}", quick.mismatch);
    // 6 ms late each time, beyond the 4 ms tolerance: the ACK was sent when
    // the SYN-ACK went in, 6 ms before the next segment did.
    let slow = run_with(6_000, SCRIPT);
    assert_eq!(slow.result, Verdict::Pass, "{:?}", slow.mismatch);
    let ack = slow.events.last().unwrap();
    let pushed = &slow.events[slow.events.len() - 2];
    assert!(ack.at_us < pushed.at_us, "{} {}", ack.at_us, pushed.at_us);
}

#[test]
fn a_packet_early_for_when_the_action_was_due_still_fails() {
    // The ACK is due 10 ms after the last segment was due; it comes with
    // the SYN-ACK, 10 ms early, more than the tolerance plus the lateness.
    let early = SCRIPT.replace("+0 > . 1:1(0)", "+0.01 > . 1:1(0)");
    let slow = run_with(6_000, &early);
    assert_eq!(slow.result, Verdict::Fail);
    let m = slow.mismatch.unwrap();
    assert_eq!(m.kind, MismatchKind::Timing, "{}", m.message);
}
