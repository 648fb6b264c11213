"""``homelab-charts status``: what Flux runs, read live through kubectl.

:func:`read_live` asks the cluster for its Flux objects (Kustomizations, HelmReleases,
GitRepositories, OCIRepositories, HelmRepositories) and its SealedSecrets, each as
``kubectl get ... -A -o json``; :func:`analyse` reads their ``Ready`` conditions along the
Kustomizations' ``dependsOn`` graph (:class:`homelab_charts.tree.DependencyGraph`) and
tells, for every Kustomization that is not Ready, the first failing condition of its
chain: its own (a failing source, a SealedSecret the controller cannot decrypt in a
namespace it deploys to, a failing HelmRelease it applied, its own message) or, when it
waits for a dependency, that dependency's ("n8n waits for databases: SealedSecret
databases/postgresql-credentials: no key could decrypt secret"). A failing GitRepository
is named with the OCI fallback (``cluster.source.kind: oci``, ``homelab-charts push``).

With a cluster of the tree (``--cluster NAME``; each cluster's Flux graph is its own),
:func:`check_cluster` first makes sure the context reaches the cluster
``clusters/NAME/`` is bound to (when its identity file records a kube-system UID), and
:func:`compare_with_tree` lists the Kustomizations of that cluster's part of the tree
(:meth:`homelab_charts.tree.Tree.for_cluster`) the cluster does not have (not applied
yet: not Ready) and those it has that the tree does not define for it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from homelab_charts.config import TREE_SOURCE_LABEL
from homelab_charts.errors import ConfigError
from homelab_charts.operations.binding import UID_QUERY, check_uid
from homelab_charts.tree import FLUX_NAMESPACE, CycleError, DependencyGraph, Tree

FLUX_RESOURCES = ("kustomizations.kustomize.toolkit.fluxcd.io",
                  "helmreleases.helm.toolkit.fluxcd.io",
                  "gitrepositories.source.toolkit.fluxcd.io",
                  "ocirepositories.source.toolkit.fluxcd.io",
                  "helmrepositories.source.toolkit.fluxcd.io")
SEALED_SECRETS = "sealedsecrets.bitnami.com"
SOURCE_KINDS = ("GitRepository", "OCIRepository", "HelmRepository", "Bucket")
#: What Flux labels every object a Kustomization applied with.
APPLIED_BY_NAME = "kustomize.toolkit.fluxcd.io/name"
APPLIED_BY_NAMESPACE = "kustomize.toolkit.fluxcd.io/namespace"

READY, FAILING, WAITING, PROGRESSING, SUSPENDED = (
    "ready", "failing", "waiting", "progressing", "suspended")


# -- reading the cluster ----------------------------------------------------------------

def _kubectl(exe: str, context: str | None, args: Sequence[str], timeout: int
             ) -> subprocess.CompletedProcess[str]:
    argv = [exe, *(["--context", context] if context else []), *args,
            f"--request-timeout={timeout}s"]
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        raise ConfigError("kubectl", None, f"the cluster did not answer within {timeout}s") \
            from None


def _items(proc: subprocess.CompletedProcess[str], what: str) -> list[dict[str, Any]]:
    try:
        listed = json.loads(proc.stdout)
    except ValueError:
        raise ConfigError(f"kubectl get {what}", None, "did not print JSON") from None
    items = listed.get("items") if isinstance(listed, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"kubectl get {what}", None, "printed no items list")
    return [i for i in items if isinstance(i, dict)]


def read_live(*, context: str | None = None, kubectl: str = "kubectl",
              timeout: int = 30) -> tuple[list[dict[str, Any]], list[str]]:
    """The cluster's Flux objects and SealedSecrets (``-A -o json``), and notes (a
    SealedSecret CRD that is not installed)."""
    exe = shutil.which(kubectl)
    if exe is None:
        raise ConfigError("kubectl", None, "not found on PATH: install kubectl")
    flux = _kubectl(exe, context, ["get", ",".join(FLUX_RESOURCES), "-A", "-o", "json"],
                    timeout)
    if flux.returncode != 0:
        detail = (flux.stderr.strip().splitlines() or [f"exit code {flux.returncode}"])[-1]
        raise ConfigError("kubectl get " + ",".join(FLUX_RESOURCES), None,
                          f"{detail} (is Flux installed?)")
    items = _items(flux, "Flux objects")
    notes: list[str] = []
    sealed = _kubectl(exe, context, ["get", SEALED_SECRETS, "-A", "-o", "json"], timeout)
    if sealed.returncode == 0:
        items += _items(sealed, SEALED_SECRETS)
    else:
        detail = (sealed.stderr.strip().splitlines() or [f"exit code {sealed.returncode}"])[-1]
        notes.append(f"SealedSecrets not read: {detail}")
    return items, notes


# -- the model --------------------------------------------------------------------------

@dataclass
class LiveObject:
    """A Flux object or SealedSecret as the cluster reports it."""

    kind: str
    namespace: str
    name: str
    #: READY, FAILING, PROGRESSING or SUSPENDED (own condition; WAITING comes later).
    state: str
    reason: str = ""
    message: str = ""
    revision: str = ""
    body: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def labels(self) -> Mapping[str, str]:
        labels = (self.body.get("metadata") or {}).get("labels")
        return labels if isinstance(labels, Mapping) else {}

    @property
    def spec(self) -> Mapping[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, Mapping) else {}

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name,
                "state": self.state, "reason": self.reason, "message": self.message,
                "revision": self.revision}


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def _condition(body: Mapping[str, Any], kind: str) -> tuple[str, str, str, str]:
    """``(state, reason, message, revision)`` from an object's status."""
    status = body.get("status") if isinstance(body.get("status"), Mapping) else {}
    spec = body.get("spec") if isinstance(body.get("spec"), Mapping) else {}
    metadata = body.get("metadata") if isinstance(body.get("metadata"), Mapping) else {}
    artifact = status.get("artifact") if isinstance(status.get("artifact"), Mapping) else {}
    revision = str(status.get("lastAppliedRevision") or artifact.get("revision") or "")
    if spec.get("suspend") is True:
        return SUSPENDED, "Suspended", "suspended (flux resume ...)", revision
    wanted = "Synced" if kind == "SealedSecret" else "Ready"
    conditions = status.get("conditions") if isinstance(status.get("conditions"), list) else []
    for condition in conditions:
        if isinstance(condition, Mapping) and condition.get("type") == wanted:
            reason = str(condition.get("reason") or "")
            message = _one_line(condition.get("message"))
            value = condition.get("status")
            if value == "True":
                generation = metadata.get("generation")
                observed = status.get("observedGeneration")
                if (kind != "SealedSecret" and isinstance(generation, int)
                        and isinstance(observed, int) and observed < generation):
                    return PROGRESSING, "Progressing", "a newer spec is being reconciled", \
                        revision
                return READY, reason, message, revision
            if value == "False":
                return FAILING, reason, message, revision
            return PROGRESSING, reason or "Progressing", message, revision
    if kind == "SealedSecret":
        return READY, "", "", revision  # older controllers report no condition on success
    return PROGRESSING, "Progressing", "not reconciled yet (no Ready condition)", revision


