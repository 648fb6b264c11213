"""homelab-charts plan: the manual apply order, from the Flux Kustomizations of the tree."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from homelab_charts.cli import plan
from homelab_charts.errors import ConfigError
from homelab_charts.operations import manual
from tests.scripts.gitops_sandbox import REPO, _kustomization, write_tree


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write_tree(tmp_path)
    return tmp_path


def lines(root: Path, *args: str) -> list[str]:
    parser = plan.argparse.ArgumentParser()
    plan.add_arguments(parser)
    out = io.StringIO()
    assert plan.handle(parser.parse_args(["--root", str(root), *args]), out) == 0
    return out.getvalue().splitlines()


def test_order_follows_depends_on_then_file_order(tree: Path) -> None:
    assert lines(tree) == [
        "# layer method name path target-namespace",
        "secrets file namespaces clusters/homelab/namespaces.yaml -",
        "secrets file cluster-identity clusters/homelab/cluster-identity.yaml -",
        "secrets kustomize secrets clusters/homelab/secrets -",
        "infrastructure kustomize networking infrastructure/networking -",
        "infrastructure kustomize observability infrastructure/observability -",
        "infrastructure kustomize databases infrastructure/databases -",
        "apps kustomize family-assistant apps/family-assistant -",
        "apps kustomize n8n apps/n8n -",
    ]


def test_cluster_identity(tree: Path) -> None:
    from tests.scripts.gitops_sandbox import CLUSTER_UID, identity

    assert lines(tree, "--cluster-identity") == [f"homelab {CLUSTER_UID}"]
    (tree / "clusters/homelab/cluster-identity.yaml").write_text(identity(uid=None))
    assert lines(tree, "--cluster-identity") == ["homelab -"]
    (tree / "clusters/homelab/cluster-identity.yaml").unlink()
    assert lines(tree, "--cluster-identity") == ["- -"]


def test_only_and_json(tree: Path) -> None:
    assert lines(tree, "--only", "apps")[1:] == [
        "apps kustomize family-assistant apps/family-assistant -",
        "apps kustomize n8n apps/n8n -",
    ]
    data = json.loads("\n".join(lines(tree, "--only", "secrets", "--format", "json")))
    assert data[0] == {"layer": "secrets", "method": "file", "name": "namespaces",
                       "path": "clusters/homelab/namespaces.yaml", "target_namespace": None}


def test_dependencies_of_apps_on_apps_are_ordered(tmp_path: Path) -> None:
    write_tree(tmp_path, apps=[
        _kustomization("family-assistant", "./apps/family-assistant", ["n8n"]),
        _kustomization("n8n", "./apps/n8n", ["databases"]),
    ])
    names = [s.name for s in manual.build_plan(tmp_path)]
    assert names[-2:] == ["n8n", "family-assistant"]


def test_suspended_kustomizations_are_kept_not_applied(tmp_path: Path) -> None:
    """Flux leaves a suspended Kustomization alone: its objects stay in the desired set
    (method ``suspended``: rendered, never applied, never pruned)."""
    write_tree(tmp_path, apps=[
        _kustomization("family-assistant", "./apps/family-assistant", [], suspend=True),
        _kustomization("n8n", "./apps/n8n", []),
    ])
    apps = [s for s in manual.build_plan(tmp_path) if s.layer == "apps"]
    assert [s.line() for s in apps] == [
        "apps suspended family-assistant apps/family-assistant -",
        "apps kustomize n8n apps/n8n -",
    ]
    assert [s.applied for s in apps] == [False, True]


def test_target_namespace(tmp_path: Path) -> None:
    write_tree(tmp_path, apps=[
        _kustomization("n8n", "./apps/n8n", [], targetNamespace="automation")])
    assert manual.build_plan(tmp_path)[-1].line() == "apps kustomize n8n apps/n8n automation"


@pytest.mark.parametrize(("apps", "message"), [
    ([_kustomization("n8n", "./apps/n8n", ["redis"])],
     "clusters/homelab/apps.yaml: Kustomization n8n: spec.dependsOn[0].name: "
     "no Kustomization 'redis' in namespace 'flux-system'"),
    ([_kustomization("n8n", "./apps/n8n", ["family-assistant"]),
      _kustomization("family-assistant", "./apps/family-assistant", ["n8n"])],
     "Kustomization n8n: spec.dependsOn: dependency cycle: n8n -> family-assistant -> n8n"),
    ([_kustomization("n8n", "./apps/missing", [])],
     "Kustomization n8n: spec.path: apps/missing/kustomization.yaml not found in the tree"),
    ([_kustomization("n8n", "../elsewhere", [])],
     "Kustomization n8n: spec.path: '../elsewhere' leaves the repository"),
    ([_kustomization("n8n", "./apps/n8n", [], postBuild={"substitute": {"A": "b"}})],
     "Kustomization n8n: spec.postBuild: only Flux applies this"),
    ([_kustomization("n8n", "./apps/n8n", [],
                     sourceRef={"kind": "OCIRepository", "name": "charts"})],
     "Kustomization n8n: spec.sourceRef: the manual path applies this repository only"),
    ([_kustomization("n8n", "./apps/n8n", []), _kustomization("n8n", "./apps/n8n", [])],
     "clusters/homelab/apps.yaml: Kustomization flux-system/n8n: defined twice"),
    ([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}],
     "clusters/homelab/apps.yaml: document 1: expected a Flux Kustomization"),
])
def test_invalid_trees_name_file_object_and_field(tmp_path: Path, apps: list,
                                                  message: str) -> None:
    write_tree(tmp_path, apps=apps)
    with pytest.raises(ConfigError) as info:
        manual.build_plan(tmp_path)
    assert message in str(info.value)


def test_infrastructure_cannot_depend_on_apps(tmp_path: Path) -> None:
    write_tree(tmp_path, infrastructure=[
        _kustomization("databases", "./infrastructure/databases", ["n8n"])],
        apps=[_kustomization("n8n", "./apps/n8n", [])])
    with pytest.raises(ConfigError, match="infrastructure cannot depend on apps Kustomization"):
        manual.build_plan(tmp_path)


def test_missing_cluster_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="clusters/homelab: not found"):
        manual.build_plan(tmp_path)
    write_tree(tmp_path)
    (tmp_path / "clusters/homelab/apps.yaml").write_text("a: [\n")
    with pytest.raises(ConfigError, match=r"clusters/homelab/apps.yaml:\d+: not valid YAML"):
        manual.build_plan(tmp_path)


def test_objects_of_rendered_yaml() -> None:
    text = yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n8n"}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "n8n", "namespace": "n8n"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "n8n"},
         "spec": {"selector": {"app": "n8n"}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
         "spec": {"type": "ExternalName", "externalName": "example.org"}},
        {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
             "metadata": {"name": "s", "namespace": "n8n"}}]},
    ])
    objects = [o.line() for o in manual.rendered_objects(text, target_namespace="auto")]
    assert objects == [
        "namespace/n8n - -",
        "deployment.apps/n8n auto -",
        "service/n8n auto -",
        "service/ext auto noendpoints",
        "sealedsecret.bitnami.com/s auto -",
    ]
    assert [o.namespace for o in manual.rendered_objects(text)] == [None, "n8n", None, None, "n8n"]


def test_objects_reject_incomplete_documents() -> None:
    with pytest.raises(ConfigError, match=r"^x\.yaml: document 1: apiVersion: missing$"):
        list(manual.rendered_objects("kind: Deployment\n", where="x.yaml"))
    with pytest.raises(ConfigError, match=r"^x\.yaml: document 2 \(Deployment\): metadata\.name"):
        list(manual.rendered_objects("kind: A\napiVersion: v1\nmetadata: {name: a}\n---\n"
                                     "kind: Deployment\napiVersion: apps/v1\n", where="x.yaml"))


def test_module_entry_point_reports_errors_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "homelab_charts.cli.plan", "--root",
                             str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.startswith("homelab-charts plan: error: clusters/homelab: not found")
    assert "Traceback" not in result.stderr
    write_tree(tmp_path)
    piped = subprocess.run(
        [sys.executable, "-m", "homelab_charts.cli.plan", "--objects", "-"],
        input=(tmp_path / "apps/n8n/n8n.yaml").read_text(), capture_output=True, text=True,
        cwd=REPO)
    assert piped.stdout.splitlines() == ["deployment.apps/n8n n8n -", "service/n8n n8n -"]


def test_registered_as_a_sub_command() -> None:
    parser = plan.argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    plan.register(sub)
    args = parser.parse_args(["plan", "--only", "apps", "--cluster", "homelab"])
    assert args.func is plan.handle and args.only == ["apps"]


def test_default_root_is_found_from_a_subfolder(tree: Path, monkeypatch) -> None:
    """Like synth, diff and graph: the nearest folder with cdk8s.yaml, from any subfolder."""
    (tree / "cdk8s.yaml").write_text("language: python\n", encoding="utf-8")
    sub = tree / "apps" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    parser = plan.argparse.ArgumentParser()
    plan.add_arguments(parser)
    out = io.StringIO()
    assert plan.handle(parser.parse_args([]), out) == 0
    assert out.getvalue().splitlines() == lines(tree)
    # What the scripts run: finding the root imports neither cdk8s nor the constructs.
    code = ("import sys; from homelab_charts.cli import plan; rc = plan.main([]); "
            "print(rc, 'cdk8s' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=sub, capture_output=True,
                          text=True, check=True, env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert proc.stdout.splitlines()[-1] == "0 False"
    assert proc.stdout.splitlines()[1:-1] == lines(tree)[1:]


def test_the_layered_tree_applies_namespaces_and_identity_as_a_kustomization(
        tmp_path: Path) -> None:
    """As synthesis writes it now: clusters/homelab/ holds the Kustomizations and the
    cluster identity (applied first, a file); the Namespaces are the `namespaces`
    Kustomization's folder, applied first of the layers (nothing depends on less)."""
    from tests.scripts.gitops_sandbox import CLUSTER_UID, identity

    write_tree(tmp_path, layered=True)
    assert lines(tmp_path) == [
        "# layer method name path target-namespace",
        "secrets file cluster-identity clusters/homelab/cluster-identity.yaml -",
        "infrastructure kustomize namespaces infrastructure/namespaces -",
        "infrastructure kustomize secrets infrastructure/secrets -",
        "infrastructure kustomize networking infrastructure/networking -",
        "infrastructure kustomize observability infrastructure/observability -",
        "infrastructure kustomize databases infrastructure/databases -",
        "apps kustomize family-assistant apps/family-assistant -",
        "apps kustomize n8n apps/n8n -",
    ]
    assert lines(tmp_path, "--cluster-identity") == [f"homelab {CLUSTER_UID}"]
    (tmp_path / "clusters/homelab/cluster-identity.yaml").write_text(identity(uid=None))
    assert lines(tmp_path, "--cluster-identity") == ["homelab -"]


