"""Flux sources (source.toolkit.fluxcd.io/v1): GitRepository, OCIRepository, HelmRepository."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest, construct_path
from homelab_charts.errors import ConfigError
from homelab_charts.flux.common import FLUX_NAMESPACE, SOURCE_API, check_duration


@dataclass(frozen=True)
class GitRef:
    """Which revision a GitRepository follows: exactly one of the fields (branch by default)."""

    branch: str | None = None
    tag: str | None = None
    semver: str | None = None
    commit: str | None = None
    name: str | None = None

    def render(self, where: str) -> dict[str, str]:
        chosen = {k: v for k, v in (("branch", self.branch), ("tag", self.tag),
                                    ("semver", self.semver), ("name", self.name),
                                    ("commit", self.commit)) if v}
        if not chosen:
            raise ConfigError(where, "spec.ref", "set one of branch, tag, semver, name, commit")
        if len(chosen) > 1 and set(chosen) != {"branch", "commit"}:
            raise ConfigError(where, "spec.ref",
                              f"set only one of {', '.join(sorted(chosen))} (or branch+commit)")
        return chosen


@dataclass(frozen=True)
class OCIRef:
    """Which artifact an OCIRepository follows: a tag, a semver range or a digest."""

    tag: str | None = None
    semver: str | None = None
    digest: str | None = None

    def render(self, where: str) -> dict[str, str]:
        chosen = {k: v for k, v in (("digest", self.digest), ("semver", self.semver),
                                    ("tag", self.tag)) if v}
        if len(chosen) != 1:
            raise ConfigError(where, "spec.ref",
                              "set exactly one of tag, semver, digest (an explicit version)")
        return chosen


class _Source(Manifest):
    KIND = ""

    def __init__(self, scope: Construct, id: str, *, name: str, spec: dict[str, Any],
                 namespace: str | None = None, labels: Mapping[str, str] | None = None,
                 interval: str) -> None:
        check_duration(scope, id, "spec.interval", interval)
        super().__init__(scope, id, api_version=SOURCE_API, kind=self.KIND, name=name,
                         namespace=namespace or FLUX_NAMESPACE, labels=labels,
                         body={"spec": {"interval": interval, **spec}})


def _check_url(scope: Construct, id: str, url: str, schemes: tuple[str, ...]) -> str:
    if not isinstance(url, str) or not url.startswith(schemes):
        raise ConfigError(construct_path(scope, id), "spec.url",
                          f"{url!r} must start with {' or '.join(schemes)}")
    return url


class GitRepository(_Source):
    """A Git repository Flux pulls (``spec.ref`` defaults to the ``main`` branch)."""

    KIND = "GitRepository"

    def __init__(self, scope: Construct, id: str, *, name: str, url: str,
                 ref: GitRef | None = None, interval: str = "1m",
                 secret_name: str | None = None, ignore: str | None = None,
                 timeout: str | None = None, namespace: str | None = None) -> None:
        _check_url(scope, id, url, ("https://", "http://", "ssh://"))
        git_ref = (ref or GitRef(branch="main")).render(construct_path(scope, id))
        spec: dict[str, Any] = {"url": url, "ref": git_ref}
        if secret_name:
            spec["secretRef"] = {"name": secret_name}
        if timeout:
            spec["timeout"] = check_duration(scope, id, "spec.timeout", timeout)
        if ignore:
            spec["ignore"] = ignore
        super().__init__(scope, id, name=name, spec=spec, namespace=namespace, interval=interval)


class OCIRepository(_Source):
    """An OCI artifact (a Helm chart published to a registry, or manifests such as this
    tree pushed by ``homelab-charts push``); ``insecure`` reads it over plain HTTP."""

    KIND = "OCIRepository"

    def __init__(self, scope: Construct, id: str, *, name: str, url: str, ref: OCIRef,
                 interval: str = "12h", layer_media_type: str | None = None,
                 layer_operation: str | None = None, secret_name: str | None = None,
                 insecure: bool = False, namespace: str | None = None,
                 labels: Mapping[str, str] | None = None) -> None:
        _check_url(scope, id, url, ("oci://",))
        spec: dict[str, Any] = {"url": url, "ref": ref.render(construct_path(scope, id))}
        if layer_media_type or layer_operation:
            selector: dict[str, str] = {}
            if layer_media_type:
                selector["mediaType"] = layer_media_type
            if layer_operation:
                if layer_operation not in ("extract", "copy"):
                    raise ConfigError(construct_path(scope, id), "spec.layerSelector.operation",
                                      f"{layer_operation!r} must be extract or copy")
                selector["operation"] = layer_operation
            spec["layerSelector"] = selector
        if secret_name:
            spec["secretRef"] = {"name": secret_name}
        if insecure:
            # plain HTTP: a homelab registry without TLS
            spec["insecure"] = True
        super().__init__(scope, id, name=name, spec=spec, namespace=namespace, labels=labels,
                         interval=interval)


class HelmRepository(_Source):
    """A Helm repository index (``https://``) or an OCI registry (``oci://``)."""

    KIND = "HelmRepository"

    def __init__(self, scope: Construct, id: str, *, name: str, url: str,
                 interval: str = "12h", secret_name: str | None = None,
                 namespace: str | None = None) -> None:
        _check_url(scope, id, url, ("https://", "http://", "oci://"))
        spec: dict[str, Any] = {"url": url}
        if url.startswith("oci://"):
            spec["type"] = "oci"
        if secret_name:
            spec["secretRef"] = {"name": secret_name}
        super().__init__(scope, id, name=name, spec=spec, namespace=namespace, interval=interval)
