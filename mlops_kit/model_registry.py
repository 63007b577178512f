"""The MLflow model registry as promotion sees it: which aliases a version carries, and the marks a promotion leaves
(the target environment's alias on the version it now runs, a tag with the promotion's record).

Plain calls to MLflow's REST API (`/api/2.0/mlflow/...`), not `MlflowClient`: the client retries a refused connection
for minutes, where a promotion must fail at once, naming the server, and change nothing.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import httpx

from mlops_kit.errors import EnvironmentProblem, UserError


class VersionNotRegistered(UserError):
    """The model version a promotion moves is not in the registry."""


class TrackingUnreachable(EnvironmentProblem):
    """The MLflow server did not answer, or answered with an error."""


class ModelRegistry(Protocol):
    def aliases(self, model_name: str, version: str) -> set[str]: ...

    def set_alias(self, model_name: str, alias: str, version: str) -> None: ...

    def set_tag(self, model_name: str, version: str, key: str, value: str) -> None: ...


def promotion_tag(environment: str) -> str:
    """The version tag that holds the last promotion of this version into `environment`."""
    return f"mlops-kit.promotion.{environment}"


class MlflowRegistry:
    def __init__(self, tracking_uri: str, timeout: float = 15.0) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, endpoint: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.tracking_uri}/api/2.0/mlflow/{endpoint}"
        try:
            return httpx.request(method, url, timeout=self.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise TrackingUnreachable(f"the MLflow server at {self.tracking_uri} did not answer ({exc})") from None

    def _checked(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if response.is_success:
            return response.json()
        raise TrackingUnreachable(
            f"the MLflow server at {self.tracking_uri} refused to {what}: HTTP {response.status_code} "
            f"{response.text[:300]}"
        )

    def aliases(self, model_name: str, version: str) -> set[str]:
        response = self._call("GET", "model-versions/get", params={"name": model_name, "version": version})
        if response.status_code == 404 or "RESOURCE_DOES_NOT_EXIST" in response.text:
            raise VersionNotRegistered(
                f"version {version!r} of model {model_name!r} is not in the registry at {self.tracking_uri}"
            )
        body = self._checked(response, f"read version {version} of {model_name}")
        return set(body["model_version"].get("aliases") or [])

    def set_alias(self, model_name: str, alias: str, version: str) -> None:
        response = self._call(
            "POST", "registered-models/alias", json={"name": model_name, "alias": alias, "version": version}
        )
        self._checked(response, f"set alias {alias} on version {version} of {model_name}")

    def set_tag(self, model_name: str, version: str, key: str, value: str) -> None:
        response = self._call(
            "POST", "model-versions/set-tag", json={"name": model_name, "version": version, "key": key, "value": value}
        )
        self._checked(response, f"tag version {version} of {model_name}")


def record_tag_value(record: dict[str, Any]) -> str:
    """A promotion record as one tag value: the fields that identify it, without the measurements (MLflow caps a tag
    value at 8000 characters; the measurements are in the target stack's `lastPromotion`)."""
    kept = {key: record[key] for key in ("image", "source", "at", "result") if key in record}
    return json.dumps(kept, sort_keys=True)[:8000]
