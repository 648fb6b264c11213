"""Namespaces of the tree: Pod Security Standards ``restricted``, data kept on prune.

Every namespace enforces, audits and warns at the ``restricted`` level. A namespace that
holds data (a PersistentVolumeClaim, or a StatefulSet with volume claim templates) also
carries ``kustomize.toolkit.fluxcd.io/prune: disabled``: removing it from Git, or moving
it to another Kustomization, never deletes it (and with it every volume inside).
"""

from __future__ import annotations

from collections.abc import Iterable

from constructs import Construct

from homelab_charts.base import Component, Manifest

#: Pod Security Standards level enforced on every namespace of the tree.
POD_SECURITY_LEVEL = "restricted"
#: Flux leaves an object with this annotation in place when it leaves Git.
PRUNE_ANNOTATION = "kustomize.toolkit.fluxcd.io/prune"
PRUNE_DISABLED = {PRUNE_ANNOTATION: "disabled"}


def pod_security_labels() -> dict[str, str]:
    return {
        "pod-security.kubernetes.io/enforce": POD_SECURITY_LEVEL,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": POD_SECURITY_LEVEL,
        "pod-security.kubernetes.io/warn": POD_SECURITY_LEVEL,
    }


def namespace(scope: Construct, id: str, name: str, *, holds_data: bool = False) -> Manifest:
    """A Namespace object enforcing ``restricted``; never pruned when it ``holds_data``."""
    return Manifest(scope, id, api_version="v1", kind="Namespace", name=name,
                    labels=pod_security_labels(),
                    annotations=PRUNE_DISABLED if holds_data else None)


class Namespaces(Component):
    """Every namespace of the tree, labelled to enforce Pod Security Standards.

    ``data`` names the namespaces that hold volumes: they are never pruned by Flux.
    """

    def __init__(self, scope: Construct, id: str, *, names: Iterable[str],
                 data: Iterable[str] = ()) -> None:
        super().__init__(scope, id)
        keep = set(data)
        self.by_name: dict[str, Manifest] = {}
        for name in sorted(set(names)):
            self.by_name[name] = namespace(self, name, name, holds_data=name in keep)
