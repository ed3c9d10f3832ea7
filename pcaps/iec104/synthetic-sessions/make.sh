#!/usr/bin/env bash
# Regenerates sessions.pcap (see README.md); prints the ASDUs written per type id.
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo run -q --release -p otsensor-benches --bin gen-iec104 -- \
  pcaps/iec104/synthetic-sessions/sessions.pcap 3 20
