#!/usr/bin/env bash
# The project's test command: checks formatting and lints, then runs every
# test. It installs what the tests need when it is missing, so it works on a
# fresh Debian/Ubuntu machine with a Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
# The Linux-peer tests drive the kernel through `ip` in their own network
# namespaces, and check the pcap files synack writes with tshark.
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v ss >/dev/null 2>&1 || need_apt+=(iproute2)
# probe's tests run it as nobody too.
command -v setpriv >/dev/null 2>&1 || need_apt+=(util-linux)
command -v tshark >/dev/null 2>&1 || need_apt+=(tshark)
# The port-scanner example filters a port with an nftables rule.
command -v nft >/dev/null 2>&1 || need_apt+=(nftables)
# explain's layout is checked in a real 80-column terminal.
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
# The HTML and SVG explain writes are checked in headless Chromium, which
# needs a CJK font for the Chinese pages.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || need_apt+=(fonts-wqy-microhei)
# analyze reads compressed captures; the tests compress with the real tools.
command -v zstd >/dev/null 2>&1 || need_apt+=(zstd)
command -v xz >/dev/null 2>&1 || need_apt+=(xz-utils)
command -v gzip >/dev/null 2>&1 || need_apt+=(gzip)
# analyze -F is checked against tcpdump's own reading of the same filter,
# and the analyze benchmark runs tcpdump beside synack.
command -v tcpdump >/dev/null 2>&1 || need_apt+=(tcpdump)
# analyze puts fragments back together: checked on nmap -f's SYNs, which
# the kernel answers.
command -v nmap >/dev/null 2>&1 || need_apt+=(nmap)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing: ${need_apt[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
    else
        echo "missing: ${need_apt[*]} (install them, or run as root to let this script do it)" >&2
        exit 1
    fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --all-targets --locked
echo "== doc tests and docs"
cargo test --doc --locked
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked --quiet
echo "== browser screenshots of every scenario's page: target/browser/"
echo "== examples"
cargo run -q --locked -p synack-engine --example two_endpoints > /dev/null
cargo run -q --locked -p synack-engine --example syn_cookie_responder
cargo run -q --locked -p synack-net --example port_scanner
