#!/usr/bin/env bash
# Builds and runs the whole test suite.
#   scripts/test.sh            Release build, warnings as errors (build/)
#   scripts/test.sh --asan     AddressSanitizer + UBSan build (build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
flags=(-DCMAKE_BUILD_TYPE=Release -DFLOWID_WERROR=ON)
if [[ "${1:-}" == "--asan" ]]; then
  dir=build-asan
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOWID_WERROR=ON -DFLOWID_SANITIZE=ON -DFLOWID_BUILD_BENCH=OFF)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
scripts/install-deps.sh
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
cmake --build "$dir" --parallel
ctest --test-dir "$dir" --output-on-failure --parallel 2 --timeout 900
