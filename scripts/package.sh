#!/usr/bin/env bash
# Builds the Debian package: target/debian/otsensor_<version>-1_<arch>.deb (packaging/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
apt_install build-essential pkg-config libpcap-dev libssl-dev zlib1g-dev dpkg-dev
ensure_rust
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --version 3.8.0 --locked
cargo build --release -p otsensor
cargo deb -p otsensor --no-build "$@"
