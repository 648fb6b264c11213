"""Flux graph checks: references, dependency cycles, Kustomization paths."""

from __future__ import annotations

from pathlib import Path

from homelab_charts.tree import DependencyGraph, ObjectId
from homelab_charts.validate import Report, Status

from .helpers import run, write


def check(tmp_path: Path, text: str) -> Report:
    write(tmp_path / "tree" / "objects.yaml", text)
    (tmp_path / "apps" / "demo").mkdir(parents=True, exist_ok=True)
    return run([tmp_path / "tree"], tmp_path, ignore_missing_schemas=True)


def messages(report: Report) -> list[str]:
    return [r.message() for r in report.results if r.status is not Status.SKIPPED]


KS = """
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: {name}, namespace: flux-system}}
spec:
  interval: 1h
  path: {path}
  prune: true
  sourceRef: {{kind: GitRepository, name: {source}}}
  dependsOn: {deps}
"""


def ks(name: str, *, deps: str = "[]", path: str = "./apps/demo",
       source: str = "flux-system") -> str:
    return KS.format(name=name, deps=deps, path=path, source=source)


def test_bootstrap_source_counts_as_present(tmp_path: Path) -> None:
    report = check(tmp_path, ks("a"))
    assert report.ok, messages(report)


def test_dangling_source_and_dependency(tmp_path: Path) -> None:
    report = check(tmp_path, ks("a", source="other", deps="[{name: missing}]"))
    [msg] = messages(report)
    assert "at '/spec/sourceRef': GitRepository flux-system/other not found in the tree" in msg
    assert "at '/spec/dependsOn/0': Kustomization flux-system/missing not found" in msg


def test_missing_path_is_reported_only_for_own_repository(tmp_path: Path) -> None:
    report = check(tmp_path, ks("a", path="./apps/nowhere"))
    assert "path './apps/nowhere' is not a folder of the repository" in messages(report)[0]
    report = check(tmp_path, ks("b", path="../outside"))
    assert "leaves the repository" in messages(report)[0]
    extra = """
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: other, namespace: flux-system}
spec: {interval: 1h, url: https://example.org/repo.git}
"""
    report = check(tmp_path, ks("c", path="./elsewhere", source="other") + extra)
    assert report.ok, messages(report)


def test_cycle_is_reported_on_every_member(tmp_path: Path) -> None:
    report = check(tmp_path, ks("a", deps="[{name: b}]") + ks("b", deps="[{name: c}]")
                   + ks("c", deps="[{name: a}]") + ks("d", deps="[{name: a}]"))
    bad = [r for r in report.results if r.status is Status.INVALID]
    assert [r.name for r in bad] == ["a", "b", "c"]
    for r in bad:
        assert ("dependency cycle: Kustomization flux-system/a -> flux-system/b -> "
                "flux-system/c -> flux-system/a") in r.message()


def test_self_dependency_is_a_cycle(tmp_path: Path) -> None:
    report = check(tmp_path, ks("a", deps="[{name: a}]"))
    assert "dependency cycle" in messages(report)[0]


HR = """
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: traefik, namespace: networking}
spec:
  interval: 30m
  chartRef: {kind: OCIRepository, name: traefik}
  valuesFrom:
    - {kind: ConfigMap, name: traefik-values}
    - {kind: Secret, name: traefik-secret}
    - {kind: Secret, name: optional-secret, optional: true}
  dependsOn: [{name: cert-manager, namespace: cert-manager}]
"""


def test_helmrelease_references(tmp_path: Path) -> None:
    [msg] = messages(check(tmp_path, HR))
    assert "at '/spec/chartRef': OCIRepository networking/traefik not found" in msg
    assert "at '/spec/valuesFrom/0': ConfigMap networking/traefik-values not found" in msg
    assert "at '/spec/valuesFrom/1': Secret networking/traefik-secret not found" in msg
    assert "optional-secret" not in msg
    assert "at '/spec/dependsOn/0': HelmRelease cert-manager/cert-manager not found" in msg


def test_helmrelease_references_resolve(tmp_path: Path) -> None:
    present = """
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: traefik, namespace: networking}
spec: {interval: 1h, url: oci://ghcr.io/traefik/helm/traefik}
---
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: traefik-secret, namespace: networking}
spec: {encryptedData: {k: AAAA}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: cert-manager, namespace: cert-manager}
spec: {interval: 1h, chartRef: {kind: OCIRepository, name: traefik, namespace: networking}}
"""
    write(tmp_path / "tree" / "kustomization.yaml", """
    apiVersion: kustomize.config.k8s.io/v1beta1
    kind: Kustomization
    namespace: networking
    resources: [objects.yaml]
    configMapGenerator:
      - name: traefik-values
        files: [values.yaml]
    """)
    report = check(tmp_path, HR + present)
    assert report.ok, messages(report)


def test_helm_chart_source_ref(tmp_path: Path) -> None:
    text = """
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: n8n, namespace: n8n}
spec:
  interval: 30m
  chart:
    spec:
      chart: n8n
      sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system}
"""
    [msg] = messages(check(tmp_path, text))
    assert "at '/spec/chart/spec/sourceRef': HelmRepository flux-system/charts not found" in msg


def test_flux_system_folder_objects_count(tmp_path: Path) -> None:
    write(tmp_path / "clusters" / "homelab" / "flux-system" / "gotk-sync.yaml", """
    apiVersion: source.toolkit.fluxcd.io/v1
    kind: GitRepository
    metadata: {name: shared, namespace: flux-system}
    spec: {interval: 1h, url: https://example.org/shared.git}
    """)
    report = check(tmp_path, ks("a", source="shared", path="./x"))
    assert report.ok, messages(report)


def test_cycles_order_members() -> None:
    a, b, c = (ObjectId("g", "K", "ns", n) for n in "abc")
    assert DependencyGraph({a: [b], b: [a], c: [a]}).cycles(sort_key=lambda k: k) == [[a, b]]
    assert DependencyGraph({a: [b], b: [c], c: []}).cycles() == []


def test_unreadable_entries_do_not_hide_the_other_problems(tmp_path: Path) -> None:
    # validate reads the graph through the tree model leniently: a dependsOn entry without
    # a name (the schema check's finding) neither stops the run nor hides the other ones.
    report = check(tmp_path, ks("a", source="other", deps="[{}, {name: missing}, {name: b}]")
                   + ks("b", deps="[{name: a}]", path="./apps/nowhere"))
    text = "\n".join(messages(report))
    assert "at '/spec/sourceRef': GitRepository flux-system/other not found" in text
    assert "at '/spec/dependsOn/1': Kustomization flux-system/missing not found" in text
    assert "dependsOn/0" not in text and "dependsOn/2" not in text
    assert "path './apps/nowhere' is not a folder of the repository" in text
    assert text.count("dependency cycle: Kustomization flux-system/a -> flux-system/b") == 2
