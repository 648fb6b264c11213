"""Prometheus alert rules watching the backups, as data (kube-state-metrics' series).

:func:`alert_rules` returns plain rule dicts; :func:`rule_group` one rule-file group.
The observability layer loads them into Prometheus (docs/BACKUPS.md, "Watching"):
``rule_group(backup_alert_rules(cluster.get(Backups)))`` is one rule file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from homelab_charts.infrastructure.observability.alerts import Alert, RuleGroup

if TYPE_CHECKING:
    from homelab_charts.infrastructure.backup.backups import Backups
    from homelab_charts.infrastructure.backup.jobs import ComponentBackup

#: A component's last successful backup may be this old before the alert fires.
MAX_BACKUP_AGE_HOURS = 26
#: The repository check runs weekly: alert after a missed week.
MAX_CHECK_AGE_HOURS = 8 * 24


def _selector(namespace: str, cronjob: str) -> str:
    return f'namespace="{namespace}",cronjob="{cronjob}"'


def _rule(alert: str, expr: str, for_: str, severity: str, namespace: str, cronjob: str, *,
          summary: str, description: str) -> dict[str, Any]:
    """One backup rule: labelled with its CronJob's namespace and name (what
    :func:`alert_group` names the alert after)."""
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, "namespace": namespace, "cronjob": cronjob},
        "annotations": {"summary": summary, "description": description},
    }


def staleness_rule(namespace: str, cronjob: str, hours: int, what: str) -> dict[str, Any]:
    """Fires when ``cronjob``'s last success is older than ``hours``, or when it has
    existed that long and never succeeded."""
    sel = _selector(namespace, cronjob)
    seconds = hours * 3600
    expr = (f"(time() - kube_cronjob_status_last_successful_time{{{sel}}} > {seconds})"
            f" or (time() - kube_cronjob_created{{{sel}}} > {seconds}"
            f" unless on (namespace, cronjob) kube_cronjob_status_last_successful_time{{{sel}}})")
    return _rule("BackupTooOld", expr, "15m", "critical", namespace, cronjob,
                 summary=f"No successful {what} for more than {hours} hours",
                 description=f"CronJob {namespace}/{cronjob} last succeeded "
                             "{{ $value | humanizeDuration }} ago (or never). "
                             f"Run it now: homelab-charts backup {what.split()[0]}")


def failure_rule(namespace: str, cronjob: str, what: str) -> dict[str, Any]:
    """Fires while a Job created by ``cronjob`` has failed (kept for the CronJob's
    ``failedJobsHistoryLimit``, or until a later run succeeds and it is deleted)."""
    expr = (f'kube_job_status_failed{{namespace="{namespace}"}} > 0 and on (namespace, job_name)'
            f' kube_job_owner{{namespace="{namespace}",owner_kind="CronJob",'
            f'owner_name="{cronjob}"}}')
    return _rule("BackupJobFailed", expr, "5m", "warning", namespace, cronjob,
                 summary=f"A {what} job failed",
                 description=f"Job {{{{ $labels.job_name }}}} of {namespace}/{cronjob} failed: "
                             f"kubectl logs -n {namespace} job/{{{{ $labels.job_name }}}} "
                             "--all-containers")


def alert_rules(backups: Iterable[tuple[str, str, str]],
                maintenance: Sequence[tuple[str, str, str]] = ()) -> list[dict[str, Any]]:
    """Rules for ``backups`` (component, namespace, CronJob) and the repository's
    ``maintenance`` jobs (job, namespace, CronJob): staleness of each backup and of the
    check, and the failure of any of them."""
    rules: list[dict[str, Any]] = []
    for component, namespace, cronjob in backups:
        rules.append(staleness_rule(namespace, cronjob, MAX_BACKUP_AGE_HOURS,
                                    f"{component} backup"))
        rules.append(failure_rule(namespace, cronjob, f"{component} backup"))
    for job, namespace, cronjob in maintenance:
        if job == "check":
            rules.append(staleness_rule(namespace, cronjob, MAX_CHECK_AGE_HOURS,
                                        "restic repository check"))
        rules.append(failure_rule(namespace, cronjob, f"restic {job}"))
    return rules


def rule_group(rules: list[dict[str, Any]], name: str = "backups") -> dict[str, Any]:
    """A Prometheus rule file holding ``rules`` as one group."""
    return {"groups": [{"name": name, "rules": rules}]}


def backup_alert_rules(backups: Backups | Mapping[str, ComponentBackup] | None
                       ) -> list[dict[str, Any]]:
    """Prometheus alert rules (plain dicts) for a cluster's backups, given its ``Backups``
    component (``cluster.get(Backups)``; None when backups are off: no rules) or its
    ``plans``: ``BackupTooOld`` and ``BackupJobFailed`` per backup CronJob, and for the
    repository's maintenance jobs. ``rule_group(rules)`` makes them one rule file."""
    if backups is None:
        return []
    plans = backups if isinstance(backups, Mapping) else backups.plans
    components = [(name, plan.namespace, plan.name) for name, plan in sorted(plans.items())]
    maintenance = sorted({(job, plan.files.namespace, f"restic-{job}")
                          for plan in plans.values() for job in plan.files.maintenance_jobs})
    return alert_rules(components, maintenance)


def alert_group(name: str, rules: Sequence[dict[str, Any]]) -> RuleGroup:
    """``rules`` as a Prometheus rule group of typed alerts (what
    :meth:`Prometheus.add_rule_group` takes). Alert names are unique in the rules file,
    so each takes its namespace's and CronJob's names
    (``BackupTooOld_databases_postgresql_backup``: an environment's copy in
    ``databases-dev`` is another alert); the series' own ``namespace`` and ``cronjob``
    labels travel with the alert."""
    alerts = []
    for rule in rules:
        labels = rule["labels"]
        cronjob = f"{labels['namespace']}_{labels['cronjob']}".replace("-", "_")
        annotations = rule["annotations"]
        alerts.append(Alert(f"{rule['alert']}_{cronjob}", rule["expr"], rule["for"],
                            rule["labels"]["severity"], annotations["summary"],
                            annotations["description"]))
    return RuleGroup(name, tuple(alerts))
