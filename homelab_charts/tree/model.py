"""The read model of a tree: its objects, which Flux Kustomization applies each file,
the ``dependsOn`` graph of the Kustomizations and the cluster the tree is bound to.

>>> tree = Tree.from_disk(Path("."))
>>> [k.name for k in tree.order()]            # dependencies first
>>> tree.owner_of("apps/n8n/n8n.yaml").name   # 'n8n'
>>> tree.cluster_identity("homelab")           # ClusterIdentity(name='homelab', uid=...)

Every reader of a tree goes through :class:`Tree`: ``validate`` (its Flux checks share
the graph), ``plan`` and the manual path (:mod:`homelab_charts.operations.manual`),
``graph`` and ``diff``. YAML is read by :func:`homelab_charts.validate.loader.load_documents`
(libyaml, strict: a key repeated in a mapping is an error naming its line). Bad input is
a :class:`~homelab_charts.errors.ConfigError` naming the file, the object and the field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from homelab_charts.config import (
    CLUSTER_IDENTITY_FILE,
    CLUSTER_IDENTITY_NAME,
    CLUSTER_IDENTITY_NAMESPACE,
    CLUSTER_LABEL,
    CLUSTER_UID_KEY,
    TREE_SOURCE_LABEL,
)
from homelab_charts.docpath import field_at
from homelab_charts.errors import ConfigError
from homelab_charts.tree.graph import DependencyGraph
from homelab_charts.tree.sources import git_tree, is_tree_file, read_disk_tree

FLUX_NAMESPACE = "flux-system"
KUSTOMIZE_TOOLKIT_GROUP = "kustomize.toolkit.fluxcd.io"
HELM_TOOLKIT_GROUP = "helm.toolkit.fluxcd.io"
SOURCE_TOOLKIT_GROUP = "source.toolkit.fluxcd.io"
#: ``kustomization.yaml`` files are build instructions for kustomize, not cluster objects.
KUSTOMIZE_CONFIG_GROUP = "kustomize.config.k8s.io"
#: The names kustomize accepts for a folder's build file, in its order of preference.
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
#: The source a Kustomization of this repository reads: bootstrap's GitRepository.
OWN_SOURCE = ("GitRepository", FLUX_NAMESPACE, FLUX_NAMESPACE)


# -- objects ------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class ObjectId:
    """What identifies an object in a cluster: API group (not version), kind, namespace,
    name. An apiVersion bump (``v2beta2`` -> ``v2``) is a change of the same object.
    ``cluster`` is the object's ``homelab-charts.io/cluster`` label, without one the
    ``clusters/<name>/`` folder holding its file ("" elsewhere): a tree of several
    clusters holds one ``networking`` Kustomization per cluster."""

    group: str
    kind: str
    namespace: str
    name: str
    cluster: str = ""

    def display(self) -> str:
        """``Kind namespace/name`` (``Kind name`` for a cluster-scoped object)."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace \
            else f"{self.kind} {self.name}"

    def sort_key(self) -> tuple[str, str, str, str]:
        return self.kind, self.namespace, self.name, self.group


@dataclass(frozen=True)
class TreeObject:
    """An object of the tree and where it is: ``index`` is its 1-based document number in
    ``file`` and ``line`` the line that document starts on."""

    id: ObjectId
    api_version: str
    file: str
    index: int
    body: Mapping[str, Any] = field(compare=False, hash=False, repr=False)
    line: int = 0


def api_group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def cluster_folder(relpath: str) -> str | None:
    """``<name>`` of a file under ``clusters/<name>/`` (None for any other file)."""
    parts = PurePosixPath(relpath).parts
    return parts[1] if len(parts) > 2 and parts[0] == "clusters" else None


def object_cluster(doc: Mapping[str, Any], relpath: str) -> str:
    """The cluster an object is for: its ``homelab-charts.io/cluster`` label, else the
    ``clusters/<name>/`` folder of its file, else ""."""
    labels = field_at(doc, "metadata.labels")
    owner = labels.get(CLUSTER_LABEL) if isinstance(labels, Mapping) else None
    if isinstance(owner, str) and owner:
        return owner
    return cluster_folder(relpath) or ""


