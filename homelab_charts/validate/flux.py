"""Checks of the Flux object graph: references resolve, no cycles, paths exist.

* every ``sourceRef`` (Kustomization, HelmChart, HelmRelease ``chart.spec``,
  ImageUpdateAutomation), ``chartRef`` (HelmRelease), ``dependsOn`` (Kustomization,
  HelmRelease), ``valuesFrom`` (HelmRelease) and ``postBuild.substituteFrom``
  (Kustomization) names an object of the tree, unless marked ``optional``;
* ``dependsOn`` has no cycle;
* every Kustomization ``path`` of the repository's own source (the ``flux-system``
  GitRepository) is a folder of the repository.

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

from homelab_charts.validate.model import Problem, Result

FLUX_NAMESPACE = "flux-system"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
HELM_GROUP = "helm.toolkit.fluxcd.io"
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
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


@dataclass(frozen=True)
class ObjectKey:
    group: str
    kind: str
    namespace: str
    name: str


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
            _check_kustomization_path(result, root, spec)
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
                    if not inventory.has(*_astuple(target)):
                        _dangling(result, f"/spec/dependsOn/{i}",
                                  f"{key.kind} {target.namespace}/{target.name}")
                    else:
                        edges.append(target)
    for graph in deps.values():
        for cycle in find_cycles(graph):
            names = " -> ".join(f"{k.namespace}/{k.name}" for k in [*cycle, cycle[0]])
            for member in cycle:
                owner = owners.get(member)
                if owner is not None:
                    owner.problems.append(Problem(
                        "flux", f"dependency cycle: {member.kind} {names}", path="/spec/dependsOn"))


def _astuple(key: ObjectKey) -> tuple[str, str, str, str]:
    return key.group, key.kind, key.namespace, key.name


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


def is_own_source(ref: Any, namespace: str) -> bool:
    """True when a sourceRef names the repository itself (bootstrap's GitRepository)."""
    return (isinstance(ref, Mapping) and ref.get("kind") == "GitRepository"
            and ref.get("name") == FLUX_NAMESPACE
            and (ref.get("namespace") or namespace) == FLUX_NAMESPACE)


def kustomization_folder(root: Path, spec: Mapping[str, Any]) -> Path:
    path = str(spec.get("path") or "./")
    return (root / path.lstrip("/")).resolve()


def _check_kustomization_path(result: Result, root: Path, spec: Mapping[str, Any]) -> None:
    if not is_own_source(spec.get("sourceRef"), result.namespace):
        return
    path = str(spec.get("path") or "./")
    folder = kustomization_folder(root, spec)
    try:
        folder.relative_to(root.resolve())
    except ValueError:
        result.problems.append(Problem(
            "flux", f"path {path!r} leaves the repository", path="/spec/path"))
        return
    if not folder.is_dir():
        result.problems.append(Problem(
            "flux", f"path {path!r} is not a folder of the repository", path="/spec/path"))


def find_cycles(graph: Mapping[ObjectKey, list[ObjectKey]]) -> list[list[ObjectKey]]:
    """Every elementary cycle's strongly connected component, each listed once.

    Tarjan's algorithm (iterative); a component of one node counts only with a self edge.
    The members of a component are listed in a cycle order found by walking it.
    """
    index: dict[ObjectKey, int] = {}
    low: dict[ObjectKey, int] = {}
    on_stack: set[ObjectKey] = set()
    stack: list[ObjectKey] = []
    components: list[list[ObjectKey]] = []
    counter = 0
    for start in sorted(graph, key=_astuple):
        if start in index:
            continue
        work: list[tuple[ObjectKey, int]] = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            edges = graph.get(node, [])
            if i < len(edges):
                work.append((node, i + 1))
                nxt = edges[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                comp: list[ObjectKey] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1 or node in graph.get(node, []):
                    components.append(_cycle_order(comp, graph))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _cycle_order(comp: list[ObjectKey], graph: Mapping[ObjectKey, list[ObjectKey]]) -> list[
        ObjectKey]:
    members = set(comp)
    start = min(comp, key=_astuple)
    order = [start]
    seen = {start}
    node = start
    while True:
        nxt = next((n for n in graph.get(node, []) if n in members and n not in seen), None)
        if nxt is None:
            break
        order.append(nxt)
        seen.add(nxt)
        node = nxt
    order.extend(sorted(members - seen, key=_astuple))
    return order
