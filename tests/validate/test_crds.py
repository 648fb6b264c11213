"""CRD-001: a custom resource's CRD is installed by a Kustomization its own depends on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from homelab_charts.validate import Options, validate

REPO = Path(__file__).resolve().parents[2]


def kustomization(name: str, path: str, depends_on: tuple[str, ...] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {"interval": "10m"}
    if depends_on:
        spec["dependsOn"] = [{"name": d} for d in depends_on]
    spec.update({"sourceRef": {"kind": "GitRepository", "name": "flux-system"},
                 "path": f"./{path}", "prune": True})
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system"}, "spec": spec}


def helm_release(chart: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": chart, "namespace": "flux-system"},
            "spec": {"interval": "30m", "chart": {"spec": {
                "chart": chart, "version": "1.0.0",
                "sourceRef": {"kind": "HelmRepository", "name": chart}}}, **spec}}


SEALED = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
          "metadata": {"name": "creds", "namespace": "demo"},
          "spec": {"encryptedData": {"k": "AgA="}, "template": {"metadata": {"name": "creds"}}}}
CERTIFICATE = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
               "metadata": {"name": "web", "namespace": "demo"},
               "spec": {"secretName": "web-tls", "dnsNames": ["web.lan"],
                        "issuerRef": {"name": "ca", "kind": "ClusterIssuer"}}}
REPOSITORY = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
              "metadata": {"name": "sealed-secrets", "namespace": "flux-system"},
              "spec": {"interval": "1h", "url": "https://example.org/charts"}}


def write(root: Path, files: dict[str, list[dict[str, Any]]]) -> Path:
    (root / "clusters/homelab/flux-system").mkdir(parents=True)
    (root / ".git").mkdir()
    for name, docs in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return root


def crd_problems(root: Path) -> list[str]:
    report = validate(Options(root=root, schema_locations=["default"],
                              ignore_missing_schemas=True, kustomize=False, policy=False))
    return [p.message for r in report.results for p in r.problems if p.rule == "CRD-001"]


def test_a_sealed_secret_in_the_bootstrap_path_names_object_and_missing_dependency(
        tmp_path: Path) -> None:
    root = write(tmp_path, {
        "clusters/homelab/infrastructure.yaml": [
            kustomization("controllers", "infrastructure/controllers")],
        "clusters/homelab/secrets.yaml": [SEALED],
        "infrastructure/controllers/sealed-secrets.yaml": [REPOSITORY,
                                                          helm_release("sealed-secrets")],
    })
    assert crd_problems(root) == [
        "SealedSecret demo/creds in Kustomization flux-system/flux-system: its CRD "
        "(bitnami.com) is installed by Kustomization flux-system/controllers, which "
        "flux-system does not depend on (add dependsOn controllers)"]


def test_direct_and_transitive_dependencies_count(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "clusters/homelab/infrastructure.yaml": [
            kustomization("controllers", "infrastructure/controllers"),
            kustomization("secrets", "infrastructure/secrets", ("controllers",)),
            kustomization("apps", "apps/demo", ("secrets",)),
        ],
        "infrastructure/controllers/sealed-secrets.yaml": [helm_release("sealed-secrets")],
        "infrastructure/secrets/demo.yaml": [SEALED],
        "apps/demo/creds.yaml": [{**SEALED, "metadata": {"name": "more", "namespace": "demo"}}],
    })
    assert crd_problems(root) == []


def test_a_chart_whose_crds_are_off_installs_nothing(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "clusters/homelab/infrastructure.yaml": [
            kustomization("controllers", "infrastructure/controllers"),
            kustomization("apps", "apps/demo", ("controllers",)),
        ],
        "infrastructure/controllers/charts.yaml": [
            helm_release("sealed-secrets", install={"crds": "Skip"}),
            helm_release("cert-manager", values={"crds": {"enabled": False}}),
        ],
        "apps/demo/things.yaml": [SEALED, CERTIFICATE],
    })
    problems = crd_problems(root)
    assert problems == [
        "SealedSecret demo/creds in Kustomization flux-system/apps: no Kustomization of the "
        "tree installs the CRD of bitnami.com/SealedSecret",
        "Certificate demo/web in Kustomization flux-system/apps: no Kustomization of the "
        "tree installs the CRD of cert-manager.io/Certificate"]


def test_a_helm_release_and_its_kinds_in_one_kustomization_fail(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "clusters/homelab/infrastructure.yaml": [kustomization("all", "infrastructure/all")],
        "infrastructure/all/things.yaml": [
            helm_release("cert-manager", values={"crds": {"enabled": True}}), CERTIFICATE],
    })
    [problem] = crd_problems(root)
    assert problem.startswith("Certificate demo/web in Kustomization flux-system/all: its CRD "
                              "(cert-manager.io) comes from HelmRelease cert-manager")


def test_a_crd_in_the_same_kustomization_counts(tmp_path: Path) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.org"},
           "spec": {"group": "example.org", "names": {"kind": "Widget", "plural": "widgets"},
                    "scope": "Namespaced", "versions": []}}
    widget = {"apiVersion": "example.org/v1", "kind": "Widget",
              "metadata": {"name": "w", "namespace": "demo"}, "spec": {}}
    root = write(tmp_path, {
        "clusters/homelab/infrastructure.yaml": [kustomization("all", "infrastructure/all")],
        "infrastructure/all/things.yaml": [crd, widget],
    })
    assert crd_problems(root) == []


@pytest.mark.skipif(not (REPO / "clusters/homelab/infrastructure.yaml").is_file(),
                    reason="the generated tree is not committed yet")
def test_the_committed_tree_installs_every_crd_before_its_objects() -> None:
    assert crd_problems(REPO) == []
