"""What a stateful service and a web service share: a pod template and a client Service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest, Part, check_name
from homelab_charts.errors import ConfigError
from homelab_charts.workloads.pod import selector_labels, workload_labels
from homelab_charts.workloads.spec import Container, Port

CLUSTER_DOMAIN = "cluster.local"


class Workload(Part):
    """Base of the hardened building blocks: one container image, its ports, its Service.

    After construction: ``service`` (the client Service), ``workload`` (the Deployment or
    StatefulSet), ``host`` (the Service's DNS name), ``pod_labels``/``selector``.
    """

    def __init__(self, scope: Construct, id: str, *, name: str, container: Container,
                 component: str | None = None, metrics_port: str | None = None,
                 metrics_path: str = "/metrics",
                 pod_annotations: Mapping[str, str] | None = None) -> None:
        super().__init__(scope, id)
        check_name(self, None, "name", name, subdomain=False)
        self.name = name
        self.container = container
        self.namespace = self.component.default_namespace
        if self.namespace is None:
            raise ConfigError(self.node.path, "namespace",
                              "a workload needs a namespace (create it inside a Folder)")
        self.selector = selector_labels(name)
        self.pod_labels = workload_labels(name, component=component,
                                          version=container.image.tag)
        annotations = dict(pod_annotations or {})
        if metrics_port is not None:
            port = self.port(metrics_port)
            annotations.update({"prometheus.io/scrape": "true",
                                "prometheus.io/port": str(port.port),
                                "prometheus.io/path": metrics_path})
        self.pod_annotations = annotations
        self.metrics_port = metrics_port
        self.workload: Manifest

    @property
    def host(self) -> str:
        """The client Service's cluster DNS name."""
        return f"{self.name}.{self.namespace}.svc.{CLUSTER_DOMAIN}"

    def port(self, name: str) -> Port:
        for port in self.container.ports:
            if port.name == name:
                return port
        raise ConfigError(self.node.path, "ports",
                          f"no port named {name!r} (has {[p.name for p in self.container.ports]})")

    def url(self, port_name: str, scheme: str = "http") -> str:
        port = self.port(port_name)
        return f"{scheme}://{self.host}:{port.service_port or port.port}"

    def _service(self, id: str, name: str, *, headless: bool = False,
                 publish_not_ready: bool = False) -> Manifest:
        spec: dict[str, Any] = {}
        if headless:
            spec["clusterIP"] = "None"
        if publish_not_ready:
            spec["publishNotReadyAddresses"] = True
        spec["selector"] = dict(self.selector)
        spec["ports"] = [{"name": p.name, "port": p.service_port or p.port,
                          "targetPort": p.name, "protocol": p.protocol}
                         for p in self.container.ports]
        return Manifest(self, id, api_version="v1", kind="Service", name=name,
                        labels=self.pod_labels, body={"spec": spec})
