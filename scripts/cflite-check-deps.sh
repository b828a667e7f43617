#!/usr/bin/env bash
# Checks .clusterfuzzlite/deps.txt, the one place the ClusterFuzzLite image's source-built
# dependencies are pinned, against what CMake asks for: every package a CMakeLists.txt of flowid
# find_package()s must be listed there (or in deps.txt's `apt` lines, built by the image's
# packages), and a pinned version must be at least the minimum the find_package call names.
# Exit status: non-zero with one line per problem, naming the CMakeLists.txt and line.
set -euo pipefail
cd "$(dirname "$0")/.."
deps=${CFLITE_DEPS:-.clusterfuzzlite/deps.txt}
status=0
declare -A pinned
while read -r kind name version url sha; do
  [[ -z ${kind:-} || $kind == \#* ]] && continue
  pinned[$name]=$version
  case $kind in
    cmake | autotools)
      if [[ ! $url =~ ^https:// || ! ${sha:-} =~ ^[0-9a-f]{64}$ ]]; then
        echo "cflite-check-deps: $deps: $name: a source line needs an https URL and a sha256" >&2
        status=1
      fi ;;
    apt | off) ;;
    *) echo "cflite-check-deps: $deps: $name: unknown kind '$kind'" >&2; status=1 ;;
  esac
done <"$deps"
# The images (flowid's and the user template's) build from this file, not from lists of their own.
for f in .clusterfuzzlite/Dockerfile examples/clusterfuzzlite-template/.clusterfuzzlite/Dockerfile; do
  if ! grep -q 'build-deps.sh' "$f" || ! grep -q 'deps.txt' "$f"; then
    echo "cflite-check-deps: $f does not run build-deps.sh on deps.txt" >&2
    status=1
  fi
done

version_ge() {  # $1 >= $2, dotted numbers
  [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1) == "$2" ]]
}

# find_package(NAME [VERSION] ...) in the build's own CMakeLists.txt (not examples/plugin, which
# finds an installed flowid, nor tests/ and bench/, which the fuzz build switches off).
while IFS=: read -r file line text; do
  args=$(sed -E 's/.*find_package\(([^)]*)\).*/\1/' <<<"$text")
  read -r name second _ <<<"$args"
  minimum=""
  [[ ${second:-} =~ ^[0-9][0-9.]*$ ]] && minimum=$second
  if [[ -z ${pinned[$name]+x} ]]; then
    echo "cflite-check-deps: $file:$line: find_package($name) is not in $deps" >&2
    status=1
  elif [[ -n $minimum && ${pinned[$name]} != - ]] && ! version_ge "${pinned[$name]}" "$minimum"; then
    echo "cflite-check-deps: $file:$line: $name $minimum required, $deps pins ${pinned[$name]}" >&2
    status=1
  fi
done < <(grep -n -H -E '^\s*find_package\(' CMakeLists.txt ./*/CMakeLists.txt |
  grep -v -E '^\./(examples|tests|bench)/' | sed -E 's#^\./##')

if [[ $status -eq 0 ]]; then
  echo "cflite-check-deps: $deps covers every find_package of the fuzz build at its minimum version"
fi
exit $status
