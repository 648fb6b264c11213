"""The manual GitOps path: the order in which ``scripts/manual-deploy.sh`` applies a tree.

Flux applies the tree through Kustomizations: the bootstrap ``flux-system`` one applies
``clusters/<cluster>/`` (the cluster identity, the Kustomizations of ``infrastructure.yaml``
and ``apps.yaml``), which then follow their ``dependsOn`` chain: the controllers, the
issuers, the Namespaces, the SealedSecrets, then the rest. The ``secrets`` steps come
first: the cluster identity (``-f``) and, in older trees that kept them in
``clusters/<cluster>/`` itself, the Namespaces (``-f``) and the SealedSecrets (``-k``).
When Flux cannot sync, the scripts apply the same folders with ``kubectl apply`` in the
same order; :func:`build_plan` computes that order from the committed YAML (no cdk8s, no
cluster), so the scripts never re-implement YAML parsing or a topological sort in shell.

A step's ``method`` is ``file`` (``kubectl apply -f``), ``kustomize`` (``kubectl apply
-k``) or ``suspended``: a Kustomization with ``spec.suspend: true`` in Git, which Flux
leaves alone. Its folder is rendered into the desired set (so its objects are never
pruned) but not applied.

:func:`rendered_objects` lists the objects of rendered YAML (``kubectl kustomize``
output); the scripts use it to find the workloads to wait for, the Services to check and
the prune set.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from homelab_charts.config import CLUSTER_IDENTITY_FILE
from homelab_charts.errors import ConfigError
from homelab_charts.tree import (
    FLUX_NAMESPACE,
    KUSTOMIZE_TOOLKIT_GROUP,
    ClusterIdentity,
    FluxKustomization,
    Tree,
    file_objects,
    is_flux_kustomization,
)

LAYERS = ("secrets", "infrastructure", "apps")
FILE, KUSTOMIZE, SUSPENDED = "file", "kustomize", "suspended"
METHODS = (FILE, KUSTOMIZE, SUSPENDED)

#: Flux Kustomization fields that change what Flux applies compared with a plain
#: ``kubectl apply -k`` of the folder: the manual path refuses rather than diverge.
FLUX_ONLY_FIELDS = (
    "postBuild", "patches", "images", "components", "namePrefix", "nameSuffix",
    "commonMetadata", "decryption", "kubeConfig", "serviceAccountName",
)

#: Kinds that are not namespaced (a namespace given to them is ignored by kubectl).
CLUSTER_SCOPED_KINDS = frozenset({
    "APIService", "CSIDriver", "CSINode", "ClusterIssuer", "ClusterRole",
    "ClusterRoleBinding", "ClusterSecretStore", "ComponentStatus", "CustomResourceDefinition",
    "IngressClass", "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume",
    "PriorityClass", "RuntimeClass", "StorageClass", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment",
})


@dataclass(frozen=True)
class Step:
    """One folder or file of the manual path (``method``: file, kustomize or suspended)."""

    layer: str
    method: str
    name: str
    path: str
    target_namespace: str | None = None

    @property
    def applied(self) -> bool:
        """False for a suspended Kustomization: rendered and kept, never applied."""
        return self.method != SUSPENDED

    def line(self) -> str:
        return " ".join((self.layer, self.method, self.name, self.path,
                         self.target_namespace or "-"))


def _manual_kustomization(tree: Tree, k: FluxKustomization) -> None:
    """ConfigError unless a plain ``kubectl apply -k`` of ``k``'s folder is what Flux does."""
    where = f"{tree.where(k.file)}: Kustomization {k.name}"
    for key in FLUX_ONLY_FIELDS:
        if key in k.spec:
            raise ConfigError(where, f"spec.{key}",
                              "only Flux applies this; a plain `kubectl apply -k` of the "
                              "folder would differ, so the manual path cannot apply it")
    if not k.reads_this_repository:
        raise ConfigError(where, "spec.sourceRef",
                          "the manual path applies this repository only: expected "
                          f"GitRepository {FLUX_NAMESPACE} (or the tree's OCIRepository)")
    raw = k.spec.get("path")
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(where, "spec.path", "missing")
    if tree.kustomization_file(k.path) is None:
        raise ConfigError(where, "spec.path",
                          f"{k.path}/kustomization.yaml not found in the tree")


