#!/usr/bin/env bash
# Live capture benchmark (as root): a veth pair into a network namespace made here (no traffic
# to any other address), `otsensor capture` on the root end, tcpreplay sending the Plant1
# Modbus + S7comm merge of the corpus from the namespace at each rate of RATES (Mbit/s, or
# `top`), SENDERS senders at once; prints what tcpreplay achieved and what the sensor received
# and dropped (kernel and interface drops from libpcap). Removes the namespace at the end.
# Usage: [RATES="200 500 top"] [SENDERS=1] [LOOPS=10] benches/live-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p otsensor
bin=$PWD/target/release/otsensor
cap=${CAPTURE:-../shared/pcaps/mixed/plant1__modbus+s7comm-merged.pcap}
[ -f "$cap" ] || { echo "needs $cap" >&2; exit 2; }
ns=otsbench$$ host=otsb$$ peer=otsp$$
work=$(mktemp -d)
cleanup() { ip link del "$host" 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip link add "$host" type veth peer name "$peer" netns "$ns"
ip link set "$host" up
ip netns exec "$ns" ip link set "$peer" up
printf '%-8s %8s %12s %12s %10s %10s\n' rate senders "sent pkt/s" "sent Mbit/s" received dropped
for rate in ${RATES:-200 500 1000 top}; do
  "$bin" capture -i "$host" --stats "$work/stats.json" --alerts /dev/null >/dev/null 2>"$work/err" &
  sensor=$!
  sleep 1.5
  speed=$([ "$rate" = top ] && echo --topspeed || echo "--mbps=$rate")
  pids=()
  for s in $(seq "${SENDERS:-1}"); do
    ip netns exec "$ns" tcpreplay -q -K -i "$peer" $speed --loop="${LOOPS:-10}" "$cap" >"$work/tr$s" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  sleep 1
  kill -INT "$sensor"; wait "$sensor" || true
  python3 - "$work" "$rate" "${SENDERS:-1}" <<'PY'
import json, re, sys, glob
work, rate, senders = sys.argv[1], sys.argv[2], int(sys.argv[3])
pps = mbps = 0.0
for f in glob.glob(f"{work}/tr*"):
    m = re.search(r"Rated: [\d.]+ Bps, ([\d.]+) Mbps, ([\d.]+) pps", open(f).read())
    if m:
        mbps += float(m.group(1)); pps += float(m.group(2))
c = json.load(open(f"{work}/stats.json"))["capture"]
print(f"{rate:<8} {senders:>8} {pps:>12.0f} {mbps:>12.1f} {c['received']:>10} {c['dropped'] + c['if_dropped']:>10}")
PY
done
