#!/usr/bin/env bash
# Coverage-guided fuzzing of every target in fuzz/ for SECONDS each
# (default 30): the wire parsers, the engine, the capture reader and the
# analyze filter and packetdrill scripts. A crash fails the run and leaves its input in
# fuzz/artifacts/TARGET/; turn it into a test under the crate's tests/.
# Works on the stable toolchain (RUSTC_BOOTSTRAP=1, no sanitizer runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire engine capture filter script)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi
if [ -d ../shared/captures/public ]; then
    python3 fuzz/seed.py
fi
export RUSTC_BOOTSTRAP=1
cd fuzz
cargo fuzz build --sanitizer none
for t in "${targets[@]}"; do
    echo "== fuzz $t for ${seconds}s"
    mkdir -p "corpus/$t"
    cargo fuzz run "$t" --sanitizer none -- -max_total_time="$seconds" 2>&1 \
        | grep -E '^(Done|#[0-9]+ +DONE)|panicked|SUMMARY|Test unit written' || true
    if compgen -G "artifacts/$t/crash-*" >/dev/null; then
        echo "fuzz $t: crash inputs in fuzz/artifacts/$t" >&2
        exit 1
    fi
done
