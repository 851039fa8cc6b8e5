#!/usr/bin/env bash
# fuzz.sh TIME PKG TARGET...: fuzz each target of PKG for TIME.
#
# Go 1.26's fuzz coordinator can end a clean run with "context deadline
# exceeded" when -fuzztime expires while a worker is mid-input
# (go.dev/issue/75804, fixed in Go 1.27). Such a run wrote no failing input.
# This script fails on a real finding (a new file under testdata/fuzz/TARGET,
# or any other failure) and reports that race as what it is.
set -uo pipefail
time=$1 pkg=$2
shift 2
status=0
for target in "$@"; do
  corpus="$pkg/testdata/fuzz/$target"
  before=$(ls "$corpus" 2>/dev/null | sort)
  out=$(mktemp)
  go test "./$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$time" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  after=$(ls "$corpus" 2>/dev/null | sort)
  if ((rc != 0)); then
    if [[ "$before" == "$after" ]] && grep -q "context deadline exceeded" "$out" && ! grep -qE "panic:|Failing input written" "$out"; then
      echo "fuzz.sh: $target: ran $time with no failing input; the exit was Go 1.26's fuzztime shutdown race (go.dev/issue/75804), not a finding"
    else
      echo "fuzz.sh: $target: FAILED (see the failing input under $corpus)"
      status=1
    fi
  fi
  rm -f "$out"
done
exit $status
