"""One backup builder per stateful component: what its dump and its load are.

Each returns the :class:`~.jobs.ComponentBackup` (its CronJob ``<component>-backup`` is in
the namespace's ``backups.yaml``), declaring the flows its pods need; the restore command
derives the workloads a restore stops from the cluster's declared connections
(:mod:`homelab_charts.operations.backup`).
"""

from __future__ import annotations

from collections.abc import Mapping

from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.backup.jobs import (
    BACKUP_GROUP,
    DUMP_RESOURCES,
    RESTIC_USER,
    RESTORE_DIR,
    WORK_DIR,
    BackupFiles,
    ComponentBackup,
)
from homelab_charts.infrastructure.backup.scripts import MOUNT_PATH, command
from homelab_charts.infrastructure.databases import PostgreSQL, Qdrant, Redis
from homelab_charts.workloads import Container, RunAs
from homelab_charts.workloads.job import JobStep
from homelab_charts.workloads.spec import EnvValue, SecretKeyRef
from homelab_charts.workloads.workload import Workload

#: The pod of every backup and restore job: restic's user, the shared group.
POD_USER = RunAs(user=RESTIC_USER, group=BACKUP_GROUP, fs_group=BACKUP_GROUP)


def _secret(env: Mapping[str, EnvValue], name: str, where: str) -> SecretKeyRef:
    value = env.get(name)
    if not isinstance(value, SecretKeyRef):
        raise ConfigError(where, f"env.{name}", "expected a value read from a Secret")
    return value


def _step(files: BackupFiles, name: str, script: str, image: Image, user: int,
          env: Mapping[str, EnvValue], *mounts: Mapping[str, object]) -> JobStep:
    return JobStep(name, Container(
        image=image, command=command(script),
        env={**env, "SCRIPTS_DIR": MOUNT_PATH, "HOME": "/tmp", "TMPDIR": "/tmp"},
        resources=DUMP_RESOURCES, writable_paths={"tmp": "/tmp"},
        run_as=RunAs(user=user, group=BACKUP_GROUP),
    ), mounts=(*files.common_mounts(), *mounts))


def postgresql_backup(files: BackupFiles, postgresql: PostgreSQL) -> ComponentBackup:
    """``pg_dump -Fc`` of each database and ``pg_dumpall --roles-only``, from the server's
    own image (its uid 70) as the superuser; restores drop and recreate each database."""
    server = postgresql.server.container
    env: dict[str, EnvValue] = {
        "POSTGRES_HOST": postgresql.host,
        "POSTGRES_PORT": str(postgresql.PORT),
        "PGUSER": "postgres",
        "PGPASSWORD": _secret(server.env, "POSTGRES_PASSWORD", postgresql.where),
        "BACKUP_DIR": WORK_DIR,
    }
    user = server.run_as.user
    return ComponentBackup(
        files, "postgresql", component="postgresql", run_as=POD_USER,
        dump=[_step(files, "dump", "postgresql-dump.sh", server.image, user, env)],
        load=[_step(files, "load", "postgresql-load.sh", server.image, user,
                    {**env, "RESTORE_DIR": RESTORE_DIR})],
        selector=("database", "RESTORE_DATABASE"),
        server=postgresql.server, port="postgresql",
        consistency="pg_dump runs in one transaction: each database is a consistent copy",
    )


def redis_backup(files: BackupFiles, redis: Redis) -> ComponentBackup:
    """An RDB streamed with ``redis-cli --rdb``; restores rebuild the data folder offline
    (Redis scaled to 0) from it, append-only files included."""
    server = redis.server.container
    env: dict[str, EnvValue] = {
        "REDIS_HOST": redis.host,
        "REDIS_PORT": str(redis.PORT),
        "REDISCLI_AUTH": _secret(server.env, "REDISCLI_AUTH", redis.where),
        "BACKUP_DIR": WORK_DIR,
    }
    user = server.run_as.user
    claim = f"data-{redis.server.name}-0"  # the StatefulSet's volumeClaimTemplate "data"
    return ComponentBackup(
        files, "redis", component="redis", run_as=POD_USER,
        dump=[_step(files, "dump", "redis-dump.sh", server.image, user, env)],
        load=[_step(files, "load", "redis-load.sh", server.image, user,
                    {"RESTORE_DIR": RESTORE_DIR, "REDIS_DATA_DIR": "/data"},
                    {"name": "redis-data", "mountPath": "/data"})],
        restore_volumes=[{"name": "redis-data", "persistentVolumeClaim": {"claimName": claim}}],
        server=redis.server, port="redis", stop_server=True,
        consistency="the RDB is the server's fork at one instant",
    )


def qdrant_backup(files: BackupFiles, qdrant: Qdrant, curl: Image) -> ComponentBackup:
    """A snapshot per collection through Qdrant's HTTP API (the pinned curl image);
    restores upload each snapshot back (``priority=snapshot``)."""
    env: dict[str, EnvValue] = {
        "QDRANT_URL": qdrant.server.url("http"),
        "QDRANT_API_KEY": _secret(qdrant.server.container.env, "QDRANT__SERVICE__API_KEY",
                                  qdrant.where),
        "BACKUP_DIR": WORK_DIR,
    }
    return ComponentBackup(
        files, "qdrant", component="qdrant", run_as=POD_USER,
        dump=[_step(files, "dump", "qdrant-dump.sh", curl, RESTIC_USER, env)],
        load=[_step(files, "load", "qdrant-load.sh", curl, RESTIC_USER,
                    {**env, "RESTORE_DIR": RESTORE_DIR})],
        selector=("collection", "RESTORE_COLLECTION"),
        server=qdrant.server, port="http",
        consistency="a Qdrant snapshot is one collection at one instant",
    )


def files_backup(files: BackupFiles, component: str, *, claim: str, user: int,
                 writer: Workload | None = None) -> ComponentBackup:
    """A data folder (``claim``, read-only) stored by restic as it is; restores replace
    the folder's contents with the snapshot's, ``writer`` (the workload mounting the
    folder) stopped."""
    if user != RESTIC_USER:
        raise ConfigError(f"{component} backup", "user",
                          f"restic runs as uid {RESTIC_USER}; the folder's owner is {user}")
    path = f"{WORK_DIR}/{component}"
    volume = f"{component}-data"
    return ComponentBackup(
        files, component, component=component, run_as=POD_USER,
        backup_path=path,
        backup_volumes=[{"name": volume, "persistentVolumeClaim": {"claimName": claim,
                                                                   "readOnly": True}}],
        backup_mounts=[{"name": volume, "mountPath": path, "readOnly": True}],
        restore_in_place="/data",
        restore_volumes=[{"name": volume, "persistentVolumeClaim": {"claimName": claim}}],
        restore_mounts=[{"name": volume, "mountPath": "/data"}],
        server=writer, stop_server=writer is not None,
        consistency="files as they are at the time (the writer keeps running)",
    )
