#!/usr/bin/env bash
# Installs what the test suite needs on Debian and runs all of it.
# The live-capture test creates network namespaces and needs root; elsewhere it says it skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
apt_install build-essential pkg-config libpcap-dev curl ca-certificates iproute2 tcpreplay graphviz
ensure_rust
cargo test --workspace --no-fail-fast
