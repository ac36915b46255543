#!/usr/bin/env bash
# Builds the project under sanitizers and runs the tests there.
#
#   scripts/sanitize.sh [asan] [tsan]      (default: both)
#
#   asan  build-asan (RelWithDebInfo, -DRAPI_SANITIZE=address: ASan+UBSan)
#         runs the whole ctest suite: unit, integration, actors, cluster
#         and the fuzz corpus replays (openapi_lint is not C++ and is left
#         to the normal build).
#   tsan  build-tsan (RelWithDebInfo, -DRAPI_SANITIZE=thread) runs the
#         unit, actor, integration and cluster tests, which drive the
#         server's HTTP threads (running the agent actors), CAF's clock,
#         the group committer and cluster threads at once, and the caf_tsan_* checks
#         of how TSan is told about CAF (the fuzz replays are left to asan).
#
# The cluster tests need a broker: scripts/test.sh exports RAPI_AMQP_URL
# (and RAPI_BROKER_DIR, RAPI_BROKER_SCRIPT) before calling this; run alone,
# this script starts a private broker itself.
#
# Every sanitizer report also goes to a file under
# <build>/sanitizer-reports/, including those of the server processes the
# integration tests start; any report fails the run and is printed.
# docs/hardening.md has the details.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-2}
# How the hardening builds are configured (ccache, Ninja, -g1).
source scripts/hardening-build.sh

stages=("$@")
if [ ${#stages[@]} -eq 0 ]; then stages=(asan tsan); fi
for s in "${stages[@]}"; do
  case "$s" in asan | tsan) ;; *) echo "usage: scripts/sanitize.sh [asan] [tsan]" >&2; exit 2 ;; esac
done

broker_dir=""
cleanup() {
  if [ -n "$broker_dir" ]; then
    bash "$ROOT/scripts/rabbitmq.sh" stop "$broker_dir" || true
    rm -rf "$broker_dir"
  fi
}
trap cleanup EXIT
if [ -z "${RAPI_AMQP_URL:-}" ]; then
  broker_dir=$(mktemp -d /tmp/rapi-broker.XXXXXX)
  broker_env=$(bash scripts/rabbitmq.sh start "$broker_dir") || {
    echo "sanitize: the private RabbitMQ broker did not start" >&2
    exit 1
  }
  eval "$broker_env"
  export RAPI_AMQP_URL="$AMQP_URL"
  export RAPI_BROKER_DIR="$broker_dir"
  export RAPI_BROKER_SCRIPT="$ROOT/scripts/rabbitmq.sh"
  echo "sanitize: broker at $RAPI_AMQP_URL"
fi

# A sanitizer that stops a Boost.Test program raises SIGABRT (or SIGSEGV);
# Boost's own signal handling would then try to carry on in a broken
# process and can hang until the ctest timeout. Let the signal end it.
export BOOST_TEST_CATCH_SYSTEM_ERRORS=no

# Prints and counts the reports left in $1; returns 1 if there are any.
check_reports() {
  local dir=$1 n
  n=$(find "$dir" -type f 2>/dev/null | wc -l)
  if [ "$n" -eq 0 ]; then
    return 0
  fi
  echo "sanitize: $n sanitizer report(s) in $dir:" >&2
  find "$dir" -type f | sort | while read -r f; do
    echo "===== $f" >&2
    head -c 20000 "$f" >&2
  done
  return 1
}

run_asan() {
  local b="$ROOT/build-asan" reports="$ROOT/build-asan/sanitizer-reports"
  echo "sanitize: configuring and building $b (ASan+UBSan)"
  hardening_configure "$b" -DRAPI_SANITIZE=address
  cmake --build "$b" -j "$JOBS"
  rm -rf "$reports"
  mkdir -p "$reports"
  local rc=0
  (
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$reports/asan"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
    cd "$b"
    ctest --output-on-failure --timeout 900 -E '^openapi_lint$'
  ) || rc=$?
  check_reports "$reports" || rc=1
  return "$rc"
}

run_tsan() {
  local b="$ROOT/build-tsan" reports="$ROOT/build-tsan/sanitizer-reports"
  echo "sanitize: configuring and building $b (TSan)"
  hardening_configure "$b" -DRAPI_SANITIZE=thread
  cmake --build "$b" -j "$JOBS" --target recording-api unit_tests actor_tests \
    integration_tests cluster_tests caf_tsan_check
  rm -rf "$reports"
  mkdir -p "$reports"
  local rc=0
  (
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/tests/sanitizers/tsan.supp:log_path=$reports/tsan"
    cd "$b"
    ctest --output-on-failure --timeout 900 \
      -R '^(caf_tsan_clean|caf_tsan_race|unit|actors|integration|cluster)$'
  ) || rc=$?
  check_reports "$reports" || rc=1
  return "$rc"
}

failed=()
for s in "${stages[@]}"; do
  start=$(date +%s)
  if "run_$s"; then
    echo "sanitize: $s passed in $(( $(date +%s) - start ))s"
  else
    echo "sanitize: $s FAILED after $(( $(date +%s) - start ))s" >&2
    failed+=("$s")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "sanitize: failed: ${failed[*]}" >&2
  exit 1
fi
