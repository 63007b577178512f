#!/usr/bin/env bash
# Run a local OCI/Docker registry (Debian's docker-registry 2.8) on 127.0.0.1:5000, idempotently.
#
#   bash scripts/registry.sh               # install if missing, start if not answering, wait for /v2/
#
# Config:  $MLOPS_KIT_CACHE/registry/config.yml (rewritten on every start)
# Storage: $MLOPS_KIT_CACHE/registry/data
# Log:     $MLOPS_KIT_CACHE/registry/registry.log     Pid: $MLOPS_KIT_CACHE/registry/registry.pid
# docker pushes to 127.0.0.1:5000 over plain HTTP: loopback registries are insecure-allowed by default.
# Env: MLOPS_KIT_REGISTRY (host:port, default 127.0.0.1:5000), REGISTRY_READY_TIMEOUT (s, default 30).
set -euo pipefail

CACHE="${MLOPS_KIT_CACHE:-$HOME/.cache/mlops-kit}"
ADDR="${MLOPS_KIT_REGISTRY:-127.0.0.1:5000}"
DIR="$CACHE/registry"
TIMEOUT="${REGISTRY_READY_TIMEOUT:-30}"
URL="http://$ADDR/v2/"

log() { echo "[registry] $*" >&2; }

is_registry() {
  # A registry answers /v2/ with 200 and the Docker-Distribution-Api-Version header.
  curl -fsS -m 2 -D - -o /dev/null "$URL" 2>/dev/null | grep -qi '^docker-distribution-api-version: registry/2'
}

if is_registry; then
  log "already serving at $URL"
  echo "$ADDR"
  exit 0
fi

if ! command -v docker-registry >/dev/null 2>&1; then
  log "installing docker-registry from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker-registry >/dev/null
  # Under systemd the package starts its own service on :5000 on all interfaces (its config, its storage);
  # disable it so ours, bound to loopback, owns the port.
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
  if is_registry; then
    log "already serving at $URL"
    echo "$ADDR"
    exit 0
  fi
fi

mkdir -p "$DIR/data"
cat >"$DIR/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DIR/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $ADDR
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF

if [[ -f "$DIR/registry.pid" ]] && kill -0 "$(cat "$DIR/registry.pid")" 2>/dev/null; then
  log "registry process $(cat "$DIR/registry.pid") exists but does not answer yet; waiting"
else
  if curl -s -m 2 -o /dev/null "http://$ADDR/" 2>/dev/null; then
    log "ERROR: something else (not a registry) is listening on $ADDR"
    exit 1
  fi
  log "starting docker-registry on $ADDR (log: $DIR/registry.log)"
  nohup setsid docker-registry serve "$DIR/config.yml" >>"$DIR/registry.log" 2>&1 </dev/null &
  echo $! >"$DIR/registry.pid"
fi

deadline=$((SECONDS + TIMEOUT))
until is_registry; do
  if ! kill -0 "$(cat "$DIR/registry.pid")" 2>/dev/null; then
    log "ERROR: docker-registry exited; see $DIR/registry.log"
    tail -n 20 "$DIR/registry.log" >&2 || true
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    log "ERROR: registry not answering at $URL after ${TIMEOUT}s; see $DIR/registry.log"
    exit 1
  fi
  sleep 0.3
done
curl -fsS "$URL" >/dev/null
log "serving at $URL"
echo "$ADDR"
