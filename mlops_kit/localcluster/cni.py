"""The node's pod network: one CNI conflist (bridge + host-local) and the plugin directory containerd runs it from.

containerd runs on the host (so it pulls from the registry on the host's 127.0.0.1), but the pods' bridge must live
in the node's network namespace: the `bridge` plugin is therefore a two-line wrapper that enters that namespace and
executes Debian's plugin (``/usr/lib/cni/bridge``). It finds the bridge the kit made (address = node IP) and plugs
each pod's veth into it; host-local hands out the pod addresses from a directory of the node's own. Hairpin on (a pod
reaches itself through its Service), no IP masquerade (pods are reached and answer under their own addresses), no
portmap (hostPort is not offered). The bridge plugin does not enforce NetworkPolicies.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlops_kit.localcluster.layout import Layout

DEBIAN_PLUGINS = Path("/usr/lib/cni")
CONFLIST_NAME = "10-mlops-kit.conflist"


def conflist(layout: Layout) -> dict:
    return {
        "cniVersion": "0.4.0",
        "name": layout.cni_network,
        "plugins": [
            {
                "type": "bridge",
                "bridge": layout.bridge,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(layout.cni_ipam_dir),
                    "ranges": [[{"subnet": str(layout.pod_cidr), "gateway": layout.node_ip}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            }
        ],
    }


def bridge_wrapper(layout: Layout, plugins: Path = DEBIAN_PLUGINS) -> str:
    return f'#!/bin/sh\nexec nsenter --net={layout.netns_path} -- {plugins / "bridge"} "$@"\n'


def install(layout: Layout, plugins: Path = DEBIAN_PLUGINS) -> None:
    """Write the conflist and the plugin directory (bridge wrapper; host-local and loopback linked from Debian's)."""
    layout.cni_conf_dir.mkdir(parents=True, exist_ok=True)
    (layout.cni_conf_dir / CONFLIST_NAME).write_text(json.dumps(conflist(layout), indent=1))
    layout.cni_bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = layout.cni_bin_dir / "bridge"
    wrapper.write_text(bridge_wrapper(layout, plugins))
    wrapper.chmod(0o755)
    for name in ("host-local", "loopback"):
        link = layout.cni_bin_dir / name
        link.unlink(missing_ok=True)
        link.symlink_to(plugins / name)