def test_the_committed_tree_is_bound_through_its_identity_file() -> None:
    steps = manual.build_plan(REPO)
    # the identity first, then the CRDs before everything that uses them
    assert [s.name for s in steps[:2]] == ["cluster-identity", "controllers"]
    assert [s.name for s in steps if s.layer == "secrets"] == ["cluster-identity"]
    identity = manual.cluster_binding(REPO)
    assert identity is not None and identity.file == "clusters/homelab/cluster-identity.yaml"
    (namespaces,) = [s for s in steps if s.path == "infrastructure/namespaces"]
    assert namespaces.method == "kustomize"


def test_each_cluster_of_a_tree_of_two_has_its_own_plan(tree: Path) -> None:
    """A second cluster, ``lab``, with Kustomizations of the same names, unlabelled (a
    hand-written tree): its databases waits for nothing, and it has no n8n. Each plan is
    its own cluster's; neither is merged with the other (nor 'defined twice')."""
    lab = tree / "clusters/lab"
    lab.mkdir()
    for name in ("infrastructure.yaml", "apps.yaml"):
        docs = [d for d in yaml.safe_load_all((tree / "clusters/homelab" / name).read_text())
                if d and d["metadata"]["name"] != "n8n"]
        for d in docs:
            d["metadata"].pop("labels")
            if d["metadata"]["name"] == "databases":
                d["spec"].pop("dependsOn")
        (lab / name).write_text("---\n".join(yaml.safe_dump(d) for d in docs))
    assert lines(tree, "--cluster", "lab")[1:] == [
        "infrastructure kustomize databases infrastructure/databases -",
        "infrastructure kustomize networking infrastructure/networking -",
        "infrastructure kustomize observability infrastructure/observability -",
        "apps kustomize family-assistant apps/family-assistant -",
    ]
    assert lines(tree) == lines(tree, "--cluster", "homelab")
    assert lines(tree)[4:7] == [
        "infrastructure kustomize networking infrastructure/networking -",
        "infrastructure kustomize observability infrastructure/observability -",
        "infrastructure kustomize databases infrastructure/databases -"]
