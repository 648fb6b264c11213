"""The base of every generated object: a cdk8s ``ApiObject`` whose body is built in Python.

Each Kubernetes object of the tree is one :class:`Manifest`, a real cdk8s ``ApiObject``
in the construct tree. Its body is a plain Python dict handed to cdk8s once, at
construction, instead of one jsii call per field or JSON patch: crossing from Python into
Node.js costs about half a millisecond a call, and the body rarely needs the Node side.
``to_json()`` (which cdk8s' own ``Chart.to_json()`` and ``App.synth()`` call) returns the
same body, so cdk8s and the tree writer see one object.

A :class:`Component` is a cdk8s ``Chart`` that becomes one generated file; a
:class:`Folder` is a construct whose components are written into one folder of the tree.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import jsii
from cdk8s import ApiObject, App, Chart
from constructs import Construct

from homelab_charts.errors import VALUE_PLACES, ConfigError

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)

#: Kinds that live outside any namespace (never given ``metadata.namespace``).
CLUSTER_SCOPED_KINDS = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PersistentVolume", "StorageClass", "PriorityClass", "IngressClass",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ClusterIssuer",
})

MANAGED_BY = "homelab-charts"


def construct_path(scope: Construct, id: str | None = None) -> str:
    """The construct path of ``scope`` (plus ``id``), for error messages."""
    path = scope.node.path
    if id is not None:
        path = f"{path}/{id}" if path else id
    return path


def check_name(scope: Construct, id: str | None, field: str, value: str, *,
               subdomain: bool = True) -> str:
    """``value`` if it is a valid object name; else a ConfigError naming the construct path."""
    pattern = DNS_SUBDOMAIN if subdomain else DNS_LABEL
    if not isinstance(value, str) or not pattern.match(value):
        kind = "DNS-1123 subdomain" if subdomain else "DNS-1123 label"
        raise ConfigError(construct_path(scope, id), field,
                          f"{value!r} is not a valid {kind} (lower case a-z, 0-9, '-')")
    return value


class TreeApp(App):
    """The cdk8s App of a tree: keeps its components in creation order, on the Python side.

    ``store`` is the sealed data store SealedSecrets read from (default: the store of the
    repository around the current folder); ``labels`` go on every object of the app (the
    cluster ownership label, from synthesis).
    """

    def __init__(self, *, store: Path | None = None, labels: Mapping[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.components: list[Component] = []
        self.store = store
        #: Labels of every object of the app (the cluster ownership label, from synthesis).
        self.common_labels: dict[str, str] = dict(labels or {})
        #: One-line warnings for the person synthesizing (an unused sealed credential...).
        self.warnings: list[str] = []


def app_of(scope: Construct) -> TreeApp | None:
    """The TreeApp above ``scope``, found without a jsii call when our constructs lead to it."""
    if isinstance(scope, TreeApp):
        return scope
    found = getattr(scope, "hc_app", None)
    if isinstance(found, TreeApp):
        return found
    root = scope.node.root
    return root if isinstance(root, TreeApp) else None


class Folder(Construct):
    """A folder of the generated tree; the components created inside it are its files.

    ``path`` is relative to the repository root (``infrastructure/databases``);
    ``namespace`` is the default namespace of the objects in it. With ``kustomize`` (the
    default) the tree writer lists its files in a generated ``kustomization.yaml``, so
    ``kubectl kustomize <folder>`` builds it.
    """

    def __init__(self, scope: Construct, id: str, *, path: str, namespace: str | None = None,
                 part_of: str | None = None, kustomize: bool = True,
                 labels: Mapping[str, str] | None = None) -> None:
        super().__init__(scope, id)
        self.hc_app = app_of(scope)
        if path.startswith(("/", "./")) or ".." in path.split("/") or not path.strip("/"):
            raise ConfigError(construct_path(self), "path",
                              f"{path!r} must be a relative folder such as apps/n8n")
        if namespace is not None:
            check_name(self, None, "namespace", namespace, subdomain=False)
        self.path = path.strip("/")
        self.namespace = namespace
        self.part_of = part_of
        self.kustomize = kustomize
        #: Labels of every object of the folder's components (the cluster ownership label
        #: when the tree holds several clusters).
        self.labels: dict[str, str] = dict(labels or {})
        self.components: list[Component] = []


class Component(Chart):
    """One generated file: a cdk8s Chart whose objects are written, in order, to ``file``.

    Inside a :class:`Folder` the file defaults to ``<folder>/<id>.yaml`` and the namespace
    to the folder's. ``labels`` are added to every object of the file.

    A component the cluster discovers registers itself
    (:func:`homelab_charts.registry.register`) and builds itself from the cluster
    context in :meth:`create`.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_names_component", False):
            cls.__init__ = _naming_component(init)  # type: ignore[method-assign]

    #: checkov skips (ID -> reason) the cluster adds to this component's workloads, after
    #: the homelab-wide ones (docs/CHECKOV.md).
    checkov_skips: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: Any) -> Component:
        """Build this component inside ``scope`` from ``ctx`` (a
        :class:`homelab_charts.registry.ClusterContext`): read its settings from
        ``ctx.data``, ask ``ctx.require(OtherComponent)`` for what it uses. Registered
        components override it."""
        raise NotImplementedError(f"{cls.__qualname__} does not define create()")

    def __init__(self, scope: Construct, id: str, *, file: str | None = None,
                 namespace: str | None = None, labels: Mapping[str, str] | None = None) -> None:
        super().__init__(scope, id)
        self.hc_app = app_of(scope)
        folder = scope if isinstance(scope, Folder) else None
        if file is None:
            if folder is None:
                raise ConfigError(construct_path(self), "file",
                                  "a component outside a Folder needs a file path")
            file = f"{folder.path}/{id}.yaml"
        if file.startswith("/") or ".." in file.split("/") or not file.endswith(".yaml"):
            raise ConfigError(construct_path(self), "file",
                              f"{file!r} must be a relative path ending in .yaml")
        self.file = file
        self.folder = folder
        self.default_namespace = (
            namespace if namespace is not None else (folder.namespace if folder else None)
        )
        self.common_labels: dict[str, str] = {"app.kubernetes.io/managed-by": MANAGED_BY}
        if self.hc_app is not None:
            self.common_labels.update(self.hc_app.common_labels)
        if folder is not None:
            self.common_labels.update(folder.labels)
            if folder.part_of:
                self.common_labels["app.kubernetes.io/part-of"] = folder.part_of
        self.common_labels.update(labels or {})
        self.objects: list[Manifest] = []
        #: Components this one needs at run time (its Services, Secrets...): the cluster
        #: definition turns these construct references into Flux ``dependsOn``.
        self.uses: list[Component] = []
        if folder is not None:
            folder.components.append(self)
        if self.hc_app is not None:
            self.hc_app.components.append(self)

    @property
    def where(self) -> str:
        return construct_path(self)

    def use(self, *others: Component) -> None:
        """Record that this component needs ``others`` (deployed first by Flux)."""
        for other in others:
            if other is not self and other not in self.uses:
                self.uses.append(other)


