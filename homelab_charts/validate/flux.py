"""Checks of the Flux object graph: references resolve, no cycles, paths exist.

* every ``sourceRef`` (Kustomization, HelmChart, HelmRelease ``chart.spec``,
  ImageUpdateAutomation), ``chartRef`` (HelmRelease), ``dependsOn`` (Kustomization,
  HelmRelease), ``valuesFrom`` (HelmRelease) and ``postBuild.substituteFrom``
  (Kustomization) names an object of the tree, unless marked ``optional``;
* ``dependsOn`` has no cycle;
* every Kustomization ``path`` of the repository's own source (the ``flux-system``
  GitRepository, or an OCIRepository of the tree labelled as serving it) is a folder of
  the repository.

The objects, which of them exist once the tree is applied (:attr:`Tree.provided`: bootstrap's
``flux-system`` GitRepository, Kustomization and Secret, the Secret of a SealedSecret, the
ConfigMaps/Secrets a ``kustomization.yaml`` generates), the Flux Kustomizations and the
``dependsOn`` graphs are read through :mod:`homelab_charts.tree`, as ``plan``, ``graph``
and ``diff`` read them. Unlike those, validate reads every document itself and reports
problems per document instead of stopping at the first: :func:`read_tree` makes the model
from its results (any PATHS, not only a whole tree) and the checks read it leniently.

Each cluster's Flux graph is its own: in a tree of several clusters (``clusters/<a>/``,
``clusters/<b>/``) an object's references resolve, and cycles are found, in the part of
the tree each cluster that applies it applies (:meth:`Tree.views`); a ``dependsOn`` on a
Kustomization only another cluster has is dangling (the message names the cluster).
Objects no cluster applies resolve against the whole tree, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from homelab_charts.tree import (
    HELM_TOOLKIT_GROUP,
    KUSTOMIZE_TOOLKIT_GROUP,
    SOURCE_TOOLKIT_GROUP,
    FluxKustomization,
    ObjectId,
    Tree,
    TreeObject,
    api_group,
    dependency_refs,
    flux_kustomization,
    is_flux_kustomization,
    object_cluster,
    plain_id,
)
from homelab_charts.tree.model import own_sources
from homelab_charts.validate.model import Problem, Result

IMAGE_GROUP = "image.toolkit.fluxcd.io"
_SOURCE_KINDS = frozenset({"GitRepository", "OCIRepository", "HelmRepository", "HelmChart",
                           "Bucket", "ExternalArtifact"})
#: The kinds whose ``dependsOn`` forms a graph: (API group, kind).
_DEPENDING = ((KUSTOMIZE_TOOLKIT_GROUP, "Kustomization"), (HELM_TOOLKIT_GROUP, "HelmRelease"))

#: A validated document and the object it holds.
Checked = tuple[TreeObject, Result]


def tree_object(result: Result) -> TreeObject | None:
    """The object of a validation result (None when it has no readable kind and name)."""
    obj = result.obj
    if not isinstance(obj, Mapping) or not result.kind or not result.name:
        return None
    oid = ObjectId(api_group(result.api_version), result.kind, result.namespace, result.name,
                   object_cluster(obj, result.filename))
    return TreeObject(oid, result.api_version, result.filename, result.document, obj,
                      result.line or 0)


def read_tree(results: Iterable[Result], *, also: Iterable[TreeObject] = (),
              build_files: Mapping[str, str] | None = None) -> tuple[Tree, list[Checked]]:
    """The read model of what validate read: a :class:`Tree` of the results' objects plus
    ``also`` (objects that count as present without being checked: bootstrap's files) and
    ``build_files`` (``{name: text}`` of kustomize build files, for their generators);
    and the checked documents with their objects, in order."""
    checked = [(obj, r) for r in results if (obj := tree_object(r)) is not None]
    tree = Tree.from_objects([*(obj for obj, _ in checked), *also], build_files)
    return tree, checked


def kustomization_of(obj: TreeObject, own: frozenset[tuple[str, str, str]] | None = None
                     ) -> FluxKustomization | None:
    """The Flux Kustomization ``obj`` is, read leniently (None: not one, or unreadable:
    the schema check reports its fields); ``own``: the sources serving the repository's
    tree (:func:`~homelab_charts.tree.model.own_sources`)."""
    if not is_flux_kustomization(obj):
        return None
    return flux_kustomization(obj, strict=False, own=own)


def kustomization_folders(checked: Iterable[Checked], root: Path) -> list[Path]:
    """The folders of the repository the checked Flux Kustomizations of its own source
    apply (those that exist), in order: what ``kubectl kustomize`` should build."""
    folders: list[Path] = []
    own = own_sources(obj for obj, _ in checked)
    for obj, _ in checked:
        k = kustomization_of(obj, own)
        if k is None or not k.reads_this_repository:
            continue
        folder = _folder(root, k)
        if folder is not None and folder.is_dir():
            folders.append(folder)
    return list(dict.fromkeys(folders))


def _folder(root: Path, k: FluxKustomization) -> Path | None:
    """The folder ``k`` applies, None when it leaves ``root`` (also through a link)."""
    if k.outside_repository:
        return None
    folder = (root / k.path).resolve()
    return folder if folder.is_relative_to(root.resolve()) else None


def check_graph(tree: Tree, checked: Sequence[Checked], root: Path) -> None:
    """Adds ``flux`` problems to the results of the objects whose references dangle, that
    are in a ``dependsOn`` cycle, or whose Kustomization path is not a folder; references
    and cycles per cluster (see the module)."""
    own = own_sources(tree.objects.values())
    views = tree.views()
    if len(views) == 1:
        _check_references(tree, tree, checked, root, own, "")
        return
    placed: set[int] = set()
    for view in (v for v in views if v.cluster):
        members = [(obj, r) for obj, r in checked if view.objects.get(obj.id) is obj]
        placed.update(id(obj) for obj, _ in members)
        _check_references(view, view, members, root, own, f" (cluster {view.cluster})")
    # applied by no cluster (or a second object of one identity): the whole tree's
    rest = [(obj, r) for obj, r in checked if id(obj) not in placed]
    rest_view = next((v for v in views if v.cluster == ""), Tree.from_objects([]))
    _check_references(tree, rest_view, rest, root, own, "")


def _check_references(scope: Tree, view: Tree, checked: Sequence[Checked], root: Path,
                      own: frozenset[tuple[str, str, str]], where: str) -> None:
    """The references of ``checked`` resolved in ``scope``, the cycles of ``view``;
    ``where`` ends the messages of a dangling reference."""
    owners: dict[ObjectId, Result] = {}
    for obj, result in checked:
        spec = obj.body.get("spec")
        if not isinstance(spec, Mapping):
            continue
        group, kind = obj.id.group, obj.id.kind
        if (group, kind) == (KUSTOMIZE_TOOLKIT_GROUP, "Kustomization"):
            _check_source(scope, result, spec.get("sourceRef"), "/spec/sourceRef", where)
            _check_kustomization_path(result, root, kustomization_of(obj, own))
            _check_config_refs(scope, result, spec, ("postBuild", "substituteFrom"),
                               "/spec/postBuild/substituteFrom", where)
            _check_secret(scope, result, _ref(spec, "decryption", "secretRef"),
                          "/spec/decryption/secretRef", where)
        elif (group, kind) == (HELM_TOOLKIT_GROUP, "HelmRelease"):
            chart_ref = spec.get("chartRef")
            if chart_ref is not None:
                _check_source(scope, result, chart_ref, "/spec/chartRef", where)
            source = _ref(spec, "chart", "spec", "sourceRef")
            if source is not None:
                _check_source(scope, result, source, "/spec/chart/spec/sourceRef", where)
            _check_config_refs(scope, result, spec, ("valuesFrom",), "/spec/valuesFrom",
                               where)
        elif (group, kind) in ((SOURCE_TOOLKIT_GROUP, "HelmChart"),
                               (IMAGE_GROUP, "ImageUpdateAutomation")):
            _check_source(scope, result, spec.get("sourceRef"), "/spec/sourceRef", where)
        elif (group, kind) == (IMAGE_GROUP, "ImagePolicy"):
            ref = spec.get("imageRepositoryRef")
            if isinstance(ref, Mapping) and ref.get("name"):
                target = ObjectId(IMAGE_GROUP, "ImageRepository",
                                  str(ref.get("namespace") or result.namespace),
                                  str(ref["name"]))
                if not scope.provides(target):
                    _dangling(result, "/spec/imageRepositoryRef",
                              f"ImageRepository {target.namespace}/{target.name}", where)
        if (group, kind) in _DEPENDING:
            owners[plain_id(obj.id)] = result
            for i, target in dependency_refs(obj):
                if not scope.provides(target):
                    _dangling(result, f"/spec/dependsOn/{i}",
                              f"{kind} {target.namespace}/{target.name}", where)
    for group, kind in _DEPENDING:
        for cycle in view.dependency_graph(kind, group).cycles(sort_key=lambda key: key):
            names = " -> ".join(f"{k.namespace}/{k.name}" for k in [*cycle, cycle[0]])
            for member in cycle:
                owner = owners.get(member)
                if owner is not None:
                    _add(owner, Problem("flux", f"dependency cycle: {kind} {names}",
                                        path="/spec/dependsOn"))


def _add(result: Result, problem: Problem) -> None:
    """Adds ``problem`` once (an object several clusters apply is checked in each)."""
    if problem not in result.problems:
        result.problems.append(problem)


def _ref(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _dangling(result: Result, path: str, what: str, where: str = "") -> None:
    _add(result, Problem("flux", f"{what} not found in the tree{where}", path=path))


def _check_source(tree: Tree, result: Result, ref: Any, path: str, where: str) -> None:
    if not isinstance(ref, Mapping):
        return  # the schema check reports a missing sourceRef
    kind = str(ref.get("kind") or "")
    name = str(ref.get("name") or "")
    if not kind or not name:
        return
    namespace = str(ref.get("namespace") or result.namespace)
    group = SOURCE_TOOLKIT_GROUP if kind in _SOURCE_KINDS else ""
    api_version = ref.get("apiVersion")
    if isinstance(api_version, str) and api_version:
        group = api_group(api_version)
    if not tree.provides(ObjectId(group, kind, namespace, name)):
        _dangling(result, path, f"{kind} {namespace}/{name}", where)


def _check_config_refs(tree: Tree, result: Result, spec: Mapping[str, Any],
                       keys: tuple[str, ...], path: str, where: str) -> None:
    refs = _ref(spec, *keys)
    if not isinstance(refs, list):
        return
    for i, ref in enumerate(refs):
        if not isinstance(ref, Mapping) or ref.get("optional") is True:
            continue
        kind = str(ref.get("kind") or "")
        name = str(ref.get("name") or "")
        if kind in ("ConfigMap", "Secret") and name and not tree.provides(
                ObjectId("", kind, result.namespace, name)):
            _dangling(result, f"{path}/{i}", f"{kind} {result.namespace}/{name}", where)


def _check_secret(tree: Tree, result: Result, ref: Any, path: str, where: str) -> None:
    if isinstance(ref, Mapping) and ref.get("name"):
        name = str(ref["name"])
        if not tree.provides(ObjectId("", "Secret", result.namespace, name)):
            _dangling(result, path, f"Secret {result.namespace}/{name}", where)


def _check_kustomization_path(result: Result, root: Path, k: FluxKustomization | None) -> None:
    if k is None or not k.reads_this_repository:
        return
    path = k.raw_path or "./"
    folder = _folder(root, k)
    if folder is None:
        _add(result, Problem("flux", f"path {path!r} leaves the repository", path="/spec/path"))
    elif not folder.is_dir():
        _add(result, Problem("flux", f"path {path!r} is not a folder of the repository",
                             path="/spec/path"))
