"""Family Assistant (apps/family-assistant/): an API backend and a web frontend.

The backend keeps its data in PostgreSQL (its own database and role), caches in Redis and
stores embeddings in Qdrant, reaching each through its Service with its namespace's copy
of each shared credential (sealed once, cluster-wide: the database side reads the same
one). The frontend serves the UI and calls the backend
at ``BACKEND_URL``; only the frontend is exposed.
"""

from __future__ import annotations

from constructs import Construct

from homelab_charts.apps.common import (
    AppRelease,
    IngressController,
    Telemetry,
    otel_env,
    send_telemetry,
    web_ui,
)
from homelab_charts.base import Component, Folder, skip_checkov
from homelab_charts.infrastructure.databases import PostgreSQL, Qdrant, Redis
from homelab_charts.infrastructure.networking import Traefik
from homelab_charts.infrastructure.observability import OtelCollector
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import Container, Port, Probe, Resources, WebService
from homelab_charts.workloads.credentials import Credentials, secret_key
from homelab_charts.workloads.network import Connection
from homelab_charts.workloads.spec import EnvValue

PART_OF = "family-assistant"
#: checkov CKV_K8S_35 on the backend: why its credentials are environment variables.
ENV_SECRETS_REASON = ("the backend reads its credentials from environment variables; the "
                      "Secret is per namespace and the pod mounts no service account token")


@register("services.family-assistant-backend", folder="apps/family-assistant", id="backend")
class FamilyAssistantBackend(Component):
    """The API (``backend.yaml``): port 8000 (``http``), ``/health``, metrics at ``/metrics``.

    Each credential is the app namespace's copy of one shared credential (sealed once,
    see homelab_charts.secrets.shared): ``database_credentials`` holds the role's
    ``password``, ``redis_credentials`` Redis' ``password``, ``qdrant_credentials``
    Qdrant's ``api-key``.
    """

    PORT = 8000

    def __init__(self, scope: Construct, id: str, *, release: AppRelease,
                 database_credentials: Credentials, redis_credentials: Credentials,
                 qdrant_credentials: Credentials, postgresql: PostgreSQL, redis: Redis,
                 qdrant: Qdrant, collector: Telemetry, database: str = "family_assistant",
                 resources: Resources | None = None) -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": PART_OF})
        name = release.name
        db = postgresql.provide_database(database, credentials=database_credentials)
        self.use(database_credentials.component, redis_credentials.component,
                 qdrant_credentials.component, postgresql, redis, qdrant)
        env: dict[str, EnvValue] = {
            "APP_ENV": release.environment,
            "PORT": str(self.PORT),
            "DATABASE_HOST": postgresql.host,
            "DATABASE_PORT": str(postgresql.PORT),
            "DATABASE_NAME": db.name,
            "DATABASE_USER": db.name,
            "DATABASE_PASSWORD": secret_key(database_credentials, "password"),
            "REDIS_HOST": redis.host,
            "REDIS_PORT": str(redis.PORT),
            "REDIS_PASSWORD": secret_key(redis_credentials, "password"),
            "QDRANT_URL": qdrant.server.url("http"),
            "QDRANT_API_KEY": secret_key(qdrant_credentials, "api-key"),
            **otel_env(release, service_name=name, namespace=self.default_namespace or "",
                       collector=collector, protocol="grpc"),
        }
        self.web = WebService(
            self, "server", name=name, replicas=release.replicas, component="backend",
            container=Container(
                image=release.image,
                ports=(Port("http", self.PORT),),
                env=env,
                resources=(resources or release.resources
                           or Resources("100m", "1", "256Mi", "512Mi")),
                startup=Probe.http("/health", "http", period_seconds=5, failure_threshold=30),
                readiness=Probe.http("/health", "http", period_seconds=10),
                liveness=Probe.http("/health", "http", period_seconds=20, failure_threshold=6),
                writable_paths={"tmp": "/tmp"},
            ),
            metrics_port="http",
        )
        self.service = self.web.service
        self.connections: list[Connection] = [
            Connection.to(self.web, postgresql.server, "postgresql"),
            Connection.to(self.web, redis.server, "redis"),
            Connection.to(self.web, qdrant.server, "http"),
        ]
        self.connections += send_telemetry(self, self.web, release=release,
                                           collector=collector, protocol="grpc")
        skip_checkov(self.web.workload, {"CKV_K8S_35": ENV_SECRETS_REASON})

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> FamilyAssistantBackend:
        return cls(scope, id, release=AppRelease.from_data(ctx.data, "family-assistant-backend"),
                   database_credentials=ctx.credentials(
                       scope, "postgresql-family-assistant", keys=["password"], shared=True),
                   redis_credentials=ctx.credentials(scope, "redis-credentials",
                                                     keys=["password"], shared=True),
                   qdrant_credentials=ctx.credentials(scope, "qdrant-credentials",
                                                      keys=["api-key"], shared=True),
                   postgresql=ctx.require(PostgreSQL), redis=ctx.require(Redis),
                   qdrant=ctx.require(Qdrant), collector=ctx.require(OtelCollector))

    def url(self) -> str:
        return self.web.url("http")


@register("services.family-assistant-frontend", folder="apps/family-assistant", id="frontend")
class FamilyAssistantFrontend(Component):
    """The web UI (``frontend.yaml``): port 8080, ``/healthz``, exposed at the release host."""

    PORT = 8080

    def __init__(self, scope: Construct, id: str, *, release: AppRelease,
                 backend: FamilyAssistantBackend, collector: Telemetry,
                 ingress: IngressController, resources: Resources | None = None) -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": PART_OF})
        self.use(backend)
        ui = web_ui(self, release=release, collector=collector, ingress=ingress,
                    part="frontend", port=self.PORT, env={"BACKEND_URL": backend.url()},
                    resources=(resources or release.resources
                               or Resources("50m", "500m", "64Mi", "256Mi")))
        self.web = ui.web
        self.service = self.web.service
        self.ingress = ui.ingress
        self.connections: list[Connection] = [
            Connection.to(self.web, backend.web, "http"),
            *ui.connections,
        ]

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> FamilyAssistantFrontend:
        return cls(scope, id,
                   release=AppRelease.from_data(ctx.data, "family-assistant-frontend"),
                   backend=ctx.require(FamilyAssistantBackend),
                   collector=ctx.require(OtelCollector), ingress=ctx.require(Traefik))
