"""The Flux dependency graph of a tree: Kustomizations, HelmReleases and the sources they
read, layered by ``dependsOn``; rendered as Mermaid, Graphviz DOT, SVG or JSON.

Nodes are the tree's Flux Kustomizations (``kustomize.toolkit.fluxcd.io``), HelmReleases
(``helm.toolkit.fluxcd.io``) and sources (``source.toolkit.fluxcd.io``: GitRepository,
OCIRepository, HelmRepository, Bucket, HelmChart), plus the ``flux-system`` GitRepository
that ``flux bootstrap`` creates (implicit: its file is bootstrap's). Every edge points
downstream, the way changes flow:

* ``dependsOn``: from the dependency to the object that waits for it;
* ``source``: from a source to the Kustomization or HelmRelease reading it
  (``sourceRef``, ``chart.spec.sourceRef``, ``chartRef``);
* ``applies``: from a Kustomization to the HelmReleases in its ``spec.path`` folder.

A reference to an object that is not in the tree becomes a node marked ``missing`` (drawn
red) and a :attr:`FluxGraph.problems` entry, so no edge ever points nowhere.

Layers: a Kustomization's layer is the length of its longest ``dependsOn`` chain (0 for one
that depends on nothing); a HelmRelease sits in the layer of the Kustomization applying it
(or later, if it depends on a HelmRelease of a later layer); sources form a column of their
own before layer 0.

Clusters: each cluster's Flux graph is its own (bootstrap of cluster ``a`` applies
``clusters/a/`` only; :meth:`homelab_charts.tree.Tree.views`). :func:`build_graphs` gives
one graph per cluster of the tree (one graph, ``cluster`` None, for a tree of one cluster);
the renderers draw one graph as always, and several side by side, each in a box of its own
(``cluster <name>``) with node ids prefixed by the cluster; JSON lists them under
``clusters``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from homelab_charts.errors import ConfigError
from homelab_charts.tree import (
    FLUX_NAMESPACE,
    HELM_TOOLKIT_GROUP,
    SOURCE_TOOLKIT_GROUP,
    CycleError,
    DependencyGraph,
    Tree,
    TreeObject,
    depends_on,
    source_ref,
)

KUSTOMIZATION = "Kustomization"
HELM_RELEASE = "HelmRelease"
SOURCE_KINDS = ("GitRepository", "OCIRepository", "HelmRepository", "Bucket", "HelmChart")
DEPENDS_ON = "dependsOn"
SOURCE = "source"
APPLIES = "applies"
RELATIONS = (DEPENDS_ON, SOURCE, APPLIES)

NodeKey = tuple[str, str, str]  # kind, namespace, name


@dataclass(frozen=True)
class Node:
    kind: str
    namespace: str
    name: str
    file: str | None = None
    path: str | None = None  # a Kustomization's folder (normalised)
    implicit: bool = False  # created by flux bootstrap, not in the tree
    missing: bool = False  # referred to, but not in the tree

    @property
    def key(self) -> NodeKey:
        return self.kind, self.namespace, self.name

    @property
    def role(self) -> str:
        if self.kind == KUSTOMIZATION:
            return "kustomization"
        return "helmrelease" if self.kind == HELM_RELEASE else "source"


@dataclass(frozen=True, order=True)
class Edge:
    source: NodeKey
    target: NodeKey
    relation: str


@dataclass
class FluxGraph:
    nodes: dict[NodeKey, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    layers: dict[NodeKey, int] = field(default_factory=dict)  # Kustomizations, HelmReleases
    problems: list[str] = field(default_factory=list)
    #: The cluster this is the graph of (None: the tree's only one; "": the files no
    #: cluster applies).
    cluster: str | None = None

    @property
    def title(self) -> str:
        """``cluster <name>`` (what a box of several clusters' graphs is titled)."""
        if self.cluster is None:
            return "tree"
        return f"cluster {self.cluster}" if self.cluster else "applied by no cluster"

    def layer_of(self, key: NodeKey) -> int | None:
        return self.layers.get(key)

    def layer_names(self) -> dict[int, str]:
        """``layer N`` plus the top folders of its Kustomizations (``infrastructure``)."""
        tops: dict[int, set[str]] = {}
        for key, layer in self.layers.items():
            node = self.nodes[key]
            tops.setdefault(layer, set())
            if node.path:
                tops[layer].add(PurePosixPath(node.path).parts[0])
        return {layer: f"layer {layer}" + (f" · {', '.join(sorted(t))}" if t else "")
                for layer, t in sorted(tops.items())}


def _release_order(releases: DependencyGraph[NodeKey]) -> list[NodeKey]:
    """The HelmReleases dependencies first; with a cycle, the graph's order (the cycle is
    reported as a problem and its layers are only approximate)."""
    try:
        return releases.order()
    except CycleError:
        return releases.nodes


def _display(key: NodeKey) -> str:
    kind, namespace, name = key
    return f"{kind} {namespace}/{name}"


def _is(obj: TreeObject, group: str, kinds: Iterable[str]) -> bool:
    return obj.id.group == group and obj.id.kind in kinds


def _tree(tree: Tree | Mapping[str, str], label: str) -> Tree:
    return tree if isinstance(tree, Tree) else Tree(tree, label=label)


def build_graphs(tree: Tree | Mapping[str, str], *, label: str = "",
                 cluster: str | None = None) -> list[FluxGraph]:
    """One graph per cluster of the tree (:meth:`Tree.views`); only cluster ``cluster``'s
    when given (a ConfigError naming the clusters when the tree has no such folder)."""
    tree = _tree(tree, label)
    if cluster is not None:
        return [_build(tree.for_cluster(cluster))]
    return [_build(view) for view in tree.views()]


def build_graph(tree: Tree | Mapping[str, str], *, label: str = "") -> FluxGraph:
    """The graph of a tree of one cluster (a loaded :class:`Tree` or a view of one, or
    ``{path: YAML text}`` read with ``label`` naming it in errors). A tree of several
    clusters has several graphs: :func:`build_graphs`."""
    tree = _tree(tree, label)
    if len(tree.views()) > 1:
        names = tree.clusters()
        raise ConfigError(tree.where("clusters"), None,
                          f"{len(names)} clusters ({', '.join(names)}), each with "
                          "its own Flux graph: build_graphs, or build_graph of one "
                          "(Tree.for_cluster)")
    return _build(tree)


def _build(tree: Tree) -> FluxGraph:
    prefix = f"{tree.label}:" if tree.label else ""
    graph = FluxGraph(cluster=tree.cluster)

    kustomizations = tree.kustomizations
    for k in kustomizations:
        graph.nodes[(KUSTOMIZATION, k.namespace, k.name)] = Node(
            KUSTOMIZATION, k.namespace, k.name, file=k.file, path=k.path)
    releases: list[tuple[TreeObject, str]] = []
    for obj in tree.objects.values():
        namespace = obj.id.namespace or FLUX_NAMESPACE
        if _is(obj, HELM_TOOLKIT_GROUP, (HELM_RELEASE,)):
            releases.append((obj, namespace))
            graph.nodes[(HELM_RELEASE, namespace, obj.id.name)] = Node(
                HELM_RELEASE, namespace, obj.id.name, file=obj.file)
        elif _is(obj, SOURCE_TOOLKIT_GROUP, SOURCE_KINDS):
            graph.nodes[(obj.id.kind, namespace, obj.id.name)] = Node(
                obj.id.kind, namespace, obj.id.name, file=obj.file)
    bootstrap_source = ("GitRepository", FLUX_NAMESPACE, FLUX_NAMESPACE)
    graph.nodes.setdefault(bootstrap_source, Node(*bootstrap_source, implicit=True))

    edges: set[Edge] = set()

    def link(source: NodeKey, target: NodeKey, relation: str, where: str, field: str) -> None:
        for end in (source, target):
            if end not in graph.nodes:
                graph.nodes[end] = Node(*end, missing=True)
            if graph.nodes[end].missing:
                graph.problems.append(f"{where}: {field}: {_display(end)} is not in the tree")
        edges.add(Edge(source, target, relation))

    k_deps: dict[NodeKey, list[NodeKey]] = {}
    for k in kustomizations:
        me = (KUSTOMIZATION, k.namespace, k.name)
        where = f"{prefix}{k.file}: Kustomization {k.name}"
        link(k.source, me, SOURCE, where, "spec.sourceRef")
        k_deps[me] = []
        for i, (ns, name) in enumerate(k.depends_on):
            dep = (KUSTOMIZATION, ns, name)
            link(dep, me, DEPENDS_ON, where, f"spec.dependsOn[{i}]")
            k_deps[me].append(dep)
    for key in [k for k, n in graph.nodes.items() if n.missing and n.kind == KUSTOMIZATION]:
        k_deps.setdefault(key, [])

    owners = tree.owners
    r_deps: dict[NodeKey, list[NodeKey]] = {}
    r_owner: dict[NodeKey, NodeKey | None] = {}
    for obj, namespace in releases:
        me = (HELM_RELEASE, namespace, obj.id.name)
        where = f"{prefix}{obj.file}: HelmRelease {obj.id.name}"
        spec = obj.body.get("spec")
        if not isinstance(spec, Mapping):
            raise ConfigError(where, "spec", "missing")
        chart = spec.get("chart")
        if spec.get("chartRef") is not None:
            ref = source_ref(spec["chartRef"], namespace, where, "spec.chartRef")
            link(ref, me, SOURCE, where, "spec.chartRef")
        elif isinstance(chart, Mapping) and isinstance(chart.get("spec"), Mapping):
            ref = source_ref(chart["spec"].get("sourceRef"), namespace, where,
                             "spec.chart.spec.sourceRef")
            link(ref, me, SOURCE, where, "spec.chart.spec.sourceRef")
        else:
            graph.problems.append(f"{where}: spec: neither chart.spec nor chartRef is set")
        r_deps[me] = []
        for i, (ns, name) in enumerate(depends_on(spec, namespace, where)):
            dep = (HELM_RELEASE, ns, name)
            link(dep, me, DEPENDS_ON, where, f"spec.dependsOn[{i}]")
            r_deps[me].append(dep)
        owner = owners.of(obj.file)
        r_owner[me] = None
        if owner is not None and not owner.bootstrap:
            r_owner[me] = (KUSTOMIZATION, owner.namespace, owner.name)
            edges.add(Edge(r_owner[me], me, APPLIES))

    k_graph = DependencyGraph(k_deps)
    k_layers = k_graph.depths()
    graph.layers.update(k_layers)
    # A HelmRelease sits in its Kustomization's layer, or in the latest layer of the
    # HelmReleases it depends on: dependencies first, so each one's layer is known.
    r_graph = DependencyGraph(r_deps)
    r_layers: dict[NodeKey, int] = {}
    for key in _release_order(r_graph):
        owner = r_owner.get(key)
        best = k_layers.get(owner, 0) if owner else 0
        for dep in r_deps.get(key, ()):
            if dep in r_layers:
                best = max(best, r_layers[dep])
        r_layers[key] = best
    for key in graph.nodes:
        if graph.nodes[key].kind == HELM_RELEASE and key not in r_layers:
            r_layers[key] = 0  # a missing HelmRelease someone depends on
    graph.layers.update(r_layers)
    for cycle in (*k_graph.cycles(), *r_graph.cycles()):
        graph.problems.append("dependsOn cycle (Flux waits forever): "
                              + " -> ".join(_display(k) for k in [*cycle, cycle[0]]))

    graph.edges = sorted(edges)
    graph.nodes = dict(sorted(graph.nodes.items(), key=lambda item: _node_order(item[1])))
    return graph


_KIND_ORDER = {KUSTOMIZATION: 0, HELM_RELEASE: 1, **{k: 2 + i for i, k in enumerate(SOURCE_KINDS)}}


def _node_order(node: Node) -> tuple[int, str, str, str]:
    return _KIND_ORDER.get(node.kind, 99), node.kind, node.namespace, node.name


# -- rendering ----------------------------------------------------------------------------

_ID_PREFIX = {KUSTOMIZATION: "ks", HELM_RELEASE: "hr", "GitRepository": "git",
              "OCIRepository": "oci", "HelmRepository": "helmrepo", "Bucket": "bucket",
              "HelmChart": "chart"}


Graphs = FluxGraph | Sequence[FluxGraph]


def _graphs(graphs: Graphs) -> list[FluxGraph]:
    return [graphs] if isinstance(graphs, FluxGraph) else list(graphs)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _prefix(graph: FluxGraph, several: bool) -> str:
    """What ids of one cluster's graph start with when several are drawn together."""
    if not several:
        return ""
    return f"{_slug(graph.cluster)}__" if graph.cluster else "none__"


def _boxes(graphs: Graphs) -> Iterator[tuple[FluxGraph, str, dict[NodeKey, str], bool]]:
    """``(graph, id prefix, node ids, several)`` of each graph to draw: several clusters'
    graphs are each drawn in a box of their own, their ids prefixed by the cluster."""
    chosen = _graphs(graphs)
    several = len(chosen) > 1
    used: set[str] = set()
    for graph in chosen:
        prefix = _prefix(graph, several)
        yield graph, prefix, _node_ids(graph, prefix, used), several


def _node_ids(graph: FluxGraph, prefix: str = "", used: set[str] | None = None
              ) -> dict[NodeKey, str]:
    ids: dict[NodeKey, str] = {}
    used = set() if used is None else used
    for key in graph.nodes:
        kind, namespace, name = key
        short = _ID_PREFIX.get(kind, kind.lower())
        base = prefix + _slug(f"{short}_{namespace}_{name}")
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        ids[key] = candidate
    return ids


def _sections(graph: FluxGraph) -> list[tuple[str, str, list[Node]]]:
    """``(id, title, nodes)`` of the sources column and each layer, left to right."""
    sources = [n for n in graph.nodes.values() if n.role == "source"]
    out: list[tuple[str, str, list[Node]]] = []
    if sources:
        out.append(("sources", "sources", sources))
    for layer, title in graph.layer_names().items():
        members = [n for k, n in graph.nodes.items() if graph.layers.get(k) == layer]
        out.append((f"layer{layer}", title, members))
    return out


def _subtitle(node: Node) -> str:
    if node.missing:
        return "missing from the tree"
    if node.implicit:
        return "flux bootstrap"
    if node.kind == KUSTOMIZATION:
        return f"./{node.path}" if node.path else "./"
    return node.namespace


def _mermaid_text(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "#quot;").replace("<", "&lt;")
            .replace(">", "&gt;"))


