#!/usr/bin/env bash
# The main job on a fresh machine: venv → offline toolchain → `mlops-kit launch -s $STACK`, which starts the local
# cluster with a real node, deploys the platform, trains the champion against the platform's MLflow, releases its
# serving image and ends with predictions through the model's Service (mlops_kit/main_job.py).
#   bash scripts/up.sh [STACK]    (default dev)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STACK="${1:-dev}"
echo "[up] venv"
bash scripts/venv.sh
echo "[up] toolchain (cold: a long compile on 2 cores; warm: seconds)"
bash tools/build-toolchain.sh | grep -E 'building|done in|FAILED|total' || { echo "[up] toolchain build failed: see above" >&2; exit 1; }
echo "[up] docker engine and local registry (images are built offline)"
bash scripts/docker-engine.sh >/dev/null
bash scripts/registry.sh >/dev/null
# shellcheck disable=SC1091
source "${MLOPS_KIT_CACHE:-$HOME/.cache/mlops-kit}/toolchain/env.sh"
exec .venv/bin/mlops-kit launch -s "$STACK"
