#!/usr/bin/env bash
# Runs every libFuzzer harness of tests/fuzz for a bounded time.
#
#   scripts/fuzz.sh BUILD_DIR SECONDS [NAME...]
#
# BUILD_DIR is configured here (clang, -DRAPI_FUZZ=ON) when it does not
# exist yet; an existing one must be such a build. The harnesses are built
# here. Each harness runs for SECONDS on a copy of its committed seed corpus
# (tests/fuzz/corpus/NAME, copied to BUILD_DIR/fuzz-work/NAME, which keeps
# what the run found). An input that crashes, leaks, times out (5 s) or
# goes over 2 GiB is kept under BUILD_DIR/fuzz-artifacts/NAME/ and the
# script exits 1 naming it and the command that reproduces it.
# docs/hardening.md has the details.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ $# -lt 2 ]; then
  echo "usage: scripts/fuzz.sh BUILD_DIR SECONDS [NAME...]" >&2
  exit 2
fi
BUILD_DIR=$1
SECONDS_EACH=$2
shift 2
case "$SECONDS_EACH" in
  '' | *[!0-9]*) echo "fuzz: SECONDS must be a whole number" >&2; exit 2 ;;
esac
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/*_fuzz.cpp; do
    n=$(basename "$f" _fuzz.cpp)
    names+=("$n")
  done
fi

# How the hardening builds are configured (ccache, Ninja, -g1).
source scripts/hardening-build.sh

# A build folder that does not exist yet is configured here (clang,
# -DRAPI_FUZZ=ON); an existing one must already be a fuzz build.
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  hardening_configure "$BUILD_DIR" -DCMAKE_CXX_COMPILER=clang++ -DRAPI_FUZZ=ON
fi
if ! grep -q '^RAPI_FUZZ:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
  echo "fuzz: $BUILD_DIR is not configured with -DRAPI_FUZZ=ON (and clang)" >&2
  exit 2
fi
cmake --build "$BUILD_DIR" -j "${JOBS:-2}" --target fuzzers

# libFuzzer reports sanitizer findings as crashes; make them stop the run
# with a stack trace.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
for n in "${names[@]}"; do
  bin="$BUILD_DIR/tests/fuzz/${n}_fuzz"
  seeds="$ROOT/tests/fuzz/corpus/$n"
  if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
    echo "fuzz: no harness or corpus named '$n'" >&2
    exit 2
  fi
  work="$BUILD_DIR/fuzz-work/$n"
  artifacts="$BUILD_DIR/fuzz-artifacts/$n"
  log="$BUILD_DIR/fuzz-logs/$n.log"
  rm -rf "$work"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  cp -R "$seeds/." "$work/"

  echo "fuzz: $n for ${SECONDS_EACH}s ($(ls "$seeds" | wc -l) seeds)"
  rc=0
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=5 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 \
    "$work" >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    stats=$(grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$log" |
              sed 's/^stat:://' | tr '\n' ' ')
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)
    echo "fuzz: $n ok: ${stats}${cov}"
    continue
  fi

  echo "fuzz: $n FAILED (exit $rc); log: $log" >&2
  grep -aE 'ERROR: |runtime error|invariant broken|SUMMARY' "$log" | head -20 >&2 || true
  kept=$(grep -aoE 'Test unit written to .*' "$log" |
           sed 's/^Test unit written to //' | sort -u || true)
  if [ -z "$kept" ]; then
    echo "fuzz: $n: no reproducer written; see the log" >&2
    failed+=("$n: see $log")
    continue
  fi
  while IFS= read -r input; do
    echo "fuzz: reproducer kept: $input" >&2
    echo "fuzz:   reproduce with: $bin $input" >&2
    failed+=("$n: $input")
  done <<<"$kept"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} finding(s):" >&2
  printf '  %s\n' "${failed[@]}" >&2
  echo "fuzz: fix the bug, then copy the reproducer into tests/fuzz/corpus/<name>/" \
       "so that the fuzz_<name> test replays it from now on" >&2
  exit 1
fi
echo "fuzz: all ${#names[@]} harnesses ran ${SECONDS_EACH}s each without a finding"
