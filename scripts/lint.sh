#!/usr/bin/env bash
# The invariants that machinery keeps rather than convention (run by .ci/run after the tests):
#   1. includes between folders follow the layering below (harness/ includes nothing above it);
#   2. harness/ calls no clock, random_device, getenv or fork, and holds no unordered container
#      (its iteration order would leak into output); a line may be excused with a marker comment
#      `lint-allow(unordered): WHY` (or clock, getenv, ...) saying why it is safe;
#   3. C++ sources are clang-format clean (.clang-format).
# Errors name FILE:LINE. Exit 0 when clean, 1 otherwise.
#
# Usage: scripts/lint.sh [--fix]
#   --fix                        reformat the checked files in place instead of reporting them.
#   FLOWID_LINT_FORMAT=all       format-check every tracked C++ file;
#   FLOWID_LINT_FORMAT=changed   only files changed against FLOWID_LINT_BASE (default: main), the
#                                default until the whole tree has been formatted once;
#   FLOWID_LINT_FORMAT=off       skip the format check.
#   CLANG_FORMAT=clang-format-14 the binary to use (default: clang-format).
set -uo pipefail
cd "$(dirname "$0")/.."

fix=0
for arg in "$@"; do
  case "$arg" in
    --fix) fix=1 ;;
    *) echo "lint: unknown argument $arg (usage: scripts/lint.sh [--fix])" >&2; exit 2 ;;
  esac
done
format_mode="${FLOWID_LINT_FORMAT:-changed}"
[[ $fix -eq 1 && -z "${FLOWID_LINT_FORMAT:-}" ]] && format_mode=all
failures=0
fail() { echo "$1" >&2; failures=$((failures + 1)); }

sources() { git ls-files -- "$@" | grep -E '\.(cc|h|c)$'; }

# Prints FILE:LINE:TEXT for every line of the given files, with // comments, /* */ comments and
# string literals blanked, so that prose and messages never trip a rule.
code_lines() {
  awk '
    FNR == 1 { in_block = 0 }
    {
      line = $0; out = ""; i = 1; n = length(line)
      while (i <= n) {
        c = substr(line, i, 1); two = substr(line, i, 2)
        if (in_block) {
          if (two == "*/") { in_block = 0; i += 2 } else i++
          continue
        }
        if (two == "/*") { in_block = 1; i += 2; continue }
        if (two == "//") break
        if (c == "\"" || c == "\047") {
          q = c; out = out c; i++
          while (i <= n && substr(line, i, 1) != q) { if (substr(line, i, 1) == "\\") i++; i++ }
          out = out q; i++
          continue
        }
        out = out c; i++
      }
      print FILENAME ":" FNR ":" out "\t" $0
    }' "$@"
}

