"""Layer 5: the cluster definition — components wired into Flux Kustomizations.

Each :class:`Layer` is a folder of the tree applied by one Flux Kustomization. A
component records what it needs (``Component.use``) as construct references; after every
component exists, :meth:`Layer.resolve_dependencies` turns those references into the
Kustomization's ``dependsOn``. No Kustomization name is ever typed twice.
"""

from __future__ import annotations

from constructs import Construct

from homelab_charts.base import Component, Folder, Manifest, app_of
from homelab_charts.config import HomelabData
from homelab_charts.errors import ConfigError
from homelab_charts.flux import FLUX_SYSTEM_REPOSITORY, Kustomization, ObjectReference
from homelab_charts.infrastructure.databases import AppDatabase, PostgreSQL, Qdrant, Redis
from homelab_charts.infrastructure.networking import Traefik
from homelab_charts.secrets.sealed_secret import SealedSecret

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

        Namespaces(cluster, "namespaces",
                   names=[layer.namespace for layer in self.layers if layer.namespace])
        for layer in self.layers:
            layer.resolve_dependencies()

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
