#!/usr/bin/env bash
# Make `promtool` available (Debian's `prometheus` package), idempotently, and print its path.
#
#   bash scripts/promtool.sh        # install if missing; prints e.g. /usr/bin/promtool
#
# Only the binary is wanted (for `promtool check rules` / `promtool test rules` on infra/monitoring/): if an init
# system started the package's own Prometheus server, it is stopped again.
# Env: PROMTOOL (a promtool binary to use instead; it is checked and printed as is).
set -euo pipefail

log() { echo "[promtool] $*" >&2; }

if [[ -n ${PROMTOOL:-} ]]; then
  "$PROMTOOL" --version >/dev/null 2>&1 || { log "PROMTOOL=$PROMTOOL does not run"; exit 1; }
  echo "$PROMTOOL"
  exit 0
fi

if ! command -v promtool >/dev/null 2>&1; then
  if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
    log "promtool is missing and installing it needs root (apt-get install prometheus)"
    exit 1
  fi
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  log "installing Debian package 'prometheus' (for promtool)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl stop prometheus || true
  fi
fi

path="$(command -v promtool)"
"$path" --version >/dev/null 2>&1 || { log "$path does not run"; exit 1; }
log "$("$path" --version 2>&1 | head -n 1)"
echo "$path"
