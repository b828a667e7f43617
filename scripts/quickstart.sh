#!/usr/bin/env bash
# The main job: install dependencies, build flowid (Release), then run the bundled regression
# suite — every fixture against every reference strategy — and print the table.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# Only the CLI and the libraries it links: the tests, benchmarks and example plugins are built by
# scripts/test.sh, not needed for the first table.
cmake --build build --parallel --target flowid
build/cli/flowid suite
echo
echo "Next (README.md, \"Your first hour\"): export PATH=\"\$PWD/build/cli:\$PATH\"; flowid sample -o s.trace && flowid replay s.trace"