def plain_id(oid: ObjectId) -> ObjectId:
    """``oid`` without its cluster: what a reference (``dependsOn``, ``sourceRef``) names."""
    return ObjectId(oid.group, oid.kind, oid.namespace, oid.name) if oid.cluster else oid


#: What ``flux bootstrap`` creates in every cluster (its files, under
#: ``clusters/<cluster>/flux-system/``, are not part of the tree).
BOOTSTRAP_OBJECTS = frozenset({
    ObjectId(SOURCE_TOOLKIT_GROUP, "GitRepository", FLUX_NAMESPACE, FLUX_NAMESPACE),
    ObjectId(KUSTOMIZE_TOOLKIT_GROUP, "Kustomization", FLUX_NAMESPACE, FLUX_NAMESPACE),
    ObjectId("", "Secret", FLUX_NAMESPACE, FLUX_NAMESPACE),
})


def generated_objects(build: Mapping[str, Any]) -> list[ObjectId]:
    """The ConfigMaps and Secrets a kustomize build file (``kustomization.yaml``) generates
    with ``configMapGenerator``/``secretGenerator`` (named without kustomize's hash)."""
    namespace = str(build.get("namespace") or "")
    out = []
    for key, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        items = build.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, Mapping) and item.get("name"):
                    out.append(ObjectId("", kind, str(item.get("namespace") or namespace),
                                        str(item["name"])))
    return out


def parse_documents(text: str | bytes, where: str) -> list[tuple[int, int, Any]]:
    """``(document number, line, value)`` of every non-empty document of a YAML stream,
    or a ConfigError naming the file and line of the first one that cannot be read."""
    from homelab_charts.validate.loader import load_documents

    out: list[tuple[int, int, Any]] = []
    for doc in load_documents(text, strict=True):
        if doc.error is not None:
            at = f"{where}:{doc.error.line}" if doc.error.line else where
            raise ConfigError(at, None, f"not valid YAML: {doc.error.message}")
        if doc.obj is not None:
            out.append((doc.index, doc.line, doc.obj))
    return out


def _flatten(docs: list[tuple[int, int, Any]]) -> Iterator[tuple[int, int, Any]]:
    for n, line, doc in docs:
        if (isinstance(doc, Mapping) and str(doc.get("kind", "")).endswith("List")
                and isinstance(doc.get("items"), list)):
            for item in doc["items"]:
                yield n, line, item
        else:
            yield n, line, doc


def file_objects(rel: str, text: str | bytes, *, where: str | None = None) -> list[TreeObject]:
    """The cluster objects of one file (``kustomization.yaml`` build files skipped)."""
    where = where or rel
    objects: list[TreeObject] = []
    for n, line, doc in _flatten(parse_documents(text, where)):
        if not isinstance(doc, Mapping):
            raise ConfigError(where, f"document {n}", "is not a mapping")
        api, kind = doc.get("apiVersion"), doc.get("kind")
        if not isinstance(api, str) or not api:
            raise ConfigError(where, f"document {n}: apiVersion", "missing")
        if not isinstance(kind, str) or not kind:
            raise ConfigError(where, f"document {n}: kind", "missing")
        if api_group(api) == KUSTOMIZE_CONFIG_GROUP:
            continue
        name = field_at(doc, "metadata.name")
        if not isinstance(name, str) or not name:
            raise ConfigError(where, f"document {n} ({kind}): metadata.name", "missing")
        namespace = field_at(doc, "metadata.namespace")
        if namespace is not None and not isinstance(namespace, str):
            raise ConfigError(where, f"{kind} {name}: metadata.namespace", "must be a string")
        oid = ObjectId(api_group(api), kind, namespace or "", name, object_cluster(doc, rel))
        objects.append(TreeObject(oid, api, rel, n, doc, line))
    return objects


def tree_objects(files: Mapping[str, str], *, label: str = "",
                 advance: Callable[[], None] | None = None) -> dict[ObjectId, TreeObject]:
    """Every object of a tree by its identity. ``label`` prefixes file names in errors
    (``abc1234:apps/x.yaml``); ``advance`` is called once a file (a progress bar).
    Files that are not part of the tree (bootstrap's, not YAML) and kustomize's build
    files (``kustomization.yaml``) are skipped."""
    found: dict[ObjectId, TreeObject] = {}
    for rel, text in files.items():
        if not is_tree_file(rel) or PurePosixPath(rel).name in KUSTOMIZATION_FILES:
            if advance is not None:
                advance()
            continue
        where = f"{label}:{rel}" if label else rel
        for obj in file_objects(rel, text, where=where):
            if obj.id in found:
                first = found[obj.id]
                raise ConfigError(where, obj.id.display(),
                                  f"defined twice (also in {first.file}, document "
                                  f"{first.index}); Flux would apply only one of them")
            found[obj.id] = obj
        if advance is not None:
            advance()
    return found


