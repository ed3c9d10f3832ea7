#!/usr/bin/env bash
# Builds the Debian package: target/debian/otsensor_<version>-1_<arch>.deb, and its debug
# symbols in otsensor-dbgsym_<version>-1_<arch>.ddeb (packaging/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
apt_install build-essential pkg-config libpcap-dev libssl-dev zlib1g-dev dpkg-dev
ensure_rust
if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "installing cargo-deb 3.8.0 from crates.io (a few minutes, once)"
  cargo install cargo-deb --version 3.8.0 --locked
fi
cargo build --release -p otsensor
# The binary stripped; its debug symbols in otsensor-dbgsym_<version>-1_<arch>.ddeb beside
# it (for backtraces and perf: install it next to the package).
cargo deb -p otsensor --no-build --dbgsym "$@"
