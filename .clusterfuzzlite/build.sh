#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build script: builds every fuzz/*_fuzz.cc target with the engine's
# compiler and flags ($CC, $CXX, $CFLAGS, $CXXFLAGS, $LIB_FUZZING_ENGINE) and copies the targets
# and their seed corpora to $OUT.
#
# fuzz/CMakeLists.txt adds -fsanitize=fuzzer,address,undefined itself (the libFuzzer engine,
# which is what ClusterFuzzLite runs); the engine's $CFLAGS (coverage, the chosen sanitizer) come
# on top through CMAKE_*_FLAGS.
cd "$SRC/flowid"
cmake -S . -B build-oss-fuzz -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DFLOWID_FUZZ=ON -DFLOWID_BUILD_TESTS=OFF -DFLOWID_BUILD_BENCH=OFF
cmake --build build-oss-fuzz --parallel
for target in build-oss-fuzz/fuzz/*_fuzz; do
  name=$(basename "$target")
  cp "$target" "$OUT/"
  # Seed corpora: fuzz/corpus/NAME/ when present.
  if [ -d "fuzz/corpus/$name" ]; then
    (cd "fuzz/corpus/$name" && zip -q -r "$OUT/${name}_seed_corpus.zip" .)
  fi
done