# -- Flux Kustomizations ------------------------------------------------------------------

@dataclass(frozen=True)
class FluxKustomization:
    """A Flux Kustomization read from a tree (``path`` normalised: no ``./``, no ``/``
    at the end, ``""`` for the repository root)."""

    name: str
    namespace: str
    path: str
    source: tuple[str, str, str]  # kind, namespace, name
    depends_on: tuple[tuple[str, str], ...]  # (namespace, name)
    file: str
    bootstrap: bool = False
    suspend: bool = False
    target_namespace: str | None = None
    index: int = 0  # document number in its file
    spec: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False,
                                    repr=False)
    raw_path: str = ""  # spec.path as written
    #: Whether ``source`` serves this repository's tree: bootstrap's GitRepository, or an
    #: OCIRepository of the tree labelled ``TREE_SOURCE_LABEL`` (None: decide by
    #: ``OWN_SOURCE`` alone).
    own_source: bool | None = None

    @property
    def outside_repository(self) -> bool:
        """``spec.path`` leaves the repository (read with ``strict=False`` only: a strict
        read refuses such a Kustomization)."""
        return leaves_repository(self.raw_path)

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    @property
    def label(self) -> str:
        return self.name if self.namespace == FLUX_NAMESPACE else f"{self.namespace}/{self.name}"

    @property
    def reads_this_repository(self) -> bool:
        if self.own_source is not None:
            return self.own_source
        return self.source == OWN_SOURCE


def normalise_path(path: str) -> str:
    """A Kustomization ``spec.path`` as a relative POSIX folder (``""``: the root)."""
    clean = path.strip()
    while clean.startswith("./"):
        clean = clean[2:]
    clean = clean.strip("/")
    return "" if clean == "." else clean


def leaves_repository(path: str) -> bool:
    """True for a ``spec.path`` outside the repository (``..``, or absolute)."""
    return path.strip().startswith("/") or ".." in PurePosixPath(normalise_path(path)).parts


def source_ref(ref: Any, owner_namespace: str, where: str, field: str,
               default_kind: str | None = None) -> tuple[str, str, str]:
    """``(kind, namespace, name)`` of a Flux ``sourceRef``/``chartRef`` mapping."""
    if not isinstance(ref, Mapping):
        raise ConfigError(where, field, "missing")
    kind = ref.get("kind") or default_kind
    name = ref.get("name")
    if not isinstance(kind, str) or not kind:
        raise ConfigError(where, f"{field}.kind", "missing")
    if not isinstance(name, str) or not name:
        raise ConfigError(where, f"{field}.name", "missing")
    return kind, str(ref.get("namespace") or owner_namespace), name


def dependency_entries(spec: Mapping[str, Any], owner_namespace: str, where: str, *,
                       strict: bool = True) -> list[tuple[int, str, str]]:
    """``(index, namespace, name)`` of each ``spec.dependsOn`` entry (Kustomization,
    HelmRelease). ``strict=False`` skips what cannot be read instead of raising."""
    raw = spec.get("dependsOn") or []
    if not isinstance(raw, list):
        if strict:
            raise ConfigError(where, "spec.dependsOn", "must be a list")
        return []
    deps: list[tuple[int, str, str]] = []
    for i, dep in enumerate(raw):
        name = dep.get("name") if isinstance(dep, Mapping) else None
        if not isinstance(name, str) or not name:
            if strict:
                raise ConfigError(where, f"spec.dependsOn[{i}].name", "missing")
            continue
        deps.append((i, str(dep.get("namespace") or owner_namespace), name))
    return deps


