"""Namespaces of the tree: Pod Security Standards ``restricted``, data kept on prune.

Every namespace enforces, audits and warns at the ``restricted`` level. A namespace that
holds data (a PersistentVolumeClaim, or a StatefulSet with volume claim templates) also
carries ``kustomize.toolkit.fluxcd.io/prune: disabled``: removing it from Git, or moving
it to another Kustomization, never deletes it (and with it every volume inside).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from constructs import Construct

from homelab_charts.base import Component, Manifest
from homelab_charts.registry import PodSecurity
from homelab_charts.workloads.daemon import REASON_ANNOTATION, WAIVE_ANNOTATION

#: Pod Security Standards level enforced on every namespace of the tree.
POD_SECURITY_LEVEL = "restricted"
#: Flux leaves an object with this annotation in place when it leaves Git.
PRUNE_ANNOTATION = "kustomize.toolkit.fluxcd.io/prune"
PRUNE_DISABLED = {PRUNE_ANNOTATION: "disabled"}
#: Label and annotation a namespace with a Pod Security exception carries.
POD_SECURITY_EXCEPTION_LABEL = "homelab-charts.io/pod-security-exception"
POD_SECURITY_REASON_ANNOTATION = "homelab-charts.io/pod-security-reason"


def pod_security_labels(level: str = POD_SECURITY_LEVEL) -> dict[str, str]:
    return {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": level,
        "pod-security.kubernetes.io/warn": level,
    }


def namespace(scope: Construct, id: str, name: str, *, holds_data: bool = False,
              exception: PodSecurity | None = None) -> Manifest:
    """A Namespace object enforcing ``restricted`` (or the level of its ``exception``,
    labelled and annotated with its reason, the waiver of policy rule NS-001); never
    pruned when it ``holds_data``."""
    labels = pod_security_labels(exception.level if exception is not None else
                                 POD_SECURITY_LEVEL)
    annotations = dict(PRUNE_DISABLED) if holds_data else {}
    if exception is not None:
        labels[POD_SECURITY_EXCEPTION_LABEL] = exception.level
        annotations.update({POD_SECURITY_REASON_ANNOTATION: exception.reason,
                            WAIVE_ANNOTATION: "NS-001", REASON_ANNOTATION: exception.reason})
    return Manifest(scope, id, api_version="v1", kind="Namespace", name=name,
                    labels=labels, annotations=annotations or None)


class Namespaces(Component):
    """Every namespace of the tree, labelled to enforce Pod Security Standards.

    ``data`` names the namespaces that hold volumes: they are never pruned by Flux.
    ``exceptions`` maps a namespace to the level it enforces instead of ``restricted``,
    and why (see :class:`~homelab_charts.registry.PodSecurity`).
    """

    def __init__(self, scope: Construct, id: str, *, names: Iterable[str],
                 data: Iterable[str] = (),
                 exceptions: Mapping[str, PodSecurity] | None = None) -> None:
        super().__init__(scope, id)
        keep = set(data)
        exceptions = exceptions or {}
        self.by_name: dict[str, Manifest] = {}
        for name in sorted(set(names)):
            self.by_name[name] = namespace(self, name, name, holds_data=name in keep,
                                           exception=exceptions.get(name))