def to_mermaid(graphs: Graphs) -> str:
    """A Mermaid ``flowchart LR``: one subgraph per layer, sources first; several
    clusters' graphs each in a subgraph of its own (``cluster <name>``).

    Solid arrows are ``dependsOn`` (dependency to dependant), dotted arrows sources read,
    arrows ending in a circle a Kustomization applying a HelmRelease."""
    lines = ["flowchart LR"]
    edges: list[str] = []
    missing: list[str] = []
    arrows = {DEPENDS_ON: "-->", SOURCE: "-.->", APPLIES: "--o"}
    for graph, prefix, ids, several in _boxes(graphs):
        indent = "  "
        if several:
            lines.append(f'  subgraph {prefix}cluster["{_mermaid_text(graph.title)}"]')
            indent = "    "
        for section_id, title, members in _sections(graph):
            lines.append(f'{indent}subgraph {prefix}{section_id}["{_mermaid_text(title)}"]')
            for node in members:
                text = (f"{_mermaid_text(node.kind)}<br/><b>{_mermaid_text(node.name)}</b>"
                        f"<br/><small>{_mermaid_text(_subtitle(node))}</small>")
                if node.role == "source":
                    shape = f'[("{text}")]'
                elif node.role == "helmrelease":
                    shape = f'("{text}")'
                else:
                    shape = f'["{text}"]'
                lines.append(f"{indent}  {ids[node.key]}{shape}")
            lines.append(f"{indent}end")
        if several:
            lines.append("  end")
        edges.extend(f"  {ids[e.source]} {arrows[e.relation]} {ids[e.target]}"
                     for e in graph.edges)
        missing.extend(ids[k] for k, n in graph.nodes.items() if n.missing)
    lines.extend(edges)
    if missing:
        lines.append("  classDef missing stroke:#d00,stroke-width:2px,stroke-dasharray:4 3,"
                     "color:#d00")
        lines.append(f"  class {','.join(missing)} missing")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {
    "kustomization": 'shape=box, style="filled", fillcolor="#e8f0fe", color="#3b6fd4"',
    "helmrelease": 'shape=box, style="rounded,filled", fillcolor="#e6f4ea", color="#2f8f4e"',
    "source": 'shape=cylinder, style="filled", fillcolor="#fef7e0", color="#b58900"',
}
_DOT_EDGES = {
    DEPENDS_ON: 'color="#333333", penwidth=1.4',
    SOURCE: 'style=dashed, color="#b58900", arrowhead=vee',
    APPLIES: 'style=dotted, color="#2f8f4e", arrowhead=odot',
}


