#!/usr/bin/env bash
# `kiln adopt` at scale: `bash bench/adopt.sh [N]` (default N=1000 services x 4 environments).
# Writes the fleet with ../shared/bench/fleet.py (falling back to bench/fleet.py), renders its
# plain Jinja2 + PyYAML generator (DIR/jinja/render.py, the hand-written baseline), adopts that
# output, and prints wall time, peak RSS and the size of the project against the input.
set -euo pipefail
n=${1:-1000}
here=$(cd "$(dirname "$0")/.." && pwd)
fleet_py="$here/../shared/bench/fleet.py"
[ -f "$fleet_py" ] || fleet_py="$here/bench/fleet.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --locked --quiet --manifest-path "$here/Cargo.toml"
kiln="$here/target/release/kiln"
python3 "$fleet_py" "$work/fleet" "$n" >/dev/null
python3 "$work/fleet/jinja/render.py" "$work/in"
echo "== adopt: $n services x 4 environments ($(find "$work/in" -name '*.yaml' | wc -l) files, $(du -sb "$work/in" | cut -f1) bytes)"
/usr/bin/time -f 'wall %e s, peak RSS %M KiB' "$kiln" adopt "$work/in" --to "$work/project" >"$work/report" 2>"$work/time" ||
  { cat "$work/report" "$work/time"; exit 1; }
grep -E '^(values|round trip|patches)' "$work/report"
tail -1 "$work/time"
echo "project: $(cat "$work"/project/values/*.yaml "$work"/project/values/*/*.yaml "$work"/project/templates/*/* | wc -c) bytes of values and templates, $(find "$work/project/values" -type f | wc -l) values files"
