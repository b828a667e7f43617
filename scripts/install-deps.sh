#!/usr/bin/env bash
# Installs flowid's build and test dependencies from Debian packages.
# Works as root; uses sudo when not root; says what it needs when neither works.
# Skips apt entirely when everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  capnproto libcapnp-dev          # trace format
  libfmt-dev libcli11-dev         # formatting, command line
  libzstd-dev                     # per-chunk trace compression
  libgtest-dev librapidcheck-dev  # tests and properties
  libbenchmark-dev                # benchmarks
  libsimdjson-dev                 # JSON importers
  libseccomp-dev                  # live recorder (seccomp user notification)
  clang                           # libFuzzer targets
  zip unzip                       # seed corpora (scripts/cflite-local-test.sh, .clusterfuzzlite/)
  clang-format                    # scripts/lint.sh (format check)
  nlohmann-json3-dev              # JSON reports (typed, escaped by the library)
  libpugixml-dev                  # JUnit XML reports, and their validation in tests
  libssl-dev                      # SHA-256 of recorded executables (libcrypto)
  python3-jsonschema              # tests validate JSON reports against docs/schemas/
  chromium                        # browser test of flowid timeline (tests/timeline_test.cc)
)

missing=()
for p in "${packages[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  run=()
elif command -v sudo >/dev/null 2>&1; then
  run=(sudo)
else
  echo "install-deps: need root or sudo to run: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
