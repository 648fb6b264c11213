"""The Flux dependency graph: nodes, edges, layers and the Mermaid/DOT/SVG renderings."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from homelab_charts.review.graph import (
    APPLIES,
    DEPENDS_ON,
    HELM_RELEASE,
    KUSTOMIZATION,
    SOURCE,
    FluxGraph,
    RenderError,
    build_graph,
    to_dot,
    to_json,
    to_mermaid,
    to_svg,
)
from homelab_charts.tree import git_tree, read_disk_tree

from .conftest import sample_tree

REPO_ROOT = Path(__file__).resolve().parents[2]

LAYERED = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: controllers, namespace: flux-system}
spec: {path: ./infrastructure/controllers, sourceRef: {kind: GitRepository, name: flux-system}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: configs, namespace: flux-system}
spec:
  path: ./infrastructure/configs
  sourceRef: {kind: GitRepository, name: flux-system}
  dependsOn: [{name: controllers}]
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: databases, namespace: flux-system}
spec: {path: ./infrastructure/databases, sourceRef: {kind: GitRepository, name: flux-system}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: shop, namespace: flux-system}
spec:
  path: ./apps/shop
  sourceRef: {kind: GitRepository, name: flux-system}
  dependsOn: [{name: configs}, {name: databases}]
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: charts-from-oci, namespace: flux-system}
spec:
  path: ./
  sourceRef: {kind: OCIRepository, name: manifests}
"""

CONTROLLERS = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: cert-manager, namespace: cert-manager}
spec: {url: oci://example/charts/cert-manager}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: cert-manager, namespace: cert-manager}
spec:
  chartRef: {kind: OCIRepository, name: cert-manager}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: bitnami, namespace: flux-system}
spec: {url: https://charts.example}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: issuer, namespace: cert-manager}
spec:
  chart: {spec: {chart: issuer, sourceRef: {kind: HelmRepository, name: bitnami,
                                             namespace: flux-system}}}
  dependsOn: [{name: cert-manager}]
"""

OCI_SOURCE = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: manifests, namespace: flux-system}
spec: {url: oci://example/manifests}
"""


def layered_tree() -> dict[str, str]:
    return {
        "clusters/prod/kustomizations.yaml": LAYERED,
        "clusters/prod/oci.yaml": OCI_SOURCE,
        "infrastructure/controllers/cert-manager.yaml": CONTROLLERS,
    }


def check_consistent(graph: FluxGraph) -> None:
    """No edge to a missing node; layers follow dependsOn exactly."""
    for edge in graph.edges:
        assert edge.source in graph.nodes and edge.target in graph.nodes, edge
    kustomizations = [k for k, n in graph.nodes.items() if n.kind == KUSTOMIZATION]
    for key in kustomizations:
        deps = [e.source for e in graph.edges if e.relation == DEPENDS_ON and e.target == key]
        expected = 1 + max(graph.layers[d] for d in deps) if deps else 0
        assert graph.layers[key] == expected, key
    for edge in graph.edges:
        if edge.relation == DEPENDS_ON:
            assert graph.layers[edge.target] > graph.layers[edge.source] or \
                graph.nodes[edge.target].kind == HELM_RELEASE
        if edge.relation == APPLIES:
            assert graph.layers[edge.target] >= graph.layers[edge.source]


def committed_tree() -> dict[str, str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    probe = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                           text=True, check=False)
    if probe.returncode != 0:
        return read_disk_tree(REPO_ROOT)
    return git_tree(REPO_ROOT, probe.stdout.strip())


def test_the_real_tree_graph_is_complete_and_layered() -> None:
    graph = build_graph(committed_tree())
    assert graph.problems == []
    assert not any(n.missing for n in graph.nodes.values())
    check_consistent(graph)
    kustomizations = {k[2] for k, n in graph.nodes.items() if n.kind == KUSTOMIZATION}
    assert {"networking", "databases"} <= kustomizations
    # every Kustomization reads the bootstrap repository
    for name in kustomizations:
        assert (("GitRepository", "flux-system", "flux-system"),
                (KUSTOMIZATION, "flux-system", name), SOURCE) in \
            {(e.source, e.target, e.relation) for e in graph.edges}


def test_layers_follow_the_longest_dependency_chain() -> None:
    graph = build_graph(layered_tree())
    assert graph.problems == []
    check_consistent(graph)
    layer = {k[2]: v for k, v in graph.layers.items() if k[0] == KUSTOMIZATION}
    assert layer == {"controllers": 0, "configs": 1, "databases": 0, "shop": 2,
                     "charts-from-oci": 0}
    # HelmReleases sit in the layer of the Kustomization that applies them
    assert graph.layers[(HELM_RELEASE, "cert-manager", "cert-manager")] == 0
    assert graph.layer_names() == {0: "layer 0 · infrastructure", 1: "layer 1 · infrastructure",
                                   2: "layer 2 · apps"}


def test_edges_for_depends_on_sources_and_applies() -> None:
    graph = build_graph(layered_tree())
    edges = {(e.source[2], e.target[2], e.relation) for e in graph.edges}
    assert ("controllers", "configs", DEPENDS_ON) in edges
    assert ("configs", "shop", DEPENDS_ON) in edges and ("databases", "shop", DEPENDS_ON) in edges
    assert ("cert-manager", "issuer", DEPENDS_ON) in edges
    assert ("flux-system", "shop", SOURCE) in edges
    assert ("manifests", "charts-from-oci", SOURCE) in edges
    assert ("bitnami", "issuer", SOURCE) in edges
    keys = {(e.source, e.target) for e in graph.edges}
    assert (("OCIRepository", "cert-manager", "cert-manager"),
            (HELM_RELEASE, "cert-manager", "cert-manager")) in keys
    assert ("controllers", "cert-manager", APPLIES) in edges
    assert ("controllers", "issuer", APPLIES) in edges
    # the OCI-sourced Kustomization's path is in another artifact: it applies nothing here
    assert not any(s == "charts-from-oci" and r == APPLIES for s, _, r in edges)
    assert graph.nodes[("GitRepository", "flux-system", "flux-system")].implicit


def test_missing_references_become_marked_nodes() -> None:
    tree = layered_tree()
    tree["apps/shop/app.yaml"] = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: shop, namespace: shop}
