"""Qdrant: the vector database, API-key protected, with persistent storage."""

from __future__ import annotations

from constructs import Construct

from homelab_charts.base import Folder
from homelab_charts.config import Image
from homelab_charts.infrastructure.databases.server import DatabaseServer
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import Container, Port, Probe, Resources, RunAs, StatefulService
from homelab_charts.workloads.credentials import Credentials, secret_key


@register("infrastructure.qdrant", folder="infrastructure/databases")
class Qdrant(DatabaseServer):
    """Qdrant as a StatefulSet (``qdrant.yaml``) on its ``-unprivileged`` image; the API
    key is ``api_key_key`` of ``credentials``. HTTP on 6333, gRPC on 6334."""

    HTTP_PORT = 6333
    GRPC_PORT = 6334

    def __init__(self, scope: Construct, id: str, *, image: Image, credentials: Credentials,
                 api_key_key: str = "api-key", storage_size: str = "10Gi",
                 storage_class: str | None = None, resources: Resources | None = None,
                 name: str = "qdrant") -> None:
        super().__init__(scope, id, credentials=credentials)
        self.server = StatefulService(
            self, "server", name=name,
            container=Container(
                image=image,
                ports=(Port("http", self.HTTP_PORT), Port("grpc", self.GRPC_PORT)),
                env={
                    "QDRANT__SERVICE__API_KEY": secret_key(credentials, api_key_key),
                    "QDRANT__TELEMETRY_DISABLED": "true",
                    # Snapshots on the data volume: they survive restarts and can be large.
                    "QDRANT__STORAGE__SNAPSHOTS_PATH": "/qdrant/storage/snapshots",
                    # The marker of a finished first start, on the data volume (the root
                    # filesystem is read-only): it lives as long as the data it describes.
                    "QDRANT_INIT_FILE_PATH": "/qdrant/storage/.qdrant-initialized",
                },
                resources=resources or Resources("100m", "1", "256Mi", "1Gi"),
                # Health endpoints answer without the API key. Loading large collections
                # at start may take minutes: the startup probe allows ten.
                startup=Probe.http("/livez", "http", period_seconds=10, failure_threshold=60),
                readiness=Probe.http("/readyz", "http", period_seconds=10),
                liveness=Probe.http("/livez", "http", period_seconds=20, failure_threshold=6),
                writable_paths={"tmp": "/tmp"},
                run_as=RunAs(user=1000, group=1000, fs_group=1000),
            ),
            data_path="/qdrant/storage", storage_size=storage_size, storage_class=storage_class,
        )

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Qdrant:
        """The homelab's Qdrant: image from ``infrastructure.qdrant``, its API key the
        shared credential ``qdrant-credentials`` (sealed once; each client asks for its
        namespace's copy with ``ctx.credentials(..., shared=True)``)."""
        return cls(scope, id, image=ctx.image("qdrant"),
                   credentials=ctx.credentials(scope, "qdrant-credentials", keys=["api-key"],
                                               shared=True),
                   storage_class=ctx.settings.storage_class_name)