def live_object(body: Mapping[str, Any]) -> LiveObject | None:
    kind = body.get("kind")
    metadata = body.get("metadata")
    if not isinstance(kind, str) or not isinstance(metadata, Mapping):
        return None
    state, reason, message, revision = _condition(body, kind)
    return LiveObject(kind, str(metadata.get("namespace") or ""), str(metadata.get("name")),
                      state, reason, message, revision, body)


@dataclass
class KustomizationStatus:
    obj: LiveObject
    depends_on: list[tuple[str, str]]
    #: WAITING when not Ready only because of a dependency; else the object's own state.
    state: str
    #: What it waits for: the chain of Kustomizations down to the failing one.
    waits_for: list[str] = field(default_factory=list)
    #: The first failing condition of its chain (None when Ready).
    cause: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.obj.namespace, self.obj.name

    def as_json(self) -> dict[str, Any]:
        out = self.obj.as_json()
        out.update(state=self.state, dependsOn=[f"{ns}/{n}" for ns, n in self.depends_on],
                   waitsFor=self.waits_for, cause=self.cause,
                   source=_source_label(self.obj))
        return out


def _source_key(obj: LiveObject) -> tuple[str, str, str] | None:
    ref = obj.spec.get("sourceRef")
    if obj.kind == "HelmRelease":
        chart = obj.spec.get("chart")
        spec = chart.get("spec") if isinstance(chart, Mapping) else None
        ref = spec.get("sourceRef") if isinstance(spec, Mapping) else obj.spec.get("chartRef")
    if not isinstance(ref, Mapping) or not ref.get("name"):
        return None
    return str(ref.get("kind") or ""), str(ref.get("namespace") or obj.namespace), \
        str(ref["name"])


