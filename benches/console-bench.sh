#!/usr/bin/env bash
# Console cost (issue 31): the full-fidelity benchmark (the Plant1 Modbus + S7comm merge
# replicated 20 times, --events, zones, detection against a baseline, alerts) with the
# console off, on and idle, and on while a client (logged in once: one argon2id check)
# polls its overview and alert list every 200 ms (a browser refreshes every 5 s: this is
# 25 times as busy). Runs alternate between the three so that the machine's drift hits all
# alike. With the console on, a replay keeps serving after its input ends: its wall time is
# taken when it says so (every packet processed), then it is interrupted; CPU seconds are
# the process's user + system (the idle serving after the end costs ~nothing).
# Usage: [RUNS=10] benches/console-bench.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/plant20.sh "${1:-}"
cp config/plant1-zones.toml "$work/off.toml"
hash=$(echo bench | "$bin" console hash-password)
{ cat config/plant1-zones.toml; printf '\n[console]\nlisten = "127.0.0.1:%s"\n' "${CONSOLE_PORT:-18443}"; printf '[[console.users]]\nname = "b"\npassword_hash = "%s"\n' "$hash"; } >"$work/on.toml"

# The sensor's standard error is read through a FIFO, blocking: a waiting loop would take
# CPU from the sensor on a 2-core machine.
run() { # off | idle | polled → "wall cpu"
  rm -f "$work/events.jsonl" "$work/alerts.jsonl" "$work/time" "$work/fifo"
  mkfifo "$work/fifo"
  local t0 t1 pid line poller='' drain cfg=$work/on.toml
  [ "$1" = off ] && cfg=$work/off.toml
  if [ "$1" = polled ]; then
    # One client on one kept-alive connection, started (and its Python loaded) before the
    # sensor: it connects as soon as the console listens.
    python3 - "http://127.0.0.1:${CONSOLE_PORT:-18443}/" "$work/answers" <<'PY' &
import http.client, json, sys, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
while True:
    try:
        c = http.client.HTTPConnection(u.hostname, u.port)
        c.request("POST", "/api/login", json.dumps({"name": "b", "password": "bench"}),
                  {"Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        break
    except OSError:
        time.sleep(0.005)
cookie = r.getheader("Set-Cookie").split(";")[0]
n = 0
while True:
    for path in ("/api/overview", "/api/alerts"):
        c.request("GET", path, headers={"Cookie": cookie})
        if c.getresponse().read()[:1] in (b"{", b"["):
            n += 1
    with open(sys.argv[2], "a") as f:
        f.write(f"{n}\n")
    time.sleep(0.2)
PY
    poller=$!
    sleep 0.3
  fi
  t0=$(date +%s.%N)
  /usr/bin/time -o "$work/time" -f '%U %S' "$bin" replay -c "$cfg" --baseline "$work/base.json" \
    "$cap" --events "$work/events.jsonl" --alerts "$work/alerts.jsonl" >/dev/null 2>"$work/fifo" &
  pid=$!
  exec 3<"$work/fifo"
  if [ "$1" != off ]; then
    while IFS= read -r line <&3; do
      case $line in
        *'input has ended'*) break ;;
      esac
    done
    t1=$(date +%s.%N)
    [ -z "$poller" ] || { kill "$poller"; wait "$poller" 2>/dev/null || true; }
    cat <&3 >/dev/null &
    drain=$!
    kill -INT "$(pgrep -P "$pid" otsensor)" 2>/dev/null || true
  else
    cat <&3 >/dev/null &
    drain=$!
  fi
  wait "$pid"
  [ "$1" != off ] || t1=$(date +%s.%N)
  wait "$drain" || true
  exec 3<&-
  echo "$(echo "$t1 - $t0" | bc -l) $(awk '{print $1 + $2}' "$work/time")"
}
: >"$work/off.txt"; : >"$work/idle.txt"; : >"$work/polled.txt"; : >"$work/answers"
for _ in $(seq "${RUNS:-10}"); do
  for k in off idle polled; do run "$k" >>"$work/$k.txt"; done
done
stat() { # file column → "min median"
  cut -d' ' -f"$2" "$1" | sort -n | awk '{v[NR]=$1} END {printf "%.3f %.3f", v[1], v[int((NR+1)/2)]}'
}
for k in off idle polled; do
  read -r wmin wmed <<<"$(stat "$work/$k.txt" 1)"
  read -r cmin cmed <<<"$(stat "$work/$k.txt" 2)"
  printf 'console %-6s wall min %s median %s s   cpu min %s median %s s  (%d runs)\n' \
    "$k" "$wmin" "$wmed" "$cmin" "$cmed" "$(wc -l <"$work/$k.txt")"
done
echo "polled: $(grep -c . "$work/answers") rounds of 2 requests answered with JSON over $(wc -l <"$work/polled.txt") runs"
