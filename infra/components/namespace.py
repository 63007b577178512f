from __future__ import annotations

import pulumi

from infra.components.base import ManifestComponent
from infra.config import StackConfig
from infra.manifests.namespace import namespace_manifests


class Namespace(ManifestComponent):
    """The environment's namespace with its security and capacity guard rails."""

    name: pulumi.Output[str]

    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops-kit:platform:Namespace", name, cfg.protect_stateful, opts)
        manifests = namespace_manifests(cfg)
        namespace, guards = manifests[0], manifests[1:]
        self.register([namespace])
        ns_resource = self.resources[f"namespace-{cfg.namespace}"]
        self.register(guards, depends_on=[ns_resource])
        self.name = ns_resource.metadata.apply(lambda m: m["name"])
        self.register_outputs({"name": self.name})
