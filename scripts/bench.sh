#!/usr/bin/env bash
# Benchmarks: build release, run the load generator against the real server, write BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin staffhome --example loadgen
./target/release/examples/loadgen --server target/release/staffhome --out BENCHMARKS.md "$@"
