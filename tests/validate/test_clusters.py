"""validate's Flux graph checks and CRD-001 on a tree of two clusters: each cluster's
Kustomizations are a graph of their own (``flux-system/apps`` of ``prod`` is not
``flux-system/apps`` of ``lab``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from homelab_charts.validate import Options, Report, validate
from tests.two_clusters import ks, two_clusters

from .test_crds import REPOSITORY, SEALED, helm_release, kustomization


def write_tree(root: Path, files: dict[str, str]) -> Path:
    (root / ".git").mkdir()
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for cluster in ("prod", "lab"):
        (root / "clusters" / cluster / "flux-system").mkdir(parents=True, exist_ok=True)
    for k in yaml.safe_load_all("\n---\n".join(files.values())):
        if k and k["kind"] == "Kustomization":
            (root / k["spec"]["path"]).mkdir(parents=True, exist_ok=True)
    return root


def flux_problems(root: Path) -> list[str]:
    report: Report = validate(Options(root=root, schema_locations=["default"],
                                      ignore_missing_schemas=True, kustomize=False,
                                      policy=False))
    return sorted(f"{r.filename} {r.name}: {p.text()}" for r in report.results
                  for p in r.problems if p.check == "flux")


def test_two_clusters_with_same_named_kustomizations_are_valid(tmp_path: Path) -> None:
    assert flux_problems(write_tree(tmp_path, two_clusters())) == []


def test_a_cycle_in_one_cluster_is_found_though_the_other_has_the_same_names(
        tmp_path: Path) -> None:
    files = two_clusters()
    # lab: cache waits for apps, which waits for cache; prod's apps and databases are fine
    files["clusters/lab/infrastructure.yaml"] = files["clusters/lab/infrastructure.yaml"] \
        .replace(ks("cache", "infrastructure/cache", cluster="lab"),
                 ks("cache", "infrastructure/cache", ("apps",), cluster="lab"))
    cycle = ("at '/spec/dependsOn': dependency cycle: Kustomization flux-system/apps -> "
             "flux-system/cache -> flux-system/apps")
    assert flux_problems(write_tree(tmp_path, files)) == [
        f"clusters/lab/infrastructure.yaml apps: {cycle}",
        f"clusters/lab/infrastructure.yaml cache: {cycle}"]


def test_a_dependency_only_the_other_cluster_has_dangles(tmp_path: Path) -> None:
    files = two_clusters()
    files["clusters/prod/more.yaml"] = ks("reports", "apps/reports", ("cache",),
                                          cluster="prod")
    # the shared folder is applied by both: its Kustomization must resolve in each
    files["apps/shared/extras.yaml"] = ks("extras", "apps/extras", ("shared", "cache"))
    assert flux_problems(write_tree(tmp_path, files)) == [
        "apps/shared/extras.yaml extras: at '/spec/dependsOn/1': Kustomization "
        "flux-system/cache not found in the tree (cluster prod)",
        "clusters/prod/more.yaml reports: at '/spec/dependsOn/0': Kustomization "
        "flux-system/cache not found in the tree (cluster prod)"]


def dump(*docs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def test_crd_001_per_cluster(tmp_path: Path) -> None:
    """prod's controllers install the SealedSecret CRD; lab's controllers do not, so lab's
    SealedSecret has no CRD (it did not count as prod's before)."""
    def cluster(name: str, folder: str) -> str:
        return dump(kustomization("controllers", folder),
                    kustomization("apps", f"apps/{name}", ("controllers",)))

    files = {
        "clusters/prod/infrastructure.yaml": cluster("prod", "infrastructure/controllers"),
        "clusters/lab/infrastructure.yaml": cluster("lab", "infrastructure/controllers-lab"),
        "infrastructure/controllers/sealed-secrets.yaml": dump(
            REPOSITORY, helm_release("sealed-secrets")),
        "infrastructure/controllers-lab/empty.yaml": dump(
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "x", "namespace": "flux-system"}}),
        "apps/prod/creds.yaml": dump(SEALED),
        "apps/lab/creds.yaml": dump(SEALED),
    }
    root = write_tree(tmp_path, files)
    assert [p for p in flux_problems(root) if "CRD-001" in p] == [
        "apps/lab/creds.yaml creds: CRD-001: at '/kind': SealedSecret demo/creds in "
        "Kustomization flux-system/apps: no Kustomization of the tree installs the CRD of "
        "bitnami.com/SealedSecret"]
    # and the other way round: lab installing it does not help prod
    (root / "infrastructure/controllers/sealed-secrets.yaml").rename(
        root / "infrastructure/controllers-lab/sealed-secrets.yaml")
    assert [p.split(":")[0] for p in flux_problems(root) if "CRD-001" in p] == [
        "apps/prod/creds.yaml creds"]
