#!/usr/bin/env bash
# Add the service code and the MLflow model to a staged build context of the serving image.
#
#   images/serving/prepare.sh CTX        # run by `images/build.sh serving` (CTX = $MLOPS_KIT_CACHE/build/serving)
#
# Writes:
#   CTX/app/services/...        the service code (services/__init__.py, services/serving/*.py,
#                               services/monitoring/{__init__,drift}.py), copied to /srv/app in the image
#   CTX/model/                  an MLflow model directory (MLmodel, model.skops, extra_files/, registered_model_meta)
#   CTX/build-args              MODEL_NAME=, MODEL_VERSION=, GIT_REVISION= (what the labels say), and the same values
#                               as the ARG defaults of CTX/Dockerfile (build.sh passes no --build-arg for them)
#
# Where the model comes from (first match):
#   MODEL_DIR=/path/to/mlflow/model        a local MLflow model directory (e.g. from `mlflow artifacts download`);
#                                          MODEL_NAME / MODEL_VERSION name it when it has no registered_model_meta
#   MODEL_NAME=breast-cancer [MODEL_ALIAS=champion | MODEL_VERSION=3] MLFLOW_TRACKING_URI=http://...
#                                          downloads models:/NAME@ALIAS (or models:/NAME/VERSION) with
#                                          mlflow.artifacts.download_artifacts; the download carries registered_model_meta
# Env: PYTHON (an interpreter with mlflow; default: the repo's .venv, else python3).
set -euo pipefail

CTX="${1:?usage: prepare.sh CONTEXT_DIR}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log() { echo "[prepare serving] $*" >&2; }

PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
fi

# --- service code (same file set as bentos/breast-cancer/bentofile.yaml) ----------------------------------------
APP="$CTX/app"
rm -rf "$APP"
mkdir -p "$APP/services/serving" "$APP/services/monitoring"
cp "$ROOT/services/__init__.py" "$APP/services/"
cp "$ROOT"/services/serving/*.py "$APP/services/serving/"
cp "$ROOT/services/monitoring/__init__.py" "$ROOT/services/monitoring/drift.py" "$APP/services/monitoring/"

# --- model ----------------------------------------------------------------------------------------------------------
MODEL="$CTX/model"
rm -rf "$MODEL"
if [[ -n "${MODEL_DIR:-}" ]]; then
  [[ -f "$MODEL_DIR/MLmodel" ]] || { log "ERROR: MODEL_DIR=$MODEL_DIR has no MLmodel file (not an MLflow model)"; exit 2; }
  log "model from directory $MODEL_DIR"
  cp -a "$MODEL_DIR/." "$MODEL/"
  if [[ ! -f "$MODEL/registered_model_meta" && -n "${MODEL_NAME:-}" ]]; then
    printf "model_name: %s\nmodel_version: '%s'\n" "$MODEL_NAME" "${MODEL_VERSION:-unknown}" >"$MODEL/registered_model_meta"
  fi
else
  : "${MODEL_NAME:?set MODEL_DIR (a local MLflow model directory) or MODEL_NAME + MLFLOW_TRACKING_URI}"
  : "${MLFLOW_TRACKING_URI:?set MLFLOW_TRACKING_URI to download models:/$MODEL_NAME (or set MODEL_DIR)}"
  if [[ -n "${MODEL_VERSION:-}" ]]; then URI="models:/$MODEL_NAME/$MODEL_VERSION"; else URI="models:/$MODEL_NAME@${MODEL_ALIAS:-champion}"; fi
  log "downloading $URI from $MLFLOW_TRACKING_URI"
  mkdir -p "$MODEL"
  MODEL_URI="$URI" DEST="$MODEL" "$PY" - <<'EOF' >&2
import os
import mlflow

mlflow.artifacts.download_artifacts(artifact_uri=os.environ["MODEL_URI"], dst_path=os.environ["DEST"])
EOF
fi
[[ -f "$MODEL/MLmodel" ]] || { log "ERROR: no MLmodel in $MODEL after staging the model"; exit 1; }

# --- labels: model name/version from registered_model_meta, git revision of the code ---------------------------------
meta() { sed -nE "s/^$1:[[:space:]]*'?([^']*)'?[[:space:]]*$/\1/p" "$MODEL/registered_model_meta" 2>/dev/null | head -n1; }
NAME="$(meta model_name)"
VERSION="$(meta model_version)"
NAME="${NAME:-${MODEL_NAME:-unknown}}"
VERSION="${VERSION:-${MODEL_VERSION:-unknown}}"
REV="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ "$REV" != unknown ]] && [[ -n "$(git -C "$ROOT" status --porcelain -- services images/serving 2>/dev/null)" ]]; then
  REV="$REV-dirty" # the baked code differs from the commit
fi
printf 'MODEL_NAME=%s\nMODEL_VERSION=%s\nGIT_REVISION=%s\n' "$NAME" "$VERSION" "$REV" >"$CTX/build-args"
# build.sh passes only BASE_IMAGE: bake the values in as ARG defaults of the staged copy (a --build-arg still wins).
sed -i -E \
  -e "s|^ARG MODEL_NAME=.*|ARG MODEL_NAME=$NAME|" \
  -e "s|^ARG MODEL_VERSION=.*|ARG MODEL_VERSION=$VERSION|" \
  -e "s|^ARG GIT_REVISION=.*|ARG GIT_REVISION=$REV|" \
  "$CTX/Dockerfile"
log "model $NAME version $VERSION ($(du -sh "$MODEL" | cut -f1)), code at $REV"
