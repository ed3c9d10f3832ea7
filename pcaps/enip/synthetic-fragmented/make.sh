#!/usr/bin/env bash
# Regenerates fragmented.pcap (see README.md).
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo run -q --release -p otsensor-benches --bin gen-enip-io -- fragmented \
  pcaps/enip/synthetic-fragmented/fragmented.pcap
