#!/usr/bin/env bash
# Replay benchmark: otsensor (release build) against `tshark -r FILE -q` on the same files.
# Usage: benches/replay-bench.sh [FILE...]   (default: the two files named in the README)
# Prints, per file: packets, otsensor's packets/s and MB/s with 1 worker and with one per
# core (best of 3, files read from page cache), tshark's wall time, and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p otsensor
bin=target/release/otsensor
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(../shared/pcaps/s7comm/ct-samples__Plant1_S7comm.pcap ../shared/pcaps/modbus/iti-ics__ModbusTCP.pcap)
fi
now() { date +%s.%N; }
best_of_3() { # command... → best wall seconds
  local best=999999 t0 t1 d
  for _ in 1 2 3; do
    t0=$(now); "$@" >/dev/null 2>&1; t1=$(now)
    d=$(echo "$t1 - $t0" | bc -l)
    best=$(echo "if ($d < $best) $d else $best" | bc -l)
  done
  echo "$best"
}
printf '%-45s %9s %13s %9s %13s %9s %10s %7s\n' file packets "pkt/s(1w)" "MB/s(1w)" "pkt/s(Nw)" "MB/s(Nw)" "tshark s" "ratio"
for f in "${files[@]}"; do
  cat "$f" >/dev/null
  stats=$(mktemp)
  "$bin" replay "$f" --workers 1 --stats "$stats" >/dev/null
  packets=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['packets'])" "$stats")
  bytes=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['bytes'])" "$stats")
  rm -f "$stats"
  t1=$(best_of_3 "$bin" replay "$f" --workers 1)
  tn=$(best_of_3 "$bin" replay "$f")
  tt=$(best_of_3 tshark -r "$f" -q)
  printf '%-45s %9d %13.0f %9.1f %13.0f %9.1f %10.3f %7.1f\n' "$(basename "$f")" "$packets" \
    "$(echo "$packets / $t1" | bc -l)" "$(echo "$bytes / $t1 / 1000000" | bc -l)" \
    "$(echo "$packets / $tn" | bc -l)" "$(echo "$bytes / $tn / 1000000" | bc -l)" \
    "$tt" "$(echo "$tt / $t1" | bc -l)"
done
echo "(wall time of the whole process, start-up included; best of 3)"
