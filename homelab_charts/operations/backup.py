"""``homelab-charts backup`` and ``homelab-charts restore``: the logic behind the commands.

Both build the homelab in memory from the code and the data file (nothing is written),
take the component's backup plan (:class:`homelab_charts.infrastructure.backup.Backups`),
check that kubectl reaches the cluster the tree is bound to (the kube-system UID,
:func:`homelab_charts.operations.binding.require_bound_cluster`, the manual path's rule)
before any call that changes something, and then:

* backup: ``kubectl create job --from=cronjob/<component>-backup`` and wait for it;
* restore: suspend the Flux Kustomizations of the workloads that write to the component,
  scale them to 0 and wait for their pods to go, apply the restore Job (rendered here,
  never committed) and wait for it, print its logs, then scale the writers back to the
  replicas they had and resume Flux. ``--dry-run`` prints those steps and the Job
  without calling kubectl.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from homelab_charts import config, project
from homelab_charts.base import Component, TreeApp
from homelab_charts.config import HomelabData
from homelab_charts.errors import ConfigError, HomelabError
from homelab_charts.infrastructure.backup import Backups, ComponentBackup
from homelab_charts.infrastructure.backup.settings import ENTRY
from homelab_charts.operations import binding
from homelab_charts.workloads import Workload
from homelab_charts.workloads.network import Connection, Pods

FLUX_KUSTOMIZATION = "kustomizations.kustomize.toolkit.fluxcd.io"
FLUX_NAMESPACE = "flux-system"
SNAPSHOT_ID = re.compile(r"^[0-9a-f]{8,64}$")


class ClusterError(HomelabError):
    """kubectl failed or did not answer."""


@dataclass
class Kubectl:
    """Runs kubectl (``context``: its ``--context``); every call is one subprocess."""

    exe: str = "kubectl"
    context: str | None = None
    timeout: float = 120

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        argv = [self.exe, *(["--context", self.context] if self.context else []), *args]
        try:
            result = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                    timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise ClusterError(f"{self.exe} not found on PATH: install kubectl and point it "
                               "at the cluster") from None
        except subprocess.TimeoutExpired:
            raise ClusterError(f"kubectl {' '.join(args)}: no answer in {self.timeout:.0f}s"
                               ) from None
        if check and result.returncode != 0:
            message = (result.stderr.strip() or result.stdout.strip()).splitlines()
            raise ClusterError(f"kubectl {' '.join(args)}: "
                               f"{message[0] if message else f'exit {result.returncode}'}")
        return result.stdout


def check_cluster_identity(kubectl: Kubectl, homelab: Homelab) -> str:
    """The kubectl context, after checking (read-only) that it reaches the cluster the
    tree is bound to: :func:`~homelab_charts.operations.binding.require_bound_cluster`,
    the same rule as the manual scripts."""
    context = kubectl.context or kubectl("config", "current-context").strip()
    binding.require_bound_cluster(homelab.cluster, homelab.uid, context, kubectl=kubectl.exe)
    return context


@dataclass(frozen=True)
class Writer:
    """A workload a restore stops first (scaled to 0, then back), and the Flux
    Kustomization that applies it (suspended meanwhile, so Flux does not scale it back)."""

    kind: str
    namespace: str
    name: str
    kustomization: str
    #: Label selector of its pods (``kubectl wait --for=delete pod -l ...``).
    selector: str = ""


@dataclass
class Homelab:
    """The homelab as the code and data file build it: its name, the kube-system UID it
    is bound to, its backup plans and what a restore of each stops."""

    cluster: str
    uid: str | None
    plans: dict[str, ComponentBackup]
    writers: dict[str, tuple[Writer, ...]] = field(default_factory=dict)
    data_file: str = "homelab.yaml"

    def plan(self, component: str) -> ComponentBackup:
        if not self.plans:
            raise ConfigError(self.data_file, ENTRY,
                              "missing or enabled: false, so nothing is backed up")
        try:
            return self.plans[component]
        except KeyError:
            raise ConfigError("COMPONENT", None,
                              f"{component!r} has no backups (choose from "
                              f"{', '.join(sorted(self.plans))})") from None


def _writer(workload: Workload) -> Writer:
    layer = workload.component.folder
    kustomization = getattr(layer, "kustomization", None)
    if kustomization is None:
        raise ConfigError(workload.node.path, "folder", "not in a layer of the cluster")
    selector = ",".join(f"{k}={v}" for k, v in sorted(workload.selector.items()))
    return Writer(workload.workload.object_kind, workload.namespace or "", workload.name,
                  kustomization.object_name, selector)


def restore_writers(plan: ComponentBackup, constructs: Sequence[object]) -> tuple[Writer, ...]:
    """What a restore of ``plan`` stops, in order: every workload whose pods connect to
    the component's server (from the components' declared connections), then, when the
    plan says so, the server itself."""
    server = plan.server
    if server is None:
        return ()
    target = Pods.of(server).labels
    sources = {c.source.labels for component in constructs if isinstance(component, Component)
               for c in getattr(component, "connections", ())
               if isinstance(c, Connection) and c.target.labels == target}
    workloads = [w for w in constructs if isinstance(w, Workload) and w is not server]
    out = [_writer(w) for w in workloads if Pods.of(w).labels in sources]
    if plan.stop_server:
        out.append(_writer(server))
    return tuple(out)


def homelab_of(data: HomelabData) -> Homelab:
    """Build the homelab of ``data`` in memory (as synthesis does; nothing is written)."""
    from homelab_charts.synth import build_app, build_homelab

    built: list[Any] = []

    def keep(app: TreeApp, data: HomelabData) -> object:
        built.append(build_homelab(app, data))
        return built[-1]

    build_app(data, keep)
    cluster = built[0]
    backups = cluster.get(Backups)
    plans = dict(backups.plans) if backups is not None else {}
    constructs = cluster.node.find_all()
    return Homelab(data.cluster.name, data.cluster.uid, plans,
                   {name: restore_writers(plan, constructs) for name, plan in plans.items()},
                   data_file=str(data.path))


def load_homelab(root: Path | None = None, data_file: Path | None = None) -> Homelab:
    root = root or project.find_root()
    return homelab_of(config.load(data_file if data_file is not None
                                  else project.data_file(root)))


def timestamp(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d%H%M%S")


@dataclass
class Runner:
    """What the commands need from the outside world (replaced in tests)."""

    kubectl: Kubectl = field(default_factory=Kubectl)
    out: TextIO | None = None
    sleep: Callable[[float], None] = time.sleep
    poll_seconds: float = 5
    timeout_seconds: float = 3 * 3600
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def wait_for_job(self, namespace: str, name: str) -> bool:
        """True when the Job succeeded, False when it failed; ClusterError on timeout."""
        waited = 0.0
        while True:
            status = self.kubectl("get", "job", name, "-n", namespace, "-o",
                                  "jsonpath={.status.succeeded}/{.status.failed}").strip()
            succeeded, _, failed = status.partition("/")
            if succeeded not in ("", "0"):
                return True
            if failed not in ("", "0"):
                return False
            if waited >= self.timeout_seconds:
                raise ClusterError(f"job {namespace}/{name} did not finish in "
                                   f"{self.timeout_seconds:.0f}s (still running)")
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds

    def logs(self, namespace: str, name: str) -> None:
        text = self.kubectl("logs", f"job/{name}", "-n", namespace, "--all-containers",
                            "--prefix", check=False)
        if text:
            self.say(text.rstrip("\n"))


def run_backup(homelab: Homelab, component: str, runner: Runner, *, dry_run: bool = False,
               wait: bool = True) -> int:
    """Start ``component``'s backup CronJob now as a one-off Job."""
    plan = homelab.plan(component)
    name = f"{plan.name}-manual-{timestamp(runner.now())}"
    argv = ("create", "job", f"--from=cronjob/{plan.name}", name, "-n", plan.namespace)
    if dry_run:
        runner.say(f"would run: kubectl {' '.join(argv)}")
        return 0
    context = check_cluster_identity(runner.kubectl, homelab)
    runner.say(f"backup {component} on context {context!r}: job {plan.namespace}/{name}")
    runner.kubectl(*argv)
    if not wait:
        return 0
    ok = runner.wait_for_job(plan.namespace, name)
    runner.logs(plan.namespace, name)
    runner.say(f"backup {component}: {'done' if ok else 'FAILED'} (job {plan.namespace}/{name})")
    return 0 if ok else 1