def depends_on(spec: Mapping[str, Any], owner_namespace: str, where: str, *,
               strict: bool = True) -> tuple[tuple[str, str], ...]:
    """``(namespace, name)`` of each ``spec.dependsOn`` entry (Kustomization, HelmRelease)."""
    return tuple((ns, name) for _, ns, name in
                 dependency_entries(spec, owner_namespace, where, strict=strict))


def dependency_refs(obj: TreeObject) -> list[tuple[int, ObjectId]]:
    """``(index, target)`` of each readable ``spec.dependsOn`` entry of ``obj`` (no
    cluster: a reference names none): an object
    of its own API group and kind (a Kustomization waits for Kustomizations, a HelmRelease
    for HelmReleases). Entries that cannot be read are skipped."""
    spec = obj.body.get("spec")
    if not isinstance(spec, Mapping):
        return []
    return [(i, ObjectId(obj.id.group, obj.id.kind, ns, name))
            for i, ns, name in dependency_entries(spec, obj.id.namespace, obj.file,
                                                  strict=False)]


def is_tree_source(obj: TreeObject) -> bool:
    """An OCIRepository that serves this repository's tree (``cluster.source: oci``)."""
    labels = field_at(obj.body, "metadata.labels")
    return (obj.id.kind == "OCIRepository" and obj.id.group == SOURCE_TOOLKIT_GROUP
            and isinstance(labels, Mapping) and labels.get(TREE_SOURCE_LABEL) == "true")


def own_sources(objects: Iterable[TreeObject]) -> frozenset[tuple[str, str, str]]:
    """``(kind, namespace, name)`` of every source serving this repository's tree:
    bootstrap's GitRepository and the tree's labelled OCIRepositories."""
    found = {("OCIRepository", o.id.namespace or FLUX_NAMESPACE, o.id.name)
             for o in objects if is_tree_source(o)}
    return frozenset({OWN_SOURCE, *found})


def flux_kustomization(obj: TreeObject, where_prefix: str = "", *,
                       strict: bool = True, own: frozenset[tuple[str, str, str]] | None = None
                       ) -> FluxKustomization | None:
    """The Flux Kustomization ``obj``. Bad input is a ConfigError naming the file, the
    Kustomization and the field; with ``strict=False`` (validate, which reports fields
    through its schema check) it is None instead, a ``dependsOn`` entry that cannot be
    read is skipped and a path leaving the repository is kept (see
    :attr:`FluxKustomization.outside_repository`). ``own``: the sources serving this
    repository's tree (:func:`own_sources`; None: bootstrap's GitRepository alone)."""
    where = f"{where_prefix}{obj.file}: Kustomization {obj.id.name}"
    namespace = obj.id.namespace or FLUX_NAMESPACE
    spec = obj.body.get("spec")
    try:
        if not isinstance(spec, Mapping):
            raise ConfigError(where, "spec", "missing")
        path = spec.get("path", "")
        if not isinstance(path, str):
            raise ConfigError(where, "spec.path", "must be a string")
        if strict and leaves_repository(path):
            raise ConfigError(where, "spec.path", f"{path!r} leaves the repository")
        source = source_ref(spec.get("sourceRef"), namespace, where, "spec.sourceRef")
    except ConfigError:
        if strict:
            raise
        return None
    target = spec.get("targetNamespace")
    source = source_ref(spec.get("sourceRef"), namespace, where, "spec.sourceRef")
    return FluxKustomization(
        name=obj.id.name, namespace=namespace, path=normalise_path(path), source=source,
        depends_on=depends_on(spec, namespace, where, strict=strict), file=obj.file,
        suspend=spec.get("suspend") is True,
        target_namespace=str(target) if target else None, index=obj.index, spec=spec,
        raw_path=path, own_source=None if own is None else source in own)


def is_flux_kustomization(obj: TreeObject) -> bool:
    return obj.id.kind == "Kustomization" and obj.id.group == KUSTOMIZE_TOOLKIT_GROUP


def bootstrap_kustomization(relpath: str) -> FluxKustomization | None:
    """The ``flux-system`` Kustomization ``flux bootstrap`` creates for the cluster whose
    folder holds ``relpath`` (it applies ``./clusters/<cluster>``), if ``relpath`` is there."""
    parts = PurePosixPath(relpath).parts
    if len(parts) < 3 or parts[0] != "clusters":
        return None
    return FluxKustomization(FLUX_NAMESPACE, FLUX_NAMESPACE, f"clusters/{parts[1]}",
                             OWN_SOURCE, (), f"clusters/{parts[1]}/flux-system/gotk-sync.yaml",
                             bootstrap=True)


