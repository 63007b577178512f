from __future__ import annotations

from typing import Any

import pulumi

from infra.components.base import ManifestComponent
from infra.config import Image, ModelService, StackConfig
from infra.manifests.model_service import model_service_manifests, service_url


def resolve_image(resource_name: str, image: Image, model: ModelService, parent: pulumi.Resource) -> pulumi.Output[str]:
    """A prebuilt reference as is, or the digest of the image pulumi-docker builds from the bento and pushes."""
    if image.ref is not None:
        return pulumi.Output.from_input(image.ref)
    import pulumi_docker as docker  # only dev stacks that build need the docker provider

    build = image.build
    assert build is not None  # guaranteed by config validation: exactly one of ref/build
    tag = model.model_version or "latest"
    built = docker.Image(
        resource_name,
        image_name=f"{build.registry}/{build.repository}:{model.name}-{tag}",
        build=docker.DockerBuildArgs(
            context=build.resolved_context(),
            dockerfile=build.resolved_dockerfile(),
            platform="linux/amd64",
            args={"MODEL_NAME": model.model_name, "MODEL_VERSION": model.model_version},
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    # The digest, not the tag: what dev ran is exactly what promotion hands to staging and prod.
    return built.repo_digest


class ModelServiceComponent(ManifestComponent):
    """One served model: tracks per rollout strategy, Services, HPA, PDB, NetworkPolicy."""

    image: pulumi.Output[str]
    candidate_image: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, name: str, cfg: StackConfig, model: ModelService, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops-kit:platform:ModelService", name, cfg.protect_stateful, opts)
        primary = resolve_image(f"{name}-image", model.image, model, self)
        candidate_config = model.canary.image if model.strategy == "canary" else model.blue_green.idle_image
        candidate = (
            resolve_image(f"{name}-candidate-image", candidate_config, model, self) if candidate_config else primary
        )
        manifests, rollout = model_service_manifests(cfg, model, {"primary": primary, "candidate": candidate})
        self.register(manifests)
        self.image = primary
        self.candidate_image = candidate
        self.url = pulumi.Output.from_input(service_url(cfg, model))
        self.rollout: dict[str, Any] = {"strategy": rollout.strategy.value, **rollout.summary}
        self.register_outputs({"image": self.image, "url": self.url})
