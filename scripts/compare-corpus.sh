#!/usr/bin/env bash
# Replays every capture of a corpus through two otsensor binaries and compares what they
# produce byte for byte: events, alerts (under the Plant1 zones, so policy alerts fire),
# assets, the learned baseline, alerts and flow records when detecting with that baseline, and stats (less
# the wall-clock fields). For refactors: behaviour must not change.
#
#   scripts/compare-corpus.sh OLD_BIN NEW_BIN [CORPUS_DIR] [WORK_DIR]
# OLD_WORKERS and NEW_WORKERS (default 2) set each side's --workers: outputs must not depend
# on it either.
set -euo pipefail
old_workers=${OLD_WORKERS:-2} new_workers=${NEW_WORKERS:-2}
old=$1 new=$2
corpus=${3:-$(dirname "$0")/../../shared/pcaps}
work=${4:-$(mktemp -d)}
# A baseline left by an earlier run would be learned on top of: start clean.
rm -rf "$work/old" "$work/new"
cfg=$(dirname "$0")/../config/plant1-zones.toml
strip_stats() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in ("elapsed_secs","packets_per_sec","mbytes_per_sec","version","workers"): d.pop(k,None)
d["flows"].pop("peak",None)  # a sum of per-worker peaks
print(json.dumps(d,sort_keys=True,indent=1))' "$1"; }
n=0 same=0 differ=0
while IFS= read -r -d '' f; do
  n=$((n+1))
  for side in old new; do
    bin=${!side}
    w=${side}_workers; w=${!w}
    d="$work/$side/$n"; mkdir -p "$d"
    "$bin" replay "$f" -c "$cfg" --workers "$w" --events "$d/events.jsonl" --alerts "$d/alerts.jsonl" \
      --assets "$d/assets.json" --stats "$d/stats.raw" --learn --baseline "$d/baseline.json" \
      >/dev/null 2>"$d/stderr" || echo "exit $?" >>"$d/stderr"
    "$bin" replay "$f" -c "$cfg" --workers "$w" --alerts "$d/detect.jsonl" --baseline "$d/baseline.json" --flows "$d/flows.jsonl" \
      >/dev/null 2>>"$d/stderr" || echo "exit $?" >>"$d/stderr"
    [ -f "$d/stats.raw" ] && strip_stats "$d/stats.raw" >"$d/stats.json" && rm "$d/stats.raw"
  done
  if diff -r "$work/old/$n" "$work/new/$n" >/dev/null; then
    same=$((same+1))
  else
    differ=$((differ+1)); echo "DIFFERS: $f ($work/old/$n vs $work/new/$n)"
  fi
done < <(find "$corpus" \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0 | sort -z)
echo "$n captures: $same identical, $differ differ"
[ "$differ" -eq 0 ]
