"""A stateful service: a StatefulSet with its own volume, a headless and a client Service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from homelab_charts.base import Manifest
from homelab_charts.errors import ConfigError
from homelab_charts.workloads.pod import pod_template
from homelab_charts.workloads.spec import Container, quantity
from homelab_charts.workloads.workload import Workload


class StatefulService(Workload):
    """One replica of a server that keeps data (a database), hardened.

    ``data_path`` is where the volume claimed from ``storage_class`` (``storage_size``)
    is mounted; ``storage_class=None`` uses the cluster's default class. The headless
    Service (``<name>-headless``) gives the pod a stable DNS name; the client Service
    (``<name>``) is what other components use.
    """

    def __init__(self, scope: Construct, id: str, *, name: str, container: Container,
                 data_path: str, storage_size: str = "5Gi", storage_class: str | None = None,
                 component: str = "database", metrics_port: str | None = None,
                 pod_annotations: Mapping[str, str] | None = None,
                 termination_grace_period_seconds: int = 60,
                 service_account: str | None = None,
                 volumes: tuple[Mapping[str, Any], ...] = (),
                 volume_mounts: tuple[Mapping[str, Any], ...] = ()) -> None:
        super().__init__(scope, id, name=name, container=container, component=component,
                         metrics_port=metrics_port, pod_annotations=pod_annotations)
        try:
            quantity(storage_size, "storage_size")
        except ConfigError as exc:
            raise ConfigError(self.node.path, "storage_size", exc.message) from None
        if not data_path.startswith("/"):
            raise ConfigError(self.node.path, "data_path", f"{data_path!r} must be absolute")
        self.headless = self._service("headless", f"{name}-headless", headless=True,
                                      publish_not_ready=True)
        self.service = self._service("service", name)
        claim_spec: dict[str, object] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": storage_size}},
        }
        if storage_class:
            claim_spec["storageClassName"] = storage_class
        template = pod_template(
            name, container, labels=self.pod_labels, owner=self,
            annotations=self.pod_annotations,
            extra_mounts=[{"name": "data", "mountPath": data_path}, *volume_mounts],
            extra_volumes=volumes,
            termination_grace_period_seconds=termination_grace_period_seconds,
            service_account=service_account,
        )
        self.workload = Manifest(self, "statefulset", api_version="apps/v1", kind="StatefulSet",
                                 name=name, labels=self.pod_labels, body={"spec": {
                                     "serviceName": self.headless.object_name,
                                     "replicas": 1,
                                     "revisionHistoryLimit": 3,
                                     "podManagementPolicy": "OrderedReady",
                                     "updateStrategy": {"type": "RollingUpdate"},
                                     "persistentVolumeClaimRetentionPolicy": {
                                         "whenDeleted": "Retain", "whenScaled": "Retain"},
                                     "selector": {"matchLabels": dict(self.selector)},
                                     "template": template,
                                     "volumeClaimTemplates": [{
                                         "metadata": {"name": "data"},
                                         "spec": claim_spec,
                                     }],
                                 }})
