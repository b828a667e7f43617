#!/usr/bin/env bash
# Runs every benchmark in bench/ at a size that finishes in a few minutes on a 2-core machine and
# prints one table: each figure beside the machine it was measured on (lscpu model, cores, load
# average before and after the benchmark that produced it). The README's performance section is
# regenerated from this output.
#   scripts/bench.sh                 every benchmark (build/ must hold a Release build)
#   scripts/bench.sh trace replay    only these (trace, replay, resolve, import, perturb, fuzz,
#                                    fuzz_scaling, plugin, record, zoo, explore, explore_scaling)
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
    local bench value unit shown
    bench=$(sed -n 's/.*"bench": *"\([^"]*\)".*/\1/p' <<<"$line")
    value=$(sed -n 's/.*"value": *\([^,}]*\).*/\1/p' <<<"$line")
    unit=$(sed -n 's/.*"unit": *"\([^"]*\)".*/\1/p' <<<"$line")
    [[ -n $bench ]] || continue
    # Whole numbers (counts) exactly, the rest to 4 significant digits.
    if [[ $value =~ ^[0-9]+$ ]]; then shown=$value; else shown=$(printf '%.4g' "$value"); fi
    rows+=("| $name | $bench | $shown | $unit | $before -> $after |")
  done < <(grep '^{"bench"' "$log" || true)
}

flowid_binary() {
  local flowid=$build/cli/flowid
  [[ -x $flowid ]] || flowid=$build/flowid
  echo "$flowid"
}

# fuzz_scaling: cases/s of `flowid fuzz` with --jobs 1 and --jobs 2 over the same wall-time budget
# (token+recheck finds nothing, so every case runs; the report's cases and seconds give the rate).
fuzz_scaling() {
  local flowid jobs rate1=0 rate2 dir
  flowid=$(flowid_binary)
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

# explore: schedules and wall seconds of `flowid explore --resolver token+recheck --depth K` over
# the bundled base worlds, K = 1, 2, 3, on one thread (the schedule counts are exact and the same on
# every machine; the times are the figure). K = 3 runs over the first 8 worlds only, to stay inside
# the 3-minute budget (all 30 take about 12 M schedules, 4-5 minutes; see docs/exploring.md).
explore_depths() {
  local flowid dir k start end worlds label
  flowid=$(flowid_binary)
  dir=$(mktemp -d)
  for k in 1 2 3; do
    worlds=()
    label=k$k
    [[ $k == 3 ]] && worlds=(--worlds 8) && label=k3_8worlds
    start=$(date +%s.%N)
    "$flowid" explore --resolver token+recheck --depth "$k" "${worlds[@]}" --jobs 1 --out "$dir" \
      --json >"$dir/k$k.json"
    end=$(date +%s.%N)
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); k=sys.argv[2]; s=float(sys.argv[4])-float(sys.argv[3])
print("{\"bench\": \"explore_%s_schedules\", \"value\": %d, \"unit\": \"schedules\"}" % (k, r["schedules"]))
print("{\"bench\": \"explore_%s_seconds\", \"value\": %.3f, \"unit\": \"s\"}" % (k, s))
print("{\"bench\": \"explore_%s_schedules_per_s\", \"value\": %.1f, \"unit\": \"schedules/s\"}" % (k, r["schedules"] / s))' \
      "$dir/k$k.json" "$label" "$start" "$end"
  done
  rm -rf "$dir"
}

# explore_scaling: wall time of `flowid explore --depth 2` with --jobs 1 and --jobs 2 (same result,
# bases spread over threads whole); needs idle cores, like fuzz_scaling.
explore_scaling() {
  local flowid dir jobs start end t1=0 t
  flowid=$(flowid_binary)
  dir=$(mktemp -d)
  for jobs in 1 2; do
    start=$(date +%s.%N)
    "$flowid" explore --resolver token+recheck --depth 2 --jobs "$jobs" --out "$dir" --json >/dev/null
    end=$(date +%s.%N)
    t=$(python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$start" "$end")
    echo "{\"bench\": \"explore_k2_jobs_${jobs}_seconds\", \"value\": $t, \"unit\": \"s\"}"
    [[ $jobs == 1 ]] && t1=$t
  done
  python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print("{\"bench\": \"explore_jobs_2_over_1\", \"value\": %s, \"unit\": \"speed-up\"}" % (a/b if b else 0))' "$t1" "$t"
  rm -rf "$dir"
}

all=(trace replay resolve import perturb fuzz fuzz_scaling plugin record record_api zoo explore explore_scaling)
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
    record_api) run record_api "$build/bench/record_api_bench" --flows 200000 --threads 4 --ring-mib 64 ;;
    zoo) run zoo "$build/bench/zoo_bench" --engines default --seeds 1 --budget 2s ;;
    explore) run explore explore_depths ;;
    explore_scaling) run explore_scaling explore_scaling ;;
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