class Owners:
    """Which Flux Kustomization applies a file: the one reading this repository whose
    ``spec.path`` folder most closely contains it; files of ``clusters/<cluster>/`` that no
    other one claims belong to bootstrap's ``flux-system`` (with ``cluster`` given: only
    that cluster's folder, the one its bootstrap applies)."""

    def __init__(self, kustomizations: Sequence[FluxKustomization],
                 cluster: str | None = None) -> None:
        self._by_path: dict[str, FluxKustomization] = {}
        self._cluster = cluster
        for k in kustomizations:
            if k.reads_this_repository:
                self._by_path.setdefault(k.path, k)

    def of(self, relpath: str) -> FluxKustomization | None:
        bootstrap = bootstrap_kustomization(relpath)
        if (bootstrap is not None and self._cluster is not None
                and bootstrap.path != f"clusters/{self._cluster}"):
            bootstrap = None
        folder = PurePosixPath(relpath).parent
        for candidate in (folder, *folder.parents):
            key = "" if str(candidate) == "." else candidate.as_posix()
            if key in self._by_path:
                return self._by_path[key]
            if bootstrap is not None and key == bootstrap.path:
                return bootstrap
        return None


# -- the cluster a tree is for ------------------------------------------------------------

@dataclass(frozen=True)
class ClusterIdentity:
    """The cluster ``clusters/<folder>/`` is for, from its generated identity ConfigMap:
    the cluster's name and the UID of its ``kube-system`` Namespace (None: not bound)."""

    folder: str
    name: str
    uid: str | None
    file: str


# -- the tree -----------------------------------------------------------------------------

KustomizationKey = tuple[str, str]  # namespace, name


def _document_key(k: FluxKustomization) -> tuple[str, int, str, str]:
    """The document a Kustomization comes from (one key across every view of a tree)."""
    return k.file, k.index, k.namespace, k.name


