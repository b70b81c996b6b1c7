#!/usr/bin/env bash
# Regenerates kiln's embedded Kubernetes schemas, schemas/k8s/<version>/, from the k8s-openapi
# crate, one Kubernetes minor at a time (k8s-openapi compiles for exactly one), then checks them.
#
#   xtask/gen-schemas.sh             # every supported minor: 1.33 .. 1.37
#   xtask/gen-schemas.sh 1.35 1.36   # only these
#
# Each minor is one release build of the xtask (k8s-openapi recompiles for each: ~2 minutes on
# 2 cores); the output is deterministic, so re-running gives byte-identical files.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/xtask/target}"

if [ "$#" -gt 0 ]; then
  versions=("$@")
else
  versions=(1.33 1.34 1.35 1.36 1.37)
fi

xtask() {
  cargo run --quiet --release --locked --manifest-path xtask/Cargo.toml --features "$1" -- "${@:2}"
}

for v in "${versions[@]}"; do
  case "$v" in
    1.33|1.34|1.35|1.36|1.37) ;;
    *) echo "gen-schemas: unsupported Kubernetes version $v (1.33 .. 1.37)" >&2; exit 2 ;;
  esac
  start=$SECONDS
  xtask "v1_${v#1.}" schemas
  echo "  (build + generate: $((SECONDS - start)) s)"
done

# `check` reads the written files of every version; any build of the xtask can run it.
xtask "v1_${versions[-1]#1.}" check
