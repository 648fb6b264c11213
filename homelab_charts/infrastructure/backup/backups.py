"""The registered backup component: the data file's ``infrastructure.backup`` entry.

:class:`Backups` is ``infrastructure/databases/backups.yaml``: it finds PostgreSQL, Redis
and Qdrant through the cluster context (``ctx.find``: a disabled one simply has no
backup) and adds their CronJobs and the repository's maintenance jobs (``restic-forget``,
``restic-check``). An app with a data folder asks for it in its own ``create`` and hands
its folder over (:meth:`Backups.protect_folder`: n8n does): infrastructure never imports
apps, and an app that is off never asks. Each namespace with backups gets its own
``backups.yaml`` and ``restic-repository`` SealedSecret.
"""

from __future__ import annotations

from homelab_charts.base import Component, Folder
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.backup.alerts import alert_group, alert_rules
from homelab_charts.infrastructure.backup.components import (
    files_backup,
    postgresql_backup,
    qdrant_backup,
    redis_backup,
)
from homelab_charts.infrastructure.backup.jobs import (
    REPOSITORY_SECRET,
    BackupFiles,
    ComponentBackup,
    repository_secret_keys,
)
from homelab_charts.infrastructure.backup.settings import ENTRY, BackupSettings, from_data
from homelab_charts.infrastructure.databases import PostgreSQL, Qdrant, Redis
from homelab_charts.infrastructure.observability.kube_state_metrics import KubeStateMetrics
from homelab_charts.infrastructure.observability.prometheus import Prometheus
from homelab_charts.registry import ClusterContext, register
from homelab_charts.secrets.sealed_secret import SealedSecret
from homelab_charts.workloads.workload import Workload

#: The file of each namespace with backups (``<folder>/backups.yaml``).
FILE_ID = "backups"


@register(ENTRY, folder="infrastructure/databases", id=FILE_ID)
class Backups(BackupFiles):
    """Every backup of the homelab (the data file's ``infrastructure.backup``): restic
    CronJobs for PostgreSQL, Redis, Qdrant and the data folders apps hand over with
    ``protect_folder``. ``plans`` maps each backed-up component's name (the name
    ``homelab-charts backup|restore`` take) to its backup and restore (docs/BACKUPS.md)."""

    def __init__(self, scope: Folder, id: str, *, settings: BackupSettings,
                 repository: SealedSecret, host: str, postgresql: PostgreSQL | None = None,
                 redis: Redis | None = None, qdrant: Qdrant | None = None) -> None:
        super().__init__(scope, id, settings=settings, repository=repository, host=host)
        self.plans: dict[str, ComponentBackup] = {}
        self._files: dict[str, BackupFiles] = {self.namespace: self}
        self._prometheus: Prometheus | None = None
        if postgresql is not None:
            self._add(postgresql_backup(self, postgresql))
        if redis is not None:
            self._add(redis_backup(self, redis))
        if qdrant is not None:
            self._add(qdrant_backup(self, qdrant, settings.curl_image))
        self.maintenance()

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Backups:
        settings = from_data(ctx.data)
        if settings is None:  # the cluster builds only enabled entries
            raise ConfigError(str(ctx.data.path), ENTRY, "disabled")
        backups = cls(scope, id, settings=settings,
                      repository=ctx.credentials(scope, REPOSITORY_SECRET,
                                                 repository_secret_keys(settings),
                                                 shared=True),
                      host=ctx.settings.name, postgresql=ctx.find(PostgreSQL),
                      redis=ctx.find(Redis), qdrant=ctx.find(Qdrant))
        # The alerts read kube-state-metrics' CronJob and Job series: without it, none.
        backups.watch(ctx.find(Prometheus) if ctx.find(KubeStateMetrics) else None)
        return backups

    def watch(self, prometheus: Prometheus | None) -> None:
        """Alert through ``prometheus`` (None: the cluster has none) when a backup is older
        than 26 hours or a backup job failed: one rule group per backed-up component and
        one per namespace's repository maintenance, now and for backups added later."""
        self._prometheus = prometheus
        for name, plan in sorted(self.plans.items()):
            self._watch_plan(name, plan)
        for namespace, files in sorted(self._files.items()):
            self._watch_maintenance(namespace, files)

    def _watch_plan(self, name: str, plan: ComponentBackup) -> None:
        if self._prometheus is not None:
            self._prometheus.add_rule_group(alert_group(
                f"backup-{plan.namespace}-{name}",
                alert_rules([(name, plan.namespace, plan.name)])))

    def _watch_maintenance(self, namespace: str, files: BackupFiles) -> None:
        if self._prometheus is not None and files.maintenance_jobs:
            jobs = [(job, namespace, f"restic-{job}") for job in files.maintenance_jobs]
            self._prometheus.add_rule_group(alert_group(f"restic-{namespace}",
                                                        alert_rules((), jobs)))

    def files_in(self, folder: Folder, ctx: ClusterContext) -> BackupFiles:
        """The ``backups.yaml`` of ``folder``'s namespace, made on first use with that
        namespace's copy of ``restic-repository`` (sealed once, cluster-wide)."""
        if folder.namespace is None:
            raise ConfigError(folder.node.path, "namespace", "backups need a namespace")
        files = self._files.get(folder.namespace)
        if files is None:
            repository = ctx.credentials(folder, REPOSITORY_SECRET,
                                         repository_secret_keys(self.settings),
                                         shared=True)
            files = BackupFiles(folder, FILE_ID, settings=self.settings,
                                repository=repository, host=self.host)
            self._files[folder.namespace] = files
            self._watch_maintenance(folder.namespace, files)
        return files

    def protect_folder(self, component: Component, ctx: ClusterContext, *, name: str,
                       claim: str, user: int, writer: Workload | None = None
                       ) -> ComponentBackup:
        """Back up ``component``'s data folder (PersistentVolumeClaim ``claim``, files of
        uid ``user``) as ``name``: CronJob ``<name>-backup`` in the component's folder;
        a restore stops ``writer`` and replaces the folder's contents."""
        if component.folder is None:
            raise ConfigError(component.where, "folder", "a backed-up component needs a folder")
        files = self.files_in(component.folder, ctx)
        return self._add(files_backup(files, name, claim=claim, user=user, writer=writer))

    def _add(self, plan: ComponentBackup) -> ComponentBackup:
        name = plan.component_name
        if name in self.plans:
            raise ConfigError(plan.node.path, "name", f"two backups named {name!r}")
        self.plans[name] = plan
        self._watch_plan(name, plan)
        return plan