def _naming_component(init: Any) -> Any:
    """``init`` of a Component subclass, its value objects' errors (``probe: http_path:
    ...``) re-raised with the component's construct path in front."""

    @functools.wraps(init)
    def wrapped(self: Component, *args: Any, **kwargs: Any) -> None:
        try:
            init(self, *args, **kwargs)
        except ConfigError as exc:
            if exc.where not in VALUE_PLACES:
                raise
            scope = args[0] if args else kwargs.get("scope")
            id = args[1] if len(args) > 1 else kwargs.get("id")
            where = construct_path(scope, id) if isinstance(scope, Construct) else str(id)
            field = f"{exc.where}.{exc.field}" if exc.field else exc.where
            raise ConfigError(where, field, exc.message) from None

    wrapped._names_component = True  # type: ignore[attr-defined]
    return wrapped


class Part(Construct):
    """A construct grouping objects inside a component (a workload, a service...)."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.component = component_of(scope)
        self.hc_app = self.component.hc_app


def component_of(scope: Construct) -> Component:
    """The component (generated file) that ``scope`` belongs to."""
    if isinstance(scope, Component):
        return scope
    found = getattr(scope, "component", None)
    if isinstance(found, Component):
        return found
    chart = Chart.of(scope)
    if not isinstance(chart, Component):
        raise ConfigError(construct_path(scope), None,
                          "objects must be created inside a homelab_charts Component")
    return chart


class Manifest(ApiObject):
    """A Kubernetes object of the tree; everything but the metadata goes in ``body``.

    >>> Manifest(chart, "cm", api_version="v1", kind="ConfigMap", name="settings",
    ...          body={"data": {"LOG_LEVEL": "info"}})
    """

    def __init__(self, scope: Construct, id: str, *, api_version: str, kind: str, name: str,
                 namespace: str | None = None, labels: Mapping[str, str] | None = None,
                 annotations: Mapping[str, str] | None = None,
                 body: Mapping[str, Any] | None = None) -> None:
        component = component_of(scope)
        check_name(scope, id, "metadata.name", name)
        if kind in CLUSTER_SCOPED_KINDS:
            namespace = None
        elif namespace is None:
            namespace = component.default_namespace
        if namespace is not None:
            check_name(scope, id, "metadata.namespace", namespace, subdomain=False)
        # What cdk8s' generated ApiObject.__init__ does, minus its run-time type checks
        # (typeguard, a tenth of a millisecond an object): every argument was checked above.
        # The props are ApiObjectProps in their JSON form; tests read them back from Node.
        metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
        jsii.create(self.__class__, self, [scope, id, {"apiVersion": api_version, "kind": kind,
                                                      "metadata": metadata}])
        meta: dict[str, Any] = dict(metadata)
        merged = {**component.common_labels, **(labels or {})}
        if merged:
            meta["labels"] = merged
        if annotations:
            meta["annotations"] = dict(annotations)
        self.object_api_version = api_version
        self.object_kind = kind
        self.object_name = name
        self.object_namespace = namespace
        self.meta = meta
        self.body: dict[str, Any] = dict(body or {})
        self.component = component
        component.objects.append(self)

    @property
    def where(self) -> str:
        """The construct path, for error messages."""
        return construct_path(self)

    def ref(self) -> dict[str, str]:
        """``{kind, name[, namespace]}``: how other objects (Flux sourceRef, dependsOn) name it."""
        out = {"kind": self.object_kind, "name": self.object_name}
        if self.object_namespace is not None:
            out["namespace"] = self.object_namespace
        return out

    def annotate(self, key: str, value: str) -> None:
        self.meta.setdefault("annotations", {})[key] = value

    def render(self) -> dict[str, Any]:
        """The object as a plain dict (``apiVersion``, ``kind``, ``metadata``, then the body)."""
        out: dict[str, Any] = {
            "apiVersion": self.object_api_version,
            "kind": self.object_kind,
            "metadata": self.meta,
        }
        out.update(self.render_body())
        return out

    def render_body(self) -> dict[str, Any]:
        """Everything after ``metadata``; subclasses that finish their body late override it."""
        return self.body

    def to_json(self) -> Any:
        # Called by cdk8s (Chart.to_json, App.synth) across jsii: hand it a copy.
        return copy.deepcopy(self.render())


CHECKOV_SKIP_PREFIX = "checkov.io/skip"


def skip_checkov(manifest: Manifest, checks: Mapping[str, str]) -> None:
    """Annotate ``manifest`` so checkov skips ``checks`` (ID -> reason) on it.

    checkov reads ``checkov.io/skip<N>: <ID>=<reason>``; the reason may not contain '='.
    """
    existing = manifest.meta.get("annotations", {})
    taken = {v.split("=", 1)[0] for k, v in existing.items()
             if k.startswith(CHECKOV_SKIP_PREFIX)}
    number = sum(1 for k in existing if k.startswith(CHECKOV_SKIP_PREFIX))
    for check_id, reason in checks.items():
        if "=" in reason or not reason.strip():
            raise ConfigError(manifest.where, f"checkov {check_id}",
                              "a skip needs a reason without '='")
        if check_id in taken:
            continue
        number += 1
        manifest.annotate(f"{CHECKOV_SKIP_PREFIX}{number}", f"{check_id}={reason}")
        taken.add(check_id)
