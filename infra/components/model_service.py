from __future__ import annotations

from typing import Any

import pulumi

from infra.components.base import ManifestComponent
from infra.config import Image, ModelServiceConfig
from infra.platform import ModelServiceParts


def built_image(resource_name: str, image: Image, model: ModelServiceConfig) -> pulumi.Output[str]:
    """A prebuilt reference as is, or the digest of the image pulumi-docker builds from the staged context and pushes."""
    if image.ref is not None:
        return pulumi.Output.from_input(image.ref)
    import pulumi_docker as docker  # only dev stacks that build need the docker provider

    build = image.build
    assert build is not None  # guaranteed by config validation: exactly one of ref/build
    built = docker.Image(
        resource_name,
        image_name=build.tag_reference(model.name, model.model_version),
        build=docker.DockerBuildArgs(
            context=build.resolved_context(),
            dockerfile=build.resolved_dockerfile(),
            platform="linux/amd64",
            args={"MODEL_NAME": model.model_name, "MODEL_VERSION": model.model_version},
        ),
    )
    # The digest, not the tag: what dev ran is exactly what promotion hands to staging and prod.
    return built.repo_digest


class ModelService(ManifestComponent):
    """One served model: tracks per rollout strategy, Services, HPA, PDB, NetworkPolicy."""

    image: pulumi.Output[str]
    candidate_image: pulumi.Output[str]
    url: pulumi.Output[str]
    rollout: dict[str, Any]

    def __init__(
        self, name: str, parts: ModelServiceParts, protect_stateful: bool, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops-kit:platform:ModelService", name, protect_stateful, opts)
        self.register(parts.manifests)
        self.image = pulumi.Output.from_input(parts.images["primary"])
        self.candidate_image = pulumi.Output.from_input(parts.images["candidate"])
        self.url = pulumi.Output.from_input(parts.url)
        self.rollout = {"strategy": parts.rollout.strategy.value, **parts.rollout.summary}
        self.register_outputs({"image": self.image, "url": self.url})
