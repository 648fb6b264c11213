"""graph, plan and validate on a synthesized tree of two clusters (layout b: ``homelab``
runs prod, ``homelab-dev`` runs dev). Both clusters have Kustomizations ``controllers``,
``configs``, ``namespaces``, ``secrets``, ``networking``, ``observability`` and
``telemetry`` in ``flux-system``, each applying a folder of its own: every command reads
each cluster's graph on its own."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from homelab_charts.cli import main
from homelab_charts.synth import synth_tree
from homelab_charts.validate import Options, validate
from tests.environments.layouts import DEV_CLUSTER, dev_cluster

SHARED = ["configs", "controllers", "namespaces", "networking", "observability", "secrets",
          "telemetry"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("two-clusters")
    synth_tree(root, data_file=dev_cluster(root))
    return root


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def kustomizations(root: Path, cluster: str) -> dict[str, dict]:
    out = {}
    for name in ("infrastructure.yaml", "apps.yaml"):
        for d in yaml.safe_load_all((root / "clusters" / cluster / name).read_text()):
            if d:
                out[d["metadata"]["name"]] = d
    return out


def test_graph_json_has_each_clusters_own_kustomizations(
        root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "graph", "--root", str(root), "--output", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert [c["cluster"] for c in doc["clusters"]] == ["homelab", DEV_CLUSTER]
    for graph in doc["clusters"]:
        defined = kustomizations(root, graph["cluster"])
        nodes = {n["name"]: n for n in graph["nodes"] if n["kind"] == "Kustomization"}
        assert set(nodes) == set(defined)
        assert set(SHARED) <= set(nodes)
        for name, k in defined.items():
            # each node is its cluster's Kustomization: its path, its dependsOn
            assert nodes[name]["path"] == k["spec"]["path"].removeprefix("./")
            waits = sorted(e["from"]["name"] for e in graph["edges"]
                           if e["relation"] == "dependsOn" and e["to"]["name"] == name)
            assert waits == sorted(d["name"] for d in k["spec"].get("dependsOn", [])), name
    assert doc["problems"] == []


def test_graph_draws_each_cluster_in_its_own_box(root: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "graph", "--root", str(root))
    assert code == 0
    assert re.findall(r"^  subgraph (\S+)\[", out, re.M) == ["homelab__cluster",
                                                             "homelab_dev__cluster"]
    assert ('homelab_dev__ks_flux_system_networking["Kustomization<br/><b>networking</b>'
            f'<br/><small>./infrastructure/networking-{DEV_CLUSTER}</small>"]') in out
    code, dot, _ = cli(capsys, "graph", "--root", str(root), "--output", "dot")
    assert code == 0 and f'label="cluster {DEV_CLUSTER}"' in dot
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not installed (apt-get install graphviz)")
    code, svg, _ = cli(capsys, "graph", "--root", str(root), "--output", "svg")
    texts = {html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)}
    assert code == 0 and {"cluster homelab", f"cluster {DEV_CLUSTER}"} <= texts


def test_graph_of_one_cluster(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "graph", "--root", str(root), "--cluster", DEV_CLUSTER,
                       "--output", "json")
    assert code == 0
    doc = json.loads(out)
    paths = {n["name"]: n["path"] for n in doc["nodes"] if n["kind"] == "Kustomization"}
    assert paths == {name: k["spec"]["path"].removeprefix("./")
                     for name, k in kustomizations(root, DEV_CLUSTER).items()}
    code, out, _ = cli(capsys, "graph", "--root", str(root), "--cluster", "homelab")
    assert code == 0 and out.startswith("flowchart LR\n  subgraph sources[")
    assert "-dev" not in out


def test_plan_of_each_cluster(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plans = {}
    for cluster in ("homelab", DEV_CLUSTER):
        code, out, _ = cli(capsys, "plan", "--root", str(root), "--cluster", cluster)
        assert code == 0
        plans[cluster] = [line.split() for line in out.splitlines()[1:]]
        assert {step[2] for step in plans[cluster]} == set(kustomizations(root, cluster)) | {
            "cluster-identity"}
    dev = {step[2]: step[3] for step in plans[DEV_CLUSTER]}
    assert dev["networking"] == f"infrastructure/networking-{DEV_CLUSTER}"
    homelab = {step[2]: step[3] for step in plans["homelab"]}
    assert homelab["networking"] == "infrastructure/networking"


def test_validate_checks_each_cluster(root: Path) -> None:
    def flux_problems() -> list[str]:
        report = validate(Options(root=root, kustomize=False, policy=False))
        return [f"{r.filename}: {p.text()}" for r in report.results for p in r.problems
                if p.check == "flux"]

    assert flux_problems() == []
    # dev's apps waiting for prod's databases: not in dev's graph, though prod has it
    apps = root / "clusters" / DEV_CLUSTER / "apps.yaml"
    before = apps.read_text()
    try:
        apps.write_text(before.replace("name: databases-dev", "name: databases", 1))
        [problem] = flux_problems()
        assert problem.startswith(f"clusters/{DEV_CLUSTER}/apps.yaml: at '/spec/dependsOn/")
        assert problem.endswith(f"Kustomization flux-system/databases not found in the tree "
                                f"(cluster {DEV_CLUSTER})")
    finally:
        apps.write_text(before)
