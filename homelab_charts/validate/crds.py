"""Every custom resource's CRD is installed before Flux applies it (rule CRD-001).

On an empty cluster, right after ``flux bootstrap``, only Kubernetes' own kinds and
Flux's exist. A Flux Kustomization whose path holds an object of any other kind
(a SealedSecret, a Certificate...) fails its server-side dry run, as a whole, until the
kind's CustomResourceDefinition exists; so that CRD must be installed by a Kustomization
it depends on, directly or transitively. A Kustomization *installs* a kind when its path
holds the CustomResourceDefinition, or a HelmRelease of a chart whose CRDs are known
(:data:`homelab_charts.infrastructure.controllers.CHART_CRDS`) with those CRDs turned on.
A CRD object in the same Kustomization also counts (Flux applies CRDs first).

The objects of ``clusters/<cluster>/`` belong to bootstrap's ``flux-system``
Kustomization, which depends on nothing: only Kubernetes' and Flux's kinds may live there.
Objects no Kustomization applies are not checked. A violation names the object, the
Kustomization, and the Kustomization it must depend on (or that none installs the kind).

Each cluster's Flux graph is its own: in a tree of several clusters (``clusters/<a>/``,
``clusters/<b>/``) the check runs once per cluster, over the files that cluster applies
(:meth:`homelab_charts.tree.Tree.views`), with that cluster's bootstrap and
Kustomizations: a CRD another cluster installs does not count.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homelab_charts.config import TREE_SOURCE_LABEL
from homelab_charts.infrastructure.controllers import CHART_CRDS
from homelab_charts.tree import FLUX_NAMESPACE, Tree
from homelab_charts.tree import HELM_TOOLKIT_GROUP as HELM_GROUP
from homelab_charts.tree import KUSTOMIZE_TOOLKIT_GROUP as KUSTOMIZE_GROUP
from homelab_charts.tree.model import OWN_SOURCE, api_group
from homelab_charts.validate.model import Problem, Result

RULE = "CRD-001"
#: API groups served by Kubernetes itself (no CRD needed): the core group, groups without
#: a dot (apps, batch, policy...) and *.k8s.io.
_FLUX_SUFFIX = ".toolkit.fluxcd.io"
_FLUX_GROUPS = frozenset({"source.extensions.fluxcd.io"})


def group_of(api_version: str) -> str:
    return api_group(api_version)


def _own_sources(results: Iterable[Result]) -> frozenset[tuple[str, str, str]]:
    """Bootstrap's GitRepository and the tree's labelled OCIRepositories
    (``cluster.source: oci``): the sources serving this repository's tree."""
    found = {OWN_SOURCE}
    for result in results:
        obj = result.obj
        if result.kind != "OCIRepository" or not isinstance(obj, Mapping):
            continue
        labels = (obj.get("metadata") or {}).get("labels")
        if isinstance(labels, Mapping) and labels.get(TREE_SOURCE_LABEL) == "true":
            found.add(("OCIRepository", result.namespace or FLUX_NAMESPACE, result.name))
    return frozenset(found)


def _is_own_source(ref: Any, namespace: str | None,
                   own: frozenset[tuple[str, str, str]]) -> bool:
    return (isinstance(ref, Mapping)
            and (ref.get("kind"), ref.get("namespace") or namespace or FLUX_NAMESPACE,
                 ref.get("name")) in own)


def kustomization_folder(root: Path, spec: Mapping[str, Any]) -> Path:
    """The folder a Kustomization's ``spec.path`` names (resolved; may leave ``root``)."""
    path = str(spec.get("path") or "./")
    return (root / path.lstrip("/")).resolve()


def is_builtin(group: str) -> bool:
    return group == "" or "." not in group or group.endswith(".k8s.io")


def is_flux(group: str) -> bool:
    """Flux's own kinds: ``flux bootstrap`` installs their CRDs."""
    return group.endswith(_FLUX_SUFFIX) or group in _FLUX_GROUPS


@dataclass
class _Kustomization:
    key: tuple[str, str]
    folder: Path
    depends_on: list[tuple[str, str]] = field(default_factory=list)
    provides: dict[tuple[str, str], str] = field(default_factory=dict)  # kind -> by what

    @property
    def label(self) -> str:
        return f"{self.key[0]}/{self.key[1]}"


def _kustomizations(results: Iterable[Result], root: Path, cluster: str | None = None
                    ) -> dict[tuple[str, str], _Kustomization]:
    """The Kustomizations of ``results`` by key; ``cluster``: those are the part of the
    tree that cluster applies ("": no cluster's), whose bootstrap applies its folder."""
    found: dict[tuple[str, str], _Kustomization] = {}
    bootstrap = (FLUX_NAMESPACE, FLUX_NAMESPACE)
    if cluster is not None:
        if cluster:
            found[bootstrap] = _Kustomization(bootstrap, (root / "clusters" / cluster).resolve())
        return _add_kustomizations(found, results, root)
    for folder in sorted(root.glob("clusters/*/flux-system")):
        # bootstrap's Kustomization applies the cluster folder; it depends on nothing.
        found[bootstrap] = _Kustomization(bootstrap, folder.parent.resolve())
        break
    found = _add_kustomizations(found, results, root)
    if bootstrap not in found:
        clusters = sorted(p for p in root.glob("clusters/*") if p.is_dir())
        if len(clusters) == 1:
            found[bootstrap] = _Kustomization(bootstrap, clusters[0].resolve())
    return found


