#!/usr/bin/env bash
# The performance suite (issue "Performance"): builds Release, runs
# recording-bench (status and lifecycle against the same-run RESTinio
# baseline, GetAll at 10k and 100k agents, 1M agents provisioned and
# restarted) and writes docs/performance.md and docs/performance.svg from
# the results (bench/results/recording.json). Takes about 10 minutes.
#
#   bash scripts/bench.sh                          # the whole suite
#   bash scripts/bench.sh --seconds 10 --step-seconds 5
#   bash scripts/bench.sh --scenarios status,lifecycle
#
# Arguments go to recording-bench (`recording-bench --help`). Environment:
# BUILD_DIR (build), JOBS (2), RESULTS (bench/results/recording.json).
# Run it on an otherwise idle machine: the client shares the cores with
# the server, and the report shows how much CPU other processes took.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}
RESULTS=${RESULTS:-bench/results/recording.json}

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target recording-api \
  recording-bench baseline-server recovery-bench

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD -- . 2>/dev/null; then
  commit="$commit (with uncommitted changes)"
fi

load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
  echo "bench.sh: load average $load: other work will disturb the numbers" >&2
fi

status=0
"$BUILD_DIR/bench/recording-bench" --commit "$commit" --out "$RESULTS" "$@" \
  || status=$?
"$BUILD_DIR/bench/recording-bench" --render "$RESULTS" \
  --markdown docs/performance.md --svg docs/performance.svg \
  --notes bench/performance_notes.md
if [ "$status" -ne 0 ]; then
  echo "bench.sh: recording-bench reported wrong answers (exit $status)" >&2
fi
exit "$status"
