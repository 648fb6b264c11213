"""apps.common.web_ui: the web UI the frontend and the dashboard both serve."""

from __future__ import annotations

import dataclasses
from typing import Any

from homelab_charts import config
from homelab_charts.apps.common import AppRelease, WebUI, web_ui
from homelab_charts.base import Component
from homelab_charts.cluster import HomelabCluster
from homelab_charts.infrastructure.observability import OtelCollector
from homelab_charts.synth import build_app
from homelab_charts.workloads import Resources
from homelab_charts.workloads.network import as_pods


def _cluster() -> tuple[HomelabCluster, Component]:
    holder: dict[str, Any] = {}

    def builder(app: Any, data: config.HomelabData) -> object:
        cluster = HomelabCluster(app, data.cluster.name, data=data)
        holder["cluster"] = cluster
        folder = cluster.layer("demo-ui", "apps/demo-ui", cluster.apps_file)
        holder["component"] = Component(folder, "ui")
        return cluster

    build_app(config.load(), builder)
    return holder["cluster"], holder["component"]


def _container(ui: WebUI) -> dict[str, Any]:
    body = ui.web.workload.render()
    containers = body["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _make(otel: bool = True, **extra: Any) -> tuple[HomelabCluster, Component, WebUI]:
    cluster, component = _cluster()
    release = dataclasses.replace(
        AppRelease.from_data(config.load(), "homelab-dashboard"), name="demo-ui", otel=otel)
    ui = web_ui(component, release=release, collector=cluster.get(OtelCollector),
                ingress=cluster.ingress, part="panel", port=9090,
                resources=Resources("10m", "100m", "16Mi", "32Mi"), **extra)
    return cluster, component, ui


def test_container_env_probes_and_ingress() -> None:
    _, _, ui = _make(env={"API_URL": "http://api:1", "MODE": "x"})
    container = _container(ui)
    names = [item["name"] for item in container["env"]]
    assert names[:3] == ["PORT", "API_URL", "MODE"]
    assert all(name.startswith("OTEL_") for name in names[3:])
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["PORT"] == "9090"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_SERVICE_NAME"] == "demo-ui"
    assert container["ports"][0]["containerPort"] == 9090
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["failureThreshold"] == 6
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])
    labels = ui.web.workload.render()["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "panel"
    assert ui.ingress.render()["kind"] == "Ingress"


def test_connections_from_controller_then_to_collector() -> None:
    cluster, component, ui = _make()
    assert len(ui.connections) == 2
    pods = as_pods(ui.web)
    assert ui.connections[0].target == pods
    assert ui.connections[0].source.namespace == cluster.ingress.target_namespace
    assert ui.connections[1].source == pods
    assert ui.connections[1].port == cluster.get(OtelCollector).port_name("http/protobuf")
    assert cluster.get(OtelCollector) in component.uses
    assert cluster.ingress in component.uses
    assert component.uses.index(cluster.ingress) < component.uses.index(cluster.get(OtelCollector))


def test_otel_off_sends_no_telemetry() -> None:
    cluster, component, ui = _make(otel=False)
    assert len(ui.connections) == 1
    assert cluster.get(OtelCollector) not in component.uses
    env = {item["name"]: item.get("value") for item in _container(ui)["env"]}
    assert env["OTEL_SDK_DISABLED"] == "true"
