#!/usr/bin/env bash
# Live capture benchmark (as root): a veth pair into a network namespace made here (no traffic
# to any other address), `otsensor capture` on the root end, and senders in the namespace:
# - SENDER=tcpreplay (default): the Plant1 Modbus + S7comm merge of the corpus, LOOPS times, at
#   each rate of RATES (Mbit/s, or `top`);
# - SENDER=netsniff-ng: the same merge replicated 100 times with new addresses (gen-replicate,
#   3.76 M packets) sent once at top speed through a TX ring (netsniff-ng -m: the fastest sender
#   we have; RATES is ignored).
# SENDERS senders at once. Prints the rate the senders achieved and what the sensor's kernel
# ring counted ("received", drops included) and dropped (kernel and interface drops from
# libpcap). Removes the namespace at the end.
# Usage: [SENDER=tcpreplay|netsniff-ng] [RATES="200 500 top"] [SENDERS=1] [LOOPS=10] [DRAIN=1]
#        benches/live-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p otsensor -p otsensor-benches
bin=$PWD/target/release/otsensor
sender=${SENDER:-tcpreplay}
cap=${CAPTURE:-../shared/pcaps/mixed/plant1__modbus+s7comm-merged.pcap}
[ -f "$cap" ] || { echo "needs $cap" >&2; exit 2; }
command -v "$sender" >/dev/null || { echo "needs $sender (apt-get install $sender)" >&2; exit 2; }
ns=otsbench$$ host=otsb$$ peer=otsp$$
work=$(mktemp -d)
cleanup() { ip link del "$host" 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip link add "$host" type veth peer name "$peer" netns "$ns"
ip link set "$host" up
ip netns exec "$ns" ip link set "$peer" up
rates=${RATES:-200 500 1000 top}
if [ "$sender" = netsniff-ng ]; then
  target/release/gen-replicate "$cap" "$work/big.pcap" 100 >/dev/null
  cap=$work/big.pcap rates=top
fi
printf '%-8s %8s %12s %12s %10s %10s %12s\n' rate senders "sent pkt/s" "sent Mbit/s" received dropped \
  "sensor us/pkt"
for rate in $rates; do
  "$bin" capture -i "$host" --stats "$work/stats.json" --alerts /dev/null >/dev/null 2>"$work/err" &
  sensor=$!
  sleep 1.5
  speed=$([ "$rate" = top ] && echo --topspeed || echo "--mbps=$rate")
  pids=()
  t0=$(date +%s.%N)
  for s in $(seq "${SENDERS:-1}"); do
    if [ "$sender" = netsniff-ng ]; then
      # -A: the namespace cannot raise the socket memory limits; -m: the capture mmapped.
      ip netns exec "$ns" netsniff-ng -A -m -k 100 -S 64MiB -s --in "$cap" --out "$peer" \
        >"$work/ns$s" 2>&1 &
    else
      ip netns exec "$ns" tcpreplay -q -K -i "$peer" $speed --loop="${LOOPS:-10}" "$cap" >"$work/tr$s" 2>&1 &
    fi
    pids+=($!)
  done
  wait "${pids[@]}"
  t1=$(date +%s.%N)
  # netsniff-ng prints no rate: the senders' packets and bytes over the time they took.
  if [ "$sender" = netsniff-ng ]; then
    capinfos -c -d -M "$cap" | awk -v n="${SENDERS:-1}" -v s="$(echo "$t1 - $t0" | bc -l)" \
      '/Number of packets/ {p=$NF} /Data size/ {b=$(NF-1)} END {printf "Rated: 0 Bps, %f Mbps, %f pps\n", n*b*8/s/1e6, n*p/s}' \
      >"$work/tr1"
  fi
  sleep 1
  # The sensor's CPU time (all its threads, user and system; clock ticks) before it stops.
  ticks=$(awk '{print $14 + $15}' "/proc/$sensor/stat")
  kill -INT "$sensor"; wait "$sensor" || true
  python3 - "$work" "$rate" "${SENDERS:-1}" "$ticks" "$(getconf CLK_TCK)" <<'PY'
import json, re, sys, glob
work, rate, senders = sys.argv[1], sys.argv[2], int(sys.argv[3])
cpu = int(sys.argv[4]) / int(sys.argv[5])
pps = mbps = 0.0
for f in glob.glob(f"{work}/tr*"):
    m = re.search(r"Rated: [\d.]+ Bps, ([\d.]+) Mbps, ([\d.]+) pps", open(f).read())
    if m:
        mbps += float(m.group(1)); pps += float(m.group(2))
c = json.load(open(f"{work}/stats.json"))["capture"]
got = c['received'] - c['dropped']
print(f"{rate:<8} {senders:>8} {pps:>12.0f} {mbps:>12.1f} {c['received']:>10} {c['dropped'] + c['if_dropped']:>10} {cpu / max(got, 1) * 1e6:>12.2f}")
PY
done
# DRAIN=1 (with SENDER=netsniff-ng): the capture path's capacity with no sender competing for
# the cores. The sensor (2 GiB capture ring) is stopped while the senders fill its ring, then
# resumed; the time it takes to process every packet (its packet counter, polled on its
# metrics endpoint) gives packets/s. The kernel's drop counter says whether the ring held them.
if [ "${DRAIN:-0}" = 1 ] && [ "$sender" = netsniff-ng ]; then
  port=$((20000 + $$ % 20000))
  printf '[capture]\nbuffer_size = 2147483647\n[metrics]\nlisten = "127.0.0.1:%s"\n' "$port" \
    >"$work/drain.toml"
  "$bin" capture -c "$work/drain.toml" -i "$host" --stats "$work/stats.json" --alerts /dev/null \
    >/dev/null 2>"$work/err" &
  sensor=$!
  # Ready when the metrics answer; the 2 GiB ring takes a moment more to map.
  until curl -sf "127.0.0.1:$port/metrics" >/dev/null; do sleep 0.2; done
  sleep 3
  kill -STOP "$sensor"
  pids=()
  for s in $(seq "${SENDERS:-1}"); do
    ip netns exec "$ns" netsniff-ng -A -m -k 100 -S 64MiB -s --in "$cap" --out "$peer" \
      >"$work/ns$s" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  total=$(( $(capinfos -c -M "$cap" | awk '/Number of packets/ {print $NF}') * ${SENDERS:-1} ))
  bytes=$(( $(capinfos -d -M "$cap" | awk '/Data size/ {print $(NF-1)}') * ${SENDERS:-1} ))
  t0=$(date +%s.%N)
  kill -CONT "$sensor"
  until [ "$(curl -s "127.0.0.1:$port/metrics" |
    awk '/^otsensor_packets_total/ {s += $2} END {print s + 0}')" -ge "$total" ]; do
    sleep 0.02
  done
  t1=$(date +%s.%N)
  kill -INT "$sensor"; wait "$sensor" || true
  python3 - "$work/stats.json" "$total" "$(echo "$t1 - $t0" | bc -l)" "$bytes" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["capture"]; n = int(sys.argv[2]); s = float(sys.argv[3])
b = int(sys.argv[4])
print(f"drain: {n} packets processed in {s:.2f} s after the sensor resumed: {n / s:,.0f} packets/s "
      f"({b * 8 / s / 1e6:,.0f} Mbit/s of this mix); kernel drops {c['dropped'] + c['if_dropped']}")
PY
fi
