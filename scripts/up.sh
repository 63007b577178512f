#!/usr/bin/env bash
# The main job on a fresh machine: venv → offline toolchain → local cluster (if the stack's context is not reachable)
# → `pulumi up --yes -s $STACK` with a local file backend and passphrase secrets → outputs and what to try next.
#   bash scripts/up.sh [STACK]    (default dev)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STACK="${1:-dev}"
bash scripts/venv.sh
bash tools/build-toolchain.sh
# shellcheck disable=SC1091
source "${MLOPS_KIT_CACHE:-$HOME/.cache/mlops-kit}/toolchain/env.sh"
.venv/bin/mlops-kit cluster up
.venv/bin/mlops-kit up -s "$STACK"
