"""Flux HelmRelease (helm.toolkit.fluxcd.io/v2): a Helm chart, pinned, with typed values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest, construct_path
from homelab_charts.errors import ConfigError
from homelab_charts.flux.common import HELM_API, check_duration, check_positive, source_ref
from homelab_charts.flux.sources import HelmRepository, OCIRepository


@dataclass(frozen=True)
class HelmChart:
    """``spec.chart``: a chart of a HelmRepository, at an explicit version."""

    chart: str
    version: str
    source: HelmRepository
    interval: str | None = None


@dataclass(frozen=True)
class Remediation:
    """What Helm does when an install or upgrade fails (``retries``; roll back on upgrade)."""

    retries: int = 3
    remediate_last_failure: bool = True
    strategy: str = "rollback"


@dataclass(frozen=True)
class ValuesFrom:
    kind: str
    name: str
    values_key: str | None = None
    target_path: str | None = None
    optional: bool = False


#: ``spec.install.crds``/``spec.upgrade.crds`` values Flux accepts.
CRD_POLICIES = ("Skip", "Create", "CreateReplace")
#: ``spec.driftDetection.mode`` values Flux accepts.
DRIFT_MODES = ("enabled", "warn", "disabled")


class HelmRelease(Manifest):
    """A Helm release reconciled by Flux.

    Give exactly one of ``chart`` (a :class:`HelmChart` from a HelmRepository, pinned
    version) or ``chart_ref`` (an OCIRepository, the Flux 2.6+ preference). ``values`` is
    a plain dict: component modules build it from typed Python properties.

    Defaults keep the cluster what Git says: ``drift_detection`` ``enabled`` (helm-controller
    compares the release's objects with the cluster at every reconcile and corrects hand
    edits), ``crds`` ``CreateReplace`` on install and upgrade (a chart upgrade updates the
    CRDs of its ``crds/`` folder instead of leaving them at the first version), and
    install/upgrade remediation with retries (:class:`Remediation`).
    """

    def __init__(self, scope: Construct, id: str, *, name: str,
                 chart: HelmChart | None = None, chart_ref: OCIRepository | None = None,
                 values: Mapping[str, Any] | None = None,
                 values_from: Sequence[ValuesFrom] = (),
                 interval: str = "30m", timeout: str | None = "5m",
                 install: Remediation | None = None, upgrade: Remediation | None = None,
                 depends_on: Sequence[HelmRelease] = (), release_name: str | None = None,
                 target_namespace: str | None = None, suspend: bool = False,
                 drift_detection: str = "enabled", crds: str = "CreateReplace",
                 create_namespace: bool = False,
                 namespace: str | None = None, labels: Mapping[str, str] | None = None) -> None:
        where = construct_path(scope, id)
        if drift_detection not in DRIFT_MODES:
            raise ConfigError(where, "spec.driftDetection.mode",
                              f"{drift_detection!r} must be one of {', '.join(DRIFT_MODES)}")
        if crds not in CRD_POLICIES:
            raise ConfigError(where, "spec.install.crds",
                              f"{crds!r} must be one of {', '.join(CRD_POLICIES)}")
        if (chart is None) == (chart_ref is None):
            raise ConfigError(where, "spec.chart", "set exactly one of chart or chart_ref")
        check_duration(scope, id, "spec.interval", interval)
        if timeout is not None:
            check_duration(scope, id, "spec.timeout", timeout)
        if chart is not None:
            if not chart.version or chart.version in ("*", "latest", ">=0.0.0"):
                raise ConfigError(where, "spec.chart.spec.version",
                                  f"{chart.version!r}: pin an explicit chart version")
            if not isinstance(chart.source, HelmRepository):
                raise ConfigError(where, "spec.chart.spec.sourceRef",
                                  "the chart source must be a HelmRepository construct")
            if chart.interval is not None:
                check_duration(scope, id, "spec.chart.spec.interval", chart.interval)
        if chart_ref is not None and not isinstance(chart_ref, OCIRepository):
            raise ConfigError(where, "spec.chartRef",
                              "chart_ref must be an OCIRepository construct")
        install = install or Remediation()
        upgrade = upgrade or Remediation()
        for field, rem in (("spec.install.remediation", install),
                           ("spec.upgrade.remediation", upgrade)):
            check_positive(scope, id, f"{field}.retries", rem.retries)
        if upgrade.strategy not in ("rollback", "uninstall"):
            raise ConfigError(where, "spec.upgrade.remediation.strategy",
                              f"{upgrade.strategy!r} must be rollback or uninstall")
        for dep in depends_on:
            if not isinstance(dep, HelmRelease):
                raise ConfigError(where, "spec.dependsOn",
                                  f"{dep!r} is not a HelmRelease construct")
        for ref in values_from:
            if ref.kind not in ("ConfigMap", "Secret"):
                raise ConfigError(where, "spec.valuesFrom",
                                  f"kind {ref.kind!r} must be ConfigMap or Secret")
        super().__init__(scope, id, api_version=HELM_API, kind="HelmRelease", name=name,
                         namespace=namespace, labels=labels)
        spec: dict[str, Any] = {"interval": interval}
        if timeout:
            spec["timeout"] = timeout
        if release_name:
            spec["releaseName"] = release_name
        if target_namespace:
            spec["targetNamespace"] = target_namespace
        if chart is not None:
            chart_spec: dict[str, Any] = {
                "chart": chart.chart,
                "version": chart.version,
                "sourceRef": source_ref(chart.source, owner_namespace=self.object_namespace),
            }
            if chart.interval:
                chart_spec["interval"] = chart.interval
            spec["chart"] = {"spec": chart_spec}
        else:
            assert chart_ref is not None
            spec["chartRef"] = source_ref(chart_ref, owner_namespace=self.object_namespace)
        if depends_on:
            spec["dependsOn"] = [
                {"name": d.object_name, **({"namespace": d.object_namespace}
                                           if d.object_namespace != self.object_namespace
                                           else {})}
                for d in depends_on
            ]
        spec["driftDetection"] = {"mode": drift_detection}
        install_spec: dict[str, Any] = {"crds": crds}
        if create_namespace:
            install_spec["createNamespace"] = True
        install_spec["remediation"] = {"retries": install.retries}
        spec["install"] = install_spec
        upgrade_rem: dict[str, Any] = {"retries": upgrade.retries,
                                       "remediateLastFailure": upgrade.remediate_last_failure,
                                       "strategy": upgrade.strategy}
        spec["upgrade"] = {"crds": crds, "cleanupOnFail": True, "remediation": upgrade_rem}
        if suspend:
            spec["suspend"] = True
        if values_from:
            spec["valuesFrom"] = [
                {"kind": v.kind, "name": v.name,
                 **({"valuesKey": v.values_key} if v.values_key else {}),
                 **({"targetPath": v.target_path} if v.target_path else {}),
                 **({"optional": True} if v.optional else {})}
                for v in values_from
            ]
        if values:
            spec["values"] = dict(values)
        self.body["spec"] = spec
        self.helm_chart = chart
        self.helm_chart_ref = chart_ref
        self.crds = crds
        self.target_namespace = target_namespace
