#!/usr/bin/env bash
# Push the project's images to the local registry (127.0.0.1:5000), idempotently, and print them by digest.
#
#   bash images/publish.sh postgres prometheus alertmanager pause mlflow training
#   bash images/publish.sh serving:breast-cancer-3          # NAME:TAG = a local mlops-kit/NAME:TAG as it is
#   bash images/publish.sh --save DIR pause                 # also DIR/NAME.tar (docker save) for `ctr images import`
#
# NAME: `images/build.sh NAME` first (a no-op when the image is up to date), so what is published is what the sources
# say; NAME:TAG publishes the existing local image mlops-kit/NAME:TAG without building (serving: its build needs a
# model, see images/README.md). The registry is started by scripts/registry.sh when it does not answer.
#
# Per image, when the registry's manifest for mlops-kit/NAME:TAG already names the local image (its config digest is
# the local image id), nothing is pushed; otherwise `docker push` (only missing layers travel). Output, one line per
# image on stdout:
#   NAME 127.0.0.1:5000/mlops-kit/NAME@sha256:<digest>      (the digest the registry reports: Docker-Content-Digest)
# Logs go to stderr. The temporary registry tag is removed after the push (the image keeps its mlops-kit/ name).
# Env: MLOPS_KIT_REGISTRY (default 127.0.0.1:5000), MLOPS_KIT_CACHE (via the scripts it runs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MANIFEST_TYPES="application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.manifest.v1+json"

log() { echo "[publish] $*" >&2; }
usage() { echo "usage: images/publish.sh [--save DIR] NAME[:TAG]..." >&2; exit 2; }

SAVE=""
NAMES=()
while [[ $# -gt 0 ]]; do
  case "$1" in
  --save) [[ $# -ge 2 ]] || usage; SAVE="$2"; shift 2 ;;
  --save=*) SAVE="${1#--save=}"; shift ;;
  -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" >&2; exit 0 ;;
  -*) usage ;;
  *) NAMES+=("$1"); shift ;;
  esac
done
[[ ${#NAMES[@]} -gt 0 ]] || usage

DOCKER="$(bash "$ROOT/scripts/docker-engine.sh" 2>/dev/null | tail -n1)"
REGISTRY="$(bash "$ROOT/scripts/registry.sh" | tail -n1)"

# The registry's manifest of REPO:REF -> "DIGEST CONFIG_DIGEST" (empty when it has none).
registry_manifest() {
  local repo="$1" ref="$2" headers body
  headers="$(mktemp)"
  body="$(curl -fsS -m 10 -D "$headers" -H "Accept: $MANIFEST_TYPES" "http://$REGISTRY/v2/$repo/manifests/$ref" 2>/dev/null)" || {
    rm -f "$headers"
    return 0
  }
  local digest config
  digest="$(tr -d '\r' <"$headers" | sed -nE 's/^[Dd]ocker-[Cc]ontent-[Dd]igest:[[:space:]]*(sha256:[0-9a-f]{64}).*/\1/p' | head -n1)"
  rm -f "$headers"
  # The digest inside the manifest's "config" object (no JSON tool needed: the object holds no nested braces).
  config="$(printf '%s' "$body" | tr -d '\n\r\t ' | sed -nE 's/.*"config":\{[^}]*"digest":"(sha256:[0-9a-f]{64})".*/\1/p')"
  [[ -n "$digest" && -n "$config" ]] && echo "$digest $config"
  return 0
}

for arg in "${NAMES[@]}"; do
  if [[ "$arg" == *:* ]]; then
    NAME="${arg%%:*}"
    NAME="${NAME#mlops-kit/}"
    IMAGE="mlops-kit/$NAME:${arg#*:}"
    "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1 || { log "ERROR: no local image $IMAGE"; exit 1; }
  else
    NAME="$arg"
    [[ -f "$ROOT/images/$NAME/Dockerfile" ]] || { log "ERROR: no image $NAME (images/$NAME/Dockerfile)"; exit 2; }
    IMAGE="$(bash "$ROOT/images/build.sh" "$NAME" | tail -n1)"
  fi
  TAG="${IMAGE##*:}"
  REPO="mlops-kit/$NAME"
  ID="$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE")"

  read -r DIGEST CONFIG < <(registry_manifest "$REPO" "$TAG"; echo) || true
  if [[ -n "${DIGEST:-}" && "$CONFIG" == "$ID" ]]; then
    log "up to date: $REGISTRY/$REPO:$TAG = $IMAGE"
  else
    REMOTE="$REGISTRY/$REPO:$TAG"
    t0=$SECONDS
    "$DOCKER" tag "$IMAGE" "$REMOTE"
    if ! out="$("$DOCKER" push "$REMOTE" 2>&1)"; then
      "$DOCKER" image rm "$REMOTE" >/dev/null 2>&1 || true
      log "ERROR: docker push $REMOTE failed:"
      echo "$out" | tail -n 20 >&2
      exit 1
    fi
    "$DOCKER" image rm "$REMOTE" >/dev/null # only the tag: the image stays as $IMAGE
    read -r DIGEST CONFIG < <(registry_manifest "$REPO" "$TAG"; echo) || true
    [[ -n "${DIGEST:-}" && "$CONFIG" == "$ID" ]] || {
      log "ERROR: after the push the registry's $REPO:$TAG is not $IMAGE ($ID): ${DIGEST:-no manifest} ${CONFIG:-}"
      exit 1
    }
    log "pushed $IMAGE -> $REMOTE in $((SECONDS - t0))s"
  fi

  if [[ -n "$SAVE" ]]; then
    mkdir -p "$SAVE"
    tarball="$SAVE/$NAME.tar"
    if [[ -f "$tarball" && "$(cat "$tarball.id" 2>/dev/null)" == "$ID $IMAGE" ]]; then
      log "up to date: $tarball"
    else
      # Named by its registry reference too, so containerd knows it under the name pods use.
      "$DOCKER" tag "$IMAGE" "$REGISTRY/$REPO:$TAG"
      "$DOCKER" save -o "$tarball.tmp" "$IMAGE" "$REGISTRY/$REPO:$TAG"
      "$DOCKER" image rm "$REGISTRY/$REPO:$TAG" >/dev/null
      mv "$tarball.tmp" "$tarball"
      echo "$ID $IMAGE" >"$tarball.id"
      log "saved $tarball ($(du -h "$tarball" | cut -f1)): ctr -n k8s.io images import $tarball"
    fi
  fi
  echo "$NAME $REGISTRY/$REPO@$DIGEST"
done
