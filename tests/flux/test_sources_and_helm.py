from __future__ import annotations

import pytest

from homelab_charts.errors import ConfigError
from homelab_charts.flux import (
    GitRef,
    GitRepository,
    HelmChart,
    HelmRelease,
    HelmRepository,
    OCIRef,
    OCIRepository,
    Remediation,
    ValuesFrom,
)
from tests.helpers import new_component


def test_git_repository() -> None:
    _, c = new_component()
    repo = GitRepository(c, "repo", name="homelab", url="ssh://git@example.org/homelab.git",
                         ref=GitRef(tag="v1.2.3"), secret_name="deploy-key", timeout="60s",
                         ignore="/docs\n")
    doc = repo.render()
    assert doc["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert doc["metadata"]["namespace"] == "flux-system"
    assert doc["spec"] == {"interval": "1m", "url": "ssh://git@example.org/homelab.git",
                           "ref": {"tag": "v1.2.3"}, "secretRef": {"name": "deploy-key"},
                           "timeout": "60s", "ignore": "/docs\n"}
    default = GitRepository(c, "main", name="main", url="https://example.org/x.git")
    assert default.render()["spec"]["ref"] == {"branch": "main"}


@pytest.mark.parametrize(("build", "field"), [
    (lambda c: GitRepository(c, "r", name="r", url="git@example.org:x.git"), "spec.url"),
    (lambda c: GitRepository(c, "r", name="r", url="https://e.org/x",
                             ref=GitRef(branch="main", tag="v1")), "spec.ref"),
    (lambda c: GitRepository(c, "r", name="r", url="https://e.org/x", ref=GitRef()), "spec.ref"),
    (lambda c: GitRepository(c, "r", name="r", url="https://e.org/x", interval="1 min"),
     "spec.interval"),
    (lambda c: OCIRepository(c, "r", name="r", url="https://ghcr.io/x", ref=OCIRef(tag="1")),
     "spec.url"),
    (lambda c: OCIRepository(c, "r", name="r", url="oci://ghcr.io/x", ref=OCIRef()), "spec.ref"),
    (lambda c: OCIRepository(c, "r", name="r", url="oci://ghcr.io/x", ref=OCIRef(tag="1"),
                             layer_operation="unpack"), "spec.layerSelector.operation"),
    (lambda c: HelmRepository(c, "r", name="Bad_Name", url="https://e.org"), "metadata.name"),
])
def test_source_errors(build, field) -> None:
    _, c = new_component()
    with pytest.raises(ConfigError) as err:
        build(c)
    assert err.value.field == field
    assert err.value.where == "folder/things/r"


def test_oci_and_helm_repositories() -> None:
    _, c = new_component()
    oci = OCIRepository(c, "oci", name="podinfo", url="oci://ghcr.io/stefanprodan/charts/podinfo",
                        ref=OCIRef(semver="6.x"), layer_media_type="application/x-tar",
                        layer_operation="copy")
    assert oci.render()["spec"] == {
        "interval": "12h", "url": "oci://ghcr.io/stefanprodan/charts/podinfo",
        "ref": {"semver": "6.x"},
        "layerSelector": {"mediaType": "application/x-tar", "operation": "copy"}}
    helm = HelmRepository(c, "oci-helm", name="oci-helm", url="oci://ghcr.io/org/charts")
    assert helm.render()["spec"]["type"] == "oci"


def test_helm_release_with_chart_spec() -> None:
    _, c = new_component()
    repo = HelmRepository(c, "repo", name="traefik", url="https://traefik.github.io/charts",
                          namespace="demo")
    base = HelmRelease(c, "crds", name="crds", chart=HelmChart("crds", "1.0.0", repo))
    release = HelmRelease(
        c, "rel", name="traefik", chart=HelmChart("traefik", "37.3.0", repo, interval="1h"),
        values={"deployment": {"replicas": 2}}, depends_on=[base],
        values_from=[ValuesFrom("ConfigMap", "extra", values_key="v.yaml", target_path="a.b")],
        install=Remediation(retries=5), upgrade=Remediation(retries=2, strategy="uninstall"),
        release_name="edge", target_namespace="demo", suspend=True)
    spec = release.render()["spec"]
    assert spec["chart"] == {"spec": {"chart": "traefik", "version": "37.3.0",
                                      "sourceRef": {"kind": "HelmRepository", "name": "traefik"},
                                      "interval": "1h"}}
    assert spec["dependsOn"] == [{"name": "crds"}]
    assert spec["driftDetection"] == {"mode": "enabled"}
    assert spec["install"] == {"crds": "CreateReplace", "remediation": {"retries": 5}}
    assert spec["upgrade"] == {"crds": "CreateReplace", "cleanupOnFail": True, "remediation": {
        "retries": 2, "remediateLastFailure": True, "strategy": "uninstall"}}
    assert spec["values"] == {"deployment": {"replicas": 2}}
    assert spec["valuesFrom"] == [{"kind": "ConfigMap", "name": "extra", "valuesKey": "v.yaml",
                                   "targetPath": "a.b"}]
    assert spec["releaseName"] == "edge" and spec["suspend"] is True


def test_helm_release_with_chart_ref() -> None:
    _, c = new_component()
    oci = OCIRepository(c, "oci", name="podinfo", url="oci://ghcr.io/x/podinfo",
                        ref=OCIRef(tag="6.7.0"))
    release = HelmRelease(c, "rel", name="podinfo", chart_ref=oci)
    spec = release.render()["spec"]
    assert spec["chartRef"] == {"kind": "OCIRepository", "name": "podinfo",
                                "namespace": "flux-system"}
    assert "chart" not in spec


@pytest.mark.parametrize(("kwargs", "field"), [
    ({}, "spec.chart"),
    ({"chart": "both"}, "spec.chart"),
    ({"chart": HelmChart("x", "", None)}, "spec.chart.spec.version"),  # type: ignore[arg-type]
    ({"chart": HelmChart("x", "*", None)}, "spec.chart.spec.version"),  # type: ignore[arg-type]
    ({"chart": "git"}, "spec.chart.spec.sourceRef"),
    ({"chart": "ok", "interval": "soon"}, "spec.interval"),
    ({"chart": "ok", "install": Remediation(retries=-1)}, "spec.install.remediation.retries"),
    ({"chart": "ok", "upgrade": Remediation(strategy="pray")}, "spec.upgrade.remediation.strategy"),
    ({"chart": "ok", "depends_on": ["other"]}, "spec.dependsOn"),
    ({"chart": "ok", "values_from": [ValuesFrom("Pod", "x")]}, "spec.valuesFrom"),
    ({"chart": "ok", "drift_detection": "on"}, "spec.driftDetection.mode"),
    ({"chart": "ok", "crds": "Replace"}, "spec.install.crds"),
])
def test_helm_release_errors(kwargs, field) -> None:
    _, c = new_component()
    repo = HelmRepository(c, "repo", name="repo", url="https://e.org/charts")
    git = GitRepository(c, "git", name="git", url="https://e.org/x.git")
    oci = OCIRepository(c, "oci", name="oci", url="oci://e.org/x", ref=OCIRef(tag="1"))
    chart = kwargs.pop("chart", None)
    if chart == "both":
        kwargs.update(chart=HelmChart("x", "1.0.0", repo), chart_ref=oci)
    elif chart == "git":
        kwargs["chart"] = HelmChart("x", "1.0.0", git)  # type: ignore[arg-type]
    elif chart == "ok":
        kwargs["chart"] = HelmChart("x", "1.0.0", repo)
    elif chart is not None:
        kwargs["chart"] = chart
    with pytest.raises(ConfigError) as err:
        HelmRelease(c, "rel", name="rel", **kwargs)
    assert err.value.field == field
    assert err.value.where.endswith("/rel")
