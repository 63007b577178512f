#!/usr/bin/env bash
# Build the project's own base image (no image can be pulled on these machines), idempotently.
#
#   bash scripts/base-image.sh         # -> mlops-kit/base:bookworm-<hash> and mlops-kit/base:bookworm
#
# debootstrap --variant=minbase bookworm with python3, python3-venv, ca-certificates from the Debian mirror found
# in the machine's apt sources, add the non-root user `app` (uid/gid 10001), slim the tree, then
# `tar | docker import`. <hash> covers the package list, the user and this script's content, so editing either
# gives a new image; when the image for the current hash exists the script only (re)points the short tag.
# The rootfs tarball is kept in $MLOPS_KIT_CACHE/base/ so a machine whose docker data was wiped re-imports in
# seconds instead of re-running debootstrap.
#
# Env: MLOPS_KIT_CACHE (default ~/.cache/mlops-kit), DEBIAN_MIRROR (override the mirror), BASE_REBUILD=1 (ignore
# the cached tarball).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MLOPS_KIT_CACHE:-$HOME/.cache/mlops-kit}"
SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates
APP_UID=10001
REPO=mlops-kit/base

log() { echo "[base-image] $*" >&2; }

DOCKER="$(bash "$HERE/docker-engine.sh" | tail -n1)" || {
  log "ERROR: docker engine not available; run: bash scripts/docker-engine.sh"
  exit 1
}

mkdir -p "$CACHE/base"
exec 9>"$CACHE/base/.lock"
flock 9 # one build at a time; a second caller then finds the image

HASH="$({ echo "$SUITE $PACKAGES uid=$APP_UID"; cat "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-12)"
IMAGE="$REPO:$SUITE-$HASH"

if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  "$DOCKER" tag "$IMAGE" "$REPO:$SUITE"
  log "up to date: $IMAGE"
  echo "$IMAGE"
  exit 0
fi

TARBALL="$CACHE/base/rootfs-$SUITE-$HASH.tar"

debian_mirror() {
  # First apt source that serves the plain suite (not -security/-updates), deb822 or one-line format.
  local f
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then echo "$DEBIAN_MIRROR"; return; fi
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk -v suite="$SUITE" '
      BEGIN { RS = ""; FS = "\n" }          # deb822: paragraphs separated by blank lines
      {
        uris = ""; ok = 0; deb = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)  { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Types:/ && $i ~ /(^|[ \t])deb([ \t]|$)/) deb = 1
          if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
        }
        if (deb && ok && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    awk -v suite="$SUITE" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                                        if ($(i + 1) == suite) { print $i; exit } }' "$f"
  done
  echo http://deb.debian.org/debian
}

if [[ -f "$TARBALL" && "${BASE_REBUILD:-0}" != 1 ]]; then
  log "re-importing cached rootfs $TARBALL"
else
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap from apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq debootstrap >/dev/null
  fi
  MIRROR="$(debian_mirror)"
  MIRROR="${MIRROR%%$'\n'*}"
  ROOTFS="$(mktemp -d "${TMPDIR:-/tmp}/mlops-kit-rootfs.XXXXXX")"
  trap 'rm -rf "$ROOTFS"' EXIT
  log "debootstrap $SUITE from $MIRROR (packages: $PACKAGES)"
  t0=$SECONDS
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
    >"$CACHE/base/debootstrap.log" 2>&1 || {
    log "ERROR: debootstrap failed; see $CACHE/base/debootstrap.log"
    tail -n 20 "$CACHE/base/debootstrap.log" >&2
    exit 1
  }
  log "debootstrap done in $((SECONDS - t0))s"

  # Non-root user for every image built on this base (minbase has no useradd; write the entries directly).
  echo "app:x:$APP_UID:$APP_UID:app:/home/app:/usr/sbin/nologin" >>"$ROOTFS/etc/passwd"
  echo "app:x:$APP_UID:" >>"$ROOTFS/etc/group"
  echo "app:!:19000:0:99999:7:::" >>"$ROOTFS/etc/shadow"
  install -d -o "$APP_UID" -g "$APP_UID" -m 0755 "$ROOTFS/home/app"

  # Slim: apt caches/lists, docs, man pages, non-English locales (nothing is ever apt-installed in these images).
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/lib/apt/lists/* \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/var/log/*.log \
    "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/lib/dpkg/*-old
  find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'en*' ! -name locale.alias -exec rm -rf {} + \
    2>/dev/null || true

  rm -f "$CACHE"/base/rootfs-*.tar # keep only the current one
  tar --numeric-owner -C "$ROOTFS" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$ROOTFS"
  trap - EXIT
fi

t0=$SECONDS
"$DOCKER" import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL org.opencontainers.image.title=mlops-kit-base mlops-kit.base.hash=$HASH mlops-kit.base.uid=$APP_UID" \
  --change 'CMD ["/bin/bash"]' \
  --message "mlops-kit base: debootstrap $SUITE minbase + $PACKAGES" \
  "$TARBALL" "$IMAGE" >/dev/null
"$DOCKER" tag "$IMAGE" "$REPO:$SUITE"
# Untag base images of older hashes (only ours; their layers stay while images built on them exist).
"$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}' "$REPO" | grep -E "^$REPO:$SUITE-[0-9a-f]{12}\$" |
  grep -vx "$IMAGE" | xargs -r "$DOCKER" image rm >/dev/null 2>&1 || true
log "imported $IMAGE in $((SECONDS - t0))s ($("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$IMAGE"
