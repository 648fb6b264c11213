"""The backup CronJobs and restore Jobs: a dump step, a restic step, shared volumes.

A backup pod runs the component's *dump* (an init container of the component's own
image writing a consistent copy into the ``work`` emptyDir), then restic (the pinned
``restic`` image) storing it; a restore pod runs restic fetching a snapshot into ``work``,
then the component's *load*. Both run the scripts of the ``backup-scripts`` ConfigMap
(:mod:`.scripts`), as numeric non-root users sharing the group ``BACKUP_GROUP``: the dump
is written group-readable and restic, always uid ``RESTIC_USER``, reads it (and writes an
NFS repository as one owner).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from constructs import Construct

from homelab_charts.base import Component, Folder, Manifest, Part, construct_path
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.backup.scripts import MOUNT_PATH, command, script_texts
from homelab_charts.infrastructure.backup.settings import NFS_MOUNT, BackupSettings
from homelab_charts.secrets.sealed_secret import SealedSecret
from homelab_charts.workloads import Container, Resources, RunAs
from homelab_charts.workloads.job import JobStep, job_pod_template
from homelab_charts.workloads.network import Connection, ExternalConnection, Pods
from homelab_charts.workloads.pod import workload_labels
from homelab_charts.workloads.spec import EnvValue, Port, SecretKeyRef
from homelab_charts.workloads.workload import Workload

#: The user restic runs as, and the group every backup container shares.
RESTIC_USER = 1000
BACKUP_GROUP = 1000
#: The shared emptyDir: dumps in WORK_DIR/<component>, restores in RESTORE_DIR.
WORK_VOLUME = "work"
WORK_DIR = "/work"
RESTORE_DIR = f"{WORK_DIR}/restore"
SCRIPTS_VOLUME = "scripts"
REPOSITORY_VOLUME = "repository"
#: The ConfigMap holding the scripts, and the sealed Secret holding restic's password
#: (``password``) and the target's credentials, in each namespace with backups.
SCRIPTS_CONFIG_MAP = "backup-scripts"
REPOSITORY_SECRET = "restic-repository"
PASSWORD_KEY = "password"

#: checkov skips on the backup CronJobs (docs/CHECKOV.md), besides the homelab-wide ones.
BACKUP_CHECKOV_SKIPS = {
    "CKV_K8S_40": "the dump runs as the database image's own low uid (postgres 70, redis 999) "
                  "and restic as uid 1000 sharing their group; non-root, every capability "
                  "dropped",
    "CKV_K8S_35": "the database images and restic read their passwords from environment "
                  "variables; the Secret is per namespace and the pod mounts no token",
}

RESTIC_RESOURCES = Resources("50m", "1", "128Mi", "1Gi")
DUMP_RESOURCES = Resources("50m", "1", "64Mi", "512Mi")


def repository_secret_keys(settings: BackupSettings) -> list[str]:
    """The keys the ``restic-repository`` SealedSecret must hold for ``settings``' target."""
    return [PASSWORD_KEY, *settings.target.credential_keys.values()]


def backup_labels(component: str, role: str) -> dict[str, str]:
    """Pod labels of ``component``'s backup (``role`` backup) and restore (``restore``)
    pods: the same selector, so one NetworkPolicy covers both."""
    return workload_labels(f"{component}-backup", component=role, version=None)


