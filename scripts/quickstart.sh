#!/usr/bin/env bash
# The main job: install dependencies, build flowid (Release), then run the bundled regression
# suite — every fixture against every reference strategy — and print the table.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --parallel
build/cli/flowid suite
echo
echo "Next: build/cli/flowid matrix | build/cli/flowid sample -o /tmp/s.trace && build/cli/flowid inspect /tmp/s.trace"
