"""Roll exactly the workloads whose sealed credentials changed, with no extra controller.

Kubernetes restarts pods when their template changes, not when a Secret they read does.
Each pod template gets the annotation ``homelab-charts.io/sealed-data``: a digest of the
SealedSecrets it reads (environment ``secretKeyRef``, ``envFrom``, secret and projected
volumes). Re-sealing a credential changes its ciphertext, so the digest of every
template reading it, and only of those, changes with the next synthesis, and the
Deployments and StatefulSets roll.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from homelab_charts.base import Manifest
from homelab_charts.secrets.sealed_secret import SealedSecret, combined_digest

DIGEST_ANNOTATION = "homelab-charts.io/sealed-data"
_TEMPLATES = {"Deployment": ("spec", "template"), "StatefulSet": ("spec", "template"),
              "DaemonSet": ("spec", "template")}


def secret_names(pod_spec: Mapping[str, Any]) -> set[str]:
    """The Secrets a pod spec reads."""
    names: set[str] = set()
    for key in ("initContainers", "containers"):
        for container in pod_spec.get(key) or []:
            for env in container.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    names.add(ref["name"])
            for source in container.get("envFrom") or []:
                if source.get("secretRef"):
                    names.add(source["secretRef"]["name"])
    for volume in pod_spec.get("volumes") or []:
        if volume.get("secret"):
            names.add(volume["secret"]["secretName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            if source.get("secret"):
                names.add(source["secret"]["name"])
    return names


def pod_templates(manifests: Iterable[Manifest]) -> Iterator[tuple[Manifest, dict[str, Any]]]:
    for manifest in manifests:
        path = _TEMPLATES.get(manifest.object_kind)
        if path is None:
            continue
        template: Any = manifest.body
        for key in path:
            template = template.get(key) if isinstance(template, dict) else None
        if isinstance(template, dict):
            yield manifest, template


def annotate_sealed_digests(manifests: Iterable[Manifest],
                            sealed: Iterable[SealedSecret]) -> dict[str, str]:
    """Annotate every pod template reading SealedSecrets with their digest; returns
    ``namespace/name`` of each workload -> digest (for tests and reports)."""
    by_key = {(s.object_namespace, s.secret_name): s for s in sealed}
    out: dict[str, str] = {}
    for manifest, template in pod_templates(manifests):
        used = [by_key[(manifest.object_namespace, name)]
                for name in sorted(secret_names(template.get("spec") or {}))
                if (manifest.object_namespace, name) in by_key]
        if not used:
            continue
        digest = combined_digest(used)
        template.setdefault("metadata", {}).setdefault("annotations", {})[
            DIGEST_ANNOTATION] = digest
        out[f"{manifest.object_namespace}/{manifest.object_name}"] = digest
    return out
