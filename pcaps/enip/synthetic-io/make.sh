#!/usr/bin/env bash
# Regenerates io.pcap (see README.md).
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo run -q --release -p otsensor-benches --bin gen-enip-io -- io pcaps/enip/synthetic-io/io.pcap 50
