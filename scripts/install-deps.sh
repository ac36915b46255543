#!/usr/bin/env bash
# Installs every Debian package recording-api needs to build, run and test.
# Idempotent and quick when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config curl ca-certificates
  libcaf-dev librestinio-dev libasio-dev rapidjson-dev
  librabbitmq-dev librocksdb-dev libboost-test-dev
  libgoogle-perftools-dev  # tcmalloc, the server's allocator
  rabbitmq-server prometheus nodejs
  # Hardening (docs/hardening.md): clang for the libFuzzer harnesses;
  # libclang-rt-14-dev holds libFuzzer and clang's sanitizer runtimes and is
  # only a recommendation of clang, so it is named here. GCC's sanitizer
  # runtimes (ASan, UBSan, TSan) come with build-essential. Ninja builds the
  # sanitizer and fuzz trees (it keeps both cores busy across targets).
  clang libclang-rt-14-dev ninja-build
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The broker's package must not try to start a service at install time.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
