#!/usr/bin/env bash
# Build one of the project's images from images/<name>/, idempotently and without network inside the build.
#
#   bash images/build.sh mlflow            # -> mlops-kit/mlflow:<version>; prints the reference on stdout
#
# Steps: docker engine up (scripts/docker-engine.sh) -> base image (scripts/base-image.sh) -> wheelhouse of
# images/<name>/requirements.txt (scripts/wheelhouse.sh, cached in $MLOPS_KIT_CACHE/wheelhouse/<name>) -> a staged
# build context $MLOPS_KIT_CACHE/build/<name> (images/<name>/* + wheels/ hard-linked from the wheelhouse; an
# images/<name>/packages.txt, if present: debs/ = the Debian packages the base lacks, downloaded on the host by
# scripts/debs.sh, + install-debs.sh, which the Dockerfile runs to install them offline; an executable
# images/<name>/prepare.sh, if present, is run with the context dir to add more, e.g. model files)
# -> docker build with Debian's client and BuildKit, FROM the hashed base tag.
# The image carries the label mlops-kit.inputs=<hash of the context + base image id>; when the tagged image already
# has the current hash the build is skipped. A previous image of ours left untagged by a rebuild is removed.
#
# Tag: $IMAGE_TAG, else images/<name>/VERSION, else the `<name>==X` pin of images/<name>/requirements.txt, else the
# upstream version of the first package of images/<name>/packages.txt as resolved (postgresql-15 15.20-0+deb12u1 ->
# 15.20).
# Env: MLOPS_KIT_CACHE, MLOPS_KIT_BUILDKIT=0 (legacy builder), IMAGE_TAG, FORCE=1 (build even when up to date).
set -euo pipefail

NAME="${1:?usage: images/build.sh NAME   (a directory under images/ with a Dockerfile)}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/images/$NAME"
CACHE="${MLOPS_KIT_CACHE:-$HOME/.cache/mlops-kit}"
BUILDKIT="${MLOPS_KIT_BUILDKIT:-1}"

log() { echo "[build $NAME] $*" >&2; }
listed_packages() { sed -E 's/#.*//; s/[[:space:]=].*//; /^$/d' "$SRC/packages.txt"; } # names in packages.txt
[[ -f "$SRC/Dockerfile" ]] || { log "ERROR: $SRC/Dockerfile not found"; exit 2; }

DOCKER="$(bash "$ROOT/scripts/docker-engine.sh" | tail -n1)"
BASE="$(bash "$ROOT/scripts/base-image.sh" | tail -n1)"

mkdir -p "$CACHE/build"
exec 9>"$CACHE/build/.$NAME.lock"
flock 9 # concurrent builds of one image would share the staged context

# --- build context ------------------------------------------------------------------------------------------------
CTX="$CACHE/build/$NAME"
rm -rf "$CTX"
mkdir -p "$CTX"
cp -a "$SRC/." "$CTX/"
if [[ -f "$SRC/requirements.txt" ]]; then
  WH="$(bash "$ROOT/scripts/wheelhouse.sh" "$SRC/requirements.txt" "$CACHE/wheelhouse/$NAME" | tail -n1)"
  cp -al "$WH" "$CTX/wheels" 2>/dev/null || cp -a "$WH" "$CTX/wheels" # hard links when on one filesystem
fi
if [[ -f "$SRC/packages.txt" ]]; then
  DEBS="$(bash "$ROOT/scripts/debs.sh" "$BASE" "$SRC/packages.txt" "$CACHE/debs/$NAME" | tail -n1)"
  cp -al "$DEBS" "$CTX/debs" 2>/dev/null || cp -a "$DEBS" "$CTX/debs"
  cp "$ROOT/images/install-debs.sh" "$CTX/install-debs.sh"
fi
if [[ -x "$SRC/prepare.sh" ]]; then
  log "running prepare.sh"
  "$SRC/prepare.sh" "$CTX"
fi

if [[ -n "${IMAGE_TAG:-}" ]]; then
  TAG="$IMAGE_TAG"
elif [[ -f "$SRC/VERSION" ]]; then
  TAG="$(tr -d '[:space:]' <"$SRC/VERSION")"