spec:
  chart: {spec: {chart: shop, sourceRef: {kind: HelmRepository, name: nowhere}}}
  dependsOn: [{name: ghost, namespace: other}]
"""
    tree["clusters/prod/more.yaml"] = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: late, namespace: flux-system}
spec:
  path: ./apps/late
  sourceRef: {kind: GitRepository, name: flux-system}
  dependsOn: [{name: typo}]
"""
    graph = build_graph(tree)
    check_consistent(graph)
    missing = {k for k, n in graph.nodes.items() if n.missing}
    assert missing == {(KUSTOMIZATION, "flux-system", "typo"),
                       ("HelmRepository", "shop", "nowhere"),
                       (HELM_RELEASE, "other", "ghost")}
    assert graph.layers[(KUSTOMIZATION, "flux-system", "late")] == 1
    assert sorted(graph.problems) == [
        "apps/shop/app.yaml: HelmRelease shop: spec.chart.spec.sourceRef: "
        "HelmRepository shop/nowhere is not in the tree",
        "apps/shop/app.yaml: HelmRelease shop: spec.dependsOn[0]: "
        "HelmRelease other/ghost is not in the tree",
        "clusters/prod/more.yaml: Kustomization late: spec.dependsOn[0]: "
        "Kustomization flux-system/typo is not in the tree",
    ]
    assert "class " in to_mermaid(graph) and 'color="#dd0000"' in to_dot(graph)


def test_a_dependency_cycle_is_reported_not_fatal() -> None:
    tree = layered_tree()
    tree["clusters/prod/kustomizations.yaml"] = LAYERED.replace(
        "metadata: {name: controllers, namespace: flux-system}\n"
        "spec: {path: ./infrastructure/controllers,",
        "metadata: {name: controllers, namespace: flux-system}\n"
        "spec: {dependsOn: [{name: shop}], path: ./infrastructure/controllers,")
    graph = build_graph(tree)
    assert len(graph.problems) == 1
    assert graph.problems[0].startswith("dependsOn cycle (Flux waits forever): ")
    for name in ("controllers", "configs", "shop"):
        assert f"Kustomization flux-system/{name}" in graph.problems[0]