@dataclass(frozen=True)
class RestorePlan:
    job: dict[str, Any]
    writers: Sequence[Writer]

    @property
    def kustomizations(self) -> list[str]:
        return sorted({w.kustomization for w in self.writers})

    def steps(self) -> list[str]:
        ns, name = self.job["metadata"]["namespace"], self.job["metadata"]["name"]
        out = [f"suspend Flux Kustomization {k}" for k in self.kustomizations]
        out += [f"scale {w.kind.lower()} {w.namespace}/{w.name} to 0" for w in self.writers]
        out += [f"apply job {ns}/{name} and wait for it"]
        out += [f"scale {w.kind.lower()} {w.namespace}/{w.name} back"
                for w in reversed(self.writers)]
        out += [f"resume Flux Kustomization {k}" for k in self.kustomizations]
        return out


def restore_plan(homelab: Homelab, component: str, *, snapshot: str = "latest",
                 database: str | None = None, now: dt.datetime | None = None) -> RestorePlan:
    if snapshot != "latest" and not SNAPSHOT_ID.match(snapshot):
        raise ConfigError("--snapshot", None,
                          f"{snapshot!r} is not a restic snapshot ID (8 to 64 hex digits)")
    plan = homelab.plan(component)
    job = plan.restore_job(name=f"{component}-restore-{timestamp(now)}", snapshot=snapshot,
                           only=database)
    return RestorePlan(job, homelab.writers.get(component, ()))


