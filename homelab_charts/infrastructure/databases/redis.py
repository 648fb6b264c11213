"""Redis: a password-protected, append-only persisted single instance."""

from __future__ import annotations

from constructs import Construct

from homelab_charts.base import Component, Folder
from homelab_charts.config import Image
from homelab_charts.infrastructure.databases.skips import DATABASE_SKIPS
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import Container, Port, Probe, Resources, RunAs, StatefulService
from homelab_charts.workloads.credentials import Credentials, secret_key


@register("infrastructure.redis", folder="infrastructure/databases")
class Redis(Component):
    """Redis as a StatefulSet (``redis.yaml``); the password is ``password_key`` of
    ``credentials``. Data is persisted with the append-only file under ``/data``."""

    PORT = 6379
    checkov_skips = DATABASE_SKIPS

    def __init__(self, scope: Construct, id: str, *, image: Image, credentials: Credentials,
                 password_key: str = "redis-password", storage_size: str = "2Gi",
                 storage_class: str | None = None, resources: Resources | None = None,
                 max_memory: str = "192mb", name: str = "redis") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "databases"})
        self.use(credentials.component)
        ping = ("sh", "-c", 'redis-cli --no-auth-warning -a "$REDIS_PASSWORD" ping | grep -q PONG')
        self.server = StatefulService(
            self, "server", name=name,
            container=Container(
                image=image,
                ports=(Port("redis", self.PORT),),
                env={"REDIS_PASSWORD": secret_key(credentials, password_key)},
                command=("redis-server",),
                args=("--dir", "/data", "--appendonly", "yes", "--maxmemory", max_memory,
                      "--maxmemory-policy", "noeviction", "--requirepass", "$(REDIS_PASSWORD)"),
                resources=resources or Resources("50m", "500m", "64Mi", "256Mi"),
                readiness=Probe.exec(*ping, period_seconds=10),
                liveness=Probe.tcp("redis", period_seconds=20, failure_threshold=6),
                writable_paths={"tmp": "/tmp"},
                # The official image's redis user (alpine: uid 999, gid 1000).
                run_as=RunAs(user=999, group=1000, fs_group=1000),
            ),
            data_path="/data", storage_size=storage_size, storage_class=storage_class,
        )
        self.service = self.server.service

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Redis:
        """The homelab's Redis: image from ``infrastructure.redis``, its password in
        ``redis-credentials``."""
        return cls(scope, id, image=ctx.image("redis"),
                   credentials=ctx.credentials(scope, "redis-credentials",
                                               keys=["redis-password"]),
                   storage_class=ctx.settings.storage_class_name)

    @property
    def host(self) -> str:
        return self.server.host
