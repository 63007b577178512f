"""What the real node changes on the host, how it is set up, and how `down` undoes every bit of it.

Set up (`prepare`): the node's network namespace with its bridge (address = node IP), a veth pair to the host, host
routes for the node's pod and Service ranges, the node's cgroup in every v1 hierarchy, and a snapshot of the
machine-wide sysctls the kubelet changes (vm.overcommit_memory, kernel.panic, kernel.panic_on_oops) plus
net.ipv4.ip_forward. Torn down (`teardown`): processes left in the node's cgroups (containers, shims), mounts under
the node's directories, the namespace (and with it the bridge, the veth, the routes and every iptables chain the
kubelet, kube-proxy and CNI made in it), the cgroups, the kubelet's /var/log/containers links, the directories; the
sysctls are restored by the last node to go down. The host's own iptables are never written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from mlops_kit.localcluster import processes
from mlops_kit.localcluster.layout import Layout

SYSCTLS = ("vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops", "net.ipv4.ip_forward")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTAINER_LOG_LINKS = Path("/var/log/containers")  # the kubelet's fixed directory of per-container log links
CNI_RESULTS = Path("/var/lib/cni/results")  # libcni's cache (containerd 1.6 does not let it be moved)
# Fixed paths the kubelet and libcni create whatever their configuration says (the kubelet's device-plugin socket
# /var/lib/kubelet/device-plugins/kubelet.sock among them: two nodes share it, harmless as no device plugin is used).
# Those absent before the first node came up are removed when the last node goes down.
FIXED_PATHS = (Path("/var/lib/kubelet"), Path("/var/lib/cni"), CONTAINER_LOG_LINKS)


def _ip(*args: str, netns: str | None = None, check: bool = True):
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return processes.run([*prefix, *args], what="setting up the node's network", check=check)


# --- sysctls --------------------------------------------------------------------------------------------------------


def _sysctl_path(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def read_sysctls(keys: tuple[str, ...] = SYSCTLS) -> dict[str, str]:
    return {k: _sysctl_path(k).read_text().strip() for k in keys}


def snapshot_sysctls(layout: Layout) -> None:
    """Save the machine's values once: the first node up writes the file, later ones keep it."""
    if layout.host_snapshot.exists():
        return
    layout.host_snapshot.parent.mkdir(parents=True, exist_ok=True)
    absent = [str(p) for p in FIXED_PATHS if not p.exists()]
    layout.host_snapshot.write_text(json.dumps({"sysctls": read_sysctls(), "absent": absent}, indent=1))


def restore_sysctls(layout: Layout, *, others_running: bool) -> None:
    """Write the saved values back, unless another node still runs (then the last one down does it)."""
    if others_running or not layout.host_snapshot.exists():
        return
    saved = json.loads(layout.host_snapshot.read_text())
    for key, value in saved["sysctls"].items():
        if _sysctl_path(key).read_text().strip() != value:
            _sysctl_path(key).write_text(value)
    for path in saved.get("absent", []):
        shutil.rmtree(path, ignore_errors=True)
    layout.host_snapshot.unlink()


# --- cgroups --------------------------------------------------------------------------------------------------------


def v1_hierarchies(root: Path = CGROUP_ROOT) -> list[Path]:
    """The mounted cgroup v1 hierarchies (cpu, memory, …, name=systemd); not the cgroup2 `unified` mount."""
    out = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup" and Path(fields[1]).parent == root:
            out.append(Path(fields[1]))
    return sorted(out)


def cgroup_dirs(layout: Layout, sub: str = "") -> list[Path]:
    rel = layout.cgroup_root.lstrip("/") + (f"/{sub}" if sub else "")
    return [h / rel for h in v1_hierarchies()]


