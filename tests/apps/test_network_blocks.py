"""The NetworkPolicy building blocks (homelab_charts.workloads.network)."""

from __future__ import annotations

import pytest

from homelab_charts.base import Component, Folder, TreeApp
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.workloads import Container, Port, Probe, WebService
from homelab_charts.workloads.network import (
    Connection,
    ExternalConnection,
    Network,
    OutsideFlow,
    Pods,
)

IMAGE = Image("registry.example/app", "v1.0.0-abcdef0-prod")


def web(folder: Folder, name: str, port: Port) -> WebService:
    chart = Component(folder, name)
    return WebService(chart, "server", name=name, container=Container(
        image=IMAGE, ports=(port,), readiness=Probe.tcp(port.name),
        liveness=Probe.tcp(port.name)))


def setup() -> tuple[TreeApp, Folder, Folder, Folder]:
    app = TreeApp()
    return (app, Folder(app, "a", path="apps/a", namespace="a"),
            Folder(app, "b", path="apps/b", namespace="b"),
            Folder(app, "open", path="apps/open", namespace="open"))


def policy(component: Component, name: str) -> dict:
    for obj in component.objects:
        if obj.object_name == name:
            return obj.render()
    raise KeyError(name)


def test_isolate_writes_default_deny_and_dns() -> None:
    _, a, _, _ = setup()
    network = Network()
    policies = network.isolate(a)
    assert policies.file == "apps/a/network-policies.yaml"
    deny = policy(policies, "default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policy(policies, "allow-dns")["spec"]["egress"][0]
    assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"}
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    with pytest.raises(ConfigError, match="already isolated"):
        network.isolate(a)


def test_allow_writes_ingress_on_the_target_and_egress_on_the_source() -> None:
    _, a, b, _ = setup()
    network = Network()
    pa, pb = network.isolate(a), network.isolate(b)
    client = web(a, "client", Port("http", 8080))
    server = web(b, "server", Port("api", 9000, service_port=80))
    network.allow(client, server, "api")
    network.allow(client, server, "api")  # merged, not repeated
    ingress = policy(pb, "allow-server")["spec"]
    assert ingress["policyTypes"] == ["Ingress"]
    assert ingress["podSelector"]["matchLabels"] == server.selector
    assert ingress["ingress"] == [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "a"}},
                  "podSelector": {"matchLabels": client.selector}}],
        "ports": [{"protocol": "TCP", "port": 9000}],  # the container port, not 80
    }]
    egress = policy(pa, "allow-client")["spec"]
    assert egress["policyTypes"] == ["Egress"]
    assert egress["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "b"}


def test_a_side_in_a_namespace_that_is_not_isolated_gets_no_rule() -> None:
    _, a, _, open_ = setup()
    network = Network()
    pa = network.isolate(a)
    outside = web(open_, "outside", Port("http", 80))
    inside = web(a, "inside", Port("http", 8080))
    network.allow(outside, inside, "http")
    assert [o.object_name for o in pa.objects] == ["default-deny", "allow-dns", "allow-inside"]
    assert len(outside.component.objects) == 2  # only its Service and Deployment
    with pytest.raises(ConfigError, match="neither open nor open is isolated"):
        network.allow(outside, outside, "http")


def test_unknown_ports_and_foreign_pods_are_errors() -> None:
    _, a, b, _ = setup()
    network = Network()
    pa = network.isolate(a)
    client = web(a, "client", Port("http", 8080))
    server = web(b, "server", Port("api", 9000))
    with pytest.raises(ConfigError, match="no port named 'metrics'"):
        network.allow(client, server, "metrics")
    with pytest.raises(ConfigError, match="run in b, not a"):
        pa.policy_for(Pods.of(server))
    with pytest.raises(ConfigError, match="selector labels"):
        Pods.external("x", "a", {})


def test_external_pods_and_the_api_server() -> None:
    _, a, _, _ = setup()
    network = Network()
    pa = network.isolate(a)
    scraper = web(a, "scraper", Port("http", 9090))
    controller = Pods.external("controller", "networking", {"app": "ctl"},
                               ports=[Port("metrics", 9100)])
    network.add(Connection.to(scraper, controller, "metrics"))
    network.allow_kube_api(scraper, "192.168.1.0/24")
    egress = policy(pa, "allow-scraper")["spec"]["egress"]
    assert {"ipBlock": {"cidr": "192.168.1.0/24"}} in [rule["to"][0] for rule in egress]
    ports = sorted(p["port"] for rule in egress for p in rule["ports"])
    assert ports == [443, 6443, 9100]


def test_internet_egress_and_clients_from_anywhere() -> None:
    _, a, _, _ = setup()
    network = Network()
    pa = network.isolate(a)
    worker = web(a, "worker", Port("http", 8080))
    network.allow_internet(worker, [443, 587], cluster_ranges=["10.43.0.0/16", "10.42.0.0/16"])
    network.allow_from_anywhere(worker, ["http"])
    spec = policy(pa, "allow-worker")["spec"]
    assert spec["egress"] == [{"to": [{"ipBlock": {
        "cidr": "0.0.0.0/0", "except": ["10.42.0.0/16", "10.43.0.0/16"]}}],
        "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 587}]}]
    assert spec["ingress"] == [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                                "ports": [{"protocol": "TCP", "port": 8080}]}]
    with pytest.raises(ConfigError, match="not isolated"):
        Network().allow_internet(worker, [443], cluster_ranges=[])


def test_wire_collects_connections_declared_by_components() -> None:
    _, a, b, _ = setup()
    network = Network()
    network.isolate(a)
    pb = network.isolate(b)
    client = web(a, "client", Port("http", 8080))
    server = web(b, "server", Port("api", 9000))
    client.component.connections = [Connection.to(client, server, "api")]  # type: ignore
    network.wire([client.component, server.component])
    assert policy(pb, "allow-server")["spec"]["ingress"][0]["ports"][0]["port"] == 9000


def test_wire_collects_outside_flows_declared_by_components() -> None:
    """A component declares what its pods need outside the cluster's pods
    (``outside_flows``), by range: the API server on the nodes' range, clients from
    anywhere; pods of a namespace isolated under another folder's file included."""
    _, a, _, _ = setup()
    network = Network()
    pa = network.isolate(a)
    chart_pods = Pods.external("chart", "c", {"app": "chart"}, ports=[Port("https", 10250)])
    pc = network.isolate(a, namespace="c")
    assert pc.file == "apps/a/c-network-policies.yaml"
    worker = web(a, "worker", Port("http", 8080))
    worker.component.outside_flows = [  # type: ignore[attr-defined]
        OutsideFlow.kube_api(worker, "192.168.1.0/24"),
        OutsideFlow.from_anywhere(chart_pods, ["https"]),
    ]
    network.wire([worker.component])
    egress = policy(pa, "allow-worker")["spec"]["egress"]
    assert egress == [{"to": [{"ipBlock": {"cidr": "192.168.1.0/24"}}],
                       "ports": [{"protocol": "TCP", "port": 443},
                                 {"protocol": "TCP", "port": 6443}]}]
    ingress = policy(pc, "allow-chart")["spec"]
    assert ingress["policyTypes"] == ["Ingress"]
    assert ingress["ingress"] == [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                                   "ports": [{"protocol": "TCP", "port": 10250}]}]
    with pytest.raises(ConfigError, match="no port named 'metrics'"):
        OutsideFlow.from_anywhere(chart_pods, ["metrics"])


def test_a_declared_external_connection_is_an_egress_rule_to_that_network_only() -> None:
    _, a, _, open_ = setup()
    network = Network()
    pa = network.isolate(a)
    job = web(a, "job", Port("http", 8080))
    target = Port("backup-target", 9000)
    job.component.connections = [  # type: ignore[attr-defined]
        ExternalConnection.to(job, "192.168.1.20/32", target)]
    network.wire([job.component])
    spec = policy(pa, "allow-job")["spec"]
    assert spec["policyTypes"] == ["Egress"]
    assert spec["egress"] == [{"to": [{"ipBlock": {"cidr": "192.168.1.20/32"}}],
                               "ports": [{"protocol": "TCP", "port": 9000}]}]
    with pytest.raises(ConfigError, match="every address"):
        ExternalConnection.to(job, "0.0.0.0/0", target)
    with pytest.raises(ConfigError, match="not a network"):
        ExternalConnection.to(job, "192.168.1.20/33", target)
    outside = web(open_, "outside", Port("http", 80))
    with pytest.raises(ConfigError, match="open is not isolated"):
        network.add(ExternalConnection.to(outside, "10.0.0.0/8", target))
