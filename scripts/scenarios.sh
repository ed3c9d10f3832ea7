#!/usr/bin/env bash
# The labelled scenario set (pcaps/synthetic/scenarios): regenerates it from the Plant1
# captures and checks the committed files are what the generator makes, then learns on
# train.pcap, detects on test.pcap and prints, per scenario, its expected alerts found,
# detected or missed, time to detect and false alerts (the table of the README).
#
#   scripts/scenarios.sh            # table on stdout
set -euo pipefail
cd "$(dirname "$0")/.."
set_dir=pcaps/synthetic/scenarios
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run -q -p otsensor-benches --bin gen-scenarios -- "$work" \
  pcaps/modbus/iti-modbustcp/ModbusTCP.pcap pcaps/s7comm/ct-samples-plant1/Plant1_S7comm.pcap >&2
for f in train.pcap test.pcap labels.json; do
  cmp -s "$work/$f" "$set_dir/$f" || { echo "$set_dir/$f differs from what gen-scenarios makes" >&2; exit 1; }
done
OTSENSOR_SCENARIO_TABLE="$work/table.md" \
  cargo test -q -p otsensor --test e2e scenarios::labelled_scenarios_detected_without_false_alerts -- --exact >&2
cat "$work/table.md"