def make_cgroups(layout: Layout, sub: str = "system") -> tuple[Path, ...]:
    """Create ``<cgroupRoot>`` and ``<cgroupRoot>/<sub>`` in every hierarchy; returns the sub's cgroup.procs files."""
    for top, child in zip(cgroup_dirs(layout), cgroup_dirs(layout, sub), strict=True):
        for d in (top, child):
            d.mkdir(exist_ok=True)
            if (d / "cpuset.cpus").exists():  # a new cpuset has no cpus or mems: copy its parent's
                for f in ("cpuset.cpus", "cpuset.mems"):
                    if not (d / f).read_text().strip():
                        (d / f).write_text((d.parent / f).read_text())
    return tuple(d / "cgroup.procs" for d in cgroup_dirs(layout, sub))


def pids_in_cgroups(layout: Layout) -> list[int]:
    pids: set[int] = set()
    for top in cgroup_dirs(layout):
        if top.is_dir():
            for procs in top.rglob("cgroup.procs"):
                try:
                    pids.update(int(p) for p in procs.read_text().split())
                except OSError:
                    continue
    return sorted(pids)


def remove_cgroups(layout: Layout) -> list[Path]:
    """rmdir the node's cgroup trees, deepest first; returns what could not be removed."""
    left = []
    for top in cgroup_dirs(layout):
        if not top.is_dir():
            continue
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            try:
                d.rmdir()
            except OSError:
                left.append(d)
        try:
            top.rmdir()
        except OSError:
            left.append(top)
    return left


# --- mounts ---------------------------------------------------------------------------------------------------------


def mounts_under(dirs: tuple[Path, ...]) -> list[Path]:
    targets = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        target = Path(line.split()[4].replace("\\040", " "))
        if any(target == d or d in target.parents for d in dirs):
            targets.append(target)
    return targets


def unmount_all(dirs: tuple[Path, ...]) -> None:
    for target in sorted(set(mounts_under(dirs)), key=lambda p: len(p.parts), reverse=True):
        processes.run(["umount", "-l", str(target)], what=f"unmounting {target}", check=False)


# --- network --------------------------------------------------------------------------------------------------------


def netns_exists(layout: Layout) -> bool:
    return layout.netns_path.exists()


def host_routes() -> list[str]:
    return processes.run(["ip", "-4", "route", "show"], what="reading the host's routes").stdout.splitlines()


def prepare_network(layout: Layout) -> None:
    """Namespace, veth pair, bridge with the node IP, routes both ways; every step skipped when already in place."""
    ns = layout.netns
    if not netns_exists(layout):
        _ip("netns", "add", ns)
    if _ip("link", "show", layout.veth_host, check=False).returncode != 0:
        _ip("link", "add", layout.veth_host, "type", "veth", "peer", "name", layout.veth_node, "netns", ns)
    _ip("addr", "replace", f"{layout.host_ip}/{layout.link_cidr.prefixlen}", "dev", layout.veth_host)
    _ip("link", "set", layout.veth_host, "up")
    _ip("link", "set", "lo", "up", netns=ns)
    _ip("addr", "replace", f"{layout.node_link_ip}/{layout.link_cidr.prefixlen}", "dev", layout.veth_node, netns=ns)
    _ip("link", "set", layout.veth_node, "up", netns=ns)
    if _ip("link", "show", layout.bridge, netns=ns, check=False).returncode != 0:
        _ip("link", "add", layout.bridge, "type", "bridge", netns=ns)
    _ip("addr", "replace", f"{layout.node_ip}/{layout.pod_cidr.prefixlen}", "dev", layout.bridge, netns=ns)
    _ip("link", "set", layout.bridge, "up", netns=ns)
    _ip("route", "replace", "default", "via", layout.host_ip, netns=ns)
    # ClusterIPs that kube-proxy did not translate stay on the bridge instead of bouncing off the host.
    _ip("route", "replace", str(layout.service_cidr), "dev", layout.bridge, netns=ns)
    for cidr in (layout.pod_cidr, layout.service_cidr):
        _ip("route", "replace", str(cidr), "via", layout.node_link_ip, "dev", layout.veth_host)
    # The node routes between its veth and its bridge: its own namespace's switch, not the host's.
    processes.run(
        ["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"], what="enabling forwarding in the node"
    )