elif [[ -f "$SRC/requirements.txt" ]]; then
  TAG="$(sed -nE "s/^$NAME==([^[:space:];#]+).*/\1/p" "$SRC/requirements.txt" | head -n1)"
elif [[ -f "$SRC/packages.txt" ]]; then
  # The upstream version of the first listed package as resolved: no epoch, no Debian revision, no +ds/+dfsg.
  first="$(listed_packages | head -n1)"
  TAG="$(sed -nE "s/^$first=([0-9]+:)?([^-+~]+).*/\2/p" "$CTX/debs/packages.txt" | head -n1)"
fi
[[ -n "${TAG:-}" ]] || {
  log "ERROR: no tag (set IMAGE_TAG, write $SRC/VERSION, pin $NAME== in requirements.txt or list packages.txt)"
  exit 2
}
IMAGE="mlops-kit/$NAME:$TAG"

# Input hash: every context file by content (the wheelhouse by its stamp), the base image id, the builder.
HASH="$({
  echo "buildkit=$BUILDKIT base=$("$DOCKER" image inspect -f '{{.Id}}' "$BASE")"
  cat "${BASH_SOURCE[0]}"
  cd "$CTX"
  find . \( -path ./wheels -o -path ./debs \) -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  for stamp in wheels/.stamp debs/.stamp; do if [[ -f "$stamp" ]]; then head -n1 "$stamp"; fi; done
} | sha256sum | cut -c1-16)"

OLD_ID="$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
if [[ -n "$OLD_ID" && "${FORCE:-0}" != 1 ]] &&
  [[ "$("$DOCKER" image inspect -f '{{index .Config.Labels "mlops-kit.inputs"}}' "$IMAGE")" == "$HASH" ]]; then
  log "up to date: $IMAGE (inputs $HASH)"
  echo "$IMAGE"
  exit 0
fi

log "building $IMAGE FROM $BASE (BuildKit=$BUILDKIT, context $CTX, log $CACHE/build/$NAME.log)"
t0=$(date +%s.%N)
# Title and revision unless the Dockerfile sets its own (serving's revision also covers services/). The revision is
# the commit the build ran at; it is not an input, so a new commit alone does not rebuild.
LABELS=(--label "mlops-kit.inputs=$HASH" --label "mlops-kit.image=$NAME" --label "org.opencontainers.image.version=$TAG")
grep -q 'org.opencontainers.image.title' "$CTX/Dockerfile" || LABELS+=(--label "org.opencontainers.image.title=mlops-kit-$NAME")
if ! grep -q 'org.opencontainers.image.revision' "$CTX/Dockerfile"; then
  REV="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
  if [[ "$REV" != unknown && -n "$(git -C "$ROOT" status --porcelain -- "images/$NAME" 2>/dev/null)" ]]; then
    REV="$REV-dirty"
  fi
  LABELS+=(--label "org.opencontainers.image.revision=$REV")
fi
if [[ -f "$CTX/debs/packages.txt" ]]; then # the listed packages as resolved, e.g. postgresql-15=15.20-0+deb12u1
  LABELS+=(--label "mlops-kit.debian.packages=$(grep -E "^($(listed_packages | paste -sd'|'))=" "$CTX/debs/packages.txt" | paste -sd' ')")
fi
DOCKER_BUILDKIT="$BUILDKIT" "$DOCKER" build \
  --build-arg "BASE_IMAGE=$BASE" \
  "${LABELS[@]}" \
  -t "$IMAGE" -f "$CTX/Dockerfile" "$CTX" >"$CACHE/build/$NAME.log" 2>&1 || {
  log "ERROR: docker build failed; full log: $CACHE/build/$NAME.log"
  tail -n 40 "$CACHE/build/$NAME.log" >&2
  exit 1
}
secs="$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")"

NEW_ID="$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE")"
if [[ -n "$OLD_ID" && "$OLD_ID" != "$NEW_ID" ]] &&
  [[ -z "$("$DOCKER" image inspect -f '{{join .RepoTags ","}}' "$OLD_ID" 2>/dev/null)" ]]; then
  "$DOCKER" image rm "$OLD_ID" >/dev/null 2>&1 || true # our own previous build, now untagged
fi
log "built $IMAGE in ${secs}s, $("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
echo "$IMAGE"