def _add_kustomizations(found: dict[tuple[str, str], _Kustomization],
                        results: Iterable[Result], root: Path
                        ) -> dict[tuple[str, str], _Kustomization]:
    results = list(results)
    own = _own_sources(results)
    for result in results:
        obj = result.obj
        if (result.kind != "Kustomization" or group_of(result.api_version) != KUSTOMIZE_GROUP
                or not isinstance(obj, Mapping) or not isinstance(obj.get("spec"), Mapping)):
            continue
        spec = obj["spec"]
        if not _is_own_source(spec.get("sourceRef"), result.namespace, own):
            continue
        namespace = result.namespace or FLUX_NAMESPACE
        k = _Kustomization((namespace, result.name), kustomization_folder(root, spec))
        for dep in spec.get("dependsOn") or []:
            if isinstance(dep, Mapping) and dep.get("name"):
                k.depends_on.append((str(dep.get("namespace") or namespace), str(dep["name"])))
        found[k.key] = k
    return found


def _owner(path: Path, by_folder: Mapping[Path, _Kustomization]) -> _Kustomization | None:
    """The Kustomization whose folder is the nearest one holding ``path``."""
    for folder in path.parents:
        found = by_folder.get(folder)
        if found is not None:
            return found
    return None


def _provided(obj: Mapping[str, Any], kind: str, group: str) -> dict[tuple[str, str], str]:
    name = str((obj.get("metadata") or {}).get("name") or "")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return {}
    if kind == "CustomResourceDefinition" and group == "apiextensions.k8s.io":
        names = spec.get("names")
        crd_kind = names.get("kind") if isinstance(names, Mapping) else None
        if isinstance(crd_kind, str) and isinstance(spec.get("group"), str):
            return {(spec["group"], crd_kind): f"CustomResourceDefinition {name}"}
        return {}
    if kind == "HelmRelease" and group == HELM_GROUP:
        chart = spec.get("chart")
        chart_spec = chart.get("spec") if isinstance(chart, Mapping) else None
        chart_name = chart_spec.get("chart") if isinstance(chart_spec, Mapping) else None
        known = CHART_CRDS.get(str(chart_name))
        if known is not None and known.installed_by(obj):
            return {k: f"HelmRelease {name} (chart {chart_name})" for k in known.kinds}
    return {}


def check(results: list[Result], root: Path, tree: Tree | None = None) -> None:
    """Adds a ``CRD-001`` problem to every custom resource whose CRD may be missing, per
    cluster. ``tree``: the read model of ``results`` (:func:`flux.read_tree`; read here
    when not given), which tells the clusters apart."""
    root = root.resolve()
    if tree is None:
        from homelab_charts.validate.flux import read_tree

        tree, _ = read_tree(results)
    views = tree.views()
    if len(views) == 1:
        _check(results, root, None)
        return
    for view in views:
        _check([r for r in results if r.filename in view.paths], root, view.cluster)


def _check(results: list[Result], root: Path, cluster: str | None) -> None:
    kustomizations = _kustomizations(results, root, cluster)
    if not kustomizations:
        return
    by_folder: dict[Path, _Kustomization] = {}
    for k in kustomizations.values():
        by_folder.setdefault(k.folder, k)  # the first of those applying one folder
    owners: dict[str, _Kustomization | None] = {}  # by file
    placed: list[tuple[Result, _Kustomization, str]] = []
    for result in results:
        if not isinstance(result.obj, Mapping) or not result.kind:
            continue
        if result.filename not in owners:
            owners[result.filename] = _owner(Path(os.path.abspath(root / result.filename)),
                                             by_folder)
        owner = owners[result.filename]
        if owner is None:
            continue
        group = group_of(result.api_version)
        owner.provides.update(_provided(result.obj, result.kind, group))
        placed.append((result, owner, group))
    reachable_from: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for result, owner, group in placed:
        if is_builtin(group) or is_flux(group):
            continue
        wanted = (group, result.kind)
        if wanted in owner.provides and owner.provides[wanted].startswith(
                "CustomResourceDefinition"):
            continue
        if owner.key not in reachable_from:
            reachable_from[owner.key] = _dependencies(owner, kustomizations)
        if any(wanted in kustomizations[k].provides for k in reachable_from[owner.key]):
            continue
        installers = sorted(k.label for k in kustomizations.values()
                            if wanted in k.provides and k is not owner)
        what = f"{result.kind} {result.namespace + '/' if result.namespace else ''}{result.name}"
        if installers:
            message = (f"{what} in Kustomization {owner.label}: its CRD ({group}) is "
                       f"installed by Kustomization {installers[0]}, which {owner.key[1]} "
                       f"does not depend on (add dependsOn {installers[0].split('/')[1]})")
        elif wanted in owner.provides:
            message = (f"{what} in Kustomization {owner.label}: its CRD ({group}) comes from "
                       f"{owner.provides[wanted]} of the same Kustomization, which is applied "
                       "in one dry run with it: move the HelmRelease to a Kustomization "
                       f"{owner.key[1]} depends on")
        else:
            message = (f"{what} in Kustomization {owner.label}: no Kustomization of the tree "
                       f"installs the CRD of {group}/{result.kind}")
        problem = Problem("flux", message, path="/kind", rule=RULE)
        if problem not in result.problems:  # a file several clusters apply: once
            result.problems.append(problem)


def _dependencies(start: _Kustomization,
                  kustomizations: Mapping[tuple[str, str], _Kustomization]) -> set[
        tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    stack = list(start.depends_on)
    while stack:
        key = stack.pop()
        if key in seen or key not in kustomizations:
            continue
        seen.add(key)
        stack.extend(kustomizations[key].depends_on)
    return seen