# ---- 1. The include graph between folders. A folder may include headers of the folders listed
# for it (and its own); standard and third-party headers (<...>) are not checked. cli/, tests/,
# bench/, fuzz/, include/ and examples/ sit on top and may include anything.
declare -A allowed=(
  [harness]="harness"
  [trace]="harness trace"
  [recorder]="harness trace recorder"
  [replay]="harness trace replay plugin"
  [import]="harness trace import"
  [plugin]="harness plugin"
  [proptest]="harness proptest"
)
for folder in "${!allowed[@]}"; do
  [[ -d "$folder" ]] || continue
  while IFS= read -r hit; do
    file="${hit%%:*}"; rest="${hit#*:}"; line="${rest%%:*}"; text="${rest#*:}"
    target=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]*)".*/\1/' <<<"$text")
    top="${target%%/*}"
    [[ "$target" == */* ]] || { fail "$file:$line: include \"$target\" names no folder (write \"$folder/$target\")"; continue; }
    if [[ " ${allowed[$folder]} " != *" $top "* ]]; then
      fail "$file:$line: $folder/ may include only ${allowed[$folder]}/ headers, not \"$target\""
    fi
  done < <(sources "$folder" | xargs -r grep -nHE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"')
done

# ---- 2. Nondeterministic and process-wide APIs in harness/, the pure core.
# A call is a name not reached through . or -> (a member such as World::random() is fine).
call='(^|[^.>_[:alnum:]])'
declare -A banned=(
  [clock]="std::chrono::[a-z_]*_clock|${call}(time|gettimeofday|clock_gettime|clock|timespec_get)[[:space:]]*\\("
  [random]="random_device|${call}(s?rand|srandom|drand48|arc4random)[[:space:]]*\\("
  [getenv]="${call}(secure_)?getenv[[:space:]]*\\(|${call}environ\\b"
  [fork]="${call}(v?fork|posix_spawnp?|system|popen|exec[lv]p?e?)[[:space:]]*\\("
  [unordered]='unordered_(multi)?(map|set)'
)
declare -A why=(
  [clock]="reads a clock (time is passed in: World::now_ns)"
  [random]="uses a global or OS random source (draw from the run's seeded SplitMix64)"
  [getenv]="reads the environment (read it in cli/ and pass the value in)"
  [fork]="starts a process (harness/ makes no syscalls)"
  [unordered]="uses an unordered container (its iteration order can decide output: use std::map / a sorted vector, or mark lookup-only use with lint-allow(unordered): WHY)"
)
mapfile -t harness_files < <(sources harness)
if [[ ${#harness_files[@]} -gt 0 ]]; then
  code=$(code_lines "${harness_files[@]}")
  for rule in "${!banned[@]}"; do
    while IFS= read -r hit; do
      [[ -z "$hit" ]] && continue
      location=$(cut -d: -f1,2 <<<"$hit")
      original="${hit#*$'\t'}"
      # The marker may stand on the line itself or on the comment line just before it.
      file="${location%%:*}"; line="${location##*:}"
      [[ "$original" == *"lint-allow($rule):"* ]] && continue
      [[ $line -gt 1 ]] && sed -n "$((line - 1))p" "$file" | grep -qE "^[[:space:]]*//.*lint-allow\($rule\):" && continue
      fail "$location: harness/ $(tr -d '\n' <<<"${why[$rule]}")"
    done < <(grep -E "^[^:]+:[0-9]+:[^	]*(${banned[$rule]})" <<<"$code" || true)
  done
fi

# ---- 3. clang-format.
clang_format="${CLANG_FORMAT:-clang-format}"
case "$format_mode" in
  off) ;;
  all|changed)
    if ! command -v "$clang_format" >/dev/null 2>&1; then
      fail "lint: $clang_format not found (scripts/install-deps.sh installs it)"
    else
      if [[ "$format_mode" == all ]]; then
        mapfile -t files < <(sources .)
      else
        base="${FLOWID_LINT_BASE:-main}"
        files=()
        if fork_point=$(git merge-base HEAD "$base" 2>/dev/null); then
          mapfile -t files < <(git diff --name-only --diff-filter=ACMR "$fork_point" -- | grep -E '\.(cc|h|c)$')
        else
          echo "lint: no $base to compare with: no file is format-checked" >&2
        fi
      fi
      for file in "${files[@]}"; do
        [[ -f "$file" ]] || continue
        if [[ $fix -eq 1 ]]; then
          "$clang_format" -i --style=file "$file"
        elif ! "$clang_format" --style=file --dry-run -Werror "$file" >/dev/null 2>&1; then
          first=$("$clang_format" --style=file "$file" | diff "$file" - | sed -nE 's/^([0-9]+)[acd,].*/\1/p' | head -1)
          fail "$file:${first:-1}: not clang-format clean (scripts/lint.sh --fix reformats it)"
        fi
      done
    fi
    ;;
  *) fail "lint: FLOWID_LINT_FORMAT must be all, changed or off, not $format_mode" ;;
esac

if [[ $failures -gt 0 ]]; then
  echo "lint: $failures problem(s)" >&2
  exit 1
fi
echo "lint: clean (format check: $format_mode)"
