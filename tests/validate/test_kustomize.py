"""kustomize builds of the folders Flux Kustomizations point at."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from homelab_charts.validate import Status

from .helpers import run, write

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None,
                                reason="kubectl is not installed: kustomize builds untested")

FLUX_KS = """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: demo, namespace: flux-system}
spec:
  interval: 1h
  path: ./apps/demo
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
"""


def setup(tmp_path: Path, resources: str, configmap: str) -> None:
    write(tmp_path / "clusters" / "homelab" / "apps.yaml", FLUX_KS)
    write(tmp_path / "apps" / "demo" / "kustomization.yaml", f"""
    apiVersion: kustomize.config.k8s.io/v1beta1
    kind: Kustomization
    namespace: demo
    resources: {resources}
    """)
    write(tmp_path / "apps" / "demo" / "cm.yaml", configmap)


GOOD_CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"


def test_build_output_is_validated(tmp_path: Path) -> None:
    setup(tmp_path, "[cm.yaml]", GOOD_CM)
    report = run([tmp_path / "clusters", tmp_path / "apps"], tmp_path, kustomize=True,
                 ignore_missing_schemas=True)
    built = [r for r in report.results if r.filename == "apps/demo (kustomize build)"]
    assert [(r.kind, r.namespace, r.status) for r in built] == [("ConfigMap", "demo",
                                                                 Status.VALID)]
    assert "apps/demo (kustomize build)" in report.files
    assert report.ok


def test_invalid_built_resource_is_reported(tmp_path: Path) -> None:
    setup(tmp_path, "[cm.yaml]", GOOD_CM.replace("{a: b}", "{a: 1}"))
    report = run([tmp_path / "clusters"], tmp_path, kustomize=True, ignore_missing_schemas=True)
    [built] = [r for r in report.results if r.filename == "apps/demo (kustomize build)"]
    assert built.status is Status.INVALID and "at '/data/a'" in built.message()


def test_failing_build_is_an_error(tmp_path: Path) -> None:
    setup(tmp_path, "[cm.yaml, missing.yaml]", GOOD_CM)
    report = run([tmp_path / "clusters"], tmp_path, kustomize=True, ignore_missing_schemas=True)
    [failed] = [r for r in report.results if r.filename == "apps/demo/kustomization.yaml"]
    assert failed.status is Status.ERROR
    assert "kustomize build failed" in failed.message()


def test_without_kubectl_the_builds_are_noted(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    setup(tmp_path, "[cm.yaml]", GOOD_CM)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    report = run([tmp_path / "clusters"], tmp_path, kustomize=True, ignore_missing_schemas=True)
    assert report.ok
    assert any("kubectl not found" in n for n in report.notes)
