"""Layer 5: the cluster definition — components wired into Flux Kustomizations.

Each :class:`Layer` is a folder of the tree applied by one Flux Kustomization. A
component records what it needs (``Component.use``) as construct references; after every
component exists, :meth:`Layer.resolve_dependencies` turns those references into the
Kustomization's ``dependsOn``. No Kustomization name is ever typed twice.
"""

from __future__ import annotations

from constructs import Construct

from homelab_charts.apps import (
    AppRelease,
    FamilyAssistantBackend,
    FamilyAssistantFrontend,
    HomelabDashboard,
    N8n,
)
from homelab_charts.apps.common import HOMELAB_WIDE_SKIPS
from homelab_charts.base import Component, Folder, Manifest, app_of, skip_checkov
from homelab_charts.config import HomelabData
from homelab_charts.errors import ConfigError
from homelab_charts.flux import FLUX_SYSTEM_REPOSITORY, Kustomization, ObjectReference
from homelab_charts.flux.images import ImagePolicy, ImageRepository
from homelab_charts.infrastructure.databases import AppDatabase, PostgreSQL, Qdrant, Redis
from homelab_charts.infrastructure.networking import Traefik
from homelab_charts.infrastructure.observability import Loki, OtelCollector, Prometheus
from homelab_charts.secrets.sealed_secret import SealedSecret
from homelab_charts.workloads import Port, Workload
from homelab_charts.workloads.network import Network, Pods

#: checkov skips on the database StatefulSets (their images' own users; docs/CHECKOV.md).
DATABASE_SKIPS = {
    "CKV_K8S_40": "the official image runs as its own low uid (postgres 70, redis 999, qdrant "
                  "1000) owning the data folder; non-root, every capability dropped",
    "CKV_K8S_35": "the official image reads its password from an environment variable; the "
                  "Secret is per namespace and the pod mounts no service account token",
}

#: Pod Security Standards level enforced on every namespace of the tree.
POD_SECURITY_LEVEL = "restricted"


class Layer(Folder):
    """A folder of the tree (``path``, objects in ``namespace``) and the Flux
    Kustomization, written into ``flux_file``, that applies it."""

    def __init__(self, scope: Construct, id: str, *, path: str, namespace: str,
                 flux_file: Component, source: Manifest | ObjectReference = FLUX_SYSTEM_REPOSITORY,
                 interval: str = "1h", timeout: str = "5m", name: str | None = None) -> None:
        super().__init__(scope, id, path=path, namespace=namespace, part_of=id)
        self.kustomization = Kustomization(
            flux_file, id, name=name or id, path=f"./{self.path}", source=source,
            interval=interval, timeout=timeout,
        )

    def resolve_dependencies(self) -> None:
        """``dependsOn`` every other layer holding a component this layer's components use."""
        for component in self.components:
            for used in component.uses:
                layer = used.folder
                if isinstance(layer, Layer) and layer is not self:
                    self.kustomization.add_depends_on(layer.kustomization)


class Namespaces(Component):
    """Every namespace of the tree, labelled to enforce Pod Security Standards."""

    def __init__(self, scope: Construct, id: str, *, names: list[str]) -> None:
        super().__init__(scope, id)
        for name in sorted(set(names)):
            Manifest(self, name, api_version="v1", kind="Namespace", name=name, labels={
                "pod-security.kubernetes.io/enforce": POD_SECURITY_LEVEL,
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/audit": POD_SECURITY_LEVEL,
                "pod-security.kubernetes.io/warn": POD_SECURITY_LEVEL,
            })


