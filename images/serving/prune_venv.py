"""Drop what a running server never reads from the venv (run in the image's build stage).

    python prune_venv.py pyc-keep.txt /opt/venv

pip compiles every module it installs; about half of that bytecode (~50 MB: databricks-sdk, unused mlflow, scipy and
pygments modules, ...) belongs to modules a running server never imports. pyc-keep.txt lists the modules the server
does import (written by images/serving/pyc-manifest.sh from a real run of the image); their bytecode stays, so start-up
is unchanged. The pruning is only a size optimisation: a module missing from a stale list still imports, Python just
compiles it in memory at start (the root filesystem is read-only, so nothing is written). An empty or missing list
keeps everything. Also removed: test directories (`tests/`, `test/` inside packages) and build/typing-time files
(*.pyi stubs, Cython *.pyx/*.pxd, C/C++ sources and headers: ~8 MB).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

BUILD_TIME_FILES = ("*.pyi", "*.pyx", "*.pxd", "*.pxi", "*.h", "*.hpp", "*.c", "*.cpp")


def main(keep_file: str, venv: str) -> None:
    keep_path = Path(keep_file)
    keep = {line.strip() for line in keep_path.read_text().splitlines()} if keep_path.is_file() else set()
    keep.discard("")
    site = next(Path(venv).glob("lib/python3*/site-packages"))
    removed_bytes = kept_bytes = 0

    for directory in [p for p in site.rglob("*") if p.name in ("tests", "test") and p.is_dir()]:
        if directory.is_dir() and (directory.parent / "__init__.py").is_file():
            removed_bytes += sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
            shutil.rmtree(directory)

    for pattern in BUILD_TIME_FILES:
        for path in site.rglob(pattern):
            if path.is_file():
                removed_bytes += path.stat().st_size
                path.unlink()

    if not keep:
        print(f"prune_venv: no module list in {keep_file}; all bytecode kept")
        return
    for cache in site.rglob("__pycache__"):
        package = cache.parent.relative_to(site).parts
        for pyc in cache.glob("*.pyc"):
            stem = pyc.name.split(".", 1)[0]  # module.cpython-311.pyc
            module = ".".join(package if stem == "__init__" else (*package, stem))
            size = pyc.stat().st_size
            if module in keep:
                kept_bytes += size
            else:
                pyc.unlink()
                removed_bytes += size
    print(f"prune_venv: kept {kept_bytes / 1e6:.1f} MB of bytecode, removed {removed_bytes / 1e6:.1f} MB (incl. tests)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
