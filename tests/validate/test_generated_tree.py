"""The committed generated tree passes validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_charts.validate import Options, Status, validate
from homelab_charts.validate.policy import check

REPO = Path(__file__).resolve().parents[2]
TREE_MARKER = REPO / "clusters" / "homelab" / "infrastructure.yaml"

pytestmark = pytest.mark.skipif(not TREE_MARKER.is_file(),
                                reason="the generated tree is not committed yet")

#: API groups whose schemas are the packaged CRD ones, not from kubernetes-validate.
CRD_GROUPS = ("fluxcd.io", "bitnami.com", "monitoring.coreos.com", "opentelemetry.io",
              "cert-manager.io")


def test_core_kinds_schemas_flux_graph_and_policy() -> None:
    """Everything but the CRD schemas: those are skipped (ignore missing) here."""
    report = validate(Options(root=REPO, schema_locations=["default"],
                              ignore_missing_schemas=True, kustomize=False))
    bad = [(r.where, r.label, r.message()) for r in report.results
           if r.status in (Status.INVALID, Status.ERROR)]
    assert bad == []
    core = [r for r in report.results if not any(g in r.api_version for g in CRD_GROUPS)]
    assert core and all(r.status is Status.VALID for r in core)


def test_custom_resources_against_packaged_crd_schemas() -> None:
    report = validate(Options(root=REPO, kustomize=False))
    bad = [(r.where, r.label, r.message()) for r in report.results
           if r.status is not Status.VALID]
    assert bad == []
    assert any(r.kind == "Kustomization" for r in report.results)


def test_kustomize_builds_of_the_tree() -> None:
    import shutil

    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    report = validate(Options(root=REPO, schema_locations=["default"],
                              ignore_missing_schemas=True, flux=False, policy=False))
    built = [r for r in report.results if r.filename.endswith("(kustomize build)")]
    assert built
    assert report.ok, [(r.where, r.message()) for r in report.results if r.status.value in
                       ("invalid", "error")]


def test_policy_api_on_the_tree_objects() -> None:
    report = validate(Options(root=REPO, schema_locations=["default"],
                              ignore_missing_schemas=True, kustomize=False, flux=False,
                              policy=False))
    objects = [r.obj for r in report.results
               if r.obj is not None and "/flux-system/" not in r.filename]
    assert check(objects) == []
