#!/usr/bin/env bash
# Create/refresh the project virtualenv (.venv) from the lock, fast and reproducibly (uv; ~10 s warm).
#   bash scripts/venv.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STAMP=.venv/.lock-stamp
want="$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)"
if [[ -x .venv/bin/python && -f $STAMP && "$(cat $STAMP)" == "$want" ]]; then
  echo "[venv] up to date (.venv matches requirements.lock)"
  exit 0
fi
# `python3 -m uv` works wherever pip put uv (pyenv, user site, system), with no PATH or shim to refresh.
if ! python3 -m uv --version >/dev/null 2>&1; then
  echo "[venv] installing uv from PyPI"
  python3 -m pip install -q --disable-pip-version-check uv==0.13.8
fi
uv() { python3 -m uv "$@"; }
start=$(date +%s)
[[ -x .venv/bin/python ]] || uv venv -q --python 3.11 .venv
# --python is explicit: uv started as `python3 -m uv` would otherwise target the interpreter that started it.
uv pip sync -q --python "$ROOT/.venv/bin/python" requirements.lock
uv pip install -q --python "$ROOT/.venv/bin/python" --no-deps -e .
echo "$want" > $STAMP
echo "[venv] ready in $(( $(date +%s) - start )) s: $ROOT/.venv"
