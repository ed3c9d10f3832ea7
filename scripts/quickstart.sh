#!/usr/bin/env bash
# Installs what otsensor needs on Debian, builds it, and replays the sample capture.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
apt_install build-essential pkg-config libpcap-dev curl ca-certificates
ensure_rust
cargo build --release -p otsensor
mkdir -p out
./target/release/otsensor replay pcaps/modbus/iti-modbustcp/ModbusTCP.pcap \
  --events out/events.jsonl --assets out/assets.json --stats out/stats.json
echo "--- out/stats.json (excerpt)"
python3 - <<'PY' 2>/dev/null || head -c 1200 out/stats.json
import json
s = json.load(open("out/stats.json"))
for k in ("packets", "bytes", "link_types", "flows", "pdus", "drops"):
    print(f"{k}: {s[k]}")
PY
echo "--- assets: $(grep -c '"ip"' out/assets.json) hosts in out/assets.json; events: $(wc -l < out/events.jsonl) lines in out/events.jsonl"
