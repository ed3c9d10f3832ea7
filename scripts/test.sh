#!/usr/bin/env bash
# Installs what the test suite needs on Debian and runs all of it.
# The live-capture test creates network namespaces and needs root; elsewhere it says it skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. scripts/kafka.sh
apt_install build-essential pkg-config libpcap-dev curl ca-certificates iproute2 tcpreplay \
  graphviz python3 python3-venv nodejs libssl-dev zlib1g-dev systemd dpkg-dev tshark \
  openssl chromium chromium-driver python3-selenium
ensure_rust

# Independent parsers for the alert formats (tests/e2e/formats.rs), from the package
# registries: pycef (CEF), ocsf-json-schema + jsonschema (OCSF schema), nsyslog-parser (LEEF);
# confluent-kafka, the SOC-side consumer of tests/e2e/kafka.rs; prometheus-client, whose
# OpenMetrics parser reads the sensor's /metrics page in tests/e2e/service.rs.
TOOLS=target/test-tools
mkdir -p "$TOOLS"
if ! "$TOOLS/venv/bin/python" -c "import pycef, jsonschema, ocsf_json_schema, confluent_kafka, prometheus_client" 2>/dev/null; then
  rm -rf "$TOOLS/venv"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check \
    pycef==1.11 jsonschema==4.23.0 ocsf-json-schema==1.2.0 confluent-kafka==2.12.1 \
    prometheus-client==0.26.0
fi
if [ ! -f "$TOOLS/nsyslog-parser/leef.js" ]; then
  curl -sSfL https://registry.npmjs.org/nsyslog-parser/-/nsyslog-parser-0.10.1.tgz -o "$TOOLS/nsp.tgz"
  rm -rf "$TOOLS/package" "$TOOLS/nsyslog-parser"
  tar -xzf "$TOOLS/nsp.tgz" -C "$TOOLS"
  mv "$TOOLS/package" "$TOOLS/nsyslog-parser"
fi
# The shared public corpus (../shared/pcaps next to the workspace, else OTSENSOR_SHARED_PCAPS):
# the corpus-wide tests read it. Found in a parent directory when the clone sits deeper.
if [ -z "${OTSENSOR_SHARED_PCAPS:-}" ] && [ ! -f ../shared/pcaps/TSHARK_COUNTS.tsv ]; then
  for d in ../.. ../../..; do
    if [ -f "$d/shared/pcaps/TSHARK_COUNTS.tsv" ]; then
      OTSENSOR_SHARED_PCAPS=$(cd "$d/shared/pcaps" && pwd)
      export OTSENSOR_SHARED_PCAPS
      break
    fi
  done
fi
# A test whose input or tool is missing says "skipped" and passes, unless
# OTSENSOR_REQUIRE_TEST_INPUTS=1 (set by .ci/run), where it fails.
echo "test inputs required: ${OTSENSOR_REQUIRE_TEST_INPUTS:-0}; shared corpus: ${OTSENSOR_SHARED_PCAPS:-../shared/pcaps}"

# cargo-deb builds the Debian package that tests/e2e/package.rs checks (built once).
if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "installing cargo-deb 3.8.0 from crates.io (a few minutes, once)"
  cargo install cargo-deb --version 3.8.0 --locked --quiet
fi

# A real Kafka-protocol broker (scripts/kafka.sh); the outage test starts its own as well.
tansu_install
tansu_start

# No function of the product over 120 lines (clippy.toml's threshold; tests may be longer).
cargo clippy -q --workspace --lib --bins -- -D warnings -W clippy::too_many_lines

# The fuzz targets (their own workspace, run by scripts/fuzz.sh on nightly) must keep
# compiling against the code they drive.
(cd fuzz && CARGO_TARGET_DIR=../target cargo check -q --bins)

# The book (docs/): built with mdbook, its links (and the README's) checked; the tables it
# shares with the binary (config keys, rules) are compared by the unit tests.
if ! command -v mdbook >/dev/null 2>&1; then
  echo "installing mdbook 0.4.52 from crates.io (a few minutes, once)"
  cargo install mdbook --version 0.4.52 --locked --no-default-features --features search --quiet
fi
mdbook build docs
python3 scripts/check-links.py

# Tests that skip (an input or tool missing, outside CI) say so here: cargo hides their output.
OTSENSOR_SKIP_LOG=$(mktemp)
export OTSENSOR_SKIP_LOG
status=0
cargo test --workspace --no-fail-fast || status=$?
skipped=$(sort -u "$OTSENSOR_SKIP_LOG" | grep -c . || true)
echo "tests skipped: $skipped"
sort -u "$OTSENSOR_SKIP_LOG" | sed 's/^/  skipped: /'
rm -f "$OTSENSOR_SKIP_LOG"
exit "$status"
