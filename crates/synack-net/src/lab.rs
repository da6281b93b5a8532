//! A private lab: a network namespace of the calling thread's own, with a TUN
//! device in it. The kernel owns one address on the device and synack the
//! other, so the kernel's TCP talks to synack as to a separate host. Nothing
//! outside the namespace is touched; it vanishes with the thread.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::process::Command;

use crate::NetError;
use crate::sys;

pub const KERNEL_V4: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
pub const SYNACK_V4: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
pub const KERNEL_V6: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 1);
pub const SYNACK_V6: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 2);

pub struct Lab {
    pub tun: OwnedFd,
    pub device: String,
}

/// What a lab is made of: the TUN device's name, the kernel's addresses on
/// it (with prefix lengths), and networks routed through it.
#[derive(Debug, Clone, Copy)]
pub struct LabSpec<'a> {
    pub device: &'a str,
    pub addrs: &'a [(IpAddr, u8)],
    pub routes: &'a [(IpAddr, u8)],
    /// Give the namespace a TCP hash table of its own, small: a sock_diag
    /// dump walks every bucket, and the host's table (262,144 buckets here)
    /// makes each dump take about 3 ms, an empty one too.
    pub small_hash: bool,
}

impl Lab {
    /// Move the calling thread into a new network namespace and set it up.
    /// Run it on a thread of its own: the thread stays in the namespace, and
    /// so do threads it spawns afterwards.
    pub fn create() -> Result<Lab, NetError> {
        Lab::create_with(&LabSpec {
            device: "synack0",
            addrs: &[(IpAddr::V4(KERNEL_V4), 24), (IpAddr::V6(KERNEL_V6), 64)],
            routes: &[],
            small_hash: false,
        })
    }

    /// A lab with the device name, the kernel's addresses and the routes
    /// through the device that `spec` gives (packetdrill's layout, say).
    pub fn create_with(spec: &LabSpec<'_>) -> Result<Lab, NetError> {
        sys::unshare_net().map_err(NetError::Namespace)?;
        // tcp_child_ehash_entries sizes the table of namespaces made from
        // this one (Linux 6.1): set it in a first namespace, make the lab's
        // inside it. The first one is freed once the thread has left it.
        if spec.small_hash && sysctl("net/ipv4/tcp_child_ehash_entries", "256").is_ok() {
            sys::unshare_net().map_err(NetError::Namespace)?;
        }
        ip(&["link", "set", "lo", "up"])?;
        let (tun, device) = sys::open_tun(spec.device).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                NetError::TunDenied(e)
            } else {
                NetError::Tun(e)
            }
        })?;
        // Quiet the device: no router solicitations or DAD probes to ignore.
        let _ = sysctl(&format!("net/ipv6/conf/{device}/router_solicitations"), "0");
        for (addr, prefix) in spec.addrs {
            let a = format!("{addr}/{prefix}");
            match addr {
                IpAddr::V4(_) => ip(&["addr", "add", &a, "dev", &device])?,
                IpAddr::V6(_) => ip(&["-6", "addr", "add", &a, "dev", &device, "nodad"])?,
            }
        }
        ip(&["link", "set", &device, "up"])?;
        for (net, prefix) in spec.routes {
            ip(&["route", "add", &format!("{net}/{prefix}"), "dev", &device])?;
        }
        Ok(Lab { tun, device })
    }

    /// The kernel's address in the family of `synack`.
    pub fn kernel_addr(v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(KERNEL_V6)
        } else {
            IpAddr::V4(KERNEL_V4)
        }
    }

    pub fn synack_addr(v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(SYNACK_V6)
        } else {
            IpAddr::V4(SYNACK_V4)
        }
    }
}

/// Move the calling thread into a new, empty network namespace (loopback
/// up), for callers that build their own devices in it (tests of
/// `synack connect`).
pub fn private_namespace() -> Result<(), NetError> {
    sys::unshare_net().map_err(NetError::Namespace)?;
    ip(&["link", "set", "lo", "up"])
}

/// Run `ip` inside the calling thread's namespace.
pub fn run_ip(args: &[&str]) -> Result<(), NetError> {
    ip(args)
}

/// For a user other than root: enter a user namespace (before any thread is
/// started) so that [`Lab::create`] may make the network namespace. Root
/// needs nothing and gets `Ok`.
pub fn prepare_unprivileged() -> Result<(), NetError> {
    if sys::is_root() {
        return Ok(());
    }
    sys::enter_user_namespace().map_err(NetError::Namespace)
}

/// Run `ip` inside the namespace (children inherit the calling thread's).
fn ip(args: &[&str]) -> Result<(), NetError> {
    let out = Command::new("ip").args(args).output().map_err(|e| {
        NetError::Command(format!(
            "ip {}: {e} (is iproute2 installed?)",
            args.join(" ")
        ))
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetError::Command(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Load an nftables ruleset into this thread's namespace (`nft -f -`):
/// the firewall lives and dies with the lab.
pub fn nft(ruleset: &str) -> Result<(), NetError> {
    use std::io::Write;
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| NetError::Command(format!("nft: {e} (is nftables installed?)")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(ruleset.as_bytes())
            .map_err(|e| NetError::Command(format!("nft: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| NetError::Command(format!("nft: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetError::Command(format!(
            "nft: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// How many packets the nftables rule with `comment` counted, read from
/// `nft list ruleset` in this thread's namespace.
pub fn nft_counted(comment: &str) -> Option<u64> {
    let out = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains(&format!("comment \"{comment}\"")))?;
    let mut words = line.split_whitespace();
    words.find(|w| *w == "packets")?;
    words.next()?.parse().ok()
}

/// Write a per-namespace sysctl (path below /proc/sys, e.g.
/// `net/ipv4/tcp_syn_retries`) as seen by this thread's namespace.
pub fn sysctl(path: &str, value: &str) -> Result<(), NetError> {
    let full = format!("/proc/sys/{path}");
    std::fs::write(&full, value).map_err(|e| NetError::Command(format!("{full}: {e}")))
}
