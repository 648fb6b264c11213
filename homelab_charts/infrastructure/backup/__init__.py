"""Backups of the stateful components: restic CronJobs, restore Jobs, alert rules.

* :mod:`.settings` — the data file's ``infrastructure.backup`` entry (target, schedules,
  retention);
* :mod:`.scripts` — the shell scripts the jobs run (package data, ``backup-scripts``
  ConfigMap), the same files the tests run against real servers;
* :mod:`.jobs` — the namespace file (``backups.yaml``), a component's backup CronJob and
  restore Job;
* :mod:`.components` — one builder per stateful component;
* :mod:`.backups` — :class:`Backups`, the registered component (``infrastructure.backup``);
* :mod:`.alerts` — Prometheus rules (last success older than 26 h, a failed job).
"""

from homelab_charts.infrastructure.backup.alerts import (
    alert_rules,
    backup_alert_rules,
    rule_group,
)
from homelab_charts.infrastructure.backup.backups import Backups
from homelab_charts.infrastructure.backup.components import (
    files_backup,
    postgresql_backup,
    qdrant_backup,
    redis_backup,
)
from homelab_charts.infrastructure.backup.jobs import (
    BACKUP_CHECKOV_SKIPS,
    REPOSITORY_SECRET,
    BackupFiles,
    ComponentBackup,
    repository_secret_keys,
)
from homelab_charts.infrastructure.backup.settings import BackupSettings, from_data

__all__ = [
    "BACKUP_CHECKOV_SKIPS",
    "REPOSITORY_SECRET",
    "BackupFiles",
    "BackupSettings",
    "Backups",
    "ComponentBackup",
    "alert_rules",
    "backup_alert_rules",
    "files_backup",
    "from_data",
    "postgresql_backup",
    "qdrant_backup",
    "redis_backup",
    "repository_secret_keys",
    "rule_group",
]
