"""Flux image automation (image.toolkit.fluxcd.io/v1): ImageRepository and ImagePolicy.

An opt-in alternative to ``homelab-charts release``: Flux scans the registry and picks
the newest build of one environment. The tags ``v2.1.0-a3f5c2b-prod`` are semver
pre-releases, which a plain ``semver`` policy ignores, so the policy filters the tags of
one environment with a regular expression (RE2 syntax; ``(?P<name>...)`` is valid in
RE2 and in Python) and extracts the ``MAJOR.MINOR.PATCH`` before ordering them.

Two builds of one version cannot be ordered (the commit id says nothing about age): with
image automation every build must have a new version (see docs/RELEASING.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest, construct_path
from homelab_charts.config import ENVIRONMENTS
from homelab_charts.errors import ConfigError
from homelab_charts.flux.common import FLUX_NAMESPACE, check_duration

IMAGE_API = "image.toolkit.fluxcd.io/v1"
_IMAGE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$")
_PROVIDERS = ("generic", "aws", "azure", "gcp")
_NUMBER = "(0|[1-9][0-9]*)"


def tag_pattern(environment: str) -> str:
    """The ``filterTags.pattern`` that keeps the release tags of ``environment``.

    The named group ``version`` captures ``MAJOR.MINOR.PATCH`` (use ``extract: $version``).
    """
    if environment not in ENVIRONMENTS:
        raise ConfigError("ImagePolicy", "environment",
                          f"{environment!r} is not an environment ({' or '.join(ENVIRONMENTS)})")
    return (f"^v(?P<version>{_NUMBER}\\.{_NUMBER}\\.{_NUMBER})-[0-9a-f]{{7}}-"
            f"{environment}$")


class ImageRepository(Manifest):
    """A container image repository Flux scans for tags (one per image, any environment)."""

    def __init__(self, scope: Construct, id: str, *, name: str, image: str,
                 interval: str = "5m", namespace: str | None = None,
                 secret_name: str | None = None, insecure: bool = False,
                 provider: str | None = None, timeout: str | None = None,
                 exclusion_list: Sequence[str] | None = None,
                 labels: Mapping[str, str] | None = None) -> None:
        where = construct_path(scope, id)
        if not isinstance(image, str) or not _IMAGE.match(image):
            hint = ""
            if isinstance(image, str) and ("@" in image or re.search(r":[^/]*$", image)):
                hint = " without a tag or digest"
            raise ConfigError(where, "spec.image",
                              f"{image!r} is not an image repository{hint} "
                              "(e.g. registry.homelab.lan:5000/homelab-dashboard)")
        check_duration(scope, id, "spec.interval", interval)
        spec: dict[str, Any] = {"image": image, "interval": interval}
        if timeout is not None:
            spec["timeout"] = check_duration(scope, id, "spec.timeout", timeout)
        if provider is not None:
            if provider not in _PROVIDERS:
                raise ConfigError(where, "spec.provider",
                                  f"{provider!r} must be one of {', '.join(_PROVIDERS)}")
            spec["provider"] = provider
        if secret_name:
            spec["secretRef"] = {"name": secret_name}
        if insecure:
            spec["insecure"] = True
        if exclusion_list is not None:
            for i, rx in enumerate(exclusion_list):
                try:
                    re.compile(rx)
                except re.error as exc:
                    raise ConfigError(where, f"spec.exclusionList[{i}]",
                                      f"{rx!r} is not a regular expression: {exc}") from None
            spec["exclusionList"] = list(exclusion_list)
        super().__init__(scope, id, api_version=IMAGE_API, kind="ImageRepository", name=name,
                         namespace=namespace or FLUX_NAMESPACE, labels=labels,
                         body={"spec": spec})
        self.image = image


class ImagePolicy(Manifest):
    """Selects the newest build of one environment among ``repository``'s tags.

    ``version_range`` is a semver range over the extracted ``MAJOR.MINOR.PATCH``
    (``>=0.0.0``: any; ``~2.1``: patches of 2.1 only).
    """

    def __init__(self, scope: Construct, id: str, *, name: str, repository: ImageRepository,
                 environment: str, version_range: str = ">=0.0.0",
                 namespace: str | None = None,
                 labels: Mapping[str, str] | None = None) -> None:
        where = construct_path(scope, id)
        if environment not in ENVIRONMENTS:
            raise ConfigError(where, "environment",
                              f"{environment!r} is not an environment "
                              f"({' or '.join(ENVIRONMENTS)})")
        if not isinstance(version_range, str) or not version_range.strip():
            raise ConfigError(where, "spec.policy.semver.range",
                              f"{version_range!r} is not a semver range (e.g. >=0.0.0)")
        own_namespace = namespace or FLUX_NAMESPACE
        ref: dict[str, str] = {"name": repository.object_name}
        if repository.object_namespace != own_namespace:
            ref["namespace"] = repository.object_namespace or FLUX_NAMESPACE
        spec = {
            "imageRepositoryRef": ref,
            "filterTags": {"pattern": tag_pattern(environment), "extract": "$version"},
            "policy": {"semver": {"range": version_range}},
        }
        super().__init__(scope, id, api_version=IMAGE_API, kind="ImagePolicy", name=name,
                         namespace=own_namespace, labels=labels, body={"spec": spec})
        self.environment = environment
        self.repository = repository

    def marker(self, part: str | None = "tag") -> str:
        """The setter comment ImageUpdateAutomation rewrites, e.g. for an image's tag field:

        ``{"$imagepolicy": "flux-system:homelab-dashboard-prod:tag"}``; ``part`` None for
        the whole ``image:tag`` reference, ``"name"`` for the repository only.
        """
        if part not in (None, "tag", "name"):
            raise ConfigError(self.where, "marker", f"{part!r} must be None, 'tag' or 'name'")
        value = f"{self.object_namespace}:{self.object_name}"
        if part is not None:
            value += f":{part}"
        return '{"$imagepolicy": "' + value + '"}'
