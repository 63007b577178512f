#!/usr/bin/env bash
# Download a wheelhouse for the images (CPython 3.11, manylinux x86_64 = Debian 12 in the base image), idempotently.
#
#   bash scripts/wheelhouse.sh REQ_FILE OUT_DIR
#
# Runs `pip download --only-binary=:all:` for the target platform on the host (the network is only reliable on
# the host; images install with `pip install --no-index`). Constraint/requirement files referenced from REQ_FILE
# (`-c ../../requirements.lock`) are resolved by pip relative to REQ_FILE and are part of the stamp.
# OUT_DIR/.stamp holds a hash of the inputs; when it matches and every listed wheel is present, nothing is done.
# Otherwise the wheelhouse is rebuilt into OUT_DIR.new (pip's HTTP cache makes re-downloads cheap) and swapped in,
# so OUT_DIR never holds wheels of an older requirement set.
# OUT_DIR/requirements.txt lists the resolved set as name==version (for reference / `pip install -r`).
#
# Env: PIP (a pip command, e.g. "python3 -m pip"), WHEELHOUSE_PYTHON_VERSION (default 3.11),
#      WHEELHOUSE_GLIBC_MAX (newest manylinux_2_X accepted, default 36 = bookworm's glibc 2.36).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 REQ_FILE OUT_DIR" >&2
  exit 2
fi
REQ="$(realpath "$1")"
OUT="$(realpath -m "$2")"
PYVER="${WHEELHOUSE_PYTHON_VERSION:-3.11}"
GLIBC_MAX="${WHEELHOUSE_GLIBC_MAX:-36}"
PYTAG="cp${PYVER/./}"

log() { echo "[wheelhouse] $*" >&2; }
[[ -f "$REQ" ]] || { log "ERROR: no such requirements file: $1"; exit 2; }

# Every file the requirements pull in via -r/-c (recursively), relative to the including file.
included_files() {
  local f="$1" dir ref
  echo "$f"
  dir="$(dirname "$f")"
  while IFS= read -r ref; do
    [[ "$ref" = /* ]] || ref="$dir/$ref"
    included_files "$(realpath "$ref")"
  done < <(sed -nE 's/^[[:space:]]*(-r|-c|--requirement|--constraint)[[:space:]=]+([^[:space:]#]+).*/\2/p' "$f")
}

PLATFORMS=(manylinux2014_x86_64 manylinux2010_x86_64 manylinux1_x86_64)
for ((v = GLIBC_MAX; v >= 5; v--)); do PLATFORMS+=("manylinux_2_${v}_x86_64"); done
PIP_TARGET_ARGS=(--only-binary=:all: --python-version "$PYVER" --implementation cp
  --abi "$PYTAG" --abi abi3 --abi none)
for p in "${PLATFORMS[@]}"; do PIP_TARGET_ARGS+=(--platform "$p"); done

HASH="$({
  echo "${PIP_TARGET_ARGS[*]}"
  while IFS= read -r f; do echo "== $(basename "$f")"; cat "$f"; done < <(included_files "$REQ")
} | sha256sum | cut -c1-16)"

stamp_ok() {
  [[ -f "$OUT/.stamp" ]] || return 1
  [[ "$(head -n1 "$OUT/.stamp")" == "$HASH" ]] || return 1
  local w
  while IFS= read -r w; do [[ -f "$OUT/$w" ]] || return 1; done < <(tail -n +2 "$OUT/.stamp")
}

if stamp_ok; then
  log "up to date: $OUT ($(($(wc -l <"$OUT/.stamp") - 1)) wheels, hash $HASH)"
  echo "$OUT"
  exit 0
fi

# Pick a pip: $PIP, else any python3 with pip, else pip fetched by uv.
if [[ -n "${PIP:-}" ]]; then
  read -r -a PIPCMD <<<"$PIP"
else
  PIPCMD=()
  for py in python3 /usr/bin/python3 python; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -m pip --version >/dev/null 2>&1; then
      PIPCMD=("$py" -m pip)
      break
    fi
  done
  if [[ ${#PIPCMD[@]} -eq 0 ]]; then
    command -v uvx >/dev/null 2>&1 || { log "ERROR: no pip found (set PIP=...) and no uvx to fetch one"; exit 1; }
    PIPCMD=(uvx --from pip pip)
  fi
fi

NEW="$OUT.new"
rm -rf "$NEW"
mkdir -p "$NEW" "$(dirname "$OUT")"
log "downloading wheels for $(basename "$REQ") (py$PYVER manylinux x86_64) into $OUT"
t0=$SECONDS
# PIP_FIND_LINKS from the environment would let pip pick wheels built for the host; the image wants PyPI's.
env -u PIP_FIND_LINKS -u PIP_NO_INDEX PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "${PIPCMD[@]}" download -q "${PIP_TARGET_ARGS[@]}" -r "$REQ" -d "$NEW" >&2

# Record the resolved set: name==version from the wheel filenames (PEP 427: name-version-...).
shopt -s nullglob
wheels=("$NEW"/*.whl)
[[ ${#wheels[@]} -gt 0 ]] || { log "ERROR: pip downloaded no wheels"; exit 1; }
for w in "${wheels[@]}"; do
  b="$(basename "$w")"
  IFS=- read -r name ver _ <<<"$b"
  echo "$name==$ver"
done | sort -f >"$NEW/requirements.txt"
{
  echo "$HASH"
  for w in "${wheels[@]}"; do basename "$w"; done
} >"$NEW/.stamp"

rm -rf "$OUT.old"
[[ -d "$OUT" ]] && mv "$OUT" "$OUT.old"
mv "$NEW" "$OUT"
rm -rf "$OUT.old"
log "done in $((SECONDS - t0))s: ${#wheels[@]} wheels, $(du -sh "$OUT" | cut -f1)"
echo "$OUT"
