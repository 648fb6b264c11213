"""Flux notifications (notification.toolkit.fluxcd.io/v1): the webhook Receiver.

A generic :class:`Receiver` makes notification-controller reconcile its ``resources`` as
soon as something POSTs to its webhook path, ``/hook/<sha256(token + name + namespace)>``
(:func:`webhook_path`), served by the ``webhook-receiver`` Service of ``flux-system``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest, construct_path
from homelab_charts.errors import ConfigError
from homelab_charts.flux.common import FLUX_NAMESPACE, ObjectReference, check_duration

NOTIFICATION_API = "notification.toolkit.fluxcd.io/v1"
#: The Service of notification-controller that serves Receivers' webhooks (flux install).
WEBHOOK_SERVICE = "webhook-receiver"
WEBHOOK_SERVICE_PORT = 80
#: Where every Receiver's webhook lives on that Service.
WEBHOOK_PREFIX = "/hook/"
RECEIVER_TYPES = ("generic", "generic-hmac")
_RESOURCE_KINDS = ("GitRepository", "OCIRepository", "HelmRepository", "Bucket",
                   "Kustomization", "HelmRelease", "ImageRepository")


def webhook_path(token: str, name: str, namespace: str = FLUX_NAMESPACE) -> str:
    """The path notification-controller serves Receiver ``namespace/name`` at: the
    SHA-256 of the token, the name and the namespace (what its ``status.webhookPath`` says)."""
    digest = hashlib.sha256(f"{token}{name}{namespace}".encode()).hexdigest()
    return f"{WEBHOOK_PREFIX}{digest}"


class Receiver(Manifest):
    """A webhook that makes Flux reconcile ``resources`` now instead of at their interval.

    ``secret_name`` is the Secret (a SealedSecret of the tree) whose ``token`` key
    authenticates the webhook; ``generic-hmac`` also checks the request's HMAC signature.
    """

    def __init__(self, scope: Construct, id: str, *, name: str,
                 resources: Sequence[Manifest | ObjectReference], secret_name: str,
                 type: str = "generic", interval: str | None = None,
                 namespace: str = FLUX_NAMESPACE) -> None:
        where = construct_path(scope, id)
        if type not in RECEIVER_TYPES:
            raise ConfigError(where, "spec.type",
                              f"{type!r} must be one of {', '.join(RECEIVER_TYPES)}")
        if not resources:
            raise ConfigError(where, "spec.resources", "name at least one Flux object")
        refs: list[dict[str, Any]] = []
        for i, resource in enumerate(resources):
            if isinstance(resource, ObjectReference):
                api, kind, ref_name, ref_ns = (resource.api_version, resource.kind,
                                               resource.name, resource.namespace)
            else:
                api, kind, ref_name, ref_ns = (
                    resource.object_api_version, resource.object_kind,
                    resource.object_name, resource.object_namespace)
            if kind not in _RESOURCE_KINDS:
                raise ConfigError(where, f"spec.resources[{i}].kind",
                                  f"a {kind} cannot be reconciled by a Receiver")
            ref: dict[str, Any] = {"apiVersion": api, "kind": kind, "name": ref_name}
            if ref_ns and ref_ns != namespace:
                ref["namespace"] = ref_ns
            refs.append(ref)
        spec: dict[str, Any] = {"type": type}
        if interval is not None:
            spec["interval"] = check_duration(scope, id, "spec.interval", interval)
        spec["resources"] = refs
        spec["secretRef"] = {"name": secret_name}
        super().__init__(scope, id, api_version=NOTIFICATION_API, kind="Receiver", name=name,
                         namespace=namespace, body={"spec": spec})
