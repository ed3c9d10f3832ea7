# Sourced by test.sh: a real Kafka-protocol broker for the Kafka tests (tests/e2e/kafka.rs).
#
# tansu (crates.io) is a Kafka-compatible broker in Rust: no JVM, no Docker, one binary, and
# in-memory storage, so a test broker starts in a second and leaves nothing behind. Its
# default features cannot use in-memory storage, hence --no-default-features --features
# dynostore; a debug build (without debug info) builds fastest. The build is skipped when the
# binary is already installed.
TANSU_VERSION=0.6.0

tansu_install() {
  if command -v tansu >/dev/null 2>&1; then TANSU=$(command -v tansu); return; fi
  if [ -x "$HOME/.cargo/bin/tansu" ]; then TANSU="$HOME/.cargo/bin/tansu"; return; fi
  echo "building tansu $TANSU_VERSION (a few minutes, once)"
  CARGO_PROFILE_DEV_DEBUG=0 cargo install tansu --version "$TANSU_VERSION" --locked \
    --no-default-features --features dynostore --debug --quiet
  TANSU="$HOME/.cargo/bin/tansu"
}

# Starts a broker on 127.0.0.1:9092 for the duration of the tests; stopped on exit.
tansu_start() {
  mkdir -p target/kafka
  "$TANSU" broker --listener-url tcp://127.0.0.1:9092 --advertised-listener-url tcp://127.0.0.1:9092 \
    --storage-engine memory://tansu/ >target/kafka/broker.log 2>&1 &
  TANSU_PID=$!
  trap 'kill $TANSU_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/9092) 2>/dev/null; then break; fi
    sleep 0.1
  done
  "$TANSU" topic create otsensor.alerts --broker tcp://127.0.0.1:9092 --partitions 3 >/dev/null
  export OTSENSOR_TANSU="$TANSU" OTSENSOR_KAFKA_BROKERS=127.0.0.1:9092
}
