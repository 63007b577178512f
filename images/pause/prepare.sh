#!/usr/bin/env bash
# Put the pause binary into the build context of the pause image: CTX/pause.
#
#   images/pause/prepare.sh CTX        # run by `images/build.sh pause`
#
# Source, first match: $PAUSE_BIN; the toolchain's build ($MLOPS_KIT_CACHE/toolchain/bin/pause, made by
# tools/build-toolchain.sh); else `CGO_ENABLED=0 go build -trimpath -ldflags "-s -w"` of tools/pause here (cached in
# $MLOPS_KIT_CACHE/build/pause-bin/, rebuilt when tools/pause changes). The binary must be static and report the
# version in images/pause/VERSION (`pause --version` -> "pause 1.0.0"), so the tag says what is inside.
set -euo pipefail
CTX="${1:?usage: prepare.sh CONTEXT_DIR}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${MLOPS_KIT_CACHE:-$HOME/.cache/mlops-kit}"
log() { echo "[prepare pause] $*" >&2; }

BIN="${PAUSE_BIN:-}"
if [[ -z "$BIN" && -x "$CACHE/toolchain/bin/pause" ]]; then
  BIN="$CACHE/toolchain/bin/pause"
fi
if [[ -z "$BIN" ]]; then
  SRC="$ROOT/tools/pause"
  [[ -f "$SRC/go.mod" ]] || { log "ERROR: no pause binary: no $CACHE/toolchain/bin/pause and no $SRC to build"; exit 1; }
  GO="$(command -v go || true)"
  [[ -n "$GO" ]] || GO=/usr/local/go/bin/go
  [[ -x "$GO" ]] || { log "ERROR: no go toolchain to build $SRC (run tools/build-toolchain.sh, or set PAUSE_BIN)"; exit 1; }
  key="$({ "$GO" version; cat "$SRC"/go.mod "$SRC"/*.go; } | sha256sum | cut -c1-16)"
  BIN="$CACHE/build/pause-bin/pause-$key"
  if [[ ! -x "$BIN" ]]; then
    log "building $SRC with $("$GO" version | cut -d' ' -f3)"
    mkdir -p "$(dirname "$BIN")"
    rm -f "$(dirname "$BIN")"/pause-*
    (cd "$SRC" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly "$GO" build -trimpath -ldflags "-s -w" -o "$BIN.tmp" .)
    mv "$BIN.tmp" "$BIN"
  fi
fi
[[ -x "$BIN" ]] || { log "ERROR: $BIN is not an executable"; exit 1; }
# Static: no program interpreter (a dynamic binary would need a libc the one-layer image does not have).
if LC_ALL=C readelf -l "$BIN" 2>/dev/null | grep -q 'Requesting program interpreter'; then
  log "ERROR: $BIN is dynamically linked; build it with CGO_ENABLED=0"
  exit 1
fi
want="pause $(tr -d '[:space:]' <"$HERE/VERSION")"
got="$("$BIN" --version 2>/dev/null || true)"
[[ "$got" == "$want" ]] || { log "ERROR: $BIN --version says '$got', images/pause/VERSION wants '$want'"; exit 1; }
cp "$BIN" "$CTX/pause"
log "pause from $BIN ($(stat -c %s "$BIN") bytes)"
