#!/usr/bin/env bash
# Regenerate images/serving/pyc-keep.txt: the Python modules a running serving container imports.
#
#   bash images/serving/pyc-manifest.sh [IMAGE]     # default mlops-kit/serving:dev (build it first)
#
# Runs IMAGE with PYTHONPROFILEIMPORTTIME=1 (every process logs every import to stderr), exercises the API
# (/readyz, /predict with a good and a bad payload, /metrics, /model/, /livez), stops it and writes the sorted module
# names. The Dockerfile keeps bytecode only for these modules (prune_venv.py). Re-run after dependency or service
# changes; a stale list costs start-up time (in-memory compilation of the missing modules), never correctness.
set -euo pipefail

IMAGE="${1:-mlops-kit/serving:dev}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MLOPS_KIT_CACHE:-$HOME/.cache/mlops-kit}"
DOCKER="$(cat "$CACHE/docker-client" 2>/dev/null || command -v docker)"
NAME="mlops-kit-pyc-manifest-$$"
log() { echo "[pyc-manifest] $*" >&2; }

cleanup() { "$DOCKER" rm -f "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$DOCKER" run -d --name "$NAME" --read-only --tmpfs /tmp -e PYTHONPROFILEIMPORTTIME=1 -p 127.0.0.1::3000 "$IMAGE" >/dev/null
URL="http://$("$DOCKER" port "$NAME" 3000/tcp | head -n1)"

python3 - "$URL" <<'EOF'
import json, sys, time, urllib.error, urllib.request

url = sys.argv[1]
def call(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

deadline = time.monotonic() + 120
while True:
    try:
        if call("/readyz")[0] == 200:
            break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit("server not ready within 120 s")
    time.sleep(0.5)
features = json.loads(call("/model/")[1])["features"]
assert call("/predict", {"instances": [[1.0] * len(features)] * 3})[0] == 200
assert call("/predict", {"instances": [dict.fromkeys(features, 1.0)]})[0] == 200
assert call("/predict", {"instances": [[1.0]]})[0] == 400
for path in ("/metrics", "/livez", "/docs.json"):
    call(path)
EOF

"$DOCKER" stop -t 20 "$NAME" >/dev/null
# "import time:   self [us] | cumulative | imported package" lines from every process.
"$DOCKER" logs "$NAME" 2>&1 | sed -nE 's/^import time: +[0-9]+ \| +[0-9]+ \| +(.*)$/\1/p' | tr -d ' ' | LC_ALL=C sort -u \
  >"$HERE/pyc-keep.txt"
log "$(wc -l <"$HERE/pyc-keep.txt") modules -> $HERE/pyc-keep.txt"
