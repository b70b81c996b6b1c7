#!/usr/bin/env bash
# Benchmarks anyone can run: `bash bench/run.sh [N] [K]` (defaults N=1000, K=250 services).
# The fleet comes from ../shared/bench/fleet.py, which writes the same work three ways: DIR/kiln (a
# kiln project), DIR/jinja/render.py (a Jinja2 + PyYAML script) and DIR/kustomize/envs/<env>.
#   render   kiln render --out (again, and a first time) and --stdout of N services x 4
#            environments, and the floor: the same files written by a plain Python loop
#            (bench/write-files.py, no fsync)
#   check    kiln check of the same fleet (render + schema + rules, nothing written)
#   peers    kiln render --out against the Jinja2 + PyYAML script (N services) and against
#            `kubectl kustomize` of the 4 environments (K services: kustomize is slow)
#   growth   4N services against N (time ratio, peak RSS)
#   lint     bench/lint-vs-kubeconform.sh (6,000 documents; kubeconform when it is on PATH)
#   diff     kiln diff after changing one service's values, and --against git:HEAD~1
# Ratios come from hyperfine medians of commands measured in one run: compare those, never
# absolute times from different runs (these machines are shared and noisy).
set -euo pipefail
n=${1:-1000}
k=${2:-250}
here=$(cd "$(dirname "$0")/.." && pwd)
fleet_py="$here/../shared/bench/fleet.py"
[ -f "$fleet_py" ] || { echo "bench needs $fleet_py (the shared test data beside the clone)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v hyperfine >/dev/null || { echo "installing hyperfine (Debian package)"; apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release --locked --quiet --manifest-path "$here/Cargo.toml"
kiln="$here/target/release/kiln"
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.0f MB", $1 / 1024}'; }
# median of command NAME in a hyperfine JSON export
median() { python3 -c 'import json,sys; print({r["command"]: r["median"] for r in json.load(open(sys.argv[1]))["results"]}[sys.argv[2]])' "$1" "$2"; }
ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}")' "$1" "$2"; }

python3 "$fleet_py" "$work/fleet" "$n" >/dev/null
# What generating a fleet left for the disk to write is not kiln's work (`render --out` ends with
# a syncfs, which would wait for it).
sync
f="$work/fleet/kiln"
"$kiln" -C "$f" render --out "$work/out"
docs=$(cat "$work"/out/*/*.yaml | grep -c '^# Source:')
echo "== render: $n services x 4 environments: $(ls "$work"/out/*/*.yaml | wc -l) files, $docs documents, $(du -sh "$work/out" | cut -f1)"
# A first render, into a folder that does not exist: the folder is moved aside before each run.
# Nothing is removed before the render measures: on some filesystems creating files soon after
# thousands were deleted costs the kernel far more (README, Performance); the trees go at exit.
mkdir "$work/aside"
hyperfine --warmup 1 --runs 7 -N --export-json "$work/first.json" \
  --prepare "bash -c 'if [ -d $work/first ]; then mv $work/first \$(mktemp -d -p $work/aside); fi'" \
  -n first "$kiln -C $f render --out $work/first" \
  -n floor "python3 $here/bench/write-files.py $work/out $work/floor"
echo "  a first render / writing the files = $(ratio "$(median "$work/first.json" first)" "$(median "$work/first.json" floor)")"
# Below, every render replaces an identical previous output, whose files are linked, not written
# (README, Output).
hyperfine --warmup 1 --runs 7 -N --export-json "$work/render.json" \
  -n out "$kiln -C $f render --out $work/out" \
  -n stdout "$kiln -C $f render --stdout" \
  -n floor "python3 $here/bench/write-files.py $work/out $work/floor" \
  -n check "$kiln -C $f check"
out=$(median "$work/render.json" out)
stdout=$(median "$work/render.json" stdout)
floor=$(median "$work/render.json" floor)
check=$(median "$work/render.json" check)
larger=$(python3 -c "print(max($stdout, $floor))")
echo "  render --out / max(--stdout, writing the files) = $(ratio "$out" "$larger") (goal <= 1.15)"
echo "  check / render --stdout                          = $(ratio "$check" "$stdout") (goal <= 1.2)"
echo "  $(python3 -c "print(f'{$docs / $out:,.0f}')") documents/s written; peak RSS render --out $(rss "$kiln" -C "$f" render --out "$work/out"), check $(rss "$kiln" -C "$f" check)"

