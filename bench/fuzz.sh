#!/usr/bin/env bash
# Fuzz every input reader for a while: `bash bench/fuzz.sh [MINUTES]` (default 10).
# Runs tests/fuzz.rs from a release build with a time-based seed (or KILN_FUZZ_SEED=N), all six
# targets at once for the whole time, and prints per target and in total the cases run, panics,
# hangs (a case over 10 s) and wrong results (a YAML round trip that changed a value, a report
# that is not JSON). Failing inputs go to target/fuzz-failures/. Exits 1 on any failure.
set -euo pipefail
minutes=${1:-10}
case $minutes in
'' | *[!0-9]* | 0)
  echo "usage: bash bench/fuzz.sh [MINUTES]" >&2
  exit 2
  ;;
esac
here=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo=(cargo test --release --locked --quiet --manifest-path "$here/Cargo.toml" --test integration)
"${cargo[@]}" --no-run
# One seed for every target, printed so that a run can be repeated.
export KILN_FUZZ_SEED=${KILN_FUZZ_SEED:-$(date +%s%N)}
echo "fuzzing for $minutes minute(s), KILN_FUZZ_SEED=$KILN_FUZZ_SEED"
start=$(date +%s)
status=0
KILN_FUZZ_SECONDS=$((minutes * 60)) "${cargo[@]}" fuzz:: -- --test-threads 6 2>&1 | tee "$log" ||
  status=$?
elapsed=$(($(date +%s) - start))
# Lines like `fuzz values: 123 cases in 600 s, 0 panics, 0 hangs, 0 wrong (seed 42)`, possibly
# after the test runner's progress dots on the same line.
awk -v elapsed="$elapsed" '
  { i = index($0, "fuzz "); if (i > 1) $0 = substr($0, i) }
  /^fuzz [a-z]+: [0-9]+ cases in / { n++; c += $3; p += $8; h += $10; w += $12 }
  END {
    printf "total: %d cases in %.1f minutes, %d panics, %d hangs, %d wrong (%d targets)\n",
      c, elapsed / 60, p, h, w, n
    exit (n == 6 && p + h + w == 0) ? 0 : 1
  }' "$log" || status=1
exit "$status"
