//! Two engines over the simulated link on a virtual clock.

use core::net::SocketAddr;
use core::time::Duration;

use synack_engine::sim::{Fault, Pair, Side, SimLink};
use synack_engine::{Config, Endpoint, Event, Instant, IsnMode, State};

fn addrs() -> (SocketAddr, SocketAddr) {
    ("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:80".parse().unwrap())
}

fn pair(cfg: Config, faults: Vec<Fault>, seed: u64) -> Pair {
    let mut a = cfg.clone();
    a.isn = IsnMode::Fixed(1000);
    let mut b = cfg;
    b.isn = IsnMode::Fixed(5000);
    let mut link = SimLink::new(Duration::from_millis(10), seed);
    link.faults = faults;
    let mut p = Pair::new(Endpoint::new(a), Endpoint::new(b), link);
    p.b.listen(addrs().1).unwrap();
    p
}

#[test]
fn smoke_handshake() {
    let mut p = pair(Config::rfc(), vec![], 1);
    let (c, s) = addrs();
    let h = p.a.connect(Instant::ZERO, c, s).unwrap();
    let ok = p.run_until(Instant::from_millis(5000), |p| {
        p.has_event(Side::A, Event::Connected) && p.has_event(Side::B, Event::Accepted)
    });
    for (side, st) in &p.steps {
        eprintln!("{side:?} {:?} {:?} {} {:?}->{:?}", st.at, st.action, st.rule, st.before.state, st.after.state);
    }
    assert!(ok);
    assert_eq!(p.a.connection(h).unwrap().state(), State::Established);
}
