# Sourced by scripts/sanitize.sh and scripts/fuzz.sh: how the hardening
# builds (build-asan, build-tsan, build-fuzz) are configured.
#
# They share ccache entries across clones (paths are hashed relative to the
# checkout, so a fresh clone in CI finds what an earlier one compiled) and
# use Ninja when it is installed: it keeps both cores busy across targets,
# where make waits for each library. RelWithDebInfo with line tables only
# (-g1): sanitizer stack traces keep their file:line, and compiling takes
# about a quarter less time than with full debug information.

export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1

# hardening_configure DIR [CMAKE ARGS...]
hardening_configure() {
  local dir=$1 gen="Unix Makefiles"
  shift
  if command -v ninja >/dev/null 2>&1; then gen=Ninja; fi
  if [ -f "$dir/CMakeCache.txt" ] &&
     ! grep -qx "CMAKE_GENERATOR:INTERNAL=$gen" "$dir/CMakeCache.txt"; then
    echo "hardening: $dir was made by another CMake generator; starting it afresh"
    rm -rf "$dir"
  fi
  cmake -S . -B "$dir" -G "$gen" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" "$@" >/dev/null
}
