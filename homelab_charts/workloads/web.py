"""A stateless web service: a Deployment and a Service, optionally exposed by an Ingress."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest
from homelab_charts.errors import ConfigError
from homelab_charts.flux.common import check_positive
from homelab_charts.workloads.pod import pod_template
from homelab_charts.workloads.spec import Container
from homelab_charts.workloads.workload import Workload


class WebService(Workload):
    """``replicas`` copies of a stateless server, rolled one at a time with no downtime.

    ``volumes``/``volume_mounts`` add volumes beyond the scratch folders (for example a
    PersistentVolumeClaim); with a ReadWriteOnce claim keep ``replicas`` at 1 and use
    ``strategy="Recreate"``.
    """

    def __init__(self, scope: Construct, id: str, *, name: str, container: Container,
                 replicas: int = 1, component: str = "server", metrics_port: str | None = None,
                 metrics_path: str = "/metrics",
                 pod_annotations: Mapping[str, str] | None = None,
                 strategy: str = "RollingUpdate",
                 volumes: tuple[Mapping[str, Any], ...] = (),
                 volume_mounts: tuple[Mapping[str, Any], ...] = (),
                 service_account: str | None = None) -> None:
        super().__init__(scope, id, name=name, container=container, component=component,
                         metrics_port=metrics_port, metrics_path=metrics_path,
                         pod_annotations=pod_annotations)
        check_positive(self, None, "replicas", replicas)
        if strategy not in ("RollingUpdate", "Recreate"):
            raise ConfigError(self.node.path, "strategy",
                              f"{strategy!r} must be RollingUpdate or Recreate")
        self.replicas = replicas
        self.service = self._service("service", name)
        template = pod_template(name, container, labels=self.pod_labels, owner=self,
                                annotations=self.pod_annotations, extra_mounts=volume_mounts,
                                extra_volumes=volumes, service_account=service_account)
        rollout: dict[str, Any] = {"type": strategy}
        if strategy == "RollingUpdate":
            rollout["rollingUpdate"] = {"maxSurge": 1, "maxUnavailable": 0}
        self.workload = Manifest(self, "deployment", api_version="apps/v1", kind="Deployment",
                                 name=name, labels=self.pod_labels, body={"spec": {
                                     "replicas": replicas,
                                     "revisionHistoryLimit": 3,
                                     "strategy": rollout,
                                     "selector": {"matchLabels": dict(self.selector)},
                                     "template": template,
                                 }})

    def expose(self, id: str, *, host: str, port_name: str, ingress_class: str,
               path: str = "/", annotations: Mapping[str, str] | None = None,
               tls_secret: str | None = None) -> Manifest:
        """An Ingress routing ``host`` to this service's ``port_name`` port, served over
        TLS with the certificate of Secret ``tls_secret`` when given."""
        port = self.port(port_name)
        tls = {"tls": [{"hosts": [host], "secretName": tls_secret}]} if tls_secret else {}
        return Manifest(self, id, api_version="networking.k8s.io/v1", kind="Ingress",
                        name=self.name, labels=self.pod_labels, annotations=annotations,
                        body={"spec": {
                            "ingressClassName": ingress_class,
                            **tls,
                            "rules": [{"host": host, "http": {"paths": [{
                                "path": path, "pathType": "Prefix",
                                "backend": {"service": {
                                    "name": self.service.object_name,
                                    "port": {"number": port.service_port or port.port}}},
                            }]}}],
                        }})
