"""n8n (apps/n8n/): workflow automation on PostgreSQL, with a persistent data folder.

One replica (n8n's regular mode keeps in-process state; scaling out needs queue mode and
Redis), a Deployment with the ``Recreate`` strategy and a ReadWriteOnce claim mounted at
``/home/node/.n8n`` (settings, binary data, community nodes; ``N8N_USER_FOLDER`` pins it
there instead of relying on the runtime's ``HOME``). The database password is a file
(``DB_POSTGRESDB_PASSWORD_FILE``, read by n8n's ``@n8n/config``): ``db-password`` of a
read-only projected volume, the ``password`` of the namespace's copy of the shared
PostgreSQL credential. The encryption key is an environment variable: n8n 1.x reads it
from ``process.env.N8N_ENCRYPTION_KEY`` only (``N8N_ENCRYPTION_KEY_FILE`` is ignored, and
n8n would silently generate a key of its own in the data folder).

The root filesystem is read-only; the image writes, besides the data folder and ``/tmp``,
the editor's static files (``~/.cache/n8n/public``) and npm's cache (``~/.npm``, when
community nodes are installed): both are emptyDirs. Code nodes run in an internal task
runner: a child ``node`` process of the same container, talking to the task broker on
``127.0.0.1:5679`` (loopback, so no port or NetworkPolicy rule). Workflows call external
APIs, webhooks and mail servers: the data file's ``platform.network.egress.n8n`` lets its
pods out.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from homelab_charts.apps.common import AppRelease, IngressController, expose
from homelab_charts.base import Component, Folder, Manifest, skip_checkov
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.backup import Backups
from homelab_charts.infrastructure.databases import PostgreSQL
from homelab_charts.infrastructure.networking import Traefik
from homelab_charts.registry import ClusterContext, register
from homelab_charts.secrets.sealed_secret import SealedSecret
from homelab_charts.workloads import Container, Port, Probe, Resources, RunAs, WebService
from homelab_charts.workloads.network import Connection
from homelab_charts.workloads.spec import EnvValue, quantity

HOME = "/home/node"
DATA_PATH = f"{HOME}/.n8n"
SECRETS_PATH = "/run/secrets/n8n"
#: Folders n8n writes outside its data folder (emptyDirs on the read-only root): /tmp,
#: the editor's static files (``~/.cache/n8n/public``) and npm's cache (``~/.npm``, used
#: by community-node installs, whose npm children may not inherit the environment).
WRITABLE_PATHS = {"tmp": "/tmp", "cache": f"{HOME}/.cache", "npm": f"{HOME}/.npm"}
#: checkov CKV_K8S_40 on n8n: why it runs as uid 1000.
IMAGE_USER_REASON = ("n8n's image runs as its node user (uid 1000) whose home holds the data "
                     "folder; the pod is still non-root with every capability dropped")
#: checkov CKV_K8S_35 on n8n: why the encryption key is an environment variable.
ENV_KEY_REASON = ("n8n 1.x reads its encryption key from N8N_ENCRYPTION_KEY only "
                  "(N8N_ENCRYPTION_KEY_FILE is ignored); the database password is a file")


@register("services.n8n", folder="apps/n8n")
class N8n(Component):
    """n8n (``n8n.yaml``): port 5678, ``/healthz`` and ``/healthz/readiness``, metrics on.

    ``credentials`` must declare ``encryption-key``; ``database_credentials`` (the
    namespace's copy of the ``n8n`` role's shared credential) ``password``.
    """

    PORT = 5678

    def __init__(self, scope: Construct, id: str, *, release: AppRelease,
                 credentials: SealedSecret, database_credentials: SealedSecret,
                 postgresql: PostgreSQL, ingress: IngressController, database: str = "n8n",
                 storage_size: str = "5Gi", storage_class: str | None = None,
                 resources: Resources | None = None, timezone: str = "Europe/Berlin") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "n8n"})
        if release.replicas != 1:
            raise ConfigError(self.where,
                              f"services.{release.name}.environments.{release.environment}"
                              ".replicas",
                              f"{release.replicas}: n8n runs exactly 1 replica (one "
                              "ReadWriteOnce data volume; scaling needs queue mode)")
        try:
            quantity(storage_size, "storage_size")
        except ConfigError as exc:
            raise ConfigError(self.where, "storage_size", exc.message) from None
        db = postgresql.provide_database(database, credentials=database_credentials)
        host = release.require_host(self.where)
        self.use(credentials.component, database_credentials.component, postgresql)
        name = release.name
        password = database_credentials.key_ref("password")
        claim = Manifest(self, "data", api_version="v1", kind="PersistentVolumeClaim",
                         name=f"{name}-data", body={"spec": {
                             "accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": storage_size}},
                             **({"storageClassName": storage_class} if storage_class else {}),
                         }})
        volumes: tuple[dict[str, Any], ...] = (
            {"name": "data", "persistentVolumeClaim": {"claimName": claim.object_name}},
            {"name": "credentials", "projected": {"defaultMode": 0o440, "sources": [
                {"secret": {"name": password["name"], "items": [
                    {"key": password["key"], "path": "db-password"}]}},
            ]}},
        )
        mounts: tuple[dict[str, Any], ...] = (
            {"name": "data", "mountPath": DATA_PATH},
            {"name": "credentials", "mountPath": SECRETS_PATH, "readOnly": True},
        )
        env: dict[str, EnvValue] = {
            "DB_TYPE": "postgresdb",
            "DB_POSTGRESDB_HOST": postgresql.host,
            "DB_POSTGRESDB_PORT": str(postgresql.PORT),
            "DB_POSTGRESDB_DATABASE": db.name,
            "DB_POSTGRESDB_USER": db.name,
            "DB_POSTGRESDB_PASSWORD_FILE": f"{SECRETS_PATH}/db-password",
            "N8N_ENCRYPTION_KEY": credentials.secret_key("encryption-key"),
            "N8N_USER_FOLDER": HOME,
            "N8N_PORT": str(self.PORT),
            "N8N_HOST": host,
            "N8N_PROTOCOL": "https",
            "WEBHOOK_URL": f"https://{host}/",
            "N8N_PROXY_HOPS": "1",
            "N8N_METRICS": "true",
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "true",
            "N8N_RUNNERS_ENABLED": "true",
            "N8N_RUNNERS_MODE": "internal",
            "GENERIC_TIMEZONE": timezone,
            "TZ": timezone,
        }
        self.web = WebService(
            self, "server", name=name, replicas=1, component="automation",
            strategy="Recreate", volumes=volumes, volume_mounts=mounts,
            container=Container(
                image=release.image,
                ports=(Port("http", self.PORT),),
                env=env,
                resources=(resources or release.resources
                           or Resources("100m", "1", "256Mi", "1Gi")),
                # Database migrations run before the server listens.
                startup=Probe.http("/healthz", "http", period_seconds=5, failure_threshold=60),
                readiness=Probe.http("/healthz/readiness", "http", period_seconds=10),
                liveness=Probe.http("/healthz", "http", period_seconds=20, failure_threshold=6),
                writable_paths=WRITABLE_PATHS,
                run_as=RunAs(user=1000, group=1000, fs_group=1000),
            ),
            metrics_port="http",
        )
        self.service = self.web.service
        self.claim = claim
        self.ingress, from_controller = expose(self, self.web, release=release,
                                               controller=ingress)
        self.connections: list[Connection] = [
            Connection.to(self.web, postgresql.server, "postgresql"),
            from_controller,
        ]
        skip_checkov(self.web.workload, {"CKV_K8S_40": IMAGE_USER_REASON,
                                         "CKV_K8S_35": ENV_KEY_REASON})

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> N8n:
        """n8n, and the backup of its data folder when backups are on
        (``infrastructure.backup``; docs/BACKUPS.md)."""
        n8n = cls(scope, id, release=AppRelease.from_data(ctx.data, "n8n"),
                  credentials=ctx.credentials(scope, "n8n-credentials",
                                              keys=["encryption-key"]),
                  database_credentials=ctx.credentials(scope, "postgresql-n8n",
                                                       keys=["password"], shared=True),
                  postgresql=ctx.require(PostgreSQL), ingress=ctx.require(Traefik),
                  storage_class=ctx.settings.storage_class_name)
        backups = ctx.find(Backups)
        if backups is not None:
            backups.protect_folder(n8n, ctx, name="n8n", claim=n8n.claim.object_name,
                                   user=n8n.web.container.run_as.user, writer=n8n.web)
        return n8n
