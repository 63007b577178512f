"""Credentials of the node's components, all signed by the cluster's CA (kwokctl's ``pki/ca.{crt,key}``).

* kubelet client ``system:node:<node>`` in group ``system:nodes``: the API server's Node authorizer lets it
  register and update its own Node and read what its pods need.
* kubelet serving certificate for the node IP: the API server (logs/exec) and metrics-server can verify the kubelet.
* kube-proxy client ``system:kube-proxy``: bound to ``system:node-proxier`` by the API server's bootstrap RBAC.
* CoreDNS and metrics-server use kwokctl's admin credentials (host processes of the kit, like the control plane).

Each kubeconfig names the API server at the host end of the node's veth, the address the node's namespace reaches;
kwokctl puts that address into the API server's certificate (control_plane.py, ``kubeApiserverCertSANs``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mlops_kit.localcluster import processes
from mlops_kit.localcluster.layout import Layout

DAYS = 365


def kwok_pki(layout: Layout, kwok_cluster_dir: Path) -> dict[str, Path]:
    pki = kwok_cluster_dir / "pki"
    return {"ca": pki / "ca.crt", "ca_key": pki / "ca.key", "admin": pki / "admin.crt", "admin_key": pki / "admin.key"}


def issue(
    layout: Layout, ca: dict[str, Path], name: str, *, subject: str, usage: str, ip_sans: tuple[str, ...] = ()
) -> tuple[Path, Path]:
    """A key and a certificate for `subject` (``/O=…/CN=…``), signed by the CA; kept while the CA is the same."""
    layout.pki_dir.mkdir(parents=True, exist_ok=True)
    key, crt, ext = (layout.pki_dir / f"{name}.{s}" for s in ("key", "crt", "ext"))
    if crt.exists() and key.exists() and _signed_by(crt, ca["ca"]):
        return crt, key
    lines = [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={usage}",
    ]
    if ip_sans:
        lines.append("subjectAltName=" + ",".join(f"IP:{ip}" for ip in ip_sans))
    ext.write_text("\n".join(lines) + "\n")
    csr = processes.run(
        ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-subj", subject],
        what=f"making the key of {name}",
    ).stdout
    processes.run(
        ["openssl", "x509", "-req", "-CA", str(ca["ca"]), "-CAkey", str(ca["ca_key"]), "-CAcreateserial",
         "-CAserial", str(layout.pki_dir / "ca.srl"), "-days", str(DAYS), "-extfile", str(ext), "-out", str(crt)],
        what=f"signing the certificate of {name}", stdin=csr,
    )  # fmt: skip
    key.chmod(0o600)
    return crt, key


def _signed_by(crt: Path, ca: Path) -> bool:
    return (
        processes.run(["openssl", "verify", "-CAfile", str(ca), str(crt)], what="checking", check=False).returncode == 0
    )


def kubeconfig(server: str, ca: Path, crt: Path, key: Path, user: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority": str(ca)}}],
            "users": [{"name": user, "user": {"client-certificate": str(crt), "client-key": str(key)}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
            "current-context": "local",
        },
        sort_keys=False,
    )


def node_credentials(layout: Layout, ca: dict[str, Path], server: str) -> dict[str, Path]:
    """Write every component's certificate and kubeconfig; returns their paths by component."""
    out: dict[str, Path] = {}
    clients = {
        "kubelet": (f"/O=system:nodes/CN=system:node:{layout.node_name}",),
        "kube-proxy": ("/CN=system:kube-proxy",),
    }
    for component, (subject,) in clients.items():
        crt, key = issue(layout, ca, f"{component}-client", subject=subject, usage="clientAuth")
        out[component] = _write(layout, component, kubeconfig(server, ca["ca"], crt, key, component))
    out["admin"] = _write(layout, "admin", kubeconfig(server, ca["ca"], ca["admin"], ca["admin_key"], "admin"))
    out["kubelet-serving-crt"], out["kubelet-serving-key"] = issue(
        layout, ca, "kubelet-serving", subject=f"/CN={layout.node_name}", usage="serverAuth",
        ip_sans=(layout.node_ip,),
    )  # fmt: skip
    return out


def _write(layout: Layout, component: str, text: str) -> Path:
    path = layout.config_dir / f"{component}.kubeconfig"
    path.write_text(text)
    path.chmod(0o600)
    return path
