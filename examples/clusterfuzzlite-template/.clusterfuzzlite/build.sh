#!/bin/bash -eu
# ClusterFuzzLite build script for a repository holding a flowid plugin (docs/clusterfuzzlite.md).
# Builds your plugin as a static library with the engine's flags, links it into flowid's
# flowid_plugin_fuzzer (the input bytes drive flowid's schedule generator, your plugin resolves
# every flow, flowid's oracle judges it; a violated invariant is a crash that prints the
# `flowid fuzz --decode-input` line reproducing it) and copies the target, a seed corpus and an
# options file to $OUT.
#
# Edit PLUGIN_SOURCES: your plugin's C or C++ files, relative to your repository ($SRC/myplugin).
# The plugin defines flowid_plugin_entry (include/flowid/plugin.h) as it does in its .so.
PLUGIN_SOURCES=(mine.c)
PLUGIN_INCLUDES=()

flowid=$SRC/flowid
mine=$SRC/myplugin
lib=$WORK/plugin/libmyplugin.a
mkdir -p "$WORK/plugin"
objects=()
for s in "${PLUGIN_SOURCES[@]}"; do
  o=$WORK/plugin/$(basename "$s").o
  case $s in
    *.c) $CC $CFLAGS -fPIC -I"$flowid/include" "${PLUGIN_INCLUDES[@]/#/-I$mine/}" -c "$mine/$s" -o "$o" ;;
    *) $CXX $CXXFLAGS -fPIC -I"$flowid/include" "${PLUGIN_INCLUDES[@]/#/-I$mine/}" -c "$mine/$s" -o "$o" ;;
  esac
  objects+=("$o")
done
rm -f "$lib"
ar rcs "$lib" "${objects[@]}"

# flowid_plugin_fuzzer finds the plugin through a weak reference to flowid_plugin_entry, which
# does not pull a member out of a static library by itself: --whole-archive links all of it.
cmake -S "$flowid" -B "$WORK/flowid-build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DFLOWID_FUZZ=ON -DFLOWID_FUZZING_ENGINE="$LIB_FUZZING_ENGINE" \
  -DFLOWID_PLUGIN_FUZZER_LINK="-Wl,--whole-archive;$lib;-Wl,--no-whole-archive" \
  -DFLOWID_BUILD_TESTS=OFF -DFLOWID_BUILD_BENCH=OFF
cmake --build "$WORK/flowid-build" --parallel "$(nproc)" --target flowid_plugin_fuzzer

# The target's name in the engine's reports; rename it for your plugin if you like.
name=flowid_plugin_fuzzer
cp "$WORK/flowid-build/fuzz/flowid_plugin_fuzzer" "$OUT/$name"
# Seeds: flowid's schedule corpus (the same input layout, harness/fuzz/fuzz_input.h).
rm -f "$OUT/${name}_seed_corpus.zip"
(cd "$flowid/fuzz/corpus/schedule_fuzz" && zip -q -r "$OUT/${name}_seed_corpus.zip" .)
printf '[libfuzzer]\ntimeout = 10\n' >"$OUT/$name.options"
