"""Components register themselves; the cluster discovers them and builds the enabled ones.

A component of the homelab is one Python class plus one entry of the data file::

    @register("services.whoami", folder="apps/whoami")
    class Whoami(Component):
        def __init__(self, scope: Construct, id: str, *, release: AppRelease,
                     ingress: Traefik) -> None:
            ...

        @classmethod
        def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> Whoami:
            return cls(scope, id, release=AppRelease.from_data(ctx.data, "whoami"),
                       ingress=ctx.require(Traefik))

``register`` records the class under its data-file entry (``services.<name>`` or
``infrastructure.<name>``) and the folder of the tree it is written into
(``apps/<layer>`` or ``infrastructure/<layer>``; the last part names the layer: its Flux
Kustomization and, unless ``namespace`` says otherwise, its namespace; ``pod_security``
lets the namespace enforce a Pod Security level other than ``restricted``, with the
reason, see :class:`PodSecurity`). The cluster
(:mod:`homelab_charts.cluster`) imports the component modules of this package and of the
packages the data file lists under ``modules``, and calls ``create`` for every
registration whose entry is in the data file and not ``enabled: false``. ``create`` asks
the :class:`ClusterContext` for what the component uses, by type (``ctx.require(PostgreSQL)``,
built first if need be) — construct references, from which Flux ``dependsOn`` is derived.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from homelab_charts.base import DNS_LABEL, Component, Folder
from homelab_charts.config import ClusterSettings, EnvironmentSettings, HomelabData, Image
from homelab_charts.errors import ConfigError

if TYPE_CHECKING:
    from homelab_charts.secrets.sealed_secret import SealedSecret

#: Pod Security Standards levels a namespace may enforce (``restricted`` is the default).
POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")

#: Sections of the data file whose entries are components.
SECTIONS = ("infrastructure", "services")
#: Top folders of the tree a component's folder may be in (each has its own Flux file).
GROUPS = ("infrastructure", "apps")

T = TypeVar("T", bound=Component)
C = TypeVar("C", bound=type[Component])


@dataclass(frozen=True)
class PodSecurity:
    """A namespace's exception to Pod Security Standards ``restricted``: the ``level`` it
    enforces instead, and why.

    Declared once (a module constant) and given to ``register(..., pod_security=...)`` by
    the components of that layer; the cluster writes it on the Namespace (its labels, the
    reason as an annotation and as the waiver of policy rule NS-001) and refuses two
    different declarations for one namespace. Default deny still applies.
    """

    level: str
    reason: str

    def __post_init__(self) -> None:
        if self.level not in POD_SECURITY_LEVELS or self.level == "restricted":
            raise TypeError(f"PodSecurity level {self.level!r} must be privileged or baseline "
                            "(restricted is every namespace's default, not an exception)")
        if not self.reason.strip():
            raise TypeError("PodSecurity needs a reason: why the namespace cannot be "
                            "restricted")


@dataclass(frozen=True)
class Registration:
    """One registered component class: where its data and its files are."""

    cls: type[Component]
    #: ``services.<name>`` or ``infrastructure.<name>``.
    entry: str
    #: The folder of the tree (``apps/n8n``); its last part is the layer.
    folder: str
    #: The construct id, and the file name (``<id>.yaml``) inside the folder.
    id: str
    #: The namespace of the folder (default: the layer's name).
    namespace: str
    #: The namespace's exception to Pod Security ``restricted`` (None: restricted).
    pod_security: PodSecurity | None = None
    #: True: one instance per cluster, shared by the environments it runs (the ingress
    #: controller, the telemetry pipeline). False: one per environment (apps, databases),
    #: in folders and namespaces suffixed ``-<env>`` outside prod.
    shared: bool = False

    @property
    def section(self) -> str:
        return self.entry.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.entry.split(".", 1)[1]

    @property
    def group(self) -> str:
        """``infrastructure`` or ``apps``: which Flux file applies the layer."""
        return self.folder.split("/", 1)[0]

    @property
    def layer(self) -> str:
        return self.folder.rsplit("/", 1)[1]

    @property
    def module(self) -> str:
        return self.cls.__module__

    @property
    def label(self) -> str:
        return f"{self.cls.__name__} ({self.entry})"


_REGISTRY: dict[tuple[str, str], Registration] = {}


def register(entry: str, *, folder: str, id: str | None = None,
             namespace: str | None = None,
             pod_security: PodSecurity | None = None, shared: bool = False) -> _Decorator:
    """Class decorator: the component built for data-file ``entry`` into ``folder``.

    ``pod_security`` (rare; see :class:`PodSecurity`) is the namespace's exception to
    Pod Security ``restricted``, for components that read the node (host folders).

    The class must define ``create(cls, scope, id, ctx)`` (a classmethod building it from
    the :class:`ClusterContext`). It is built once per environment a cluster runs (prod
    into ``folder``, dev into ``folder-dev``, namespace ``namespace-dev``), or with
    ``shared`` once per cluster for all its environments (infrastructure only: the
    ingress controller, the telemetry pipeline). Bad arguments raise TypeError when the
    module is imported.
    """
    section, _, name = entry.partition(".")
    if section not in SECTIONS or not DNS_LABEL.match(name):
        raise TypeError(f"register({entry!r}): the entry must be services.<name> or "
                        "infrastructure.<name> (a DNS label)")
    parts = folder.strip("/").split("/")
    if len(parts) != 2 or parts[0] not in GROUPS or not DNS_LABEL.match(parts[1]):
        raise TypeError(f"register({entry!r}): folder {folder!r} must be apps/<layer> or "
                        "infrastructure/<layer> (a DNS label)")
    if shared and section != "infrastructure":
        raise TypeError(f"register({entry!r}): only infrastructure is shared by a "
                        "cluster's environments; services run per environment")
    file_id = id or name
    ns = namespace or parts[1]
    for what, value in (("id", file_id), ("namespace", ns)):
        if not DNS_LABEL.match(value):
            raise TypeError(f"register({entry!r}): {what} {value!r} is not a DNS label")
    if pod_security is not None and not isinstance(pod_security, PodSecurity):
        raise TypeError(f"register({entry!r}): pod_security must be a PodSecurity")

    def decorate(cls: C) -> C:
        if not (isinstance(cls, type) and issubclass(cls, Component)):
            raise TypeError(f"register({entry!r}) decorates a Component subclass, not {cls!r}")
        if getattr(cls.create, "__func__", None) is Component.create.__func__:
            raise TypeError(f"{cls.__module__}.{cls.__qualname__}: a registered component "
                            "defines the classmethod create(cls, scope, id, ctx)")
        registration = Registration(cls=cls, entry=entry, folder="/".join(parts), id=file_id,
                                    namespace=ns, pod_security=pod_security,
                                    shared=shared)
        # Keyed by the class' own name: reloading a module replaces its registration.
        _REGISTRY[(cls.__module__, cls.__qualname__)] = registration
        cls.registration = registration  # type: ignore[attr-defined]
        return cls

    return decorate


class _Decorator(Protocol):
    def __call__(self, cls: C, /) -> C: ...


def registrations(modules: Iterable[str]) -> list[Registration]:
    """The registrations of classes defined in ``modules`` or in modules below them."""
    prefixes = tuple(modules)
    found = [r for r in _REGISTRY.values()
             if any(r.module == p or r.module.startswith(p + ".") for p in prefixes)]
    return sorted(found, key=lambda r: (r.module, r.cls.__qualname__))


def registration_of(cls: type[Component]) -> Registration | None:
    """How ``cls`` registered itself (None if it did not)."""
    found = cls.__dict__.get("registration")
    return found if isinstance(found, Registration) else None


# --- importing component modules ------------------------------------------------------

def import_all(package: str, *, where: str, field: str, root: Path | None = None) -> None:
    """Import ``package`` and every module below it (so their classes register).

    With ``root`` (a homelab repository) the package is imported from that folder: a
    module of the same name imported earlier from somewhere else is forgotten first, so
    two repositories in one process never share their modules.
    """
    if root is not None:
        _forget_foreign(package, root)
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (package == exc.name or package.startswith(exc.name + ".")):
            place = f" in {root}" if root is not None else ""
            raise ConfigError(where, field, f"no Python module {package!r}{place}") from None
        raise
    search = getattr(module, "__path__", None)
    if search is None:
        return
    for info in sorted(pkgutil.walk_packages(search, prefix=package + "."),
                       key=lambda i: i.name):
        importlib.import_module(info.name)


def _forget_foreign(package: str, root: Path) -> None:
    top = package.split(".", 1)[0]
    loaded = sys.modules.get(top)
    if loaded is None:
        return
    locations = [Path(p) for p in (getattr(loaded, "__path__", None) or [])]
    if getattr(loaded, "__file__", None):
        locations.append(Path(loaded.__file__).parent)  # type: ignore[arg-type]
    if any(_within(p, root) for p in locations):
        return
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


# --- what a component's create() is given -----------------------------------------------

class ClusterContext(Protocol):
    """What ``create`` gets from the cluster: the data file, the other components, secrets.

    The cluster's implementation builds a required component on first use, so the order
    of registrations never matters, and reports a missing or disabled one by name.
    """

    @property
    def data(self) -> HomelabData:
        """The checked data file, as the environment being built sees it
        (``data.cluster`` is the cluster being built, ``environment`` set)."""

    @property
    def settings(self) -> ClusterSettings:
        """The cluster being built (name, classes) and, as ``environment``, the
        environment being built."""

    @property
    def environment(self) -> EnvironmentSettings:
        """The environment being built (name, sampling ratio, OTEL switch, name suffix);
        for a shared component, the cluster's first environment."""

    def image(self, name: str) -> Image:
        """The pinned image of ``infrastructure.<name>``."""

    def require(self, kind: type[T] | str) -> T:
        """The component of class ``kind`` (or data-file entry ``kind``), built if need be;
        a ConfigError naming the requester when it is missing or disabled."""

    def find(self, kind: type[T] | str) -> T | None:
        """Like :meth:`require`, but None when the component is missing or disabled."""

    def credentials(self, scope: Folder, name: str, keys: Sequence[str], *,
                    shared: bool = False,
                    template_data: Mapping[str, str] | None = None) -> SealedSecret:
        """The SealedSecret ``name`` (declared ``keys``) of ``scope``'s namespace, in
        ``infrastructure/secrets/<namespace>.yaml``, sealed data from the store
        (``sealed/<namespace>/<name>.yaml``).

        ``shared``: a credential several namespaces read (a database's password and its
        clients'), sealed once cluster-wide in ``sealed/_cluster/<name>.yaml``; every
        component asking for it gets its namespace's copy of that one ciphertext, and
        ``copy.shared.copy_in(...)`` hands it on. ``template_data``: keys the Sealed
        Secrets controller renders from the values (Go templates), e.g. a config file."""
