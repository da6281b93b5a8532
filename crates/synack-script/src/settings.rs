//! A run's settings: the script's `--name=value` options over the command
//! line's, packetdrill's default addresses and ports, and the timing
//! tolerance.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ast::Script;

/// The system under test's address (packetdrill's `local_ip`).
pub const LOCAL_V4: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);
/// Where injected packets come from (`remote_ip`).
pub const REMOTE_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const LOCAL_V6: Ipv6Addr = Ipv6Addr::new(0xfd3d, 0x0a0b, 0x17d6, 0, 0, 0, 0, 1);
pub const REMOTE_V6: Ipv6Addr = Ipv6Addr::new(0xfd3d, 0xfa7b, 0xd17d, 0, 0, 0, 0, 1);
/// The port `bind(…, ...)` and `connect(…, ...)` mean.
pub const PORT: u16 = 8080;
/// The remote port of connections the script opens towards the system.
pub const REMOTE_PORT: u16 = 48_123;
/// packetdrill's least tolerance, 4 ms.
pub const MIN_TOLERANCE_US: i64 = 4_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub v6: bool,
    /// The least timing tolerance; 12.5 % of the time since the previous
    /// event counts when it is more.
    pub tolerance_us: i64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            v6: false,
            tolerance_us: MIN_TOLERANCE_US,
        }
    }
}

impl Settings {
    pub fn local(&self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(LOCAL_V6)
        } else {
            IpAddr::V4(LOCAL_V4)
        }
    }

    pub fn remote(&self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(REMOTE_V6)
        } else {
            IpAddr::V4(REMOTE_V4)
        }
    }

    /// The tolerance for an event `gap_us` after the previous one.
    pub fn tolerance(&self, gap_us: i64) -> i64 {
        self.tolerance_us.max(gap_us.max(0) / 8)
    }

    /// Apply the script's options. An option this runner does not know is
    /// named in the error: the script is then unsupported.
    pub fn with_script(mut self, script: &Script) -> Result<Settings, String> {
        for (name, value) in &script.options {
            match name.as_str() {
                "tolerance_usecs" => {
                    self.tolerance_us =
                        value
                            .parse()
                            .ok()
                            .filter(|v: &i64| *v >= 0)
                            .ok_or_else(|| {
                                format!("--tolerance_usecs={value} is not a number of µs")
                            })?;
                }
                "ip_version" => {
                    self.v6 = match value.as_str() {
                        "ipv4" => false,
                        "ipv6" => true,
                        other => {
                            return Err(format!(
                                "--ip_version={other} (ipv4 and ipv6 are supported)"
                            ));
                        }
                    }
                }
                other => return Err(format!("the script option --{other}")),
            }
        }
        Ok(self)
    }
}
