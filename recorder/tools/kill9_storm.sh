#!/bin/bash
# How many flows that passed does a SIGKILL of `flowid record` lose? (docs/recording.md,
# "Write-ahead".) Starts a loopback TCP acceptor, records a storm of 8 processes x 5,000 connects,
# kills flowid with SIGKILL 1.5 s in, waits for the orphaned probes to finish (their calls fail
# with ENOSYS from then on) and prints: flows that passed (the probes' successful connects), flows
# in the trace, and the difference (missing; negative: flows held at the kill, in the trace but
# never passed).
# Usage: kill9_storm.sh FLOWID PROBE TRIALS [--no-write-ahead]
set -euo pipefail
flowid=$1 probe=$2 trials=$3 extra=${4:-}
work=$(mktemp -d)
trap 'kill $acceptor 2>/dev/null; rm -rf "$work"' EXIT
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4096)
print(s.getsockname()[1], flush=True)
while True: s.accept()[0].close()' > "$work/port" &
acceptor=$!
while [ ! -s "$work/port" ]; do sleep 0.05; done
port=$(cat "$work/port")
for trial in $(seq 1 "$trials"); do
  rm -f "$work"/out.* "$work/k.trace"
  "$flowid" record -q -o "$work/k.trace" --lifecycle supervisor $extra -- /bin/sh -c \
    "for n in 1 2 3 4 5 6 7 8; do '$probe' connect 127.0.0.1 $port 5000 > '$work'/out.\$n & done; wait" &
  recorder=$!
  sleep 1.5
  kill -9 $recorder
  wait $recorder 2>/dev/null || true
  for n in 1 2 3 4 5 6 7 8; do
    until grep -q connects= "$work/out.$n" 2>/dev/null; do sleep 0.1; done
  done
  passed=0
  for n in 1 2 3 4 5 6 7 8; do
    read -r connects failed < <(sed -E 's/connects=([0-9]+) failed=([0-9]+).*/\1 \2/' "$work/out.$n")
    passed=$((passed + connects - failed))
  done
  flows=$("$flowid" stats "$work/k.trace" 2>/dev/null | awk '$1 == "flow" {print $2}' || true)
  flows=${flows:-0}
  echo "trial $trial: passed=$passed in_trace=$flows missing=$((passed - flows))"
done
