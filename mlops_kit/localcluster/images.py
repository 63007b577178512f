"""Images the node needs before anything is pulled: the sandbox (pause) image, made from the toolchain's static
`pause` binary as a one-layer docker-archive and imported into the node's containerd (`ctr images import`), so a
node comes up without the local registry. Any other image reaches the node the same way (`import_archive`) or by a
pull from 127.0.0.1:5000.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from mlops_kit.localcluster import containerd, processes
from mlops_kit.localcluster.layout import PAUSE_IMAGE, Layout


def _tar_bytes(members: dict[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, (data, mode) in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def single_binary_archive(binary: bytes, *, name: str, entrypoint: str = "/pause") -> bytes:
    """A docker-archive (the `docker save` layout) of one layer holding `binary` at `entrypoint`."""
    layer = _tar_bytes({entrypoint.lstrip("/"): (binary, 0o755)})
    diff_id = hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": [entrypoint], "User": "65535:65535"},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
            "history": [{"created_by": "mlops-kit: static pause binary"}],
        },
        sort_keys=True,
    ).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [name], "Layers": [f"{diff_id}/layer.tar"]}]).encode()
    return _tar_bytes(
        {config_name: (config, 0o644), f"{diff_id}/layer.tar": (layer, 0o644), "manifest.json": (manifest, 0o644)}
    )


def has_image(layout: Layout, name: str) -> bool:
    done = processes.run(containerd.ctr(layout, "images", "list", "-q"), what="listing the node's images", check=False)
    return name in done.stdout.split()


def import_archive(layout: Layout, archive: Path) -> None:
    processes.run(
        containerd.ctr(layout, "images", "import", str(archive)), what=f"importing {archive.name}", timeout=300
    )


def ensure_pause(layout: Layout, pause_binary: Path, name: str = PAUSE_IMAGE) -> None:
    if has_image(layout, name):
        return
    archive = layout.data_dir / "pause.tar"
    archive.write_bytes(single_binary_archive(pause_binary.read_bytes(), name=name))
    import_archive(layout, archive)
