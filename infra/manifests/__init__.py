"""Pure builders: stack config → Kubernetes manifests (plain camelCase dicts, exactly what `kubectl apply` takes).

The Pulumi components turn each manifest into a typed resource, and `mlops-kit render` writes the same manifests to
YAML, so what is reviewed in a pull request is what gets deployed. Values that only exist at deploy time (an image
digest built by pulumi-docker, a Pulumi secret) may be `pulumi.Output`s; render passes plain placeholders instead.
"""
