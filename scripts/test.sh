#!/usr/bin/env bash
# The whole test suite, in layers so the fast ones fail first: unit (seconds) → integration (real MLflow, bentoml,
# docker) → e2e (real Pulumi CLI on a local control plane). `make test` and .ci/run call exactly this.
#   bash scripts/test.sh [unit|integration|e2e ...]   (default: all layers)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
layers=("$@")
[[ ${#layers[@]} -gt 0 ]] || layers=(unit integration e2e)

bash scripts/venv.sh
PY=.venv/bin/python

# What the slower layers talk to: started just before the first of them runs (so a failing unit layer stops the
# suite before a cold toolchain build), never assumed: a fresh machine has none of it. The integration layer already
# needs the toolchain (the real-node tests run kubelet, containerd and CoreDNS; the monitoring tests run its
# Prometheus build).
services_started=0
start_services() {
  [[ $services_started == 1 ]] && return 0
  bash scripts/docker-engine.sh >/dev/null
  bash scripts/registry.sh >/dev/null
  bash scripts/base-image.sh >/dev/null   # every image builds FROM it; promotion e2e pushes it for a real digest
  bash tools/build-toolchain.sh
  services_started=1
}

run_layer() {
  local layer=$1; shift
  echo "=== $layer tests ==="
  local start=$SECONDS rc=0
  "$PY" -m pytest "tests/$layer" "$@" || rc=$?
  # pytest exits 5 when a layer collected nothing: not a failure of the suite.
  if [[ $rc -ne 0 && $rc -ne 5 ]]; then
    echo "=== $layer tests FAILED (exit $rc) after $(( SECONDS - start )) s ==="
    exit $rc
  fi
  echo "=== $layer tests done in $(( SECONDS - start )) s ==="
}

for layer in "${layers[@]}"; do
  case $layer in
    unit) run_layer unit ;;
    integration|e2e) start_services; run_layer "$layer" ;;
    *) echo "unknown layer '$layer': use unit, integration or e2e" >&2; exit 2 ;;
  esac
done
