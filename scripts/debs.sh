#!/usr/bin/env bash
# Download the Debian packages an image needs on top of the base image, on the host, idempotently.
#
#   bash scripts/debs.sh BASE_IMAGE PACKAGES_FILE OUT_DIR      # -> OUT_DIR (*.deb + .stamp)
#
# PACKAGES_FILE: one package (or pkg=version) a line, `#` comments. The set downloaded is exactly what
# `apt-get install --no-install-recommends` would add to the BASE_IMAGE: apt runs on the host with the base image's
# own /var/lib/dpkg/status (copied out of the image) and a private archives dir, so packages the base already has
# are not fetched and nothing on the host is installed or changed. The image then installs OUT_DIR/*.deb offline
# (images/install-debs.sh). Versions come from the host's apt lists (same suite as the base: bookworm + updates +
# security); `apt-get update` runs once when a package is not found.
#
# OUT_DIR/.stamp: line 1 = hash of (base image id, package list, this script); then the .deb file names. A matching
# stamp with every file present means no work (no apt call). A rebuild goes to OUT_DIR.new and is swapped in.
# OUT_DIR/packages.txt: the resolved set as name=version (for reference and for the image's labels).
# Env: MLOPS_KIT_CACHE, DEBS_REFRESH=1 (ignore the stamp, e.g. after an apt-get update for security fixes).
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 BASE_IMAGE PACKAGES_FILE OUT_DIR" >&2
  exit 2
fi
BASE="$1"
PKGFILE="$(realpath "$2")"
OUT="$(realpath -m "$3")"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MLOPS_KIT_CACHE:-$HOME/.cache/mlops-kit}"

log() { echo "[debs] $*" >&2; }
[[ -f "$PKGFILE" ]] || { log "ERROR: no such package list: $2"; exit 2; }
mapfile -t PACKAGES < <(sed -E 's/#.*//; s/[[:space:]]+//g; /^$/d' "$PKGFILE")
[[ ${#PACKAGES[@]} -gt 0 ]] || { log "ERROR: $2 lists no package"; exit 2; }

DOCKER="$(cat "$CACHE/docker-client" 2>/dev/null || true)"
[[ -x "$DOCKER" ]] || DOCKER="$(bash "$HERE/docker-engine.sh" | tail -n1)"
BASE_ID="$("$DOCKER" image inspect -f '{{.Id}}' "$BASE")" || { log "ERROR: no base image $BASE"; exit 1; }

HASH="$({ echo "$BASE_ID"; printf '%s\n' "${PACKAGES[@]}"; cat "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-16)"

stamp_ok() {
  [[ -f "$OUT/.stamp" && "${DEBS_REFRESH:-0}" != 1 ]] || return 1
  [[ "$(head -n1 "$OUT/.stamp")" == "$HASH" ]] || return 1
  local f
  while IFS= read -r f; do [[ -f "$OUT/$f" ]] || return 1; done < <(tail -n +2 "$OUT/.stamp")
}

mkdir -p "$(dirname "$OUT")"
exec 9>"$OUT.lock"
flock 9
if stamp_ok; then
  log "up to date: $OUT ($(($(wc -l <"$OUT/.stamp") - 1)) packages, hash $HASH)"
  echo "$OUT"
  exit 0
fi

# The base image's dpkg status, by image id (an image's files never change).
STATUS="$CACHE/debs/status-${BASE_ID#sha256:}"
if [[ ! -s "$STATUS" ]]; then
  mkdir -p "$CACHE/debs"
  cid="$("$DOCKER" create "$BASE" true)"
  "$DOCKER" cp "$cid:/var/lib/dpkg/status" "$STATUS.tmp" && mv "$STATUS.tmp" "$STATUS"
  "$DOCKER" rm "$cid" >/dev/null
fi

NEW="$OUT.new"
rm -rf "$NEW"
mkdir -p "$NEW/partial"
# apt as if it ran inside the base image: its status file, no recommends, a private archive dir and no binary
# caches (the host's pkgcache.bin describes the host's status). No locks: only our private dir is written.
APT=(apt-get -q -y --download-only --no-install-recommends
  -o "Dir::State::status=$STATUS" -o "Dir::Cache::archives=$NEW" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
  -o Debug::NoLocking=true -o APT::Get::AllowUnauthenticated=false)
log "downloading ${PACKAGES[*]} (+ what $BASE lacks) into $OUT"
t0=$SECONDS
if ! "${APT[@]}" install "${PACKAGES[@]}" >"$NEW.log" 2>&1; then
  # Lists older than the base (its packages newer than the host's candidates) show up as unmet dependencies.
  if grep -qE 'Unable to locate package|has no installation candidate|Failed to fetch|unmet dependencies' "$NEW.log"; then
    log "apt lists stale or missing: apt-get update"
    apt-get update -qq >&2
    "${APT[@]}" install "${PACKAGES[@]}" >"$NEW.log" 2>&1 || {
      log "ERROR: apt-get --download-only failed:"
      tail -n 20 "$NEW.log" >&2
      exit 1
    }
  else
    log "ERROR: apt-get --download-only failed:"
    tail -n 20 "$NEW.log" >&2
    exit 1
  fi
fi
rm -rf "$NEW/partial" "$NEW/lock"
shopt -s nullglob
debs=("$NEW"/*.deb)
[[ ${#debs[@]} -gt 0 ]] || { log "ERROR: nothing downloaded (does the base already contain ${PACKAGES[*]}?)"; exit 1; }
# shellcheck disable=SC2016 # dpkg-deb expands ${Package}, not the shell
for d in "${debs[@]}"; do dpkg-deb -W --showformat '${Package}=${Version}\n' "$d"; done | sort >"$NEW/packages.txt"
{
  echo "$HASH"
  for d in "${debs[@]}"; do basename "$d"; done
} >"$NEW/.stamp"
rm -f "$NEW.log"
rm -rf "$OUT.old"
[[ -d "$OUT" ]] && mv "$OUT" "$OUT.old"
mv "$NEW" "$OUT"
rm -rf "$OUT.old"
log "done in $((SECONDS - t0))s: ${#debs[@]} packages, $(du -sh "$OUT" | cut -f1)"
echo "$OUT"