def _layer_kustomizations(tree: Tree, rel: str) -> list[FluxKustomization]:
    """The Flux Kustomizations of ``clusters/<cluster>/<layer>.yaml`` (nothing else there)."""
    if not tree.has_file(rel):
        raise ConfigError(tree.where(rel), None,
                          "file not found (has the tree been synthesized?)")
    for obj in tree.in_file(rel):
        if not is_flux_kustomization(obj):
            raise ConfigError(tree.where(rel), f"document {obj.index}",
                              f"expected a Flux Kustomization ({KUSTOMIZE_TOOLKIT_GROUP}), "
                              f"found {obj.api_version} {obj.id.kind}")
    return [k for k in tree.kustomizations if k.file == rel]


def build_plan(root: Path, cluster: str = "homelab", *, tree: Tree | None = None) -> list[Step]:
    """The manual apply order of cluster ``cluster`` of the tree under ``root`` (``tree``:
    already loaded): its part of the tree only (:meth:`Tree.for_cluster`)."""
    cluster_dir = f"clusters/{cluster}"
    if not (root / cluster_dir).is_dir():
        raise ConfigError(cluster_dir, None, f"not found under {root} (wrong --root or --cluster?)")
    tree = tree if tree is not None else Tree.from_disk(root)
    if cluster in tree.clusters():
        tree = tree.for_cluster(cluster)  # its own graph: another cluster's is not this one's
    steps: list[Step] = []
    namespaces = f"{cluster_dir}/namespaces.yaml"
    if tree.has_file(namespaces):
        steps.append(Step("secrets", FILE, "namespaces", namespaces))
    identity = f"{cluster_dir}/{CLUSTER_IDENTITY_FILE}"
    if tree.has_file(identity):
        steps.append(Step("secrets", FILE, "cluster-identity", identity))
    secrets = f"{cluster_dir}/secrets"
    if tree.kustomization_file(secrets) is not None:
        steps.append(Step("secrets", KUSTOMIZE, "secrets", secrets))
    layer_of: dict[tuple[str, str], str] = {}
    chosen: list[FluxKustomization] = []
    for layer in ("infrastructure", "apps"):
        for k in _layer_kustomizations(tree, f"{cluster_dir}/{layer}.yaml"):
            _manual_kustomization(tree, k)
            layer_of.setdefault(k.key, layer)
            chosen.append(k)
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    for k in chosen:
        for i, dep in enumerate(k.depends_on):
            dep_layer = layer_of.get(dep)
            if dep_layer is not None and rank[dep_layer] > rank[layer_of[k.key]]:
                raise ConfigError(f"{tree.where(k.file)}: Kustomization {k.name}",
                                  f"spec.dependsOn[{i}].name",
                                  f"{layer_of[k.key]} cannot depend on {dep_layer} "
                                  f"Kustomization {dep[1]!r}")
    for k in tree.order(chosen, rank=lambda k: rank[layer_of[k.key]]):
        steps.append(Step(layer_of[k.key], SUSPENDED if k.suspend else KUSTOMIZE, k.name,
                          k.path, k.target_namespace))
    return steps


def cluster_binding(root: Path, cluster: str = "homelab", *,
                    tree: Tree | None = None) -> ClusterIdentity | None:
    """The cluster ``clusters/<cluster>/`` is bound to; None when it has no identity file."""
    tree = tree if tree is not None else Tree.from_disk(root)
    return tree.cluster_identity(cluster)


@dataclass(frozen=True)
class RenderedObject:
    """An object of rendered YAML, named the way kubectl takes it."""

    ref: str  # kind[.group]/name, kind lower-case
    namespace: str | None
    flags: str  # "noendpoints" for Services that never have endpoints, else "-"

    def line(self) -> str:
        return f"{self.ref} {self.namespace or '-'} {self.flags}"


def rendered_objects(stream: IO[str] | str, *, where: str = "<stdin>",
                     target_namespace: str | None = None) -> Iterator[RenderedObject]:
    """The objects of a multi-document YAML stream (``kubectl kustomize`` output), read by
    the tree model (:func:`homelab_charts.tree.file_objects`: a ``List`` is its items; a
    document without apiVersion, kind or metadata.name is a ConfigError naming it)."""
    text = stream if isinstance(stream, str) else stream.read()
    for obj in file_objects(where, text, where=where):
        kind, group = obj.id.kind, obj.id.group
        name = obj.id.name
        ref = f"{kind.lower()}.{group}/{name}" if group else f"{kind.lower()}/{name}"
        namespace = None
        if kind not in CLUSTER_SCOPED_KINDS:
            namespace = target_namespace or obj.id.namespace or None
        flags = "-"
        if kind == "Service" and not group:
            spec = obj.body.get("spec") or {}
            if spec.get("type") == "ExternalName" or not spec.get("selector"):
                flags = "noendpoints"
        yield RenderedObject(ref, namespace, flags)
