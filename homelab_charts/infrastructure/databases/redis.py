"""Redis: a password-protected, append-only persisted single instance.

The password never appears on a command line (``/proc/<pid>/cmdline`` is readable by
every process of the node's users): the server reads ``requirepass`` from a file of its
Secret, rendered by the Sealed Secrets controller from the sealed password
(:data:`AUTH_TEMPLATE`), which the ConfigMap's ``redis.conf`` includes; the readiness
probe's ``redis-cli`` takes it from ``REDISCLI_AUTH``.
"""

from __future__ import annotations

from constructs import Construct

from homelab_charts.base import Folder, Manifest
from homelab_charts.config import Image
from homelab_charts.infrastructure.databases.server import DatabaseServer
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import (
    ConfigFile,
    Container,
    Port,
    Probe,
    Resources,
    RunAs,
    StatefulService,
)
from homelab_charts.workloads.credentials import Credentials, secret_key

#: The Secret key holding Redis' auth configuration, and its Go template (Sealed
#: Secrets' ``spec.template.data``): ``toJson`` quotes and escapes the password the way
#: redis.conf reads a double-quoted string.
AUTH_KEY = "redis-auth.conf"
AUTH_TEMPLATE = "requirepass {{ toJson .password }}\n"
AUTH_DIR = "/run/secrets/redis"
CONFIG_PATH = "/etc/redis/redis.conf"


def auth_template(password_key: str) -> dict[str, str]:
    """The ``template_data`` the databases namespace's copy of the credential needs."""
    if password_key != "password":
        return {AUTH_KEY: f'requirepass {{{{ toJson (index . "{password_key}") }}}}\n'}
    return {AUTH_KEY: AUTH_TEMPLATE}


@register("infrastructure.redis", folder="infrastructure/databases")
class Redis(DatabaseServer):
    """Redis as a StatefulSet (``redis.yaml``); the password is ``password_key`` of
    ``credentials``, whose Secret must also hold ``redis-auth.conf`` (see
    :func:`auth_template`). Data is persisted with the append-only file under ``/data``."""

    PORT = 6379

    def __init__(self, scope: Construct, id: str, *, image: Image, credentials: Credentials,
                 password_key: str = "password", storage_size: str = "2Gi",
                 storage_class: str | None = None, resources: Resources | None = None,
                 max_memory: str = "192mb", name: str = "redis") -> None:
        super().__init__(scope, id, credentials=credentials)
        self.credentials = credentials
        self.password_key = password_key
        config = Manifest(self, "config", api_version="v1", kind="ConfigMap",
                          name=f"{name}-config", body={"data": {"redis.conf": "".join((
                              "dir /data\n",
                              "appendonly yes\n",
                              f"maxmemory {max_memory}\n",
                              "maxmemory-policy noeviction\n",
                              f"include {AUTH_DIR}/{AUTH_KEY}\n",
                          ))}})
        auth = credentials.key_ref(AUTH_KEY)
        ping = ("sh", "-c", "redis-cli --no-auth-warning ping | grep -q PONG")
        self.server = StatefulService(
            self, "server", name=name,
            container=Container(
                image=image,
                ports=(Port("redis", self.PORT),),
                # Read by redis-cli (the probe) only; the server reads the file.
                env={"REDISCLI_AUTH": secret_key(credentials, password_key)},
                command=("redis-server",),
                args=(CONFIG_PATH,),
                resources=resources or Resources("50m", "500m", "64Mi", "256Mi"),
                readiness=Probe.exec(*ping, period_seconds=10),
                liveness=Probe.tcp("redis", period_seconds=20, failure_threshold=6),
                writable_paths={"tmp": "/tmp"},
                config_files=(ConfigFile(config.object_name, "redis.conf", CONFIG_PATH),),
                # The official image's redis user (alpine: uid 999, gid 1000).
                run_as=RunAs(user=999, group=1000, fs_group=1000),
            ),
            data_path="/data", storage_size=storage_size, storage_class=storage_class,
            volumes=({"name": "auth", "secret": {
                "secretName": auth["name"], "defaultMode": 0o440,
                "items": [{"key": auth["key"], "path": AUTH_KEY}]}},),
            volume_mounts=({"name": "auth", "mountPath": AUTH_DIR, "readOnly": True},),
        )

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Redis:
        """The homelab's Redis: image from ``infrastructure.redis``, its password the
        shared credential ``redis-credentials`` (sealed once; each client asks for its
        namespace's copy with ``ctx.credentials(..., shared=True)``)."""
        return cls(scope, id, image=ctx.image("redis"),
                   credentials=ctx.credentials(scope, "redis-credentials", keys=["password"],
                                               shared=True,
                                               template_data=auth_template("password")),
                   storage_class=ctx.settings.storage_class_name)
