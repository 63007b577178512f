#!/usr/bin/env bash
# Stage the serving image's build context without building it: for builders other than images/build.sh
# (pulumi-docker's docker.Image, a CI builder, `docker build` by hand).
#
#   MODEL_NAME=breast-cancer MLFLOW_TRACKING_URI=http://127.0.0.1:5050 bash images/serving/stage.sh [OUT]
#   docker build -f OUT/Dockerfile OUT            # or pulumi-docker: context=OUT, dockerfile=OUT/Dockerfile
#
# OUT (default $MLOPS_KIT_CACHE/build/serving-context) gets exactly what images/build.sh stages: images/serving/*,
# wheels/ (the host wheelhouse, hard-linked), and what prepare.sh adds (app/, model/, build-args, the ARG defaults
# in OUT/Dockerfile). The model source is chosen as in prepare.sh (MODEL_DIR, or MODEL_NAME + MLFLOW_TRACKING_URI
# [+ MODEL_ALIAS | MODEL_VERSION]). Prints OUT on the last line of stdout; OUT/build-args holds the values to pass
# as build args (MODEL_NAME, MODEL_VERSION, GIT_REVISION). The repository root is NOT a valid context for
# images/serving/Dockerfile: it needs wheels/, app/ and model/ side by side.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${MLOPS_KIT_CACHE:-$HOME/.cache/mlops-kit}"
OUT="$(realpath -m "${1:-$CACHE/build/serving-context}")"
log() { echo "[stage serving] $*" >&2; }

WH="$(bash "$ROOT/scripts/wheelhouse.sh" "$ROOT/images/serving/requirements.txt" "$CACHE/wheelhouse/serving" | tail -n1)"
rm -rf "$OUT"
mkdir -p "$OUT"
cp -a "$ROOT/images/serving/." "$OUT/"
cp -al "$WH" "$OUT/wheels" 2>/dev/null || cp -a "$WH" "$OUT/wheels"
"$ROOT/images/serving/prepare.sh" "$OUT"
log "context ready: $OUT ($(tr '\n' ' ' <"$OUT/build-args"))"
echo "$OUT"
