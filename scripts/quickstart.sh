#!/usr/bin/env bash
# Installs what otsensor needs on Debian, builds it, and runs it on the sample captures:
# the Plant1 Modbus/TCP capture (events, assets, stats, and a baseline learned under the
# zone layout of config/plant1-zones.toml), then detection on Modbus + S7comm traffic of the
# same plant against that baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
apt_install build-essential pkg-config libpcap-dev curl ca-certificates python3
ensure_rust
cargo build --release -p otsensor
mkdir -p out
rm -f out/baseline.json
OTS=./target/release/otsensor
MODBUS=pcaps/modbus/iti-modbustcp/ModbusTCP.pcap
S7=pcaps/s7comm/ct-samples-plant1/Plant1_S7comm.pcap
$OTS replay -c config/plant1-zones.toml "$MODBUS" --learn --baseline out/baseline.json \
  --events out/events.jsonl --assets out/assets.json --stats out/stats.json \
  --alerts out/learn-alerts.jsonl
$OTS replay -c config/plant1-zones.toml "$MODBUS" "$S7" --baseline out/baseline.json \
  --alerts out/alerts.jsonl --assets out/assets.json
echo "--- out/stats.json (excerpt, learning run)"
python3 - <<'PY'
import json
s = json.load(open("out/stats.json"))
for k in ("packets", "bytes", "flows", "pdus", "drops"):
    print(f"{k}: {s[k]}")
PY
echo "--- out/baseline.json (otsensor baseline show, first lines)"
$OTS baseline show out/baseline.json | head -24
echo "--- out/alerts.jsonl: detection on Modbus + S7comm, last record per alert"
python3 - <<'PY'
import json
last = {}
for line in open("out/alerts.jsonl"):
    a = json.loads(line)
    last[a["id"]] = a
for a in sorted(last.values(), key=lambda a: (a["rule"], a["dst"]["ip"])):
    print(f'{a["rule"]:<32} {a["src"]["ip"]} ({a["src"]["zone"]}) -> {a["dst"]["ip"]} ({a["dst"]["zone"]})'
          f'  {a["protocol"]} {a.get("function") or ""}  x{a["count"]}')
PY
echo "--- $(grep -c '"ip"' out/assets.json) assets in out/assets.json; $(wc -l < out/events.jsonl) events in out/events.jsonl"
