#!/usr/bin/env bash
# Benchmark `kiln render` on a generated fleet of N services x 4 environments (default 1000).
# Prints wall time (hyperfine), documents/s and peak RSS. Anyone can run it:
#   bash bench/run.sh [N]
set -euo pipefail
n=${1:-1000}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v hyperfine >/dev/null || { echo "installing hyperfine (Debian package)"; apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release --locked --quiet --manifest-path "$here/Cargo.toml"
kiln="$here/target/release/kiln"
python3 "$here/bench/fleet.py" "$work/fleet" "$n"
echo "fleet: $n services x 4 environments in $work/fleet"
"$kiln" -C "$work/fleet" render --out "$work/out"
docs=$(cat "$work"/out/*/*.yaml | grep -c '^# Source:')
files=$(ls "$work"/out/*/*.yaml | wc -l)
echo "rendered: $files files, $docs documents"
hyperfine --warmup 1 --runs 5 --export-json "$work/render.json" \
  "$kiln -C $work/fleet render --out $work/out"
mean=$(python3 -c "import json;print(json.load(open('$work/render.json'))['results'][0]['mean'])")
python3 -c "print(f'throughput: {$docs/$mean:,.0f} documents/s')"
/usr/bin/time -f 'peak RSS: %M KiB' "$kiln" -C "$work/fleet" render --out "$work/out" 2>&1 | tail -1
