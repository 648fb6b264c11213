"""Flux Kustomization (kustomize.toolkit.fluxcd.io/v1): applies one folder of the tree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest, construct_path
from homelab_charts.errors import ConfigError
from homelab_charts.flux.common import (
    FLUX_NAMESPACE,
    KUSTOMIZE_API,
    ObjectReference,
    check_duration,
    source_ref,
)

_SOURCE_KINDS = ("GitRepository", "OCIRepository", "Bucket", "ExternalArtifact")


@dataclass(frozen=True)
class SubstituteFrom:
    """A ConfigMap or Secret whose keys ``postBuild`` substitutes as ``${VAR}``."""

    kind: str
    name: str
    optional: bool = False

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name}
        if self.optional:
            out["optional"] = True
        return out


class Kustomization(Manifest):
    """A Flux Kustomization: reconcile ``path`` of ``source`` every ``interval``.

    Defaults follow the Flux example repository: ``interval`` 1h, ``retry_interval`` 2m,
    ``timeout`` 5m, ``prune`` true (what is removed from Git is removed from the cluster)
    and ``wait`` true (Ready only once everything it applied is healthy, so dependants
    start after it). ``depends_on`` takes Kustomization constructs, never names.
    """

    def __init__(self, scope: Construct, id: str, *, name: str, path: str,
                 source: Manifest | ObjectReference, interval: str = "1h",
                 retry_interval: str | None = "2m", timeout: str | None = "5m",
                 prune: bool = True, wait: bool = True,
                 health_checks: Sequence[Manifest] = (),
                 depends_on: Sequence[Kustomization] = (),
                 target_namespace: str | None = None, suspend: bool = False,
                 substitute: Mapping[str, str] | None = None,
                 substitute_from: Sequence[SubstituteFrom] = (),
                 namespace: str = FLUX_NAMESPACE,
                 labels: Mapping[str, str] | None = None) -> None:
        check_duration(scope, id, "spec.interval", interval)
        if retry_interval is not None:
            check_duration(scope, id, "spec.retryInterval", retry_interval)
        if timeout is not None:
            check_duration(scope, id, "spec.timeout", timeout)
        if not isinstance(path, str) or not path.startswith("./") or ".." in path.split("/"):
            raise ConfigError(construct_path(scope, id), "spec.path",
                              f"{path!r} must be relative to the source root and start with "
                              "./ (e.g. ./apps/n8n)")
        kind = source.kind if isinstance(source, ObjectReference) else source.object_kind
        if kind not in _SOURCE_KINDS:
            raise ConfigError(construct_path(scope, id), "spec.sourceRef",
                              f"a {kind} cannot be a Kustomization source "
                              f"(use one of {', '.join(_SOURCE_KINDS)})")
        for item in substitute_from:
            if item.kind not in ("ConfigMap", "Secret"):
                raise ConfigError(construct_path(scope, id), "spec.postBuild.substituteFrom",
                                  f"kind {item.kind!r} must be ConfigMap or Secret")
        if health_checks and wait:
            raise ConfigError(construct_path(scope, id), "spec.healthChecks",
                              "Flux ignores healthChecks when wait is true; pass wait=False")
        if substitute:
            for key, value in substitute.items():
                if not isinstance(value, str):
                    raise ConfigError(construct_path(scope, id),
                                      f"spec.postBuild.substitute.{key}",
                                      f"{value!r} must be a string")
        super().__init__(scope, id, api_version=KUSTOMIZE_API, kind="Kustomization", name=name,
                         namespace=namespace, labels=labels)
        self.path = path
        self.source = source
        self.interval = interval
        self.retry_interval = retry_interval
        self.timeout = timeout
        self.prune = prune
        self.wait = wait
        self.health_checks: list[Manifest] = list(health_checks)
        self.depends_on: list[Kustomization] = []
        self.target_namespace = target_namespace
        self.suspend = suspend
        self.substitute = dict(substitute or {})
        self.substitute_from = list(substitute_from)
        for dependency in depends_on:
            self.add_depends_on(dependency)

    def add_depends_on(self, other: Kustomization) -> None:
        """Reconcile ``other`` (and wait for it to be Ready) before this one."""
        if not isinstance(other, Kustomization):
            raise ConfigError(self.where, "spec.dependsOn",
                              f"{other!r} is not a Kustomization construct")
        if other is self:
            raise ConfigError(self.where, "spec.dependsOn",
                              "a Kustomization cannot depend on itself")
        if other not in self.depends_on:
            self.depends_on.append(other)

    def render_body(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"interval": self.interval}
        if self.retry_interval:
            spec["retryInterval"] = self.retry_interval
        if self.timeout:
            spec["timeout"] = self.timeout
        if self.depends_on:
            spec["dependsOn"] = [
                {"name": d.object_name}
                if d.object_namespace == self.object_namespace
                else {"name": d.object_name, "namespace": d.object_namespace}
                for d in sorted(self.depends_on, key=lambda d: d.object_name)
            ]
        spec["sourceRef"] = source_ref(self.source, owner_namespace=self.object_namespace)
        spec["path"] = self.path
        spec["prune"] = self.prune
        spec["wait"] = self.wait
        if self.health_checks:
            spec["healthChecks"] = [
                {"apiVersion": m.object_api_version, "kind": m.object_kind,
                 "name": m.object_name, **({"namespace": m.object_namespace}
                                           if m.object_namespace else {})}
                for m in self.health_checks
            ]
        if self.target_namespace:
            spec["targetNamespace"] = self.target_namespace
        if self.suspend:
            spec["suspend"] = True
        if self.substitute or self.substitute_from:
            post: dict[str, Any] = {}
            if self.substitute:
                post["substitute"] = dict(sorted(self.substitute.items()))
            if self.substitute_from:
                post["substituteFrom"] = [s.render() for s in self.substitute_from]
            spec["postBuild"] = post
        return {"spec": spec}
