"""Where one local cluster lives: every name, address, port and directory, derived from the cluster's name alone.

Two clusters (the user's ``mlops-kit`` and the tests' ``mlops-kit-e2e``) run side by side without sharing anything:

* The real node lives in a network namespace of its own (``ip netns`` name ``<name>-node``, like the Node). Its bridge, its
  iptables rules (kube-proxy's KUBE-* chains, the kubelet's), its ip_forward switch and its listening ports
  (kubelet 10250, kube-proxy, CoreDNS :53, metrics-server) exist only there, so two nodes cannot clash and ``down``
  removes them by deleting the namespace. A veth pair joins it to the host: the host routes the node's pod and
  Service ranges into it, the node reaches the API server on the host end.
* Addresses come from a *slot* (0-63) hashed from the name: pods ``10.244.<slot>.0/24`` (the bridge holds ``.1``,
  the node IP), Services ``10.96.<slot>.0/24``, the veth link ``10.247.<slot>.0/30``. Two running clusters on one slot
  are refused at ``up`` (``collides_with``), with advice to pick another name.
* Directories: persistent data under ``<cache>/nodes/<name>`` (containerd's images, the kubelet's root, logs,
  configs, certificates); runtime state under ``/run/mlops-kit/<name>`` (sockets, PID files, containerd state, netns
  mounts). cgroups under ``/<cgroup hierarchy>/<name>-node``.
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from infra.manifests.placement import FAKE_NODE_TAINT, NODE_KIND_LABEL  # noqa: F401  (re-exported)
from mlops_kit import paths
from mlops_kit.errors import UserError

SLOTS = 64
RUN_ROOT = Path("/run/mlops-kit")
CLUSTER_DOMAIN = "cluster.local"
# The kit's sandbox image: the static `pause` binary of the toolchain in a one-layer image (images.py imports it;
# images/publish.sh may also push it to the local registry under the same name).
PAUSE_IMAGE = "127.0.0.1:5000/mlops-kit/pause:1.0.0"
REGISTRY = "127.0.0.1:5000"
# The stack config chooses nodes by these (infra/manifests/placement.py): one definition for both sides.
REAL_NODE_LABEL = NODE_KIND_LABEL  # real | fake

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")


def slot_of(name: str) -> int:
    return zlib.crc32(name.encode()) % SLOTS


@dataclass(frozen=True)
class Ports:
    """Listening ports of the node's components, inside its network namespace (so the same in every cluster)."""

    kubelet: int = 10250
    kubelet_healthz: int = 10248
    kube_proxy_healthz: int = 10256
    kube_proxy_metrics: int = 10249
    dns: int = 53
    dns_health: int = 8080
    metrics_server: int = 4443


@dataclass(frozen=True)
class Layout:
    name: str
    slot: int
    cache: Path
    run_root: Path = RUN_ROOT

    @classmethod
    def for_cluster(cls, name: str, *, cache: Path | None = None, run_root: Path = RUN_ROOT) -> Layout:
        if not _NAME.match(name):
            raise UserError(
                f"cluster name {name!r} is not valid: use 1-40 lower-case letters, digits and '-', "
                "starting and ending with a letter or digit (e.g. mlops-kit-dev)"
            )
        return cls(name=name, slot=slot_of(name), cache=cache or paths.cache_dir(), run_root=run_root)

    # --- network -------------------------------------------------------------------------------------------------

    @property
    def netns(self) -> str:
        return f"{self.name}-node"

    @property
    def netns_path(self) -> Path:
        return Path("/run/netns") / self.netns

    @property
    def bridge(self) -> str:
        return f"mkbr{self.slot}"

    @property
    def veth_host(self) -> str:
        return f"mkh{self.slot}"

    @property
    def veth_node(self) -> str:
        return f"mkn{self.slot}"

    @property
    def pod_cidr(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"10.244.{self.slot}.0/24")

    @property
    def node_ip(self) -> str:
        return str(self.pod_cidr.network_address + 1)

    @property
    def service_cidr(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"10.96.{self.slot}.0/24")

    @property
    def kubernetes_service_ip(self) -> str:
        return str(self.service_cidr.network_address + 1)

    @property
    def link_cidr(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"10.247.{self.slot}.0/30")

    @property
    def host_ip(self) -> str:
        """The host end of the veth: where the node reaches the API server (and containerd's streaming server)."""
        return str(self.link_cidr.network_address + 1)

    @property
    def node_link_ip(self) -> str:
        return str(self.link_cidr.network_address + 2)

    @property
    def ranges(self) -> tuple[ipaddress.IPv4Network, ...]:
        return (self.pod_cidr, self.service_cidr, self.link_cidr)

    @property
    def cni_network(self) -> str:
        return f"{self.name}-pods"

    ports = Ports()

    # --- names in the cluster ------------------------------------------------------------------------------------

    @property
    def node_name(self) -> str:
        return f"{self.name}-node"

    @property
    def context(self) -> str:
        return paths.local_context(self.name)

    # --- cgroups -------------------------------------------------------------------------------------------------

    @property
    def cgroup_root(self) -> str:
        """The kubelet's cgroupRoot; the node's own processes go to ``<root>/system``, pods to ``<root>/kubepods``."""
        return f"/{self.name}-node"

    # --- directories ---------------------------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.cache / "nodes" / self.name

    @property
    def run_dir(self) -> Path:
        return self.run_root / self.name

    @property
    def config_dir(self) -> Path:
        return self.data_dir / "config"

    @property
    def pki_dir(self) -> Path:
        return self.data_dir / "pki"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def pid_dir(self) -> Path:
        return self.run_dir / "pids"

    @property
    def containerd_root(self) -> Path:
        return self.data_dir / "containerd"

    @property
    def containerd_state(self) -> Path:
        return self.run_dir / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.run_dir / "containerd.sock"

    @property
    def runc_root(self) -> Path:
        return self.run_dir / "runc"

    @property
    def cni_conf_dir(self) -> Path:
        return self.config_dir / "cni"

    @property
    def cni_bin_dir(self) -> Path:
        return self.data_dir / "cni-bin"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.run_dir / "cni-ipam"

    @property
    def kubelet_root(self) -> Path:
        return self.data_dir / "kubelet"

    @property
    def pod_logs_dir(self) -> Path:
        return self.data_dir / "pod-logs"

    @property
    def host_snapshot(self) -> Path:
        """Machine-wide values the nodes change (sysctls), saved by the first node up, restored by the last down."""
        return self.run_root / "host-snapshot.json"

    def owned_dirs(self) -> tuple[Path, ...]:
        """Every directory this cluster's node writes to (mounts below them are the node's)."""
        return (self.data_dir, self.run_dir)

    def collides_with(self, other: Layout) -> bool:
        return other.name != self.name and any(a.overlaps(b) for a in self.ranges for b in other.ranges)