def _source_label(obj: LiveObject) -> str | None:
    key = _source_key(obj)
    return f"{key[0]} {key[1]}/{key[2]}" if key else None


@dataclass
class GitFallback:
    """A failing GitRepository and what the cluster can read instead."""

    repository: LiveObject
    #: The tree's OCIRepository in the cluster (labelled), if any.
    oci: LiveObject | None
    #: Kustomizations that still read the failing GitRepository.
    readers: list[str]

    def advice(self) -> str:
        if self.oci is None:
            return ("the OCI fallback: push the tree to the local registry (homelab-charts push "
                    "oci://REGISTRY/REPOSITORY:TAG) and set cluster.source.kind: oci in the "
                    "data file, so Flux reconciles from the registry (docs/GETTING-STARTED.md)")
        url = self.oci.spec.get("url", "")
        state = (f"is Ready at {self.oci.revision}" if self.oci.state == READY
                 else f"is {self.oci.state}: {self.oci.message}")
        tail = (f"; still reading the GitRepository: {', '.join(self.readers)}"
                if self.readers else "; every Kustomization of the tree reads it")
        return f"the OCI fallback, {self.oci.ref} ({url}), {state}{tail}"

    def as_json(self) -> dict[str, Any]:
        return {"repository": self.repository.as_json(),
                "oci": self.oci.as_json() if self.oci else None,
                "readers": self.readers, "advice": self.advice()}


@dataclass
class ClusterStatus:
    sources: list[LiveObject]
    kustomizations: list[KustomizationStatus]
    helm_releases: list[LiveObject]
    sealed_secrets: list[LiveObject]
    git: list[GitFallback]
    notes: list[str] = field(default_factory=list)
    #: The cluster of the tree compared with (:func:`compare_with_tree`; None: none).
    cluster: str | None = None
    #: ``namespace/name`` of the tree's Kustomizations of ``cluster`` the cluster lacks.
    missing: list[str] = field(default_factory=list)
    #: ``namespace/name`` of the cluster's Kustomizations the tree does not define for it.
    unexpected: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return (all(k.state == READY for k in self.kustomizations) and not self.missing
                and all(o.state == READY for o in (*self.sources, *self.helm_releases,
                                                    *self.sealed_secrets)))

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ready": self.ready,
            "sources": [o.as_json() for o in self.sources],
            "kustomizations": [k.as_json() for k in self.kustomizations],
            "helmReleases": [o.as_json() for o in self.helm_releases],
            "sealedSecrets": [o.as_json() for o in self.sealed_secrets],
            "gitFailing": [g.as_json() for g in self.git],
            "notes": self.notes,
        }
        if self.cluster is not None:
            out.update(cluster=self.cluster, missing=self.missing, unexpected=self.unexpected)
        return out


def check_cluster(tree: Tree, cluster: str, *, context: str | None = None,
                  kubectl: str = "kubectl", timeout: int = 30) -> list[str]:
    """Refuse (ConfigError, exit 2) a context that is not the cluster ``clusters/<cluster>/``
    is bound to; notes (a cluster bound to none is not checked). Reads the kube-system
    Namespace's UID only when the tree records one."""
    identity = tree.cluster_identity(cluster)
    if identity is None or not identity.uid:
        return [f"clusters/{cluster} is bound to no cluster (homelab-charts cluster bind): "
                "the context was not checked to be it"]
    exe = shutil.which(kubectl)
    if exe is None:
        raise ConfigError("kubectl", None, "not found on PATH: install kubectl")
    proc = _kubectl(exe, context, UID_QUERY, timeout)
    named = f"context {context}" if context else "the current context"
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise ConfigError(named, None, f"cannot read the kube-system Namespace: {detail}")
    live = check_uid(proc.stdout.strip(), named)
    if live != identity.uid:
        raise ConfigError(named, None,
                          f"wrong cluster: clusters/{cluster} is bound to the cluster with "
                          f"kube-system UID {identity.uid}, but {named} reaches the one "
                          f"with UID {live}")
    return []


