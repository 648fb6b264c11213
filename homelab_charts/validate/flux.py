"""Checks of the Flux object graph: references resolve, no cycles, paths exist.

* every ``sourceRef`` (Kustomization, HelmChart, HelmRelease ``chart.spec``,
  ImageUpdateAutomation), ``chartRef`` (HelmRelease), ``dependsOn`` (Kustomization,
  HelmRelease), ``valuesFrom`` (HelmRelease) and ``postBuild.substituteFrom``
  (Kustomization) names an object of the tree, unless marked ``optional``;
* ``dependsOn`` has no cycle;
* every Kustomization ``path`` of the repository's own source (the ``flux-system``
  GitRepository, or an OCIRepository of the tree labelled as serving it) is a folder of
  the repository.

Objects that ``flux bootstrap`` creates count as present even when
``clusters/<cluster>/flux-system/`` is not in the tree: the ``flux-system``
GitRepository, Kustomization and Secret in namespace ``flux-system``. A SealedSecret
counts as the Secret it produces; a ``configMapGenerator``/``secretGenerator`` of a
``kustomization.yaml`` counts as the ConfigMap/Secret it generates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_charts.config import TREE_SOURCE_LABEL
from homelab_charts.tree import (
    FLUX_NAMESPACE,
    OWN_SOURCE,
    DependencyGraph,
    api_group,
    leaves_repository,
)
from homelab_charts.tree import HELM_TOOLKIT_GROUP as HELM_GROUP
from homelab_charts.tree import KUSTOMIZE_TOOLKIT_GROUP as KUSTOMIZE_GROUP
from homelab_charts.tree import SOURCE_TOOLKIT_GROUP as SOURCE_GROUP
from homelab_charts.tree import ObjectId as ObjectKey
from homelab_charts.validate.model import Problem, Result

IMAGE_GROUP = "image.toolkit.fluxcd.io"

#: Objects ``flux bootstrap`` creates: (group, kind, namespace, name).
BOOTSTRAP_OBJECTS = frozenset({
    (SOURCE_GROUP, "GitRepository", FLUX_NAMESPACE, FLUX_NAMESPACE),
    (KUSTOMIZE_GROUP, "Kustomization", FLUX_NAMESPACE, FLUX_NAMESPACE),
    ("", "Secret", FLUX_NAMESPACE, FLUX_NAMESPACE),
})
_SOURCE_KINDS = frozenset({"GitRepository", "OCIRepository", "HelmRepository", "HelmChart",
                           "Bucket", "ExternalArtifact"})


def group_of(api_version: str) -> str:
    return api_group(api_version)


@dataclass
class Inventory:
    """The objects that exist: those of the tree plus bootstrap and generated ones."""

    keys: set[ObjectKey]

    @classmethod
    def build(cls, results: Iterable[Result], generated: Iterable[ObjectKey] = ()) -> Inventory:
        keys = {ObjectKey(*k) for k in BOOTSTRAP_OBJECTS}
        keys.update(generated)
        for result in results:
            obj = result.obj
            if not isinstance(obj, Mapping) or not result.kind or not result.name:
                continue
            group = group_of(result.api_version)
            keys.add(ObjectKey(group, result.kind, result.namespace, result.name))
            if result.kind == "SealedSecret":
                keys.add(ObjectKey("", "Secret", result.namespace, result.name))
        return cls(keys)

    def has(self, group: str, kind: str, namespace: str, name: str) -> bool:
        return ObjectKey(group, kind, namespace, name) in self.keys


def generated_objects(kustomization: Mapping[str, Any]) -> list[ObjectKey]:
    """ConfigMaps/Secrets a ``kustomization.yaml`` generates (names without hash)."""
    namespace = str(kustomization.get("namespace") or "")
    out = []
    for field, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        items = kustomization.get(field)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, Mapping) and item.get("name"):
                    ns = str(item.get("namespace") or namespace)
                    out.append(ObjectKey("", kind, ns, str(item["name"])))
    return out


def _ref(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def check_graph(results: list[Result], root: Path, inventory: Inventory) -> None:
    """Adds ``flux`` problems to the results of the objects whose references dangle."""
    deps: dict[tuple[str, str], dict[ObjectKey, list[ObjectKey]]] = {}
    owners: dict[ObjectKey, Result] = {}
    own = tree_sources(results)
    for result in results:
        obj = result.obj
        if not isinstance(obj, Mapping) or not result.name:
            continue
        group = group_of(result.api_version)
        spec = obj.get("spec")
        if not isinstance(spec, Mapping):
            continue
        ns = result.namespace
        key = ObjectKey(group, result.kind, ns, result.name)
        if group == KUSTOMIZE_GROUP and result.kind == "Kustomization":
            _check_source(result, inventory, spec.get("sourceRef"), "/spec/sourceRef")
            _check_kustomization_path(result, root, spec, own)
            _check_config_refs(result, inventory, spec, ("postBuild", "substituteFrom"),
                               "/spec/postBuild/substituteFrom")
            _check_secret(result, inventory, _ref(spec, "decryption", "secretRef"),
                          "/spec/decryption/secretRef")
        elif group == HELM_GROUP and result.kind == "HelmRelease":
            chart_ref = spec.get("chartRef")
            if chart_ref is not None:
                _check_source(result, inventory, chart_ref, "/spec/chartRef")
            source = _ref(spec, "chart", "spec", "sourceRef")
            if source is not None:
                _check_source(result, inventory, source, "/spec/chart/spec/sourceRef")
            _check_config_refs(result, inventory, spec, ("valuesFrom",), "/spec/valuesFrom")
        elif (group, result.kind) in ((SOURCE_GROUP, "HelmChart"),
                                      (IMAGE_GROUP, "ImageUpdateAutomation")):
            _check_source(result, inventory, spec.get("sourceRef"), "/spec/sourceRef")
        elif group == IMAGE_GROUP and result.kind == "ImagePolicy":
            ref = spec.get("imageRepositoryRef")
            if isinstance(ref, Mapping) and ref.get("name"):
                target_ns = str(ref.get("namespace") or ns)
                if not inventory.has(IMAGE_GROUP, "ImageRepository", target_ns, str(ref["name"])):
                    _dangling(result, "/spec/imageRepositoryRef",
                              f"ImageRepository {target_ns}/{ref['name']}")
        if key.kind in ("Kustomization", "HelmRelease") and group in (KUSTOMIZE_GROUP,
                                                                      HELM_GROUP):
            owners[key] = result
            graph = deps.setdefault((group, key.kind), {})
            edges = graph.setdefault(key, [])
            depends = spec.get("dependsOn")
            if isinstance(depends, list):
                for i, dep in enumerate(depends):
                    if not isinstance(dep, Mapping) or not dep.get("name"):
                        continue
                    target = ObjectKey(group, key.kind, str(dep.get("namespace") or ns),
                                       str(dep["name"]))
                    if target not in inventory.keys:
                        _dangling(result, f"/spec/dependsOn/{i}",
                                  f"{key.kind} {target.namespace}/{target.name}")
                    else:
                        edges.append(target)
    for graph in deps.values():
        for cycle in DependencyGraph(graph).cycles(sort_key=lambda key: key):
            names = " -> ".join(f"{k.namespace}/{k.name}" for k in [*cycle, cycle[0]])
            for member in cycle:
                owner = owners.get(member)
                if owner is not None:
                    owner.problems.append(Problem(
                        "flux", f"dependency cycle: {member.kind} {names}", path="/spec/dependsOn"))


def _dangling(result: Result, path: str, what: str) -> None:
    result.problems.append(Problem("flux", f"{what} not found in the tree", path=path))


def _check_source(result: Result, inventory: Inventory, ref: Any, path: str) -> None:
    if not isinstance(ref, Mapping):
        return  # the schema check reports a missing sourceRef
    kind = str(ref.get("kind") or "")
    name = str(ref.get("name") or "")
    if not kind or not name:
        return
    namespace = str(ref.get("namespace") or result.namespace)
    group = SOURCE_GROUP if kind in _SOURCE_KINDS else ""
    api_version = ref.get("apiVersion")
    if isinstance(api_version, str) and api_version:
        group = group_of(api_version)
    if not inventory.has(group, kind, namespace, name):
        _dangling(result, path, f"{kind} {namespace}/{name}")


def _check_config_refs(result: Result, inventory: Inventory, spec: Mapping[str, Any],
                       keys: tuple[str, ...], path: str) -> None:
    refs = _ref(spec, *keys)
    if not isinstance(refs, list):
        return
    for i, ref in enumerate(refs):
        if not isinstance(ref, Mapping) or ref.get("optional") is True:
            continue
        kind = str(ref.get("kind") or "")
        name = str(ref.get("name") or "")
        if kind in ("ConfigMap", "Secret") and name and not inventory.has(
                "", kind, result.namespace, name):
            _dangling(result, f"{path}/{i}", f"{kind} {result.namespace}/{name}")


def _check_secret(result: Result, inventory: Inventory, ref: Any, path: str) -> None:
    if isinstance(ref, Mapping) and ref.get("name"):
        name = str(ref["name"])
        if not inventory.has("", "Secret", result.namespace, name):
            _dangling(result, path, f"Secret {result.namespace}/{name}")


def tree_sources(results: Iterable[Result]) -> frozenset[tuple[str, str, str]]:
    """``(kind, namespace, name)`` of the sources serving the repository's tree: bootstrap's
    GitRepository and the OCIRepositories labelled ``TREE_SOURCE_LABEL: "true"``."""
    found = {OWN_SOURCE}
    for result in results:
        obj = result.obj
        if (result.kind != "OCIRepository" or group_of(result.api_version) != SOURCE_GROUP
                or not isinstance(obj, Mapping)):
            continue
        metadata = obj.get("metadata")
        labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
        if isinstance(labels, Mapping) and labels.get(TREE_SOURCE_LABEL) == "true":
            found.add(("OCIRepository", result.namespace or FLUX_NAMESPACE, result.name))
    return frozenset(found)


def is_own_source(ref: Any, namespace: str,
                  own: frozenset[tuple[str, str, str]] = frozenset({OWN_SOURCE})) -> bool:
    """True when a sourceRef names the repository itself (bootstrap's GitRepository, or
    one of ``own``: see :func:`tree_sources`)."""
    return (isinstance(ref, Mapping)
            and (ref.get("kind"), ref.get("namespace") or namespace, ref.get("name")) in own)


def kustomization_folder(root: Path, spec: Mapping[str, Any]) -> Path:
    """The folder a Kustomization's ``spec.path`` names (resolved; may leave ``root``)."""
    path = str(spec.get("path") or "./")
    return (root / path.lstrip("/")).resolve()


def _check_kustomization_path(result: Result, root: Path, spec: Mapping[str, Any],
                              own: frozenset[tuple[str, str, str]]) -> None:
    if not is_own_source(spec.get("sourceRef"), result.namespace, own):
        return
    path = str(spec.get("path") or "./")
    folder = kustomization_folder(root, spec)
    if leaves_repository(path) or not folder.is_relative_to(root.resolve()):
        result.problems.append(Problem(
            "flux", f"path {path!r} leaves the repository", path="/spec/path"))
        return
    if not folder.is_dir():
        result.problems.append(Problem(
            "flux", f"path {path!r} is not a folder of the repository", path="/spec/path"))
