"""What the API server would refuse at `up` about the objects' names and labels, checked on the manifests before
anything is registered: a name too long once the kit's suffix is added, a Service name that is not a DNS-1035 label,
two objects of one kind with one name (in `render` the second silently overwrites the first), a label value
Kubernetes does not allow. Checked on the built manifests, not re-derived from config, so every suffix any part adds
is covered by construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from infra.config.types import PROJECT, ConfigError
from infra.manifests.common import Manifest

_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# kind → (pattern, longest name, the rule, why it is that long)
_SERVICE_RULE = (_DNS_1035, 63, "a DNS-1035 label (a lower-case letter first, then letters, digits, '-')", "")
_LABEL_RULE = (_DNS_1123_LABEL, 63, "a DNS label (lower-case letters, digits, '-')", "")
NAME_RULES: dict[str, tuple[re.Pattern[str], int, str, str]] = {
    "Service": _SERVICE_RULE,
    "Namespace": _LABEL_RULE,
    # Pods, hostnames and controller-revision labels are derived from these names.
    "Deployment": _LABEL_RULE,
    "StatefulSet": (*_LABEL_RULE[:1], 52, _LABEL_RULE[2], " (its revision label adds 11)"),
    "CronJob": (*_LABEL_RULE[:1], 52, _LABEL_RULE[2], " (its Jobs are named <name>-<11 digits>)"),
}
_DEFAULT_RULE = (_DNS_1123_SUBDOMAIN, 253, "a DNS subdomain (lower-case letters, digits, '-', '.')", "")


def _label_maps(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every label map in a manifest: metadata/template labels, matchLabels, a Service's selector."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else key
            if key in ("labels", "matchLabels") and isinstance(value, dict):
                yield here, value
            elif key == "selector" and isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
                yield here, value  # a Service's selector (a workload's holds matchLabels: found by recursing)
            else:
                yield from _label_maps(value, here)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _label_maps(item, f"{path}[{index}]")


def problems(parts: Iterable[tuple[str, list[Manifest]]]) -> list[str]:
    """`parts`: (the config key that owns them, e.g. `models[1].name`, their manifests) → every problem, by key."""
    found: list[str] = []
    owners: dict[tuple[str, str, str], str] = {}
    for owner, manifests in parts:
        for manifest in manifests:
            kind, meta = manifest["kind"], manifest["metadata"]
            name, namespace = meta["name"], meta.get("namespace", "")
            what = f"{kind} {name!r}"
            pattern, longest, rule, why = NAME_RULES.get(kind, _DEFAULT_RULE)
            if len(name) > longest:
                found.append(f"{PROJECT}:{owner}: the {what} it makes has {len(name)} characters, more than the "
                             f"{longest} a {kind} name may have{why}; use a shorter name")  # fmt: skip
            elif not pattern.match(name):
                found.append(f"{PROJECT}:{owner}: the {what} it makes must be named by {rule}")
            identity = (manifest["apiVersion"].split("/")[0] + "/" + kind, namespace, name)
            if identity in owners:
                found.append(f"{PROJECT}:{owner}: makes the {what}, which {PROJECT}:{owners[identity]} makes too; "
                             "rename one of them")  # fmt: skip
            owners.setdefault(identity, owner)
            for where, label_map in _label_maps(manifest):
                for key, value in label_map.items():
                    if isinstance(value, str) and (len(value) > 63 or not _LABEL_VALUE.match(value)):
                        found.append(f"{PROJECT}:{owner}: label {key}={value!r} ({what}, {where}) is not a valid label "
                                     "value: ≤ 63 letters, digits, '-', '_', '.', alphanumeric at both ends")  # fmt: skip
    return list(dict.fromkeys(found))


def check(parts: Iterable[tuple[str, list[Manifest]]], source: str = "stack config") -> None:
    found = problems(parts)
    if found:
        raise ConfigError(f"invalid stack configuration in {source}:\n  - " + "\n  - ".join(found))
