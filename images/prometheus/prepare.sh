#!/usr/bin/env bash
# Put the toolchain's Prometheus server and promtool into the build context of the prometheus image: CTX/prometheus,
# CTX/promtool.
#
#   images/prometheus/prepare.sh CTX        # run by `images/build.sh prometheus`
#
# Source: $MLOPS_KIT_CACHE/toolchain/bin/{prometheus,promtool}, built (when missing or stale) by
# `tools/build-toolchain.sh --only prometheus` from tools/prometheus/go.mod. Both must report the version in
# images/prometheus/VERSION, so the tag says what is inside.
set -euo pipefail
CTX="${1:?usage: prepare.sh CONTEXT_DIR}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${MLOPS_KIT_CACHE:-$HOME/.cache/mlops-kit}/toolchain/bin"
log() { echo "[prepare prometheus] $*" >&2; }

# Idempotent: seconds when the step is up to date, a Go build (~4 min on 2 cores) from nothing.
bash "$ROOT/tools/build-toolchain.sh" --only prometheus >&2
want="$(tr -d '[:space:]' <"$HERE/VERSION")"
for tool in prometheus promtool; do
  got="$("$BIN/$tool" --version 2>/dev/null | sed -n '1s/^[a-z]*, version \([^ ]*\) .*/\1/p')"
  [[ "$got" == "$want" ]] || {
    log "ERROR: $BIN/$tool is version '$got', images/prometheus/VERSION wants '$want' (pin: tools/prometheus/go.mod)"
    exit 1
  }
  cp "$BIN/$tool" "$CTX/$tool"
done
log "prometheus + promtool $want from $BIN ($(stat -c %s "$BIN/prometheus") + $(stat -c %s "$BIN/promtool") bytes)"