def compare_with_tree(status: ClusterStatus, tree: Tree, cluster: str) -> ClusterStatus:
    """``status`` with the Kustomizations of cluster ``cluster``'s part of ``tree`` it
    lacks (``missing``: not Ready) and those it has that part does not define
    (``unexpected``, bootstrap's ``flux-system`` aside)."""
    view = tree.for_cluster(cluster)
    wanted = {k.key for k in view.kustomizations} | {(FLUX_NAMESPACE, FLUX_NAMESPACE)}
    live = {k.key for k in status.kustomizations}
    status.cluster = cluster
    status.missing = [f"{ns}/{name}" for ns, name in sorted(wanted - live)]
    status.unexpected = [f"{ns}/{name}" for ns, name in sorted(live - wanted)]
    return status


def _own_cause(k: LiveObject, sources: Mapping[tuple[str, str, str], LiveObject],
               releases: Sequence[LiveObject], sealed: Sequence[LiveObject]) -> str | None:
    """Why Kustomization ``k`` is not Ready by itself, or None (it only waits)."""
    if k.state == SUSPENDED:
        return "suspended"
    source_key = _source_key(k)
    source = sources.get(source_key) if source_key else None
    if source_key and source is None:
        return f"{source_key[0]} {source_key[1]}/{source_key[2]} not found"
    if source is not None and source.state == FAILING:
        return f"{source.ref}: {source.message or source.reason}"
    if k.reason == "DependencyNotReady":
        return None
    namespaces = _deployed_namespaces(k)
    for secret in sealed:
        if secret.state == FAILING and secret.namespace in namespaces:
            return f"{secret.ref}: {secret.message or secret.reason}"
    for release in releases:
        if (release.state == FAILING and release.labels.get(APPLIED_BY_NAME) == k.name
                and release.labels.get(APPLIED_BY_NAMESPACE, k.namespace) == k.namespace):
            return f"{release.ref}: {release.message or release.reason}"
    if k.state in (FAILING, PROGRESSING):
        return k.message or k.reason or k.state
    return None


def _deployed_namespaces(k: LiveObject) -> set[str]:
    """The namespaces of the objects ``k`` applied (its inventory) and its target."""
    out: set[str] = set()
    target = k.spec.get("targetNamespace")
    if target:
        out.add(str(target))
    status = k.body.get("status")
    inventory = status.get("inventory") if isinstance(status, Mapping) else None
    entries = inventory.get("entries") if isinstance(inventory, Mapping) else None
    for entry in entries if isinstance(entries, list) else []:
        ident = entry.get("id") if isinstance(entry, Mapping) else None
        if isinstance(ident, str) and "_" in ident:
            namespace = ident.split("_", 1)[0]
            if namespace:
                out.add(namespace)
    return out


def _depends_on(k: LiveObject) -> list[tuple[str, str]]:
    raw = k.spec.get("dependsOn")
    out = []
    for dep in raw if isinstance(raw, list) else []:
        if isinstance(dep, Mapping) and dep.get("name"):
            out.append((str(dep.get("namespace") or k.namespace), str(dep["name"])))
    return out


def analyse(items: Iterable[Mapping[str, Any]], notes: Sequence[str] = ()) -> ClusterStatus:
    """The status of every Kustomization along the ``dependsOn`` graph (see the module)."""
    objects = [o for o in map(live_object, items) if o is not None]
    sources = [o for o in objects if o.kind in SOURCE_KINDS]
    by_source = {(o.kind, o.namespace, o.name): o for o in sources}
    releases = [o for o in objects if o.kind == "HelmRelease"]
    sealed = [o for o in objects if o.kind == "SealedSecret"]
    raw = [o for o in objects if o.kind == "Kustomization"]
    by_key = {(o.namespace, o.name): o for o in raw}
    graph = DependencyGraph({(o.namespace, o.name): _depends_on(o) for o in raw})
    try:
        order = graph.order()
    except CycleError:
        order = list(graph.nodes)
    own = {key: _own_cause(by_key[key], by_source, releases, sealed) for key in order}

    def chain(key: tuple[str, str], seen: tuple[tuple[str, str], ...] = ()
              ) -> tuple[list[str], str | None]:
        """The not-Ready dependencies from ``key`` down to a failing one, and its cause."""
        for dep in graph.deps[key]:
            if dep in seen:
                return [by_key[dep].name], "dependency cycle"
            target = by_key.get(dep)
            if target is None:
                return [f"{dep[0]}/{dep[1]}"], "not found in the cluster"
            if target.state != READY:
                if own[dep] is not None:
                    return [target.name], own[dep]
                below, cause = chain(dep, (*seen, key))
                return [target.name, *below], cause
        return [], None

    statuses: list[KustomizationStatus] = []
    for key in order:
        k = by_key[key]
        status = KustomizationStatus(k, list(graph.deps[key]), k.state)
        if k.state != READY:
            if own[key] is not None:
                status.cause = own[key]
            else:
                status.waits_for, status.cause = chain(key)
                status.state = WAITING if status.waits_for else k.state
                if not status.waits_for:
                    status.cause = k.message or k.reason
        statuses.append(status)

    tree_oci = next((o for o in sources if o.kind == "OCIRepository"
                     and o.labels.get(TREE_SOURCE_LABEL) == "true"), None)
    git = []
    for repo in sources:
        if repo.kind == "GitRepository" and repo.state == FAILING:
            readers = [k.name for k in raw if _source_key(k) == (repo.kind, repo.namespace,
                                                                 repo.name)]
            git.append(GitFallback(repo, tree_oci, readers))
    return ClusterStatus(sources, statuses, releases, sealed, git, list(notes))


