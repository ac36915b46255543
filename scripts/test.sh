#!/usr/bin/env bash
# Command 2 of the README: installs what is missing, builds everything,
# starts a private RabbitMQ broker, runs the whole test suite, then the
# hardening stages (the suite under sanitizers, bounded fuzzing), stops the
# broker. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
stage_start=$(date +%s)
stage_done() { echo "test: $1 took $(( $(date +%s) - stage_start ))s"; stage_start=$(date +%s); }

bash scripts/install-deps.sh
bash scripts/build.sh
stage_done "installing and building"

broker_dir=$(mktemp -d /tmp/rapi-broker.XXXXXX)
cleanup() {
  bash "$ROOT/scripts/rabbitmq.sh" stop "$broker_dir" || true
  rm -rf "$broker_dir"
}
trap cleanup EXIT
eval "$(bash scripts/rabbitmq.sh start "$broker_dir")"
export RAPI_AMQP_URL="$AMQP_URL"
# Cluster tests stop and restart the broker with these.
export RAPI_BROKER_DIR="$broker_dir"
export RAPI_BROKER_SCRIPT="$ROOT/scripts/rabbitmq.sh"
echo "test: broker at $RAPI_AMQP_URL"

(cd build && ctest --output-on-failure --timeout 900 "$@")
stage_done "the test suite"

# Hardening (docs/hardening.md): the whole suite again under ASan+UBSan,
# the unit, actor, integration and cluster suites under TSan, then every
# fuzz harness for a bounded time. RAPI_SKIP_HARDENING=1 skips these stages
# (quick local runs; CI never sets it).
if [ "${RAPI_SKIP_HARDENING:-0}" = 1 ]; then
  echo "test: RAPI_SKIP_HARDENING=1: sanitizer builds and fuzzing skipped"
  exit 0
fi
bash scripts/sanitize.sh asan
stage_done "the ASan+UBSan build and suite (scripts/sanitize.sh asan)"
bash scripts/sanitize.sh tsan
stage_done "the TSan build and suites (scripts/sanitize.sh tsan)"
# fuzz.sh configures build-fuzz (clang, -DRAPI_FUZZ=ON) on first use.
bash scripts/fuzz.sh build-fuzz 15
stage_done "fuzzing (scripts/fuzz.sh build-fuzz 15)"