class HomelabCluster(Construct):
    """The whole homelab: ``clusters/<name>/``, ``infrastructure/`` and ``apps/``.

    Everything that changes often comes from ``data`` (the checked data file).
    """

    def __init__(self, scope: Construct, id: str, *, data: HomelabData) -> None:
        super().__init__(scope, id)
        self.hc_app = app_of(scope)
        self.data = data
        settings = data.cluster
        root = f"clusters/{settings.name}"
        # clusters/<name>/ is the path of bootstrap's flux-system Kustomization: no
        # kustomization.yaml of ours there, Flux generates one over the whole folder.
        cluster = Folder(self, "cluster", path=root, kustomize=False)
        infrastructure_file = Component(cluster, "infrastructure")
        self.apps_file = Component(cluster, "apps")
        self.secrets = Folder(self, "secrets", path=f"{root}/secrets")
        self.layers: list[Layer] = []
        self._secret_files: dict[str, Component] = {}
        self._layer_ids: set[str] = set()

        networking = self.layer("networking", "infrastructure/networking", infrastructure_file)
        self.ingress = Traefik(networking, "traefik",
                               ingress_class=settings.ingress_class_name)

        databases = self.layer("databases", "infrastructure/databases", infrastructure_file)
        db_secrets = self.secrets_file("databases")
        storage = settings.storage_class_name
        self.postgresql = PostgreSQL(
            databases, "postgresql", image=data.infra_image("postgresql"),
            credentials=SealedSecret(db_secrets, "postgresql-credentials",
                                     name="postgresql-credentials",
                                     keys=["postgres-password", "family-assistant-password",
                                           "n8n-password"]),
            databases=[AppDatabase("family_assistant", "family-assistant-password"),
                       AppDatabase("n8n", "n8n-password")],
            storage_class=storage,
        )
        self.redis = Redis(
            databases, "redis", image=data.infra_image("redis"),
            credentials=SealedSecret(db_secrets, "redis-credentials", name="redis-credentials",
                                     keys=["redis-password"]),
            storage_class=storage,
        )
        self.qdrant = Qdrant(
            databases, "qdrant", image=data.infra_image("qdrant"),
            credentials=SealedSecret(db_secrets, "qdrant-credentials",
                                     name="qdrant-credentials", keys=["api-key"]),
            storage_class=storage,
        )

        observability = self.layer("observability", "infrastructure/observability",
                                   infrastructure_file)
        self.loki = Loki(observability, "loki", image=data.infra_image("loki"),
                         storage_class=storage)
        self.prometheus = Prometheus(observability, "prometheus",
                                     image=data.infra_image("prometheus"),
                                     cluster_name=settings.name, storage_class=storage)
        self.collector = OtelCollector(observability, "otel-collector",
                                       image=data.infra_image("otel-collector"),
                                       loki=self.loki, prometheus=self.prometheus)

        family_assistant = self.layer("family-assistant", "apps/family-assistant",
                                      self.apps_file)
        self.family_assistant_backend = FamilyAssistantBackend(
            family_assistant, "backend",
            release=AppRelease.from_data(data, "family-assistant-backend"),
            credentials=SealedSecret(self.secrets_file("family-assistant"),
                                     "family-assistant-credentials",
                                     name="family-assistant-credentials",
                                     keys=["postgres-password", "redis-password",
                                           "qdrant-api-key"]),
            postgresql=self.postgresql, redis=self.redis, qdrant=self.qdrant,
            collector=self.collector,
        )
        self.family_assistant_frontend = FamilyAssistantFrontend(
            family_assistant, "frontend",
            release=AppRelease.from_data(data, "family-assistant-frontend"),
            backend=self.family_assistant_backend, collector=self.collector,
            ingress=self.ingress,
        )
        dashboard = self.layer("homelab-dashboard", "apps/homelab-dashboard", self.apps_file)
        self.dashboard = HomelabDashboard(
            dashboard, "dashboard", release=AppRelease.from_data(data, "homelab-dashboard"),
            collector=self.collector, ingress=self.ingress,
        )
        n8n = self.layer("n8n", "apps/n8n", self.apps_file)
        self.n8n = N8n(
            n8n, "n8n", release=AppRelease.from_data(data, "n8n"),
            credentials=SealedSecret(self.secrets_file("n8n"), "n8n-credentials",
                                     name="n8n-credentials",
                                     keys=["db-password", "encryption-key"]),
            postgresql=self.postgresql, ingress=self.ingress, storage_class=storage,
        )

        self.image_policies: dict[str, ImagePolicy] = (
            self.image_automation(cluster) if settings.image_automation else {})

        # Default deny in every namespace but networking (Traefik's chart-made pods need
        # the API server and every app; see homelab_charts/workloads/network.py), then the
        # flows the components declared, Prometheus' scrapes and its API access.
        self.network = Network()
        for isolated in (databases, observability, family_assistant, dashboard, n8n):
            self.network.isolate(isolated)
        constructs = self.node.find_all()  # one jsii call for the whole subtree
        self.network.wire(c for c in constructs if isinstance(c, Component))
        workloads = [w for w in constructs if isinstance(w, Workload)]
        for workload in workloads:
            if workload.metrics_port is not None:
                self.network.allow(self.prometheus.server, workload, workload.metrics_port)
        self.network.allow(self.prometheus.server, self._ingress_metrics_pods(), "metrics")
        self.network.allow_kube_api(self.prometheus.server)

        for workload in workloads:
            skip_checkov(workload.workload, HOMELAB_WIDE_SKIPS)
        for database in (self.postgresql, self.redis, self.qdrant):
            skip_checkov(database.server.workload, DATABASE_SKIPS)

        Namespaces(cluster, "namespaces",
                   names=[layer.namespace for layer in self.layers if layer.namespace])
        for layer in self.layers:
            layer.resolve_dependencies()

    def _ingress_metrics_pods(self) -> Pods:
        """The ingress controller's pods and the metrics port its chart annotates them with."""
        port = self.ingress.metrics_port
        namespace = self.ingress.target_namespace or ""
        return Pods.external("ingress-controller", namespace, self.ingress.pod_selector,
                             ports=[Port("metrics", port)])

    def image_automation(self, cluster: Folder) -> dict[str, ImagePolicy]:
        """An ImageRepository and an ImagePolicy (the cluster's environment) per image this
        monorepo builds, in ``clusters/<name>/image-automation.yaml`` (opt-in: the data
        file's ``cluster.imageAutomation``). Flux then reports each service's newest build;
        docs/RELEASING.md tells how to let it write tags back."""
        component = Component(cluster, "image-automation")
        environment = self.data.cluster.environment
        policies: dict[str, ImagePolicy] = {}
        for name, service in sorted(self.data.services.items()):
            if service.upstream:
                continue
            repository = ImageRepository(component, f"{name}-repository", name=name,
                                         image=service.image)
            policies[name] = ImagePolicy(component, f"{name}-policy",
                                         name=f"{name}-{environment}", repository=repository,
                                         environment=environment)
        return policies

    def layer(self, id: str, path: str, flux_file: Component,
              namespace: str | None = None) -> Layer:
        """A new folder applied by its own Flux Kustomization (namespace: ``id``)."""
        if id in self._layer_ids:
            raise ConfigError(self.node.path, "layers", f"two layers named {id!r}")
        created = Layer(self, id, path=path, namespace=namespace or id, flux_file=flux_file)
        self._layer_ids.add(id)
        self.layers.append(created)
        return created

    def secrets_file(self, namespace: str) -> Component:
        """The file of ``clusters/<name>/secrets/`` holding ``namespace``'s SealedSecrets."""
        if namespace not in self._secret_files:
            self._secret_files[namespace] = Component(self.secrets, namespace,
                                                      namespace=namespace)
        return self._secret_files[namespace]
