#!/usr/bin/env bash
# Regenerates syn-flood-in-plant.pcap (see README.md).
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo run -q --release -p otsensor-benches --bin gen-flood -- \
  pcaps/synthetic/syn-flood-in-plant/syn-flood-in-plant.pcap syn 20000 \
  pcaps/modbus/iti-modbustcp/ModbusTCP.pcap