def remove_network(layout: Layout) -> None:
    """Deleting the namespace deletes its bridge, its end of the veth (so the host end and its routes) and every
    iptables rule made inside it."""
    if netns_exists(layout) or layout.netns in _ip("netns", "list", check=False).stdout.split():
        _ip("netns", "delete", layout.netns, check=False)
    if _ip("link", "show", layout.veth_host, check=False).returncode == 0:
        _ip("link", "delete", layout.veth_host, check=False)


# --- everything -----------------------------------------------------------------------------------------------------


def prepare(layout: Layout) -> tuple[Path, ...]:
    """Snapshot, network, cgroups and directories; returns the cgroup.procs files the node's processes join."""
    snapshot_sysctls(layout)
    for d in (layout.data_dir, layout.run_dir, layout.log_dir, layout.pid_dir, layout.config_dir):
        d.mkdir(parents=True, exist_ok=True)
    prepare_network(layout)
    return make_cgroups(layout)


def teardown(layout: Layout, *, others_running: bool) -> None:
    processes.kill_pids(pids_in_cgroups(layout))
    unmount_all(layout.owned_dirs())
    remove_network(layout)
    remove_cgroups(layout)
    remove_container_log_links(layout)
    remove_cni_results(layout)
    for d in layout.owned_dirs():
        shutil.rmtree(d, ignore_errors=True)
    restore_sysctls(layout, others_running=others_running)
    with contextlib.suppress(OSError):
        layout.run_root.rmdir()  # only when no other node has state there


def remove_container_log_links(layout: Layout) -> None:
    if not CONTAINER_LOG_LINKS.is_dir():
        return
    for link in CONTAINER_LOG_LINKS.iterdir():
        if link.is_symlink() and str(os.readlink(link)).startswith(str(layout.pod_logs_dir)):
            link.unlink()


def remove_cni_results(layout: Layout) -> None:
    """libcni's cached results of this node's pods: ``<network>-<sandbox>-eth0`` and ``cni-loopback-<sandbox>-lo``."""
    prefix = f"{layout.cni_network}-"
    for f in CNI_RESULTS.glob(f"{prefix}*") if CNI_RESULTS.is_dir() else []:
        sandbox = f.name[len(prefix) :].rsplit("-", 1)[0]
        (CNI_RESULTS / f"cni-loopback-{sandbox}-lo").unlink(missing_ok=True)
        f.unlink(missing_ok=True)


def leftovers(layout: Layout) -> list[str]:
    """What of this node is still on the host (empty after a clean `down`): for `status` and the tests."""
    found = []
    if netns_exists(layout):
        found.append(f"network namespace {layout.netns}")
    if _ip("link", "show", layout.veth_host, check=False).returncode == 0:
        found.append(f"interface {layout.veth_host}")
    found += [f"route {r}" for r in host_routes() if any(str(c) in r for c in layout.ranges)]
    found += [f"cgroup {d}" for d in cgroup_dirs(layout) if d.exists()]
    found += [f"mount {m}" for m in mounts_under(layout.owned_dirs())]
    found += [f"process {p}" for p in pids_in_cgroups(layout)]
    found += [f"directory {d}" for d in layout.owned_dirs() if d.exists()]
    found += [f"CNI result {f}" for f in CNI_RESULTS.glob(f"{layout.cni_network}-*")] if CNI_RESULTS.is_dir() else []
    found += [
        f"log link {p}" for p in CONTAINER_LOG_LINKS.glob("*")
        if p.is_symlink() and os.readlink(p).startswith(str(layout.pod_logs_dir))
    ] if CONTAINER_LOG_LINKS.is_dir() else []  # fmt: skip
    return found