def run_restore(homelab: Homelab, component: str, runner: Runner, *, snapshot: str = "latest",
                database: str | None = None, dry_run: bool = False) -> int:
    restore = restore_plan(homelab, component, snapshot=snapshot, database=database,
                           now=runner.now())
    document = yaml.safe_dump(restore.job, sort_keys=False)
    ns, name = restore.job["metadata"]["namespace"], restore.job["metadata"]["name"]
    if dry_run:
        runner.say(f"# restore {component} from snapshot {snapshot} (dry run: nothing applied)")
        for step in restore.steps():
            runner.say(f"#   {step}")
        runner.say("---\n" + document.rstrip("\n"))
        return 0
    kubectl = runner.kubectl
    context = check_cluster_identity(kubectl, homelab)
    runner.say(f"restore {component} from snapshot {snapshot} on context {context!r}")
    replicas: dict[Writer, str] = {}
    for writer in restore.writers:  # read them all before changing anything
        replicas[writer] = kubectl("get", writer.kind.lower(), writer.name, "-n",
                                   writer.namespace, "-o", "jsonpath={.spec.replicas}").strip()
    suspended: list[str] = []
    stopped: list[Writer] = []
    ok = False
    try:
        for kustomization in restore.kustomizations:
            _suspend(kubectl, kustomization, True)
            suspended.append(kustomization)
            runner.say(f"  suspended Flux Kustomization {kustomization}")
        for writer in restore.writers:
            kubectl("scale", writer.kind.lower(), writer.name, "-n", writer.namespace,
                    "--replicas=0")
            stopped.append(writer)
            if writer.selector:
                kubectl("wait", "--for=delete", "pod", "-l", writer.selector, "-n",
                        writer.namespace, "--timeout=300s")
            runner.say(f"  stopped {writer.kind.lower()} {writer.namespace}/{writer.name}")
        kubectl("apply", "-f", "-", stdin=document)
        runner.say(f"  applied job {ns}/{name}; waiting for it")
        ok = runner.wait_for_job(ns, name)
        runner.logs(ns, name)
    finally:
        for writer in reversed(stopped):
            kubectl("scale", writer.kind.lower(), writer.name, "-n", writer.namespace,
                    f"--replicas={replicas[writer] or '1'}")
            runner.say(f"  scaled {writer.kind.lower()} {writer.namespace}/{writer.name} back "
                       f"to {replicas[writer] or '1'}")
        for kustomization in reversed(suspended):
            _suspend(kubectl, kustomization, False)
            runner.say(f"  resumed Flux Kustomization {kustomization}")
    runner.say(f"restore {component}: {'done' if ok else 'FAILED'} (job {ns}/{name})")
    return 0 if ok else 1


def _suspend(kubectl: Kubectl, kustomization: str, suspend: bool) -> None:
    patch = json.dumps({"spec": {"suspend": suspend}})
    kubectl("patch", FLUX_KUSTOMIZATION, kustomization, "-n", FLUX_NAMESPACE, "--type=merge",
            "-p", patch)


def kubectl_on_path() -> str:
    return shutil.which("kubectl") or "kubectl"
