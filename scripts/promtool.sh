#!/usr/bin/env bash
# Make the kit's Prometheus server and promtool available, idempotently, and print promtool's path.
#
#   bash scripts/promtool.sh        # builds them if missing; prints e.g. ~/.cache/mlops-kit/toolchain/bin/promtool
#
# They are the toolchain's `prometheus` step (tools/prometheus/go.mod, the version images/prometheus ships), so the
# rule and config tests check with exactly the Prometheus that runs in the cluster. Seconds when up to date; a Go
# build of about 4 minutes on 2 cores from nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${MLOPS_KIT_CACHE:-$HOME/.cache/mlops-kit}/toolchain/bin"

bash "$ROOT/tools/build-toolchain.sh" --only prometheus >&2
"$BIN/promtool" --version >/dev/null 2>&1 || { echo "[promtool] $BIN/promtool does not run" >&2; exit 1; }
echo "[promtool] $("$BIN/promtool" --version 2>&1 | head -n 1)" >&2
echo "$BIN/promtool"
