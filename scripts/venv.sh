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
UV="$(command -v uv || true)"
if [[ -z "$UV" ]]; then
  echo "[venv] installing uv from PyPI"
  python3 -m pip install -q --disable-pip-version-check uv==0.13.8
  UV="$(command -v uv || echo "$(python3 -m site --user-base)/bin/uv")"
fi
start=$(date +%s)
[[ -x .venv/bin/python ]] || "$UV" venv -q --python 3.11 .venv
VIRTUAL_ENV="$ROOT/.venv" "$UV" pip sync -q requirements.lock
VIRTUAL_ENV="$ROOT/.venv" "$UV" pip install -q --no-deps -e .
echo "$want" > $STAMP
echo "[venv] ready in $(( $(date +%s) - start )) s: $ROOT/.venv"
