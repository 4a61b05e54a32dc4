#!/usr/bin/env bash
# Coverage-guided fuzzing on the stable toolchain (no cargo-fuzz, no nightly): libfuzzer-sys
# links libFuzzer, and rustc's stable SanitizerCoverage passes give it coverage. No address
# sanitizer (nightly-only); Rust's own checks and debug assertions catch what they catch.
#
#   scripts/fuzz-stable.sh TARGET [SECONDS]     e.g. scripts/fuzz-stable.sh mock_requests 600
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
target=${1:?"a target: scenario, trace, summary, bodies, mock, mock_requests, config"}
seconds=${2:-60}
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=3 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# --target keeps the flags off build scripts and proc macros.
triple=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --target "$triple" --bin "$target" --target-dir target/cov
mkdir -p "corpus/$target"
"target/cov/$triple/release/$target" "corpus/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536
