#!/usr/bin/env bash
# Flood benchmark: generates the flood captures (gen-flood) and replays each with the release
# build, printing packets, wall time, packets/s and peak memory (GNU time), and the flood
# alerts raised. Usage: [RUNS=3] benches/flood-bench.sh [WORKDIR]   (default: a temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p otsensor -p otsensor-benches
work=${1:-$(mktemp -d)}
mkdir -p "$work"
bin=target/release/otsensor gen=target/release/gen-flood
plant=pcaps/modbus/iti-modbustcp/ModbusTCP.pcap
"$gen" "$work/syn-1m.pcap" syn 1000000 >/dev/null
"$gen" "$work/short-200k.pcap" short 200000 >/dev/null
"$gen" "$work/scan-1m.pcap" scan 1000000 >/dev/null
"$gen" "$work/syn-1m-in-plant.pcap" syn 1000000 "$plant" >/dev/null
printf '%-22s %9s %8s %10s %8s  %s\n' capture packets secs "pkt/s" "MiB" "flood alerts"
for f in syn-1m short-200k scan-1m syn-1m-in-plant; do
  cat "$work/$f.pcap" >/dev/null
  # Best of RUNS (default 3): a shared 2-core machine is noisy; the peak memory is the last run's.
  secs=999
  for _ in $(seq "${RUNS:-3}"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$bin" replay "$work/$f.pcap" --stats "$work/$f.json" \
      --alerts "$work/$f.alerts" >/dev/null 2>&1
    read -r s kb <"$work/time"
    secs=$(python3 -c "print(min($secs, $s))")
  done
  python3 - "$work/$f.json" "$secs" "$kb" "$f" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); secs = float(sys.argv[2]); kb = int(sys.argv[3])
rules = sorted(r for r in s["alerts"]["by_rule"] if "flood" in r or "scan" in r)
print(f'{sys.argv[4]:<22} {s["packets"]:>9} {secs:>8.2f} {s["packets"]/secs:>10.0f} {kb/1024:>8.0f}  {",".join(rules)}')
PY
done
