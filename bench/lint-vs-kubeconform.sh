#!/usr/bin/env bash
# `kiln lint` against `kubeconform -strict` on the same 6,000 documents (bench/manifests.py: 2,000
# Deployments + 2,000 Services + 2,000 ConfigMaps in one file), side by side in one hyperfine run,
# and the peak RSS of each (`/usr/bin/time -f %M`, median of 5).
#
#   bash bench/lint-vs-kubeconform.sh [DOCS_PER_KIND]     (default 2000)
#
# kubeconform is not installed by this script: put a `kubeconform` binary on PATH
# (https://github.com/yannh/kubeconform/releases). Without one, kiln's own numbers are printed and
# the script says so. kubeconform reads its schemas from a folder in its layout
# (`v1.35.0-local-strict/deployment-apps-v1.json`): the strict schemas of the PyPI package
# `kubernetes-validate` (the same Kubernetes OpenAPI, made strict as kiln's are), found with
# `python3 -c 'import kubernetes_validate'` or installed with `pip install kubernetes-validate`;
# or set KUBECONFORM_SCHEMAS=DIR (a folder holding `v<version>-local-strict/` or
# `v<version>-standalone-strict/`).
set -euo pipefail
per_kind=${1:-2000}
version=1.35
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install -y hyperfine" >&2; exit 2; }
cargo build --release --locked --quiet --manifest-path "$here/Cargo.toml"
kiln="$here/target/release/kiln"
python3 "$here/bench/manifests.py" "$work/manifests.yaml" "$per_kind"
docs=$(grep -c '^kind:' "$work/manifests.yaml")
echo "== lint: $docs documents in one file ($(du -h "$work/manifests.yaml" | cut -f1))"

# Median peak RSS in MB of 5 runs of a command.
rss() {
  for _ in 1 2 3 4 5; do /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; done |
    sort -n | sed -n 3p | awk '{printf "%.1f", $1 / 1024}'
}
kiln_cmd="$kiln lint $work/manifests.yaml --kube-version $version"

if ! command -v kubeconform >/dev/null; then
  echo "kubeconform is not on PATH: measuring kiln alone (put kubeconform on PATH to compare)"
  hyperfine --warmup 1 --runs 10 -N "$kiln_cmd"
  echo "  kiln peak RSS: $(rss $kiln_cmd) MB"
  exit 0
fi

schemas=${KUBECONFORM_SCHEMAS:-}
if [ -z "$schemas" ]; then
  schemas=$(python3 -c 'import kubernetes_validate, os; print(os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema"))' 2>/dev/null) || {
    echo "no schemas for kubeconform: pip install kubernetes-validate, or set KUBECONFORM_SCHEMAS=DIR" >&2
    exit 2
  }
fi
flavour=
for f in local standalone; do
  [ -d "$schemas/v$version.0-$f-strict" ] && { flavour=$f; break; }
done
[ -n "$flavour" ] || { echo "no v$version.0-local-strict or -standalone-strict folder in $schemas" >&2; exit 2; }
location="$schemas/{{ .NormalizedKubernetesVersion }}-$flavour{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"
kc_cmd=(kubeconform -strict -summary -kubernetes-version "$version.0" -schema-location "$location" "$work/manifests.yaml")
echo "kubeconform $(kubeconform -v 2>/dev/null || true), schemas: $schemas ($flavour, strict)"
# Both must accept the file, or the comparison is not of the same work.
"${kc_cmd[@]}" | tail -1
$kiln_cmd | tail -1

hyperfine --warmup 1 --runs 10 -N --export-json "$work/lint.json" \
  -n kiln "$kiln_cmd" \
  -n kubeconform "$(printf '%q ' "${kc_cmd[@]}")"
kiln_mb=$(rss $kiln_cmd)
kc_mb=$(rss "${kc_cmd[@]}")
python3 - "$work/lint.json" "$kiln_mb" "$kc_mb" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
kiln_mb, kc_mb = float(sys.argv[2]), float(sys.argv[3])
print(f"median wall: kiln {r['kiln']:.3f} s, kubeconform {r['kubeconform']:.3f} s: kiln is {r['kubeconform'] / r['kiln']:.1f}x faster (goal: >= 5x)")
print(f"peak RSS:    kiln {kiln_mb:.1f} MB, kubeconform {kc_mb:.1f} MB: {kiln_mb / kc_mb:.2f}x (goal: <= 1.5x)")
PY
