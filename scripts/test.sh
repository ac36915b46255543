#!/usr/bin/env bash
# Command 2 of the README: installs what is missing, builds everything,
# starts a private RabbitMQ broker, runs the whole test suite, stops the
# broker. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/install-deps.sh
bash scripts/build.sh

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

cd build
ctest --output-on-failure --timeout 900 "$@"
