#!/usr/bin/env bash
# Install (if needed) and start (if needed) the Docker engine, idempotently.
#
#   bash scripts/docker-engine.sh          # install docker.io, start dockerd, wait, print versions
#
# - Installs Debian's docker.io (apt) when dockerd or Debian's docker client is missing.
# - Starts dockerd in the background when the daemon does not answer; log: $MLOPS_KIT_CACHE/dockerd.log.
# - Polls `docker info` until ready (DOCKER_READY_TIMEOUT seconds, default 60); fails naming the log file.
# - Writes the path of the docker client to use to $MLOPS_KIT_CACHE/docker-client and prints it on the
#   last line of stdout. That is Debian's 20.10 client from the docker.io package: a newer client early on
#   PATH has no buildx plugin, so BuildKit builds through it fail. $MLOPS_KIT_CACHE/bin/docker links to it, for
#   tools that call plain `docker` (PATH="$HOME/.cache/mlops-kit/bin:$PATH"). See images/README.md.
# - When the recorded client already answers with a server version, that is all it does (one docker call).
# - Never removes or prunes images/containers.
set -euo pipefail

CACHE="${MLOPS_KIT_CACHE:-$HOME/.cache/mlops-kit}"
LOG="$CACHE/dockerd.log"
TIMEOUT="${DOCKER_READY_TIMEOUT:-60}"
mkdir -p "$CACHE"

log() { echo "[docker-engine] $*" >&2; }

debian_client() {
  # Debian's docker client, as shipped by the docker.io package.
  dpkg -L docker.io 2>/dev/null | grep -E '/bin/docker$' | head -n1 || true
}

# 0. already up (the common case, one docker call): the recorded client answers with a server version ------
if CLIENT="$(cat "$CACHE/docker-client" 2>/dev/null)" && [[ -x "$CLIENT" && "$(readlink "$CACHE/bin/docker")" == "$CLIENT" ]] &&
  versions="$("$CLIENT" version --format '{{.Client.Version}} {{.Server.Version}}' 2>/dev/null)" &&
  [[ "$versions" == *" "?* ]]; then
  log "client ${versions% *} ($CLIENT), server ${versions#* }: running"
  echo "$CLIENT"
  exit 0
fi

# 1. install ---------------------------------------------------------------------------------------------
CLIENT="$(debian_client)"
if [[ -z "$CLIENT" || ! -x "$CLIENT" ]] || ! command -v dockerd >/dev/null 2>&1; then
  log "installing docker.io from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
  CLIENT="$(debian_client)"
fi
[[ -x "$CLIENT" ]] || { log "ERROR: Debian's docker client not found after installing docker.io"; exit 1; }
DOCKERD="$(command -v dockerd || echo /usr/sbin/dockerd)"

# 2. start -----------------------------------------------------------------------------------------------
if ! "$CLIENT" info >/dev/null 2>&1; then
  # A stale pid file from a previous (dead) daemon makes dockerd refuse to start.
  if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  if [[ -f /var/run/docker.pid ]]; then
    log "dockerd already running (pid $(cat /var/run/docker.pid)), waiting for it"
  else
    log "starting dockerd (log: $LOG)"
    # containerd is started by dockerd itself (it manages its own when none is running).
    nohup setsid "$DOCKERD" >>"$LOG" 2>&1 </dev/null &
    echo $! >"$CACHE/dockerd.pid"
  fi
  deadline=$((SECONDS + TIMEOUT))
  until "$CLIENT" info >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "ERROR: dockerd not ready after ${TIMEOUT}s; see $LOG"
      tail -n 20 "$LOG" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
fi

# 3. report ----------------------------------------------------------------------------------------------
echo "$CLIENT" >"$CACHE/docker-client"
# A PATH shim for tools that run plain `docker` (bentoml containerize): PATH="$CACHE/bin:$PATH".
mkdir -p "$CACHE/bin"
[[ "$(readlink "$CACHE/bin/docker" 2>/dev/null)" == "$CLIENT" ]] || ln -sfn "$CLIENT" "$CACHE/bin/docker"
log "client: $("$CLIENT" version --format '{{.Client.Version}}') ($CLIENT)"
log "server: $("$CLIENT" version --format '{{.Server.Version}}')"
log "client path written to $CACHE/docker-client"
echo "$CLIENT"
