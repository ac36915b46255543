#!/usr/bin/env bash
# Command 1 of the README: installs what is missing, builds, and runs the
# server on its embedded default: RocksDB under ./data, the demo agents of
# config/agents.json, API on :8080, admin on 127.0.0.1:8081, no broker.
# Extra arguments go to the server (e.g. --port 9090).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh --target recording-api
exec ./build/app/recording-api --config config/recording-api.json "$@"
