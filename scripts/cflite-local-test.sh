#!/usr/bin/env bash
# Proves on this machine what can be proved of the ClusterFuzzLite integration without its image
# (gcr.io/oss-fuzz-base/base-builder cannot be pulled here; docs/clusterfuzzlite.md says what is
# and is not covered):
#   1. .clusterfuzzlite/deps.txt (the versions the Dockerfile builds) names every package
#      CMakeLists.txt find_package()s, at or above the minimum version CMake asks for
#      (scripts/cflite-check-deps.sh);
#   2. .clusterfuzzlite/build.sh runs with the engine's environment: CC=clang CXX=clang++,
#      OSS-Fuzz's default ASan + fuzzer-no-link CFLAGS/CXXFLAGS, LIB_FUZZING_ENGINE=-fsanitize=fuzzer,
#      $SRC/flowid = this checkout, $OUT and $WORK temporary folders;
#   3. every target in $OUT runs its seed corpus (`$OUT/T -runs=0 CORPUS` exits 0) with its
#      .options and .dict;
#   4. the same for the user template (examples/clusterfuzzlite-template/build.sh), with
#      examples/plugin/mine.c as the user's plugin.
# Differences from the image, by necessity: this machine's clang and libstdc++ (the image builds
# with its own clang and -stdlib=libc++) and Debian's packages instead of deps.txt's builds.
#   scripts/cflite-local-test.sh            all four
#   CFLITE_KEEP=1 ...                       keep $WORK/$OUT (printed) for inspection
# ccache is used when present (CMAKE_*_COMPILER_LAUNCHER, as elsewhere in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS
scripts/cflite-check-deps.sh

scripts/install-deps.sh
if ! command -v clang++ >/dev/null 2>&1 || ! command -v zip >/dev/null 2>&1 ||
  ! command -v unzip >/dev/null 2>&1; then
  echo "cflite-local-test: clang++, zip and unzip are needed (scripts/install-deps.sh)" >&2
  exit 1
fi
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_C_COMPILER_LAUNCHER=${CMAKE_C_COMPILER_LAUNCHER:-ccache}
  export CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-ccache}
  # The two projects build the same flowid sources in different build folders.
  export CCACHE_NOHASHDIR=1 CCACHE_BASEDIR=$root/build-cflite
fi

# The engine's environment (OSS-Fuzz's defaults for SANITIZER=address, FUZZING_ENGINE=libfuzzer,
# less -stdlib=libc++, which this machine lacks). Builds are kept under build-cflite/ so that a
# second run reuses them (the engine starts from scratch; ninja makes this one incremental).
export CC=clang CXX=clang++
flags="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
flags+=" -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link"
export CFLAGS=$flags CXXFLAGS=$flags
export LIB_FUZZING_ENGINE=-fsanitize=fuzzer
export SANITIZER=address FUZZING_ENGINE=libfuzzer ARCHITECTURE=x86_64
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
base=$root/build-cflite
mkdir -p "$base"
tmp=$(mktemp -d)
if [[ -z ${CFLITE_KEEP:-} ]]; then trap 'rm -rf "$tmp"' EXIT; fi

# Runs one project's build.sh ($1: the folder holding it, $2: what becomes $SRC/flowid, $3: name)
# and each target in its $OUT on its seed corpus.
status=0
run_project() {
  local script=$1 source=$2 name=$3
  # $SRC is the same for both projects (and across runs) so that ccache serves the second build.
  export SRC=$base/src OUT=$tmp/$name/out WORK=$base/$name
  mkdir -p "$SRC" "$OUT" "$WORK"
  ln -sfn "$source" "$SRC/flowid"
  ln -sfn "$root/examples/plugin" "$SRC/myplugin"
  local t0=$SECONDS
  echo "cflite-local-test: $name: $script (SRC=$SRC OUT=$OUT WORK=$WORK)"
  if ! (cd "$SRC" && bash -eu "$script") >"$tmp/$name.build.log" 2>&1; then
    echo "cflite-local-test: $name: build.sh FAILED" >&2
    tail -n 40 "$tmp/$name.build.log" >&2
    status=1
    return
  fi
  echo "cflite-local-test: $name: build.sh ok in $((SECONDS - t0)) s"
  local n=0 exe t corpus opts
  for exe in "$OUT"/*; do
    [[ -f $exe && -x $exe ]] || continue
    t=$(basename "$exe")
    n=$((n + 1))
    corpus=$tmp/$name/corpus/$t
    mkdir -p "$corpus"
    [[ -f $OUT/${t}_seed_corpus.zip ]] && (cd "$corpus" && unzip -q -o "$OUT/${t}_seed_corpus.zip")
    opts=()
    if [[ -f $OUT/$t.options ]]; then
      while IFS=' =' read -r key value; do
        [[ -n $key && $key != \[* ]] && opts+=("-$key=$value")
      done <"$OUT/$t.options"
    fi
    [[ -f $OUT/$t.dict ]] && opts+=("-dict=$OUT/$t.dict")
    if "$exe" -runs=0 "${opts[@]}" "$corpus" >"$tmp/$name.$t.log" 2>&1; then
      echo "cflite-local-test: $name: $t ran its $(find "$corpus" -type f | wc -l) seeds ${opts[*]}"
    else
      echo "cflite-local-test: $name: $t FAILED on its seed corpus" >&2
      tail -n 30 "$tmp/$name.$t.log" >&2
      status=1
    fi
  done
  if [[ $n -eq 0 ]]; then
    echo "cflite-local-test: $name: no targets in \$OUT" >&2
    status=1
  fi
}

run_project "$root/.clusterfuzzlite/build.sh" "$root" flowid
run_project "$root/examples/clusterfuzzlite-template/.clusterfuzzlite/build.sh" "$root" template
echo "cflite-local-test: done in $((SECONDS - start)) s, status $status"
exit $status
