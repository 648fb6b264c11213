"""What every Flux resource shares: durations, references, the flux-system namespace."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest, construct_path
from homelab_charts.errors import ConfigError

FLUX_NAMESPACE = "flux-system"
SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
HELM_API = "helm.toolkit.fluxcd.io/v2"

#: Go ``time.ParseDuration`` units Flux accepts (the CRDs' own pattern).
_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")


def check_duration(scope: Construct, id: str | None, field: str, value: str) -> str:
    """``value`` if it is a Go duration such as ``5m`` or ``1h30m``; else a ConfigError."""
    if not isinstance(value, str) or not _DURATION.match(value):
        raise ConfigError(construct_path(scope, id), field,
                          f"{value!r} is not a Go duration (e.g. 30s, 5m, 1h30m)")
    return value


def check_positive(scope: Construct, id: str | None, field: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(construct_path(scope, id), field,
                          f"{value!r} must be a whole number >= 0")
    return value


@dataclass(frozen=True)
class ObjectReference:
    """A Flux object that exists in the cluster but is not generated here.

    ``flux bootstrap`` creates the ``flux-system`` GitRepository and Kustomization; the
    tree points at them by reference.
    """

    api_version: str
    kind: str
    name: str
    namespace: str = FLUX_NAMESPACE

    def ref(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace}


#: The GitRepository that ``flux bootstrap`` creates for this repository.
FLUX_SYSTEM_REPOSITORY = ObjectReference(SOURCE_API, "GitRepository", "flux-system")


def source_ref(source: Manifest | ObjectReference, *, owner_namespace: str | None,
               include_api_version: bool = False) -> dict[str, Any]:
    """A ``sourceRef``/``chartRef``: kind, name, and the namespace when it differs."""
    if isinstance(source, ObjectReference):
        api_version, kind, name, namespace = (
            source.api_version, source.kind, source.name, source.namespace)
    else:
        api_version, kind, name, namespace = (
            source.object_api_version, source.object_kind, source.object_name,
            source.object_namespace)
    out: dict[str, Any] = {}
    if include_api_version:
        out["apiVersion"] = api_version
    out["kind"] = kind
    out["name"] = name
    if namespace is not None and namespace != owner_namespace:
        out["namespace"] = namespace
    return out