def to_dot(graphs: Graphs) -> str:
    """Graphviz DOT: clusters per layer, left to right; several clusters' graphs each in
    a box of its own (``cluster <name>``)."""
    lines = [
        "digraph flux {",
        '  graph [rankdir=LR, fontname="Helvetica", fontsize=12, '
        'nodesep=0.3, ranksep=0.7, label="Flux dependencies: solid = dependsOn, '
        'dashed = source, dotted = applies", labelloc=b];',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    edges: list[str] = []
    for graph, prefix, ids, several in _boxes(graphs):
        indent = "  "
        if several:
            lines.append(f"  subgraph cluster_{prefix}cluster {{")
            lines.append(f'    label={_dot_quote(graph.title)}; labelloc=t; labeljust=l; '
                         'fontsize=14; style="rounded"; color="#555555";')
            indent = "    "
        for section_id, title, members in _sections(graph):
            lines.append(f"{indent}subgraph cluster_{prefix}{section_id} {{")
            lines.append(f'{indent}  label={_dot_quote(title)}; labelloc=t; labeljust=l; '
                         'style="rounded,dashed"; color="#999999";')
            for node in members:
                attrs = _DOT_SHAPES[node.role]
                if node.missing:
                    attrs += ', color="#dd0000", fontcolor="#dd0000", style="dashed"'
                label = f"{node.kind}\n{node.name}\n{_subtitle(node)}"
                lines.append(f"{indent}  {ids[node.key]} [label={_dot_quote(label)}, {attrs}];")
            lines.append(f"{indent}}}")
        if several:
            lines.append("  }")
        edges.extend(f"  {ids[e.source]} -> {ids[e.target]} [{_DOT_EDGES[e.relation]}];"
                     for e in graph.edges)
    lines.extend(edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


class RenderError(ConfigError):
    """The SVG renderer (Graphviz) is not available or failed."""


def to_svg(graphs: Graphs) -> str:
    """SVG rendered by Graphviz (the ``graphviz`` Python package and the ``dot`` program)."""
    try:
        import graphviz
    except ImportError:
        raise RenderError("graphviz", None, "the graphviz Python package is not installed "
                                            "(pip install graphviz)") from None
    try:
        return graphviz.Source(to_dot(graphs)).pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise RenderError("dot", None, "the Graphviz `dot` program is not installed "
                                       "(Debian/Ubuntu: apt-get install graphviz)") from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip()
        raise RenderError("dot", None, f"failed: {detail or exc}") from None


def _json_doc(graph: FluxGraph) -> dict[str, Any]:
    def node(n: Node) -> dict[str, Any]:
        return {"kind": n.kind, "namespace": n.namespace, "name": n.name, "file": n.file,
                "path": n.path, "layer": graph.layers.get(n.key), "implicit": n.implicit,
                "missing": n.missing}

    def ref(key: NodeKey) -> dict[str, str]:
        return {"kind": key[0], "namespace": key[1], "name": key[2]}

    return {
        "nodes": [node(n) for n in graph.nodes.values()],
        "edges": [{"from": ref(e.source), "to": ref(e.target), "relation": e.relation}
                  for e in graph.edges],
        "layers": {str(k): v for k, v in graph.layer_names().items()},
        "problems": graph.problems,
    }


def to_json(graphs: Graphs) -> str:
    """One graph: ``{nodes, edges, layers, problems}``. Several clusters' graphs:
    ``{clusters: [{cluster, nodes, edges, layers, problems}, ...], problems}``, the
    problems of all of them (:func:`problems`) at the top."""
    chosen = _graphs(graphs)
    if len(chosen) == 1:
        doc = _json_doc(chosen[0])
    else:
        doc = {"clusters": [{"cluster": g.cluster, **_json_doc(g)} for g in chosen],
               "problems": problems(chosen)}
    return json.dumps(doc, indent=2) + "\n"


def problems(graphs: Graphs) -> list[str]:
    """The problems of the graphs; of several clusters' graphs each starting with the
    cluster's title (``cluster homelab-dev: ...``)."""
    chosen = _graphs(graphs)
    if len(chosen) == 1:
        return list(chosen[0].problems)
    return [f"{g.title}: {p}" for g in chosen for p in g.problems]


__all__ = [
    "APPLIES", "DEPENDS_ON", "SOURCE", "Edge", "FluxGraph", "Node", "RenderError",
    "build_graph", "build_graphs", "problems", "to_dot", "to_json", "to_mermaid", "to_svg",
]
