"""``graph`` of a tree of two clusters: one graph per cluster, never one node for two
clusters' same-named Kustomizations, in every output format and with ``--cluster``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from homelab_charts.errors import ConfigError
from homelab_charts.review.graph import (
    APPLIES,
    DEPENDS_ON,
    KUSTOMIZATION,
    build_graph,
    build_graphs,
    to_dot,
    to_json,
    to_mermaid,
    to_svg,
)
from homelab_charts.tree import Tree
from tests.two_clusters import ks, two_clusters

from .conftest import write_files


def dependencies(graph, name: str) -> list[str]:
    me = (KUSTOMIZATION, "flux-system", name)
    return sorted(e.source[2] for e in graph.edges if e.target == me and e.relation == DEPENDS_ON)


def test_each_cluster_is_its_own_graph() -> None:
    lab, prod, rest = build_graphs(two_clusters())
    assert (lab.cluster, prod.cluster, rest.cluster) == ("lab", "prod", "")
    # the bug: one node `apps` waiting for prod's databases and lab's cache
    assert dependencies(prod, "apps") == ["databases"]
    assert dependencies(lab, "apps") == ["cache"]
    assert lab.nodes[(KUSTOMIZATION, "flux-system", "databases")].path == \
        "infrastructure/databases-lab"
    assert (KUSTOMIZATION, "flux-system", "cache") not in prod.nodes
    # the Kustomization of the shared folder is in both, in each cluster's own layer
    extras = (KUSTOMIZATION, "flux-system", "extras")
    assert (prod.layers[extras], lab.layers[extras]) == (3, 1)
    # the HelmRelease lab's apps applies is lab's only
    assert [e.source[2] for e in lab.edges if e.relation == APPLIES] == ["apps"]
    assert not [e for e in prod.edges if e.relation == APPLIES]
    assert [n.name for n in rest.nodes.values() if n.kind == KUSTOMIZATION] == ["orphan"]
    assert all(g.problems == [] for g in (lab, prod, rest))
    with pytest.raises(ConfigError, match=r"2 clusters \(lab, prod\), each with its own"):
        build_graph(two_clusters())


def test_a_dependency_only_the_other_cluster_has_is_missing() -> None:
    files = two_clusters()
    files["clusters/lab/more.yaml"] = ks("reports", "apps/reports", ("shared", "cache"),
                                         cluster="lab")
    files["clusters/prod/more.yaml"] = ks("reports", "apps/reports", ("apps", "cache"),
                                          cluster="prod")
    lab, prod, _ = build_graphs(files)
    assert lab.problems == []
    assert prod.problems == [
        "clusters/prod/more.yaml: Kustomization reports: spec.dependsOn[1]: "
        "Kustomization flux-system/cache is not in the tree"]
    assert prod.nodes[(KUSTOMIZATION, "flux-system", "cache")].missing


def test_one_cluster_is_drawn_as_a_tree_of_one_cluster() -> None:
    (lab,) = build_graphs(two_clusters(), cluster="lab")
    alone = {rel: text for rel, text in two_clusters().items()
             if not rel.startswith(("clusters/prod/", "apps/orphan/"))}
    for render in (to_mermaid, to_dot, to_json):
        assert render(lab) == render(build_graph(alone))
    with pytest.raises(ConfigError, match=r"no such cluster folder in the tree "
                                          r"\(clusters: lab, prod\)"):
        build_graphs(two_clusters(), cluster="staging")


def test_mermaid_boxes_each_cluster_with_ids_of_its_own() -> None:
    graphs = build_graphs(two_clusters())
    text = to_mermaid(graphs)
    lines = text.splitlines()
    outer = [line for line in lines if re.match(r"^  subgraph ", line)]
    assert outer == ['  subgraph lab__cluster["cluster lab"]',
                     '  subgraph prod__cluster["cluster prod"]',
                     '  subgraph none__cluster["applied by no cluster"]']
    declared = [m.group(1) for m in re.finditer(r"^      (\w+)[\[(]", text, re.M)]
    assert len(declared) == len(set(declared)) == sum(len(g.nodes) for g in graphs)
    edges = re.findall(r"^  (\w+) (?:-->|-\.->|--o) (\w+)$", text, re.M)
    assert len(edges) == sum(len(g.edges) for g in graphs)
    for source, target in edges:  # no edge from one cluster into another
        assert source in declared and target in declared
        assert source.split("__")[0] == target.split("__")[0]
    assert ("prod__ks_flux_system_databases", "prod__ks_flux_system_apps") in edges
    assert ("lab__ks_flux_system_cache", "lab__ks_flux_system_apps") in edges
    assert ("lab__ks_flux_system_databases", "lab__ks_flux_system_apps") not in edges
    prod = text.split('subgraph prod__cluster["cluster prod"]')[1].split("\n  end")[0]
    assert 'subgraph prod__layer3["layer 3 · apps"]' in prod


def test_dot_and_svg_box_each_cluster() -> None:
    graphs = build_graphs(two_clusters())
    dot = to_dot(graphs)
    assert "  subgraph cluster_lab__cluster {" in dot
    assert '    label="cluster prod"; labelloc=t' in dot
    assert "    subgraph cluster_prod__layer0 {" in dot
    assert "  lab__ks_flux_system_cache -> lab__ks_flux_system_apps [" in dot
    assert "prod__ks_flux_system_cache" not in dot
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not installed (apt-get install graphviz)")
    svg = to_svg(graphs)
    assert svg.count('class="cluster"') >= 3 + sum(len(g.layer_names()) + 1 for g in graphs)
    assert "cluster lab" in svg and "cluster prod" in svg


def test_json_lists_each_cluster() -> None:
    doc = json.loads(to_json(build_graphs(two_clusters())))
    assert [c["cluster"] for c in doc["clusters"]] == ["lab", "prod", ""]
    lab = doc["clusters"][0]
    apps = {"kind": KUSTOMIZATION, "namespace": "flux-system", "name": "apps"}
    assert [e["from"]["name"] for e in lab["edges"]
            if e["to"] == apps and e["relation"] == DEPENDS_ON] == ["cache"]
    assert set(lab) == {"cluster", "nodes", "edges", "layers", "problems"}
    assert doc["problems"] == []


def test_graph_cli_per_cluster(tmp_path: Path, run_cli) -> None:
    write_files(tmp_path, two_clusters())
    code, out, err = run_cli("graph", "--root", str(tmp_path))
    assert (code, err) == (0, "")
    assert out == to_mermaid(build_graphs(Tree.from_disk(tmp_path)))
    code, out, _ = run_cli("graph", "--root", str(tmp_path), "--cluster", "lab",
                           "--output", "json")
    assert code == 0 and "clusters" not in json.loads(out)
    code, out, err = run_cli("graph", "--root", str(tmp_path), "--cluster", "staging")
    assert code == 2 and out == ""
    assert "clusters/staging: no such cluster folder in the tree (clusters: lab, prod)" in err
    write_files(tmp_path, {"clusters/lab/more.yaml": ks("reports", "apps/x", ("databases-x",),
                                                        cluster="lab")})
    code, out, err = run_cli("graph", "--root", str(tmp_path), "--output", "json")
    assert code == 1
    problem = ("cluster lab: clusters/lab/more.yaml: Kustomization reports: "
               "spec.dependsOn[0]: Kustomization flux-system/databases-x is not in the tree")
    assert f"warning: {problem}" in err
    assert json.loads(out)["problems"] == [problem]
