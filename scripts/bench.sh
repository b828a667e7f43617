#!/usr/bin/env bash
# Runs every benchmark in bench/ at a size that finishes in a few minutes on a 2-core machine and
# prints one table: each figure beside the machine it was measured on (lscpu model, cores, load
# average before and after the benchmark that produced it). The README's performance section is
# regenerated from this output.
#   scripts/bench.sh                 every benchmark (build/ must hold a Release build)
#   scripts/bench.sh trace replay    only these (trace, replay, resolve, import, perturb, fuzz,
#                                    fuzz_scaling, plugin, record, zoo)
#   BENCH_BUILD=build-x scripts/bench.sh
# Output: the benchmarks' own tables go to BUILD/bench-out/ (BENCH_OUT), then a Markdown table on stdout:
#   | benchmark | figure | value | unit | load before -> after |
# Rates from trace/replay/resolve are per second of one thread's CPU time (they stay meaningful on a
# shared machine); fuzz_scaling is wall time and needs idle cores: its load columns say whether
# it had them.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BENCH_BUILD:-build}
out=${BENCH_OUT:-$build/bench-out}
mkdir -p "$out"
if [[ ! -x "$build/bench/trace_bench" ]]; then
  echo "bench.sh: $build/bench/trace_bench not found; build first:" >&2
  echo "  cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build $build" >&2
  exit 2
fi

load() { cut -d' ' -f1 /proc/loadavg; }
rows=()
# run NAME COMMAND...: runs one benchmark, keeps its output, turns its JSON figure lines into rows.
run() {
  local name=$1
  shift
  local before after log="$out/$name.txt" start end
  before=$(load)
  start=$(date +%s)
  if ! "$@" >"$log" 2>&1; then
    echo "bench.sh: $name failed (log: $log)" >&2
    rows+=("| $name | FAILED (see $log) | | | $before |")
    return 0
  fi
  end=$(date +%s)
  after=$(load)
  echo "bench.sh: $name done in $((end - start)) s" >&2
  while IFS= read -r line; do
    local bench value unit
    bench=$(sed -n 's/.*"bench": *"\([^"]*\)".*/\1/p' <<<"$line")
    value=$(sed -n 's/.*"value": *\([^,}]*\).*/\1/p' <<<"$line")
    unit=$(sed -n 's/.*"unit": *"\([^"]*\)".*/\1/p' <<<"$line")
    [[ -n $bench ]] || continue
    rows+=("| $name | $bench | $(printf '%.4g' "$value") | $unit | $before -> $after |")
  done < <(grep '^{"bench"' "$log" || true)
}

# fuzz_scaling: cases/s of `flowid fuzz` with --jobs 1 and --jobs 2 over the same wall-time budget
# (token+recheck finds nothing, so every case runs; the report's cases and seconds give the rate).
fuzz_scaling() {
  local flowid=$build/cli/flowid jobs rate1=0 rate2 dir
  [[ -x $flowid ]] || flowid=$build/flowid
  dir=$(mktemp -d)
  for jobs in 1 2; do
    "$flowid" fuzz --strategy token+recheck --faults all --budget 10s --seed 1 --jobs "$jobs" \
      --out "$dir" --json >"$dir/report-$jobs.json" 2>/dev/null || true
    rate2=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["cases"] / r["seconds"])' \
      "$dir/report-$jobs.json" 2>/dev/null || echo 0)
    echo "{\"bench\": \"fuzz_jobs_${jobs}_cases_per_s\", \"value\": $rate2, \"unit\": \"cases/s\"}"
    [[ $jobs == 1 ]] && rate1=$rate2
  done
  python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print("{\"bench\": \"fuzz_jobs_2_over_1\", \"value\": %s, \"unit\": \"ratio\"}" % (b/a if a else 0))' "$rate1" "$rate2"
  rm -rf "$dir"
}

all=(trace replay resolve import perturb fuzz fuzz_scaling plugin record zoo)
selected=("$@")
[[ ${#selected[@]} -gt 0 ]] || selected=("${all[@]}")
model=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
cores=$(nproc)
load_start=$(load)
for b in "${selected[@]}"; do
  case $b in
    trace) run trace "$build/bench/trace_bench" --events 1000000 --passes 3 ;;
    replay) run replay "$build/bench/replay_bench" --events 1000000 --passes 2 ;;
    resolve) run resolve "$build/bench/resolve_bench" --flows 200000 --passes 2 ;;
    import) run import "$build/bench/import_bench" --mb 64 ;;
    perturb) run perturb "$build/bench/perturb_bench" --flows 10000 --flows 100000 ;;
    fuzz) run fuzz "$build/bench/fuzz_bench" --cases 20000 --seeds 2 ;;
    fuzz_scaling) run fuzz_scaling fuzz_scaling ;;
    plugin) run plugin "$build/bench/plugin_bench" "$build/examples/plugins/libmine.so" 2 1 ;;
    record) run record "$build/bench/record_bench" --connects 500 --procs 4 --runs 1 ;;
    zoo) run zoo "$build/bench/zoo_bench" --engines default --seeds 1 --budget 2s ;;
    # TODO: explore (cli/explore.cc) once it exists: its --jobs 1 / --jobs 2 scaling like fuzz.
    *) echo "bench.sh: unknown benchmark $b (known: ${all[*]})" >&2; exit 2 ;;
  esac
done
echo
echo "Machine: $model, $cores cores; load average $load_start at the start, $(load) at the end;"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%Y-%m-%d)."
echo
echo "| benchmark | figure | value | unit | load before -> after |"
echo "| --- | --- | --- | --- | --- |"
for r in "${rows[@]}"; do echo "$r"; done