# The same ratio in memory (tmpfs): what kiln adds over rendering when the filesystem is not the
# bottleneck. On a disk, creating thousands of files soon after removing thousands costs the
# kernel far more on some filesystems than others (README, Performance).
shm=/dev/shm
if [ -d "$shm" ] && [ -w "$shm" ] && [ "$(stat -f -c %T "$shm")" = tmpfs ]; then
  mem=$(mktemp -d "$shm/kiln-bench.XXXXXX")
  trap 'rm -rf "$work" "$mem"' EXIT
  "$kiln" -C "$f" render --out "$mem/out"
  hyperfine --warmup 1 --runs 9 -N --export-json "$work/memory.json" \
    -n out "$kiln -C $f render --out $mem/out" \
    -n stdout "$kiln -C $f render --stdout" \
    -n floor "python3 $here/bench/write-files.py $work/out $mem/floor"
  larger=$(python3 -c "print(max($(median "$work/memory.json" stdout), $(median "$work/memory.json" floor)))")
  echo "  on tmpfs: render --out / max(--stdout, writing the files) = $(ratio "$(median "$work/memory.json" out)" "$larger") (goal <= 1.15)"
  rm -rf "$mem/floor"
else
  mem=
  echo "  $shm is not a writable tmpfs: the in-memory ratios are skipped"
fi

echo "== render --out against a Jinja2 + PyYAML script ($n services x 4)"
hyperfine --warmup 1 --runs 3 -N --export-json "$work/jinja.json" \
  -n kiln "$kiln -C $f render --out $work/out" \
  ${mem:+-n kiln-tmpfs "$kiln -C $f render --out $mem/out"} \
  -n jinja "python3 $work/fleet/jinja/render.py $work/jinja-out"
echo "  the script takes $(ratio "$(median "$work/jinja.json" jinja)" "$(median "$work/jinja.json" kiln)")x kiln's time (goal >= 40)"
[ -z "$mem" ] || echo "  with kiln writing to tmpfs: $(ratio "$(median "$work/jinja.json" jinja)" "$(median "$work/jinja.json" kiln-tmpfs)")x"

echo "== render --out against kubectl kustomize ($k services x 4)"
python3 "$fleet_py" "$work/small" "$k" >/dev/null
sync
if command -v kubectl >/dev/null; then
  hyperfine --warmup 1 --runs 3 -N --export-json "$work/kustomize.json" \
    -n kiln "$kiln -C $work/small/kiln render --out $work/small-out" \
    ${mem:+-n kiln-tmpfs "$kiln -C $work/small/kiln render --out $mem/small-out"} \
    -n kustomize "bash -c 'for e in dev test stage prod; do kubectl kustomize $work/small/kustomize/envs/\$e >/dev/null; done'"
  echo "  kustomize takes $(ratio "$(median "$work/kustomize.json" kustomize)" "$(median "$work/kustomize.json" kiln)")x kiln's time (goal >= 100)"
  [ -z "$mem" ] || echo "  with kiln writing to tmpfs: $(ratio "$(median "$work/kustomize.json" kustomize)" "$(median "$work/kustomize.json" kiln-tmpfs)")x"
else
  echo "  kubectl is not on PATH: skipped"
fi

echo "== growth: $((4 * n)) services against $n"
python3 "$fleet_py" "$work/big" "$((4 * n))" >/dev/null
sync
hyperfine --warmup 1 --runs 5 -N --export-json "$work/growth.json" \
  -n small "$kiln -C $f render --out $work/out" \
  -n big "$kiln -C $work/big/kiln render --out $work/big-out"
echo "  $((4 * n)) services take $(ratio "$(median "$work/growth.json" big)" "$(median "$work/growth.json" small)")x the time of $n (goal <= 4.3); peak RSS $(rss "$kiln" -C "$work/big/kiln" render --out "$work/big-out") (goal <= 400 MB)"
rm -rf "$work/big" "$work/big-out"

echo "== lint"
bash "$here/bench/lint-vs-kubeconform.sh"

echo "== diff: one service changed"
"$kiln" -C "$f" golden update >/dev/null
(cd "$f" && git init -q -b main && git add -A && git -c user.name=b -c user.email=b@e commit -qm one)
sed -i 's/tag: "1\.1\.1"/tag: "9.9.9"/' "$f/values/services/svc-0001.yaml"
(cd "$f" && git -c user.name=b -c user.email=b@e commit -qam two)
hyperfine --warmup 1 --runs 5 -N -i "$kiln -C $f diff" "$kiln -C $f diff --against git:HEAD~1"
