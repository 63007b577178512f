#!/usr/bin/env bash
# Stage the kit's Python packages (the CLI and the training pipeline) into the build context: CTX/app.
set -euo pipefail
CTX="${1:?usage: prepare.sh BUILD_CONTEXT}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rm -rf "$CTX/app" && mkdir -p "$CTX/app"
for package in mlops_kit services; do
  (cd "$ROOT" && find "$package" -name '*.py' -not -path '*/__pycache__/*' -print0 | xargs -0 cp --parents -t "$CTX/app")
done