def test_mermaid_declares_every_node_once_in_its_layer() -> None:
    graph = build_graph(layered_tree())
    text = to_mermaid(graph)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    subgraphs = [line.strip() for line in lines if line.strip().startswith("subgraph ")]
    assert subgraphs == ['subgraph sources["sources"]',
                         'subgraph layer0["layer 0 · infrastructure"]',
                         'subgraph layer1["layer 1 · infrastructure"]',
                         'subgraph layer2["layer 2 · apps"]']
    declared = [m.group(1) for m in re.finditer(r"^    (\w+)[\[(]", text, re.M)]
    assert len(declared) == len(set(declared)) == len(graph.nodes)
    for m in re.finditer(r"^  (\w+) (-->|-\.->|--o) (\w+)$", text, re.M):
        assert m.group(1) in declared and m.group(3) in declared
    assert len(re.findall(r"^  \w+ (?:-->|-\.->|--o) \w+$", text, re.M)) == len(graph.edges)
    # the shop Kustomization is inside the layer 2 subgraph
    layer2 = text.split('subgraph layer2["layer 2 · apps"]')[1].split("  end")[0]
    assert "ks_flux_system_shop[" in layer2
    assert "classDef" not in text  # nothing missing


def test_dot_is_valid_graphviz_and_svg_renders() -> None:
    graph = build_graph(layered_tree())
    dot = to_dot(graph)
    assert dot.startswith("digraph flux {") and "rankdir=LR" in dot
    assert "subgraph cluster_layer2 {" in dot
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not installed (apt-get install graphviz)")
    svg = to_svg(graph)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    texts = {html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)}
    assert {"shop", "cert-manager", "layer 2 · apps", "./apps/shop"} <= texts


def test_svg_without_graphviz_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RenderError, match="Graphviz `dot` program is not installed"):
        to_svg(build_graph(sample_tree()))


def test_json_lists_nodes_edges_and_layers() -> None:
    doc = json.loads(to_json(build_graph(layered_tree())))
    shop = next(n for n in doc["nodes"] if n["name"] == "shop")
    assert (shop["kind"], shop["layer"], shop["path"]) == (KUSTOMIZATION, 2, "apps/shop")
    assert {"from": {"kind": KUSTOMIZATION, "namespace": "flux-system", "name": "configs"},
            "to": {"kind": KUSTOMIZATION, "namespace": "flux-system", "name": "shop"},
            "relation": DEPENDS_ON} in doc["edges"]
    assert doc["problems"] == []


def test_graph_cli(tmp_path: Path, run_cli) -> None:
    from .conftest import write_files

    write_files(tmp_path, layered_tree())
    code, out, err = run_cli("graph", "--root", str(tmp_path))
    assert code == 0 and err == ""
    assert out.startswith("flowchart LR\n")
    code, out, _ = run_cli("graph", "--root", str(tmp_path), "--output", "dot",
                           "-o", str(tmp_path / "docs" / "g.dot"))
    assert code == 0 and out == ""
    assert (tmp_path / "docs" / "g.dot").read_text().startswith("digraph flux {")
    assert not list((tmp_path / "docs").glob(".*.tmp"))
    write_files(tmp_path, {"apps/x/hr.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2\n"
                                             "kind: HelmRelease\nmetadata: {name: x, "
                                             "namespace: x}\nspec: {chartRef: {kind: "
                                             "OCIRepository, name: gone}}\n"})
    code, out, err = run_cli("graph", "--root", str(tmp_path), "--output", "json")
    assert code == 1
    assert "warning: apps/x/hr.yaml: HelmRelease x: spec.chartRef: OCIRepository x/gone " \
           "is not in the tree" in err
    assert json.loads(out)["problems"]


def test_graph_cli_bad_input_is_exit_2(tmp_path: Path, run_cli) -> None:
    from .conftest import write_files

    write_files(tmp_path, {"clusters/c/k.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
                                                "kind: Kustomization\nmetadata: {name: k}\n"
                                                "spec: {path: ./apps}\n"})
    code, _, err = run_cli("graph", "--root", str(tmp_path))
    assert code == 2
    assert "clusters/c/k.yaml: Kustomization k: spec.sourceRef: missing" in err


def test_graph_cli_svg_without_dot_is_exit_2(tmp_path: Path, run_cli,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from .conftest import write_files

    write_files(tmp_path, layered_tree())
    monkeypatch.setenv("PATH", "/nonexistent")
    code, out, err = run_cli("graph", "--root", str(tmp_path), "--output", "svg",
                             "-o", str(tmp_path / "g.svg"))
    assert code == 2 and out == ""
    assert "apt-get install graphviz" in err
    assert not (tmp_path / "g.svg").exists()