# -- output -----------------------------------------------------------------------------

_MARK = {READY: "ready", FAILING: "FAILING", WAITING: "waiting", PROGRESSING: "progressing",
         SUSPENDED: "suspended"}


def _short(revision: str) -> str:
    """``main@sha1:0123456789...`` -> ``main@sha1:0123456``."""
    head, sep, digest = revision.partition(":")
    if sep and len(digest) > 12:
        return f"{head}:{digest[:7]}"
    return revision


def format_text(status: ClusterStatus) -> str:
    lines: list[str] = []
    total = len(status.kustomizations)
    ready = sum(1 for k in status.kustomizations if k.state == READY)
    lines.append(("" if status.cluster is None else f"cluster {status.cluster}: ")
                 + f"{ready} of {total} Kustomizations Ready"
                 + ("" if status.ready else "; not everything is Ready"))
    if status.missing:
        lines.append(f"not in the cluster (clusters/{status.cluster} defines them): "
                     + ", ".join(status.missing))
    if status.unexpected:
        lines.append(f"in the cluster, not defined for it by clusters/{status.cluster}: "
                     + ", ".join(status.unexpected))
    for fallback in status.git:
        repo = fallback.repository
        lines.append(f"{repo.ref} is failing: {repo.message or repo.reason}")
        lines.append(f"  {fallback.advice()}")
    if status.sources:
        lines.append("sources")
        width = max(len(o.ref) for o in status.sources)
        for o in status.sources:
            detail = _short(o.revision) if o.state == READY else (o.message or o.reason)
            lines.append(f"  {_MARK[o.state]:<11} {o.ref:<{width}}  {detail}".rstrip())
    if status.kustomizations:
        lines.append("kustomizations (dependencies first)")
        width = max(len(f"{k.obj.namespace}/{k.obj.name}") for k in status.kustomizations)
        for k in status.kustomizations:
            label = f"{k.obj.namespace}/{k.obj.name}"
            if k.state == READY:
                detail = _short(k.obj.revision)
            elif k.waits_for:
                detail = f"waits for {' -> '.join(k.waits_for)}: {k.cause}"
            else:
                detail = k.cause or ""
            lines.append(f"  {_MARK[k.state]:<11} {label:<{width}}  {detail}".rstrip())
    if status.helm_releases:
        lines.append("helm releases")
        for o in status.helm_releases:
            detail = _short(o.revision) if o.state == READY else (o.message or o.reason)
            lines.append(f"  {_MARK[o.state]:<11} {o.namespace}/{o.name}  {detail}".rstrip())
    failing = [o for o in status.sealed_secrets if o.state != READY]
    if failing:
        lines.append("sealed secrets")
        for o in failing:
            lines.append(f"  {_MARK[o.state]:<11} {o.namespace}/{o.name}  "
                         f"{o.message or o.reason}".rstrip())
    lines.extend(f"note: {note}" for note in status.notes)
    return "\n".join(lines) + "\n"


def format_json(status: ClusterStatus) -> str:
    return json.dumps(status.as_json(), indent=2) + "\n"
