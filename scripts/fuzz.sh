#!/usr/bin/env bash
# Seeds every fuzz target from the project's captures (fuzz/seeds.py), then runs each for
# SECONDS (default 180) with cargo-fuzz on nightly, JOBS at a time (default 2), and prints
# per target: executions, edges covered (libFuzzer's cov), features and corpus size.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-180}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
python3 seeds.py corpus >/dev/null
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"   # targets without seeds (tcp_reassembly) start empty
  cargo +nightly fuzz build -O "$t" 2>&1 | tail -1
done
mkdir -p logs
run() {
  cargo +nightly fuzz run -O "$1" "corpus/$1" -- -max_total_time="$secs" -print_final_stats=1 \
    >"logs/$1.log" 2>&1 || echo "$1: FAILED (see fuzz/logs/$1.log and fuzz/artifacts/$1)" >&2
}
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "${JOBS:-2}" ]; do sleep 1; done
  run "$t" &
done
wait
printf '%-16s %12s %8s %8s %8s\n' target execs cov ft corpus
for t in "${targets[@]}"; do
  last=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "logs/$t.log" | grep -oE '[0-9]+$' || echo "?")
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
  printf '%-16s %12s %8s %8s %8s\n' "$t" "$execs" "$cov" "$ft" "$corp"
done
