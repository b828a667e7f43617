#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build script for flowid (docs/clusterfuzzlite.md). Follows the
# engine's rules: the compiler and flags are $CC $CXX $CFLAGS $CXXFLAGS (they carry the chosen
# sanitizer and the coverage instrumentation), $LIB_FUZZING_ENGINE is the link flag of the fuzzing
# engine, the source is $SRC/flowid, scratch space is $WORK, and everything the engine runs goes
# to $OUT: each target, TARGET_seed_corpus.zip (fuzz/corpus/TARGET), TARGET.dict (fuzz/TARGET.dict)
# and TARGET.options (libFuzzer flags the engine passes).
#
# flowid_plugin_fuzzer is built with one of the bug zoo's sound resolvers (examples/zoo/
# sound_app_first.c) linked in, so the engine runs the user-plugin target the way a user's own
# repository does (examples/clusterfuzzlite-template/). The test of this script on a plain machine
# is scripts/cflite-local-test.sh.
src=$SRC/flowid
build=$WORK/flowid-build
jobs=$(nproc)

# The linked-in plugin: plain C, built with the engine's flags (instrumented like the rest).
mkdir -p "$WORK/plugin"
$CC $CFLAGS -std=c99 -fPIC -I"$src/include" -c "$src/examples/zoo/sound_app_first.c" \
  -o "$WORK/plugin/sound_app_first.o"

cmake -S "$src" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DFLOWID_FUZZ=ON -DFLOWID_FUZZING_ENGINE="$LIB_FUZZING_ENGINE" \
  -DFLOWID_PLUGIN_FUZZER_LINK="$WORK/plugin/sound_app_first.o" \
  -DFLOWID_BUILD_TESTS=OFF -DFLOWID_BUILD_BENCH=OFF
targets=(flowid_plugin_fuzzer)
for f in "$src"/fuzz/*_fuzz.cc; do targets+=("$(basename "$f" .cc)"); done
cmake --build "$build" --parallel "$jobs" --target "${targets[@]}"

for t in "${targets[@]}"; do
  cp "$build/fuzz/$t" "$OUT/"
  # flowid_plugin_fuzzer reads the same input layout as schedule_fuzz (harness/fuzz/fuzz_input.h):
  # it starts from that corpus until it has one of its own.
  corpus=$src/fuzz/corpus/$t
  [ -d "$corpus" ] || [ "$t" != flowid_plugin_fuzzer ] || corpus=$src/fuzz/corpus/schedule_fuzz
  if [ -d "$corpus" ]; then
    rm -f "$OUT/${t}_seed_corpus.zip"
    (cd "$corpus" && zip -q -r "$OUT/${t}_seed_corpus.zip" .)
  fi
  if [ -f "$src/fuzz/$t.dict" ]; then
    cp "$src/fuzz/$t.dict" "$OUT/$t.dict"
  fi
  # The trace reader's and the importers' seeds are multi-chunk traces and whole captures,
  # longer than libFuzzer's default max_len (as in scripts/fuzz-smoke.sh).
  case $t in
    trace_reader_fuzz | import_*_fuzz) printf '[libfuzzer]\nmax_len = 16384\n' >"$OUT/$t.options" ;;
  esac
done
