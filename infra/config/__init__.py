"""Typed stack configuration: everything a `Pulumi.<env>.yaml` can set, validated before any resource is registered.

One module per part: `types` (shared vocabulary), `images`, `model_service`, `tracking`, `monitoring`, `retraining`,
`promotion`, `cluster`, `secrets` (the secrets table), `stack` (the whole stack + per-environment defaults) and `loading` (files
and engine values → StackConfig, errors by Pulumi key).
"""

from infra.config.cluster import ClusterConfig, QuotaConfig
from infra.config.images import Image, ImageBuild
from infra.config.loading import load_from_pulumi, load_stack_file, parse_stack_config, read_stack_file
from infra.config.model_service import Autoscaling, BlueGreen, Canary, ModelServiceConfig
from infra.config.monitoring import MonitoringConfig
from infra.config.promotion import PromotionConfig
from infra.config.retraining import RetrainingConfig
from infra.config.secrets import SECRETS, MissingSecret, check_secrets, required_secrets
from infra.config.stack import StackConfig
from infra.config.tracking import TrackingConfig
from infra.config.types import (
    PROJECT,
    Color,
    ConfigError,
    Environment,
    Model,
    Resources,
    Strategy,
    TrackingBackend,
)

__all__ = [
    "PROJECT", "SECRETS", "Autoscaling", "BlueGreen", "Canary", "ClusterConfig", "Color", "ConfigError",
    "Environment", "Image", "ImageBuild", "MissingSecret", "Model", "ModelServiceConfig", "MonitoringConfig",
    "PromotionConfig", "QuotaConfig", "Resources", "RetrainingConfig", "StackConfig", "Strategy", "TrackingBackend", "TrackingConfig",
    "check_secrets", "load_from_pulumi", "load_stack_file", "parse_stack_config", "read_stack_file", "required_secrets",
]  # fmt: skip
