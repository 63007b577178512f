from __future__ import annotations

import pulumi

from infra.components.base import ManifestComponent
from infra.manifests.common import Manifest


class Namespace(ManifestComponent):
    """The environment's namespace with its security and capacity guard rails (created after the namespace)."""

    name: pulumi.Output[str]

    def __init__(
        self, name: str, manifests: list[Manifest], protect_stateful: bool, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops-kit:platform:Namespace", name, protect_stateful, opts)
        namespace, guards = manifests[0], manifests[1:]
        self.register([namespace])
        ns_resource = self.resources[f"namespace-{namespace['metadata']['name']}"]
        self.register(guards, depends_on=[ns_resource])
        self.name = ns_resource.metadata.apply(lambda m: m["name"])
        self.register_outputs({"name": self.name})
