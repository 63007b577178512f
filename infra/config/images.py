"""Where a model service's image comes from: a prebuilt reference, or a pulumi-docker build (dev only)."""

from __future__ import annotations

import os

from pydantic import Field, model_validator

from infra.config.types import ImageRef, Model
from mlops_kit.paths import expand


class ImageBuild(Model):
    """Build the serving image with pulumi-docker (dev) from the context `images/serving/stage.sh` prepares (code,
    wheelhouse and the exported model side by side: the repository root is not a valid context), push to `registry`."""

    context: str = Field(
        "${MLOPS_KIT_CACHE}/build/serving-context", description="Staged build context; env vars expand."
    )
    dockerfile: str | None = Field(None, description="Defaults to <context>/Dockerfile.")
    registry: str = "127.0.0.1:5000"
    repository: str = "mlops-kit/serving"

    def resolved_context(self) -> str:
        return expand(self.context)

    def resolved_dockerfile(self) -> str:
        return self.dockerfile or os.path.join(self.resolved_context(), "Dockerfile")

    def tag_reference(self, service: str, model_version: str) -> str:
        """The tag a build of `service` at `model_version` is pushed under (its digest is what the stack records)."""
        return f"{self.registry}/{self.repository}:{service}-{model_version or 'latest'}"


class Image(Model):
    ref: ImageRef | None = Field(None, description="A prebuilt image; staging/prod require a digest (@sha256:).")
    build: ImageBuild | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Image:
        if (self.ref is None) == (self.build is None):
            raise ValueError("set exactly one of image.ref (a prebuilt image) or image.build (build from the bento)")
        return self
