#!/usr/bin/env bash
# Sigma rule budget (issue 30): the full-fidelity benchmark (fidelity-bench.sh: the Plant1
# Modbus + S7comm merge replicated 20 times, --events, zones, detection against a baseline,
# alerts) with no Sigma rules, with 50 rules on services the capture does not carry (DNP3,
# IEC 104, BACnet, OPC UA, flows of other protocols... none of its records is tried) and with
# 50 rules on its own protocols (Modbus and S7comm: every event is tried against 25 rules).
# Best of RUNS (default 5) wall and CPU seconds each.
# Usage: [RUNS=5] benches/sigma-bench.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/plant20.sh "${1:-}"
mkdir -p "$work/other" "$work/own"

rule() { # file id service selection-lines
  cat >"$1" <<RULE
title: bench rule $2
id: bench-$2
level: medium
tags: [attack.t0836]
logsource: {product: otsensor, service: $3}
detection:
  sel:
$4
  ews:
    src.ip|cidr: 10.99.0.0/16
  condition: sel and not ews
RULE
}
others=(dnp3 iec104 bacnet opcua enip cip mms s7comm_plus)
for i in $(seq 0 49); do
  s=${others[$((i % ${#others[@]}))]}
  rule "$work/other/r$i.yml" "other-$i" "$s" "    function_code: $((i + 1))
    direction: request"
done
for i in $(seq 0 49); do
  if [ $((i % 2)) = 0 ]; then
    rule "$work/own/r$i.yml" "own-$i" modbus "    function_code: $((i + 5))
    addresses.start|gt: $((i * 100))"
  else
    rule "$work/own/r$i.yml" "own-$i" s7comm "    function|startswith: write_
    dst.ip|cidr: 10.$i.0.0/16"
  fi
done
for k in other own; do
  sed "/^\[rules\]/a sigma = [\"$work/$k\"]" config/plant1-zones.toml >"$work/$k.toml"
  grep -q '^sigma = ' "$work/$k.toml" || printf '\n[rules]\nsigma = ["%s"]\n' "$work/$k" >>"$work/$k.toml"
done
cp config/plant1-zones.toml "$work/none.toml"

best() { # label config → best wall and CPU seconds of RUNS
  local bw=999999 bc=999999 t0 t1 c
  for _ in $(seq "${RUNS:-5}"); do
    rm -f "$work/events.jsonl" "$work/alerts.jsonl"
    t0=$(date +%s.%N)
    /usr/bin/time -o "$work/time" -f '%U %S' "$bin" replay -c "$2" --baseline "$work/base.json" \
      "$cap" --events "$work/events.jsonl" --alerts "$work/alerts.jsonl" >/dev/null 2>&1
    c=$(awk '{print $1 + $2}' "$work/time")
    t1=$(date +%s.%N)
    bw=$(echo "d=$t1-$t0; if (d < $bw) d else $bw" | bc -l)
    bc=$(echo "if ($c < $bc) $c else $bc" | bc -l)
  done
  printf '%-44s wall %6.3f s   cpu %6.3f s\n' "$1" "$bw" "$bc"
}
best "full fidelity, no Sigma rules" "$work/none.toml"
best "full fidelity, 50 rules on other services" "$work/other.toml"
best "full fidelity, 50 rules on Modbus and S7comm" "$work/own.toml"
echo "events: $(wc -l <"$work/events.jsonl"); Sigma alerts: $(grep -c '"engine":"sigma"' "$work/alerts.jsonl" || true)"
