#!/usr/bin/env bash
# Lints docs/openapi.yaml with a pinned @redocly/cli (npm), installed once
# into a cache folder inside the build directory.
#
#   bash scripts/lint-openapi.sh [BUILD_DIR]     (default: ./build)
#
# Needs Node >= 20.19 and npm; the first run downloads the package from the
# npm registry (about 15 MB), later runs reuse it. Rules: redocly.yaml.
set -euo pipefail

REDOCLY_VERSION=2.77.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
prefix="$build/.npm-redocly"

for tool in node npm npx; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "lint-openapi: $tool is not installed (Node >= 20.19 and npm are needed)" >&2
    exit 1
  fi
done

# No telemetry, no update check: the lint must not depend on anything but
# the registry, and only on the first run.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export NO_UPDATE_NOTIFIER=1

installed_version() {
  node -e 'try { process.stdout.write(require(process.argv[1]).version) } catch (e) {}' \
    "$prefix/node_modules/@redocly/cli/package.json"
}

if [ "$(installed_version)" != "$REDOCLY_VERSION" ]; then
  echo "lint-openapi: installing @redocly/cli@$REDOCLY_VERSION into $prefix"
  mkdir -p "$prefix"
  start=$(date +%s)
  npm install --prefix "$prefix" --no-audit --no-fund --no-save \
    --loglevel=error "@redocly/cli@$REDOCLY_VERSION"
  echo "lint-openapi: installed in $(( $(date +%s) - start )) s"
  if [ "$(installed_version)" != "$REDOCLY_VERSION" ]; then
    echo "lint-openapi: @redocly/cli@$REDOCLY_VERSION did not install" >&2
    exit 1
  fi
fi

cd "$root"
exec npx --no-install --prefix "$prefix" redocly lint \
  --config "$root/redocly.yaml" "$root/docs/openapi.yaml"
