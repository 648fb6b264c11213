"""OpenTelemetry Collector, Loki and Prometheus: the numbers of the issue, as generated."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from homelab_charts.base import Folder, TreeApp
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.observability import (
    Loki,
    OtelCollector,
    Prometheus,
    ScrapeTarget,
    pipeline_errors,
)
from homelab_charts.infrastructure.observability.config_data import ConfigDocument
from homelab_charts.infrastructure.observability.otel_collector import (
    collector_container,
    memory_limit_of,
)
from homelab_charts.workloads import FieldRef, Port, Resources, RunAs
from tests.apps.tree import homelab_tree
from tests.helpers import new_component

IMG = Image("docker.io/example/image", "1.0.0")


def generated_collector_config() -> dict[str, Any]:
    cm = homelab_tree().get("ConfigMap", "observability", "otel-collector-config")
    return yaml.safe_load(cm["data"]["config.yaml"])


def stack(**collector: Any) -> tuple[Loki, Prometheus, OtelCollector]:
    app = TreeApp()
    folder = Folder(app, "obs", path="infrastructure/observability", namespace="observability")
    loki = Loki(folder, "loki", image=IMG)
    prometheus = Prometheus(folder, "prometheus", image=IMG)
    return loki, prometheus, OtelCollector(folder, "otel-collector", image=IMG, loki=loki,
                                           prometheus=prometheus, **collector)


def test_collector_pipelines_reference_only_defined_components() -> None:
    config = generated_collector_config()
    assert pipeline_errors(config) == []
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics", "logs"}
    for pipeline in pipelines.values():
        assert pipeline["receivers"] == ["otlp"]
        assert pipeline["processors"][0] == "memory_limiter"
        assert pipeline["processors"][-1] == "batch"
    assert "probabilistic_sampler" in pipelines["traces"]["processors"]
    assert "probabilistic_sampler" not in pipelines["logs"]["processors"]


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda c: c["service"]["pipelines"]["logs"]["exporters"].append("loki"),
     "exporter 'loki' is not defined"),
    (lambda c: c["processors"].pop("batch"), "processor 'batch' is not defined"),
    (lambda c: c["service"]["pipelines"]["traces"].update(receivers=[]), "no receivers"),
    (lambda c: c["service"]["extensions"].append("pprof"), "extension 'pprof'"),
    (lambda c: c["service"]["pipelines"].update(spans={"receivers": ["otlp"],
                                                       "exporters": ["debug"]}),
     "'spans' is not a signal type"),
    (lambda c: c.pop("service"), "service.pipelines is missing"),
])
def test_pipeline_errors_finds_broken_references(mutate: Any, message: str) -> None:
    config = copy.deepcopy(generated_collector_config())
    mutate(config)
    assert any(message in error for error in pipeline_errors(config)), pipeline_errors(config)


def test_collector_receivers_processors_exporters_and_resources() -> None:
    config = generated_collector_config()
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    # The generated collector keeps every trace: the SDKs sample per environment.
    assert config["processors"]["probabilistic_sampler"] == {"sampling_percentage": 100.0}
    limiter = config["processors"]["memory_limiter"]
    assert limiter["limit_mib"] < 512 and limiter["limit_mib"] - limiter["spike_limit_mib"] > 0
    assert config["exporters"]["otlphttp/loki"]["endpoint"] == \
        "http://loki.observability.svc.cluster.local:3100/otlp"
    assert config["exporters"]["prometheusremotewrite"]["endpoint"] == \
        "http://prometheus.observability.svc.cluster.local:9090/api/v1/write"
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlp/jaeger"]
    assert config["exporters"]["otlp/jaeger"]["endpoint"] == \
        "jaeger.observability.svc.cluster.local:4317"
    pod = homelab_tree().pod("otel-collector")
    container = pod.containers[0]
    assert container["resources"] == {"requests": {"cpu": "200m", "memory": "256Mi"},
                                      "limits": {"cpu": "1", "memory": "512Mi"}}
    assert pod.ports()["otlp-grpc"] == (4317, "TCP")
    assert pod.ports()["otlp-http"] == (4318, "TCP")
    assert pod.workload["kind"] == "Deployment"
    env = pod.env()
    assert env["GOMEMLIMIT"] == f"{limiter['limit_mib']}MiB"
    assert pod.annotations["checksum/config"]


def test_collector_container_is_shared_by_the_gateway_and_the_agents() -> None:
    _, c = new_component()
    config = ConfigDocument(c, "config", name="agent-config", path="/etc/otel/agent.yaml",
                            config={"receivers": {}})
    resources = Resources("50m", "500m", "64Mi", "1Gi")
    assert memory_limit_of(resources) == 1024
    ctr = collector_container(IMG, config=config, ports=(Port("health", 13133),),
                              resources=resources,
                              env={"NODE": FieldRef("spec.nodeName")})
    assert ctr.args == ("--config=/etc/otel/agent.yaml",)
    # POD_IP for the listeners first, the component's own next, the heap limit (80%) last.
    assert list(ctr.env) == ["POD_IP", "NODE", "GOMEMLIMIT"]
    assert ctr.env["GOMEMLIMIT"] == "819MiB"
    assert ctr.config_files == (config.file,)
    assert ctr.readiness is not None and ctr.liveness is not None
    assert ctr.run_as == RunAs()
    assert collector_container(IMG, config=config, ports=(), resources=resources,
                               run_as=RunAs(user=10001, group=10001)).run_as.user == 10001


def test_jaeger_switch_sends_traces_to_jaeger() -> None:
    _, _, collector = stack(jaeger_endpoint="jaeger-collector.observability.svc:4317")
    traces = collector.config["service"]["pipelines"]["traces"]
    assert traces["exporters"] == ["otlp/jaeger"]
    assert collector.config["exporters"]["otlp/jaeger"]["endpoint"] == \
        "jaeger-collector.observability.svc:4317"
    assert "debug" not in collector.config["exporters"]
    assert pipeline_errors(collector.config) == []
    with pytest.raises(ConfigError, match="jaeger_endpoint"):
        stack(jaeger_endpoint="http://jaeger:4317")


def test_collector_rejects_bad_sampling_and_memory_follows_the_limit() -> None:
    with pytest.raises(ConfigError, match="sampling_percentage"):
        stack(sampling_percentage=0)
    from homelab_charts.workloads import Resources

    _, _, collector = stack(resources=Resources("200m", "1", "512Mi", "1Gi"))
    assert collector.config["processors"]["memory_limiter"]["limit_mib"] == 819


def test_loki_keeps_logs_seven_days_on_a_volume() -> None:
    tree = homelab_tree()
    config = yaml.safe_load(tree.get("ConfigMap", "observability", "loki-config")["data"]
                            ["config.yaml"])
    assert config["limits_config"]["retention_period"] == "168h"
    assert config["compactor"]["retention_enabled"] is True
    assert config["compactor"]["delete_request_store"] == "filesystem"
    loki = tree.pod("loki")
    assert loki.kind == "StatefulSet"
    claims = loki.workload["spec"]["volumeClaimTemplates"]
    assert claims[0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    mounts = {m["mountPath"] for m in loki.containers[0]["volumeMounts"]}
    assert "/loki" in mounts
    with pytest.raises(ConfigError, match="whole number of days"):
        Loki(Folder(TreeApp(), "f", path="x/y", namespace="o"), "loki", image=IMG,
             retention="36h")
    with pytest.raises(ConfigError, match="not a duration"):
        Loki(Folder(TreeApp(), "f", path="x/y", namespace="o"), "loki", image=IMG,
             retention="a week")


def test_prometheus_scrapes_itself_the_collector_and_annotated_pods() -> None:
    tree = homelab_tree()
    config = yaml.safe_load(tree.get("ConfigMap", "observability", "prometheus-config")
                            ["data"]["prometheus.yml"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "otel-collector", "kubernetes-pods", "otel-agent",
                         "node-exporter", "kube-state-metrics", "flux", "kubelet", "cadvisor",
                         "jaeger"}
    assert jobs["prometheus"]["static_configs"] == [{"targets": ["localhost:9090"]}]
    sd = jobs["otel-collector"]["kubernetes_sd_configs"][0]
    assert sd["namespaces"] == {"names": ["observability"]}
    assert "app.kubernetes.io/name=otel-collector" in sd["selectors"][0]["label"]
    assert jobs["otel-collector"]["relabel_configs"][0]["regex"] == "metrics"
    keep = jobs["kubernetes-pods"]["relabel_configs"][0]
    assert keep["source_labels"] == ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    annotated = [p for p in tree.pods() if p.annotations.get("prometheus.io/scrape") == "true"]
    assert {"family-assistant-backend", "loki", "n8n"} <= {p.name for p in annotated}
    for pod in annotated:  # the port annotated is one the pod listens on
        assert (int(pod.annotations["prometheus.io/port"]), "TCP") in pod.port_numbers()
    assert "prometheus" not in {p.name for p in annotated}  # its own job scrapes it
    pod = tree.pod("prometheus")
    args = pod.containers[0]["args"]
    assert "--storage.tsdb.retention.time=15d" in args
    assert "--web.enable-remote-write-receiver" in args
    assert pod.workload["spec"]["volumeClaimTemplates"]
    assert pod.spec["serviceAccountName"] == "prometheus"
    role = tree.get("ClusterRole", None, "observability-prometheus-discovery")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes", "pods"],
                              "verbs": ["get", "list", "watch"]},
                             {"apiGroups": [""], "resources": ["nodes/metrics"],
                              "verbs": ["get"]}]


def test_prometheus_retention_is_configurable_and_checked() -> None:
    folder = Folder(TreeApp(), "f", path="x/y", namespace="o")
    prometheus = Prometheus(folder, "p", image=IMG, retention="30d", retention_size=None)
    args = prometheus.server.workload.body["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--storage.tsdb.retention.time=30d" in args
    assert not any(a.startswith("--storage.tsdb.retention.size") for a in args)
    for kwargs, field in (({"retention": "30 days"}, "retention"),
                          ({"retention_size": "8Gi"}, "retention_size")):
        with pytest.raises(ConfigError, match=field):
            Prometheus(Folder(TreeApp(), "f", path="x/y", namespace="o"), "p", image=IMG,
                       **kwargs)


def test_adding_a_scrape_target_updates_config_checksum_and_flows() -> None:
    loki, prometheus, _ = stack()
    template = prometheus.server.workload.body["spec"]["template"]["metadata"]
    before = template["annotations"]["checksum/config"]
    prometheus.scrape(ScrapeTarget.of("loki", loki.server, "http"))
    assert template["annotations"]["checksum/config"] != before
    assert [j["job_name"] for j in prometheus.config["scrape_configs"]] == [
        "prometheus", "otel-collector", "loki", "kubernetes-pods"]
    assert "rule_files" not in prometheus.config and "alerting" not in prometheus.config
    assert prometheus.connections[-1].target.name == "loki"
    with pytest.raises(ConfigError, match="defined twice"):
        prometheus.scrape(ScrapeTarget.of("loki", loki.server, "http"))


def test_loki_takes_otlp_logs_and_indexes_what_the_dashboards_query() -> None:
    """Loki 3.5's native OTLP path: the gateway's ``otlphttp`` exporter appends
    ``/v1/logs`` to its endpoint (``.../otlp`` -> ``/otlp/v1/logs``); OTLP needs structured
    metadata and a v13 tsdb schema; no ``otlp_config`` override, so Loki's default index
    labels (service.name, k8s.namespace.name, ...) stay labels, and the node agents put
    those attributes on every pod's log records."""
    from tests.observability.test_dashboards import LOKI_LABELS

    tree = homelab_tree()
    config = yaml.safe_load(tree.get("ConfigMap", "observability", "loki-config")["data"]
                            ["config.yaml"])
    limits = config["limits_config"]
    assert limits["allow_structured_metadata"] is True
    assert "otlp_config" not in limits and "otlp_config" not in config.get("distributor", {})
    assert "discover_service_name" not in limits  # default: service_name is always set
    latest = config["schema_config"]["configs"][-1]
    assert (latest["schema"], latest["store"]) == ("v13", "tsdb")
    endpoint = generated_collector_config()["exporters"]["otlphttp/loki"]["endpoint"]
    assert endpoint.rstrip("/").endswith(":3100/otlp")
    agent = yaml.safe_load(tree.get("ConfigMap", "telemetry", "otel-agent-config")["data"]
                           ["config.yaml"])
    # filelog's container operator sets k8s.namespace.name, k8s.pod.name and
    # k8s.container.name from the file path; k8sattributes adds service.name.
    operators = agent["receivers"]["filelog"]["operators"]
    assert {"type": "container", "id": "container-parser"} in operators
    tags = {x["tag_name"] for x in agent["processors"]["k8sattributes"]["extract"]["labels"]}
    assert "service.name" in tags
    attributes = {"k8s_namespace_name", "k8s_pod_name", "k8s_container_name"} | {
        t.replace(".", "_") for t in tags}
    assert attributes <= LOKI_LABELS