class Tree:
    """A loaded tree: ``files`` (``{path: YAML text}``), its objects and its Flux graph.

    ``label`` prefixes file names in errors (a commit: ``1a2b3c4:apps/x.yaml``).
    Everything beyond the objects is computed on first use.

    A tree of several clusters (``clusters/<a>/``, ``clusters/<b>/``) holds one Flux graph
    per cluster: bootstrap of cluster ``a`` applies ``clusters/a/`` only, so its
    Kustomizations are those defined there and those defined in the files they apply.
    Two clusters may each have a Kustomization ``flux-system/apps``; :meth:`views` gives
    each cluster's part of the tree (:meth:`for_cluster`), in which Kustomizations are
    keyed by ``(namespace, name)`` as in a tree of one cluster. ``cluster`` is the name of
    the cluster a view is for (None: the whole tree; "": what no cluster applies).
    """

    cluster: str | None = None
    #: Files besides :attr:`files` and those of :attr:`objects` (a file whose objects were
    #: all left out of :meth:`from_objects` as a second object of one identity).
    extra_paths: frozenset[str] = frozenset()

    def __init__(self, files: Mapping[str, str], *, label: str = "",
                 advance: Callable[[], None] | None = None) -> None:
        self.files: dict[str, str] = dict(files)
        self.label = label
        self.objects: dict[ObjectId, TreeObject] = tree_objects(self.files, label=label,
                                                                advance=advance)

    @classmethod
    def from_objects(cls, objects: Iterable[TreeObject], files: Mapping[str, str] | None = None,
                     *, label: str = "") -> Tree:
        """A tree of objects read elsewhere: ``validate`` reads and checks every document
        itself (a bad one is reported there, not raised), then reads the graph through
        this model. Of two objects with one identity the first is kept. ``files`` are the
        texts the model may need besides: kustomize build files (their generators make
        objects, see :attr:`provided`)."""
        tree = cls.__new__(cls)
        tree.files = dict(files or {})
        tree.label = label
        tree.objects = {}
        read: set[str] = set()
        for obj in objects:
            tree.objects.setdefault(obj.id, obj)
            read.add(obj.file)
        tree.extra_paths = frozenset(read)
        return tree

    @classmethod
    def from_disk(cls, root: Path) -> Tree:
        """The tree as its files are on disk under ``root``."""
        return cls(read_disk_tree(root))

    @classmethod
    def from_git(cls, root: Path, commit: str, *, label: str | None = None) -> Tree:
        """The tree committed at ``commit`` (read from git only)."""
        return cls(git_tree(root, commit), label=commit[:7] if label is None else label)

    def where(self, relpath: str) -> str:
        """``relpath`` as errors name it (with the tree's label)."""
        return f"{self.label}:{relpath}" if self.label else relpath

    # objects

    def get(self, kind: str, namespace: str, name: str, group: str = "",
            cluster: str | None = None) -> TreeObject | None:
        """The object ``kind namespace/name``; of cluster ``cluster`` when given, else the
        first in file order (the only one in a tree of one cluster)."""
        if cluster is not None:
            return self.objects.get(ObjectId(group, kind, namespace, name, cluster))
        found = self.objects.get(ObjectId(group, kind, namespace, name))
        if found is not None:
            return found
        return next((o for o in self.objects.values()
                     if (o.id.group, o.id.kind, o.id.namespace, o.id.name)
                     == (group, kind, namespace, name)), None)

    def of_kind(self, kind: str, group: str | None = None) -> list[TreeObject]:
        """The objects of ``kind`` (of API ``group`` when given), in file order."""
        return [o for o in self.objects.values()
                if o.id.kind == kind and (group is None or o.id.group == group)]

    @cached_property
    def provided(self) -> frozenset[ObjectId]:
        """Every object that exists once the tree is applied: its objects, the Secret of
        each SealedSecret, the ConfigMaps and Secrets its kustomize build files generate
        (a build file that cannot be read generates nothing: ``kubectl kustomize`` reports
        it) and what ``flux bootstrap`` creates (:data:`BOOTSTRAP_OBJECTS`)."""
        from homelab_charts.validate.loader import load_documents

        found = set(BOOTSTRAP_OBJECTS)
        for oid in self.objects:
            found.add(plain_id(oid))
            if oid.kind == "SealedSecret":
                found.add(ObjectId("", "Secret", oid.namespace, oid.name))
        for rel, text in self.files.items():
            if PurePosixPath(rel).name in KUSTOMIZATION_FILES:
                for doc in load_documents(text, strict=False):
                    if isinstance(doc.obj, Mapping):
                        found.update(generated_objects(doc.obj))
        return frozenset(found)

    def provides(self, oid: ObjectId) -> bool:
        """True when ``oid`` exists once the tree is applied (see :attr:`provided`); its
        cluster is not compared (a reference names none: read one cluster's view)."""
        return plain_id(oid) in self.provided

    def in_file(self, relpath: str) -> list[TreeObject]:
        return [o for o in self.objects.values() if o.file == relpath]

    def has_file(self, relpath: str) -> bool:
        return relpath in self.files

    def kustomization_file(self, folder: str) -> str | None:
        """The kustomize build file of ``folder`` in the tree, if it has one."""
        for name in KUSTOMIZATION_FILES:
            rel = f"{folder}/{name}" if folder else name
            if rel in self.files:
                return rel
        return None

    # Flux Kustomizations

    @cached_property
    def kustomizations(self) -> list[FluxKustomization]:
        """The tree's Flux Kustomizations, in the order of their files."""
        prefix = f"{self.label}:" if self.label else ""
        own = own_sources(self.objects.values())
        return [k for o in self.objects.values() if is_flux_kustomization(o)
                if (k := flux_kustomization(o, prefix, own=own)) is not None]

    def kustomization(self, namespace: str, name: str) -> FluxKustomization | None:
        return self._by_key.get((namespace, name))

    @cached_property
    def _by_key(self) -> dict[KustomizationKey, FluxKustomization]:
        """The Kustomizations by ``(namespace, name)``. Two with one key (clusters ``a``
        and ``b`` each with ``flux-system/apps``) are two graphs, never one node: a
        ConfigError saying to read one cluster (:meth:`for_cluster`, :meth:`views`)."""
        found: dict[KustomizationKey, FluxKustomization] = {}
        for k in self.kustomizations:
            first = found.setdefault(k.key, k)
            if first is not k:
                raise ConfigError(
                    f"{self.where(k.file)}: Kustomization {k.label}", None,
                    f"also defined in {first.file}: each cluster's Flux graph is its own "
                    "(read one cluster: Tree.for_cluster / Tree.views)")
        return found

    @cached_property
    def owners(self) -> Owners:
        return Owners(self.kustomizations)

    def owner_of(self, relpath: str) -> FluxKustomization | None:
        """The Flux Kustomization that applies the file ``relpath`` (bootstrap's for
        ``clusters/<cluster>/``), or None when none does."""
        return self.owners.of(relpath)

    def applied_by(self, kustomization: FluxKustomization) -> list[TreeObject]:
        """The objects of the files ``kustomization`` applies."""
        return [o for o in self.objects.values() if self.owner_of(o.file) == kustomization]

    def dependency_graph(self, kind: str, group: str) -> DependencyGraph[ObjectId]:
        """The ``dependsOn`` graph of the objects of ``kind`` (HelmRelease, Kustomization),
        entries that cannot be read left out (:func:`dependency_refs`); a dependency that
        is not in the tree is one of the graph's ``missing()``."""
        return DependencyGraph({plain_id(o.id): [t for _, t in dependency_refs(o)]
                                for o in self.of_kind(kind, group)})

    @cached_property
    def graph(self) -> DependencyGraph[KustomizationKey]:
        """The ``dependsOn`` graph of the Kustomizations (keys: ``(namespace, name)``) of a
        tree of one cluster, or of one cluster's view (:meth:`views`)."""
        return DependencyGraph({key: k.depends_on for key, k in self._by_key.items()})

    def layer_of(self, kustomization: FluxKustomization) -> int:
        """The layer of ``kustomization`` (one of :attr:`kustomizations`) in the graph of
        its cluster; 0 when no cluster applies it."""
        return self._layers_by_document.get(_document_key(kustomization), 0)

    @cached_property
    def _layers_by_document(self) -> dict[tuple[str, int, str, str], int]:
        out: dict[tuple[str, int, str, str], int] = {}
        for view in self.views():
            layers = view.layers()
            for k in view.kustomizations:
                out.setdefault(_document_key(k), layers.get(k.key, 0))
        return out

    def layers(self) -> dict[KustomizationKey, int]:
        """Each Kustomization's layer: the length of its longest ``dependsOn`` chain."""
        return self.graph.depths()

    def cycles(self) -> list[list[FluxKustomization]]:
        """The ``dependsOn`` cycles, each as its members in cycle order."""
        return [[self._by_key[key] for key in cycle] for cycle in self.graph.cycles()]

    def order(self, kustomizations: Sequence[FluxKustomization] | None = None, *,
              rank: Callable[[FluxKustomization], Any] | None = None) -> list[
            FluxKustomization]:
        """``kustomizations`` (default: all) with every one after its dependencies; ties
        by ``rank`` then file order. A dependency outside the set or a cycle is a
        ConfigError naming the file, the Kustomization and the field."""
        chosen = list(self.kustomizations if kustomizations is None else kustomizations)
        by_key: dict[KustomizationKey, FluxKustomization] = {}
        for k in chosen:
            if k.key in by_key:
                raise ConfigError(f"{self.where(k.file)}: Kustomization {k.label}", None,
                                  "defined twice")
            by_key[k.key] = k
        graph = DependencyGraph({k.key: k.depends_on for k in chosen})
        for key, (ns, name) in graph.missing():
            k = by_key[key]
            i = k.depends_on.index((ns, name))
            raise ConfigError(f"{self.where(k.file)}: Kustomization {k.name}",
                              f"spec.dependsOn[{i}].name",
                              f"no Kustomization {name!r} in namespace {ns!r}")
        cycles = graph.cycles()
        if cycles:
            first = by_key[cycles[0][0]]
            names = " -> ".join(by_key[key].name for key in [*cycles[0], cycles[0][0]])
            raise ConfigError(f"{self.where(first.file)}: Kustomization {first.name}",
                              "spec.dependsOn", f"dependency cycle: {names}")
        key_rank = None if rank is None else (lambda key: rank(by_key[key]))
        return [by_key[key] for key in graph.order(key_rank)]

    # clusters

    @cached_property
    def paths(self) -> frozenset[str]:
        """Every file of the tree: those read, and those its objects come from."""
        return frozenset({*self.files, *(o.file for o in self.objects.values()),
                          *self.extra_paths})

    def clusters(self) -> list[str]:
        """The cluster folders: ``<name>`` of each ``clusters/<name>/`` holding a file."""
        return sorted({c for rel in self.paths if (c := cluster_folder(rel)) is not None})

    def cluster_paths(self, cluster: str) -> frozenset[str]:
        """The files cluster ``cluster`` applies: those of ``clusters/<cluster>/`` (its
        bootstrap's), and those the Kustomizations of the files it applies apply, each by
        the nearest Kustomization of that cluster (:class:`Owners`)."""
        chosen: list[FluxKustomization] = []
        taken: set[int] = set()
        while True:
            owners = Owners(chosen, cluster)
            member = frozenset(rel for rel in self.paths if owners.of(rel) is not None)
            new = [k for k in self.kustomizations if k.file in member and id(k) not in taken]
            if not new:
                return member
            chosen.extend(new)
            taken.update(id(k) for k in new)

    def for_cluster(self, cluster: str) -> Tree:
        """Cluster ``cluster``'s part of the tree (:meth:`cluster_paths`): its files and
        objects, its Kustomizations keyed by ``(namespace, name)``, its own graph. A
        ConfigError naming the clusters when the tree has no ``clusters/<cluster>/``."""
        names = self.clusters()
        if cluster not in names:
            raise ConfigError(self.where(f"clusters/{cluster}"), None,
                              f"no such cluster folder in the tree (clusters: "
                              f"{', '.join(names) or 'none'})")
        return self._view(self.cluster_paths(cluster), cluster)

    def views(self) -> list[Tree]:
        """The tree as its clusters apply it: the tree itself when it has one cluster
        folder or none (every command's output is then as it always was); else one view
        per cluster (:meth:`for_cluster`, by name) and, when files with objects are
        applied by no cluster, one more of those (``cluster`` "")."""
        if self.cluster is not None or len(self.clusters()) <= 1:
            return [self]
        return self._views

    @cached_property
    def _views(self) -> list[Tree]:
        views = [self.for_cluster(c) for c in self.clusters()]
        claimed = frozenset().union(*(v.paths for v in views))
        rest = self.paths - claimed
        if any(o.file in rest for o in self.objects.values()):
            views.append(self._view(rest, ""))
        return views

    def _view(self, paths: frozenset[str], cluster: str) -> Tree:
        view = Tree.__new__(Tree)
        view.files = {rel: text for rel, text in self.files.items() if rel in paths}
        view.label = self.label
        view.objects = {oid: o for oid, o in self.objects.items() if o.file in paths}
        view.extra_paths = frozenset(paths & self.extra_paths)
        view.cluster = cluster
        return view

    def cluster_identity(self, cluster: str) -> ClusterIdentity | None:
        """The cluster ``clusters/<cluster>/`` is bound to (None without an identity file)."""
        rel = f"clusters/{cluster}/{CLUSTER_IDENTITY_FILE}"
        if rel not in self.files:
            return None
        obj = next((o for o in self.in_file(rel)
                    if (o.id.kind, o.id.namespace, o.id.name)
                    == ("ConfigMap", CLUSTER_IDENTITY_NAMESPACE, CLUSTER_IDENTITY_NAME)), None)
        if obj is None:
            raise ConfigError(self.where(rel), None,
                              f"expected the ConfigMap {CLUSTER_IDENTITY_NAMESPACE}/"
                              f"{CLUSTER_IDENTITY_NAME} (regenerate it: homelab-charts synth)")
        data = obj.body.get("data")
        if not isinstance(data, Mapping):
            raise ConfigError(self.where(rel), f"ConfigMap {CLUSTER_IDENTITY_NAME}: data",
                              "missing")
        name = data.get("cluster")
        if not isinstance(name, str) or not name:
            raise ConfigError(self.where(rel),
                              f"ConfigMap {CLUSTER_IDENTITY_NAME}: data.cluster", "missing")
        uid = data.get(CLUSTER_UID_KEY)
        return ClusterIdentity(cluster, name, str(uid) if uid else None, rel)