class BackupFiles(Component):
    """The backup file of one namespace (``backups.yaml``): the scripts' ConfigMap, the
    NFS claim when the repository is on NFS, then the CronJobs added to it.

    ``repository`` is the namespace's ``restic-repository`` SealedSecret. Its
    ``connections`` are the flows its jobs need (each backup to its server, every job to
    the target's network), which the cluster turns into NetworkPolicies.
    """

    checkov_skips = BACKUP_CHECKOV_SKIPS

    def __init__(self, scope: Folder, id: str, *, settings: BackupSettings,
                 repository: SealedSecret, host: str) -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/component": "backup"})
        namespace = self.default_namespace
        if namespace is None:
            raise ConfigError(self.where, "namespace", "backups need a folder with a namespace")
        for key in repository_secret_keys(settings):
            repository.key_ref(key)  # each must be declared (and so sealed)
        self.use(repository.component)
        self.settings = settings
        self.repository = repository
        self.host = host
        self.connections: list[Connection | ExternalConnection] = []
        self.scripts = Manifest(self, "scripts", api_version="v1", kind="ConfigMap",
                                name=SCRIPTS_CONFIG_MAP, body={"data": dict(script_texts())})
        self.claim: Manifest | None = None
        target = settings.target
        if target.kind == "nfs":
            volume_name = f"restic-{namespace}"
            # A PersistentVolume for the NFS export: restricted pods may mount claims,
            # not nfs volumes. One per namespace (a volume binds one claim).
            Manifest(self, "nfs-volume", api_version="v1", kind="PersistentVolume",
                     name=volume_name, body={"spec": {
                         "capacity": {"storage": target.nfs_size},
                         "accessModes": ["ReadWriteMany"],
                         "persistentVolumeReclaimPolicy": "Retain",
                         "storageClassName": "",
                         "mountOptions": ["nfsvers=4.1", "hard"],
                         "nfs": {"server": target.nfs_server, "path": target.nfs_path},
                         "claimRef": {"namespace": namespace, "name": REPOSITORY_SECRET},
                     }})
            self.claim = Manifest(self, "nfs-claim", api_version="v1",
                                  kind="PersistentVolumeClaim", name=REPOSITORY_SECRET,
                                  body={"spec": {
                                      "accessModes": ["ReadWriteMany"],
                                      "storageClassName": "",
                                      "volumeName": volume_name,
                                      "resources": {"requests": {"storage": target.nfs_size}},
                                  }})
        self.backups: list[ComponentBackup] = []
        #: The repository jobs (``forget``, ``check``) this file holds as ``restic-<job>``.
        self.maintenance_jobs: list[str] = []
        #: The pods of restic-forget and restic-check (when :meth:`maintenance` made them).
        self.maintenance_pods = Pods.external(
            "restic-maintenance", namespace,
            workload_labels("restic-maintenance", component=None, version=None))

    @property
    def namespace(self) -> str:
        assert self.default_namespace is not None
        return self.default_namespace

    def reach_target(self, pods: Pods) -> None:
        """Let ``pods`` reach the backup target (its network and port from the data file).
        An NFS repository needs no rule: the kubelet mounts it, not the pod."""
        target = self.settings.target
        if target.cidr is not None and target.port is not None:
            self.connections.append(ExternalConnection.to(
                pods, target.cidr, Port("backup-target", target.port)))

    # --- what every job pod of this namespace shares ---------------------------------

    def restic_env(self, **extra: EnvValue) -> dict[str, EnvValue]:
        env: dict[str, EnvValue] = {
            "RESTIC_REPOSITORY": self.settings.target.repository,
            "RESTIC_PASSWORD": SecretKeyRef(self.repository.secret_name, PASSWORD_KEY),
        }
        for variable, key in self.settings.target.credential_keys.items():
            env[variable] = SecretKeyRef(self.repository.secret_name, key)
        env.update({
            "RESTIC_CACHE_DIR": f"{WORK_DIR}/.cache",
            "BACKUP_HOST": self.host,
            "SCRIPTS_DIR": MOUNT_PATH,
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
        })
        env.update(extra)
        return env

    def restic_step(self, name: str, script: str, *, mounts: Sequence[Mapping[str, Any]] = (),
                    **env: EnvValue) -> JobStep:
        return JobStep(name, Container(
            image=self.settings.restic_image, command=command(script),
            env=self.restic_env(**env), resources=RESTIC_RESOURCES,
            writable_paths={"tmp": "/tmp"},
            run_as=RunAs(user=RESTIC_USER, group=BACKUP_GROUP),
        ), mounts=(*self.common_mounts(), *self.repository_mounts(), *mounts))

    def common_mounts(self) -> list[dict[str, Any]]:
        return [{"name": WORK_VOLUME, "mountPath": WORK_DIR},
                {"name": SCRIPTS_VOLUME, "mountPath": MOUNT_PATH, "readOnly": True}]

    def repository_mounts(self) -> list[dict[str, Any]]:
        if self.claim is None:
            return []
        return [{"name": REPOSITORY_VOLUME, "mountPath": NFS_MOUNT}]

    def volumes(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [
            {"name": WORK_VOLUME, "emptyDir": {"sizeLimit": self.settings.scratch_size}},
            {"name": SCRIPTS_VOLUME, "configMap": {"name": SCRIPTS_CONFIG_MAP,
                                                   "defaultMode": 0o555}},
        ]
        if self.claim is not None:
            out.append({"name": REPOSITORY_VOLUME,
                        "persistentVolumeClaim": {"claimName": self.claim.object_name}})
        return out

    def cron_job(self, scope: Construct, id: str, *, name: str, schedule: str,
                 template: dict[str, Any], deadline_seconds: int = 3 * 3600) -> Manifest:
        """A CronJob running ``template`` on ``schedule`` (never two at once)."""
        return Manifest(scope, id, api_version="batch/v1", kind="CronJob", name=name,
                        labels=dict(template["metadata"]["labels"]), body={"spec": {
                            "schedule": schedule,
                            "timeZone": self.settings.time_zone,
                            "concurrencyPolicy": "Forbid",
                            "startingDeadlineSeconds": 3600,
                            "successfulJobsHistoryLimit": 3,
                            "failedJobsHistoryLimit": 3,
                            "jobTemplate": {
                                "metadata": {"labels": dict(template["metadata"]["labels"])},
                                "spec": {"backoffLimit": 2,
                                         "activeDeadlineSeconds": deadline_seconds,
                                         "template": template},
                            },
                        }})

    def maintenance(self) -> list[Manifest]:
        """``restic-forget`` (retention, then prune) and ``restic-check``, each on its own
        schedule; their pods are the ``restic-maintenance`` group."""
        retention = self.settings.retention
        out = []
        for job, script, env in (
            ("forget", "restic-forget.sh", {"KEEP_DAILY": str(retention.daily),
                                            "KEEP_WEEKLY": str(retention.weekly),
                                            "KEEP_MONTHLY": str(retention.monthly)}),
            ("check", "restic-check.sh", {"CHECK_READ_SUBSET":
                                          self.settings.check_read_subset}),
        ):
            labels = workload_labels("restic-maintenance", component=job, version=None)
            template = job_pod_template(
                labels=labels, steps=[self.restic_step("restic", script, **env)],
                volumes=self.volumes(), where=construct_path(self, job),
                run_as=RunAs(user=RESTIC_USER, group=BACKUP_GROUP, fs_group=BACKUP_GROUP))
            self.maintenance_jobs.append(job)
            out.append(self.cron_job(self, job, name=f"restic-{job}",
                                     schedule=self.settings.schedule(job), template=template,
                                     deadline_seconds=6 * 3600))
        self.reach_target(self.maintenance_pods)
        return out


class ComponentBackup(Part):
    """How one stateful component is backed up and restored (see the module docstring).

    ``dump`` are the steps before restic stores ``WORK_DIR/<component>`` (none: restic
    stores ``backup_path`` mounted from ``backup_volumes``); ``load`` the steps after
    restic fetched a snapshot into ``RESTORE_DIR`` (none: restic restores straight into
    ``restore_in_place``, a data folder mounted from ``restore_volumes``). ``selector``
    names the option a restore may narrow to (``database``, ``collection``) and the
    variable the load step reads it from.

    ``server`` is the workload holding the data: the backup pods connect to it on
    ``port`` (none for a data folder). A restore stops the workloads connecting to it
    first, and with ``stop_server`` the server itself (Redis rebuilds its folder offline;
    n8n's folder is replaced).
    """

    def __init__(self, scope: BackupFiles, id: str, *, component: str, run_as: RunAs,
                 dump: Sequence[JobStep] = (), load: Sequence[JobStep] = (),
                 backup_path: str | None = None,
                 backup_volumes: Sequence[Mapping[str, Any]] = (),
                 backup_mounts: Sequence[Mapping[str, Any]] = (),
                 restore_in_place: str | None = None,
                 restore_volumes: Sequence[Mapping[str, Any]] = (),
                 restore_mounts: Sequence[Mapping[str, Any]] = (),
                 selector: tuple[str, str] | None = None,
                 server: Workload | None = None, port: str | None = None,
                 stop_server: bool = False, consistency: str = "") -> None:
        super().__init__(scope, id)
        self.files = scope
        self.component_name = component
        self.namespace = scope.namespace
        self.run_as = run_as
        self.selector_option = selector
        self.consistency = consistency
        self._load = tuple(load)
        self._restore_in_place = restore_in_place
        self._restore_volumes = tuple(restore_volumes)
        self._restore_mounts = tuple(restore_mounts)
        if not load and restore_in_place is None:
            raise ConfigError(self.node.path, "load", "a restore needs a load step or a folder")
        store_env: dict[str, EnvValue] = {"BACKUP_COMPONENT": component, "BACKUP_DIR": WORK_DIR}
        if backup_path is not None:
            store_env["BACKUP_PATH"] = backup_path
        steps = [*dump, scope.restic_step("restic", "restic-store.sh", mounts=backup_mounts,
                                          **store_env)]
        self.name = f"{component}-backup"
        template = job_pod_template(labels=backup_labels(component, "backup"), steps=steps,
                                    volumes=[*scope.volumes(), *backup_volumes],
                                    run_as=run_as, where=self.node.path)
        self.cronjob = scope.cron_job(self, "cronjob", name=self.name,
                                      schedule=scope.settings.schedule(component),
                                      template=template)
        self.pods = Pods.external(self.name, self.namespace,
                                  workload_labels(self.name, component=None, version=None))
        self.server = server
        self.stop_server = stop_server
        if server is not None and port is not None:
            scope.connections.append(Connection.to(self.pods, server, port))
        scope.reach_target(self.pods)
        scope.backups.append(self)

    def restore_job(self, *, name: str, snapshot: str = "latest",
                    only: str | None = None) -> dict[str, Any]:
        """The restore Job (a plain object, applied by ``homelab-charts restore``)."""
        where = f"restore {self.component_name}"
        if only is not None and self.selector_option is None:
            raise ConfigError(where, "--database",
                              f"{self.component_name} has no databases or collections to "
                              "choose from; restore it whole")
        fetch_env: dict[str, EnvValue] = {"BACKUP_COMPONENT": self.component_name,
                                          "RESTORE_SNAPSHOT": snapshot,
                                          "RESTORE_DIR": self._restore_in_place or RESTORE_DIR}
        if self._restore_in_place is not None:
            fetch_env["RESTORE_CLEAR"] = "yes"
        steps = [self.files.restic_step("restic", "restic-fetch.sh",
                                        mounts=self._restore_mounts if not self._load else (),
                                        **fetch_env)]
        for step in self._load:
            env = dict(step.container.env)
            if only is not None and self.selector_option is not None:
                env[self.selector_option[1]] = only
            container = dataclasses.replace(step.container, env=env)
            steps.append(JobStep(step.name, container, step.mounts))
        template = job_pod_template(labels=backup_labels(self.component_name, "restore"),
                                    steps=steps,
                                    volumes=[*self.files.volumes(), *self._restore_volumes],
                                    run_as=self.run_as, where=where)
        labels = copy.deepcopy(template["metadata"]["labels"])
        labels["app.kubernetes.io/managed-by"] = "homelab-charts"
        return {
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": self.namespace, "labels": labels},
            "spec": {"backoffLimit": 0, "activeDeadlineSeconds": 3 * 3600,
                     "ttlSecondsAfterFinished": 7 * 24 * 3600, "template": template},
        }
