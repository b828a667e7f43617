#!/usr/bin/env bash
# The main job: install dependencies, build flowid (Release), then show what it does on the
# bundled sample data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --parallel
build/cli/flowid sample -o build/sample.trace
build/cli/flowid inspect build/sample.trace
