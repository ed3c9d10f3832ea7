# Sourced by the full-fidelity benchmarks (fidelity, Sigma, console): builds the release
# binaries and sets `bin`, `work` (WORKDIR, or a new temporary directory) and `cap`: the
# corpus' Plant1 Modbus + S7comm merge replicated 20 times with new client addresses
# (gen-replicate, 752,420 packets; made once per WORKDIR), with `$work/base.json` the
# baseline learned from it under the Plant1 zones, and the file read once into the page cache.
# Usage: . benches/plant20.sh [WORKDIR]
cargo build --release -q -p otsensor -p otsensor-benches
work=${1:-$(mktemp -d)}
mkdir -p "$work"
bin=target/release/otsensor
plant=${OTSENSOR_SHARED_PCAPS:-../shared/pcaps}/mixed/plant1__modbus+s7comm-merged.pcap
[ -f "$plant" ] || { echo "needs $plant (the shared corpus)" >&2; exit 2; }
cap=$work/plant20.pcap
[ -f "$cap" ] || target/release/gen-replicate "$plant" "$cap" 20 >/dev/null
rm -f "$work/base.json"
"$bin" replay -c config/plant1-zones.toml --learn --baseline "$work/base.json" "$cap" >/dev/null 2>&1
cat "$cap" >/dev/null
