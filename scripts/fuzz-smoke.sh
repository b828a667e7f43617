#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/*_fuzz.cc) with clang into build-fuzz/ and runs each for a
# few seconds: a smoke test for CI, not a campaign (ClusterFuzzLite runs those: .clusterfuzzlite/).
#   scripts/fuzz-smoke.sh            every target, 5 s each
#   FUZZ_SECONDS=30 scripts/fuzz-smoke.sh trace_reader_fuzz
# Prints each target's exec/s (the trace reader's is a benchmark figure, docs/fuzzing.md) as
#   {"bench": "libfuzzer.TARGET.exec_per_s", "value": N, "unit": "exec/s"}
# Exit status: non-zero when a target fails to build or finds a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-5}
dir=build-fuzz
scripts/install-deps.sh
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz-smoke: clang++ not found (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLOWID_FUZZ=ON \
  -DFLOWID_BUILD_TESTS=OFF -DFLOWID_BUILD_BENCH=OFF >/dev/null
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for src in fuzz/*_fuzz.cc; do targets+=("$(basename "$src" .cc)"); done
fi
cmake --build "$dir" --parallel --target "${targets[@]}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  corpus=("$work")
  [[ -d "fuzz/corpus/$t" ]] && corpus+=("fuzz/corpus/$t")
  # Inputs as long as the largest seed and a little more (the seeds are multi-chunk traces and
  # whole importer captures; libFuzzer's default, 4096 without big seeds, cuts them), and the
  # format's dictionary (fuzz/TARGET.dict) where there is one.
  extra=()
  case $t in
    trace_reader_fuzz | import_*_fuzz) extra+=(-max_len=16384) ;;
  esac
  [[ -f "fuzz/$t.dict" ]] && extra+=(-dict="fuzz/$t.dict")
  echo "fuzz-smoke: $t for ${seconds}s"
  if ! "$dir/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/" "${extra[@]}" "${corpus[@]}" >"$work/log" 2>&1; then
    echo "fuzz-smoke: $t FAILED; log and crash input in $work" >&2
    tail -n 40 "$work/log" >&2
    status=1
    continue
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$' || echo 0)
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$work/log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "$seconds")
  [[ "${secs:-0}" -gt 0 ]] || secs=$seconds
  rate=$(( runs / secs ))
  echo "fuzz-smoke: $t ok: $runs runs, ~$rate exec/s"
  echo "{\"bench\": \"libfuzzer.$t.exec_per_s\", \"value\": $rate, \"unit\": \"exec/s\"}"
  rm -rf "$work"
done

# The user-plugin target end to end (docs/fuzzing.md): flowid_plugin_fuzzer on the zoo's planted
# pid-cache bug must crash, and `flowid fuzz --decode-input` must turn the crash input into a
# scenario and a trace. Needs the zoo plugins and the CLI of the Release build (scripts/test.sh
# builds them; .ci/run runs it first); skipped with a note when they are absent.
planted=build/examples/zoo/libzoo_pid_ttl_cache.so
if [[ $# -eq 0 && -f $planted && -x build/cli/flowid ]]; then
  cmake --build "$dir" --parallel --target flowid_plugin_fuzzer
  work=$(mktemp -d)
  echo "fuzz-smoke: flowid_plugin_fuzzer on $planted (must crash)"
  if FLOWID_PLUGIN=$planted "$dir/fuzz/flowid_plugin_fuzzer" -seed=1 -max_total_time=300 -timeout=10 \
       -rss_limit_mb=2048 -artifact_prefix="$work/" >"$work/log" 2>&1; then
    echo "fuzz-smoke: flowid_plugin_fuzzer did not find the planted bug in 300 s" >&2
    status=1
  else
    crash=$(ls "$work"/crash-* 2>/dev/null | head -n 1)
    runs=$(grep -o '^#[0-9]*' "$work/log" | tail -n 1 | tr -d '#')
    echo "fuzz-smoke: flowid_plugin_fuzzer crashed after ~${runs:-?} runs: $crash"
    code=0
    build/cli/flowid fuzz --decode-input "$crash" --resolver "$planted" --out "$work/out" \
      >"$work/decoded" 2>&1 || code=$?
    if [[ $code -ne 1 ]] || ! ls "$work"/out/decoded-*.trace >/dev/null 2>&1; then
      echo "fuzz-smoke: --decode-input gave exit $code, expected 1 and a trace" >&2
      cat "$work/decoded" >&2
      status=1
    else
      grep -E '^(violation|reproduce|trace):' "$work/decoded"
      rm -rf "$work"
    fi
  fi
elif [[ $# -eq 0 ]]; then
  echo "fuzz-smoke: flowid_plugin_fuzzer check skipped ($planted or build/cli/flowid missing)"
fi
exit $status
