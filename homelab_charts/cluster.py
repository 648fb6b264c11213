"""Layer 5: the cluster definition — discovered components wired into Flux Kustomizations.

The cluster imports the component modules of :mod:`homelab_charts.infrastructure`,
:mod:`homelab_charts.apps` and of the packages the data file lists under ``modules``
(from the repository's root), then builds every registered component whose data-file
entry is present and not ``enabled: false`` (:mod:`homelab_charts.registry`), in
data-file order, infrastructure first, each one's requirements before it.

It does so once per environment the cluster runs (``cluster.environments``): prod into
the registered folders and namespaces, another environment into folders, namespaces and
Kustomizations suffixed ``-<env>`` (``apps/n8n-dev``), each with that environment's
values and its own databases. Components registered ``shared`` (the controllers, the
issuers, the ingress controller, the telemetry pipeline) are built once per cluster and
used by all its environments.

Each :class:`Layer` is a folder of the tree applied by one Flux Kustomization, made when
its first component is built. A component records what it needs (``Component.use``) as
construct references; after every component exists, :meth:`Layer.resolve_dependencies`
turns those references into the Kustomization's ``dependsOn``. No Kustomization name is
ever typed twice. Two kinds of references are added by the cluster itself, so an empty
cluster comes up in one pass after ``flux bootstrap``:

* a component with an object in a namespace uses what creates that namespace (the
  ``namespaces`` layer, or a component making its own, like cert-manager);
* a component with an object of a custom kind uses the controller installing its CRD
  (:class:`~homelab_charts.infrastructure.controllers.Controller`), so the
  ``controllers`` layer comes first.

``clusters/<name>/`` holds Flux's own objects and Kubernetes' only (bootstrap's own
Kustomization applies it before any CRD exists): the Kustomizations, the OCI source, the
cluster identity; the Namespaces are the ``namespaces`` layer
(``infrastructure/namespaces/``), the SealedSecrets the ``secrets`` layer
(``infrastructure/secrets/<namespace>.yaml``); a cluster other than the data file's
``cluster`` has its own (``infrastructure/namespaces-<cluster>/``...). Every namespace
the tree creates is isolated (default deny) except those of :data:`NOT_ISOLATED`; each component's
``outside_flows`` and the data file's ``platform.network.egress`` open what leaves the
cluster. Each pod template carries the digest of the sealed data it reads
(:mod:`homelab_charts.workloads.rollout`). Every namespace enforces Pod Security
``restricted`` except where its components' registrations declare a
:class:`~homelab_charts.registry.PodSecurity` exception
(:attr:`HomelabCluster.pod_security_exceptions`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from constructs import Construct

from homelab_charts import delivery
from homelab_charts.apps.common import HOMELAB_WIDE_SKIPS
from homelab_charts.base import Component, Folder, Manifest, app_of, skip_checkov
from homelab_charts.config import (
    CLUSTER_LABEL,
    ClusterSettings,
    EnvironmentSettings,
    HomelabData,
    Image,
)
from homelab_charts.errors import ConfigError
from homelab_charts.flux import (
    FLUX_NAMESPACE,
    FLUX_SYSTEM_REPOSITORY,
    Kustomization,
    ObjectReference,
    Receiver,
)
from homelab_charts.flux.images import ImagePolicy, ImageRepository
from homelab_charts.infrastructure.controllers import Controller
from homelab_charts.infrastructure.namespaces import (
    POD_SECURITY_LEVEL,
    PRUNE_DISABLED,
    Namespaces,
)
from homelab_charts.infrastructure.networking import Traefik
from homelab_charts.infrastructure.observability import Prometheus
from homelab_charts.registry import PodSecurity, Registration, import_all, registrations
from homelab_charts.secrets.sealed_secret import SealedSecret
from homelab_charts.secrets.shared import SharedCredential
from homelab_charts.secrets.store import iter_store
from homelab_charts.workloads import Port, Workload
from homelab_charts.workloads.daemon import NodeDaemon
from homelab_charts.workloads.network import Network, Pods
from homelab_charts.workloads.rollout import annotate_sealed_digests

__all__ = ["BUILTIN_MODULES", "EXTERNAL_NAMESPACES", "NOT_ISOLATED", "POD_SECURITY_LEVEL",
           "ComponentBuilder", "HomelabCluster", "Layer", "Namespaces", "cluster_store",
           "component_modules"]

#: The packages of homelab-charts whose components every homelab can enable.
BUILTIN_MODULES = ("homelab_charts.infrastructure", "homelab_charts.apps")

#: Namespaces of the tree left WITHOUT default-deny, and why: the exceptions to "every
#: namespace the tree creates is isolated". None today: the ingress controller's and
#: cert-manager's chart-made pods get their allows from ``outside_flows``.
NOT_ISOLATED: Mapping[str, str] = {}

#: Namespaces the tree puts objects in but never creates, isolates or prunes: Flux's own
#: (``flux bootstrap`` installs its NetworkPolicies) and Kubernetes'.
EXTERNAL_NAMESPACES: Mapping[str, str] = {
    FLUX_NAMESPACE: "created by flux bootstrap, with Flux's own NetworkPolicies",
    "kube-system": "Kubernetes' own (the Sealed Secrets controller, the cluster identity)",
}

#: The cluster's own layers (every tree has them once it has a namespace or a credential).
NAMESPACES_LAYER, SECRETS_LAYER = "namespaces", "secrets"

#: Kinds of objects that run pods besides the workloads (checkov skips go on them too):
#: the backup CronJobs and Jobs, PostgreSQL's role-sync Task.
JOB_KINDS = frozenset({"CronJob", "Job"})

#: Which Flux file applies the layers of each top folder.
FLUX_FILES = ("infrastructure", "apps")

T = TypeVar("T", bound=Component)


class Layer(Folder):
    """A folder of the tree (``path``, objects in ``namespace``) and the Flux
    Kustomization, written into ``flux_file``, that applies it."""

    def __init__(self, scope: Construct, id: str, *, path: str, namespace: str | None,
                 flux_file: Component, source: Manifest | ObjectReference = FLUX_SYSTEM_REPOSITORY,
                 interval: str = "10m", retry_interval: str = "2m", timeout: str = "5m",
                 name: str | None = None, labels: Mapping[str, str] | None = None,
                 part_of: str | None = None) -> None:
        super().__init__(scope, id, path=path, namespace=namespace, part_of=part_of or id,
                         labels=labels)
        #: The namespace's exception to Pod Security ``restricted`` (None: restricted).
        self.pod_security: PodSecurity | None = None
        self.kustomization = Kustomization(
            flux_file, id, name=name or id, path=f"./{self.path}", source=source,
            interval=interval, retry_interval=retry_interval, timeout=timeout,
        )

    def resolve_dependencies(self) -> None:
        """``dependsOn`` every other layer holding a component this layer's components use."""
        for component in self.components:
            for used in component.uses:
                layer = used.folder
                if isinstance(layer, Layer) and layer is not self:
                    self.kustomization.add_depends_on(layer.kustomization)


def cluster_store(store: Path, cluster: str) -> Path:
    """The sealed store of a cluster other than the data file's ``cluster``."""
    return store / "_clusters" / cluster


def component_modules(data: HomelabData) -> tuple[str, ...]:
    """Import the built-in component packages and the data file's ``modules`` (from the
    repository around the data file); return the module prefixes to discover in."""
    for package in BUILTIN_MODULES:
        import_all(package, where=package, field=None)
    if data.modules:
        root = data.root
        if root is None:
            raise ConfigError(str(data.path), "modules",
                              "the data file lists modules but is in no repository (no "
                              "cdk8s.yaml beside it or above)")
        for index, package in enumerate(data.modules):
            import_all(package, where=str(data.path), field=f"modules[{index}]", root=root)
    return (*BUILTIN_MODULES, *data.modules)


class ComponentBuilder:
    """The :class:`~homelab_charts.registry.ClusterContext` a component's ``create`` gets:
    builds each registered, enabled component of one environment once, requirements
    first. ``shared`` builds (and keeps) the cluster's shared components; a builder made
    with ``shared=None`` is that one, and refuses to build a per-environment component."""

    def __init__(self, cluster: HomelabCluster, found: Sequence[Registration],
                 environment: str | None = None,
                 shared: ComponentBuilder | None = None) -> None:
        self.cluster = cluster
        env = environment or cluster.settings.environments[0]
        self._data = cluster.data.for_build(cluster.settings, env)
        self._environment = cluster.data.environment(env)
        self.shared = shared
        self.by_entry: dict[str, Registration] = {}
        for registration in found:
            other = self.by_entry.get(registration.entry)
            if other is not None:
                raise ConfigError(str(self._data.path), registration.entry,
                                  f"two components register this entry: "
                                  f"{other.module}.{other.cls.__qualname__} and "
                                  f"{registration.module}.{registration.cls.__qualname__}")
            self.by_entry[registration.entry] = registration
        self.built: dict[str, Component] = {}
        self._building: list[Registration] = []

    # --- ClusterContext -------------------------------------------------------------

    @property
    def data(self) -> HomelabData:
        return self._data

    @property
    def settings(self) -> ClusterSettings:
        return self._data.cluster

    @property
    def environment(self) -> EnvironmentSettings:
        return self._environment

    def image(self, name: str) -> Image:
        return self._data.infra_image(name)

    def require(self, kind: type[T] | str) -> T:
        registration = self._registration(kind)
        if registration is None or not self._data.enabled(registration.entry):
            what = registration.label if registration is not None else _kind_name(kind)
            if registration is None:
                why = "which no component module registers"
            elif registration.entry in self._data.entries:
                why = "which the data file disables (enabled: false)"
            else:
                why = "which the data file does not list"
            raise ConfigError(str(self._data.path), self._requester(),
                              f"needs {what}, {why}")
        return self._build(registration)  # type: ignore[return-value]

    def find(self, kind: type[T] | str) -> T | None:
        registration = self._registration(kind)
        if registration is None or not self._data.enabled(registration.entry):
            return None
        return self._build(registration)  # type: ignore[return-value]

    def credentials(self, scope: Folder, name: str, keys: Sequence[str], *,
                    shared: bool = False,
                    template_data: Mapping[str, str] | None = None) -> SealedSecret:
        if scope.namespace is None:
            raise ConfigError(scope.node.path, "namespace", "credentials need a namespace")
        secrets = self.cluster.secrets_file(scope.namespace)
        if shared:
            credential = self.cluster.shared_credentials.get(name)
            if credential is None:
                credential = SharedCredential(name, keys, store=self.cluster.store)
                self.cluster.shared_credentials[name] = credential
            return credential.copy_in(secrets, keys=keys, template_data=template_data)
        return SealedSecret(secrets, name, name=name, keys=list(keys),
                            template_data=template_data, store=self.cluster.store)

    # --- building ---------------------------------------------------------------------

    def build_all(self) -> None:
        """Every enabled entry of the data file, in its order (infrastructure first)."""
        for entry, enabled in self._data.entries.items():
            registration = self.by_entry.get(entry)
            if registration is None:
                if enabled:
                    raise ConfigError(str(self._data.path), entry,
                                      "no component registers this entry (is its module "
                                      "listed under modules?); set enabled: false to keep "
                                      "it out of the tree")
                continue
            if enabled:
                self._build(registration)

    def _registration(self, kind: type[Component] | str) -> Registration | None:
        if isinstance(kind, str):
            return self.by_entry.get(kind)
        matches = [r for r in self.by_entry.values() if issubclass(r.cls, kind)]
        if len(matches) > 1:
            raise ConfigError(str(self._data.path), self._requester(),
                              f"{kind.__name__} is ambiguous: "
                              f"{', '.join(r.label for r in matches)}")
        return matches[0] if matches else None

    def _requester(self) -> str:
        return self._building[-1].entry if self._building else "cluster"

    def _build(self, registration: Registration) -> Component:
        done = self.built.get(registration.entry)
        if done is not None:
            return done
        if registration.shared and self.shared is not None:
            component = self.shared._build(registration)
            self.built[registration.entry] = component
            return component
        if not registration.shared and self.shared is None:
            raise ConfigError(str(self._data.path), self._requester(),
                              f"needs {registration.label}, which runs per environment: a "
                              "component shared by a cluster's environments can only "
                              "use shared ones")
        if registration in self._building:
            cycle = [r.entry for r in self._building[self._building.index(registration):]]
            raise ConfigError(str(self._data.path), registration.entry,
                              f"components require each other: {' -> '.join(cycle)} -> "
                              f"{registration.entry}")
        self._building.append(registration)
        try:
            folder = self.cluster.layer_for(registration, self._environment)
            component = registration.cls.create(folder, registration.id, self)
        finally:
            self._building.pop()
        if not isinstance(component, registration.cls):
            raise ConfigError(registration.label, "create",
                              f"returned {component!r}, not a {registration.cls.__name__}")
        self.built[registration.entry] = component
        return component


def _kind_name(kind: type[Component] | str) -> str:
    return kind if isinstance(kind, str) else kind.__name__


class HomelabCluster(Construct):
    """One cluster of the homelab: ``clusters/<name>/`` and the folders of
    ``infrastructure/`` and ``apps/`` it applies.

    Everything that changes often comes from ``data`` (the checked data file); the
    components are the registered ones its entries enable, built for each environment
    ``settings`` (default: the data file's ``cluster``) runs. ``environments`` maps each
    environment to its built entries and components (shared ones included);
    ``components`` is the first environment's; :meth:`get` finds one by class.
    Every object carries ``homelab-charts.io/cluster: <name>``.
    """

    def __init__(self, scope: Construct, id: str, *, data: HomelabData,
                 settings: ClusterSettings | None = None) -> None:
        super().__init__(scope, id)
        self.hc_app = app_of(scope)
        self.data = data
        self.settings = settings = settings if settings is not None else data.cluster
        self.labels = {CLUSTER_LABEL: settings.name}
        root = f"clusters/{settings.name}"
        # clusters/<name>/ is the path of bootstrap's flux-system Kustomization: no
        # kustomization.yaml of ours there, Flux generates one over the whole folder.
        # It holds Flux's own objects and Kubernetes' only (the Kustomizations of every
        # layer, the OCI source), so it never fails on a kind whose CRD a layer installs.
        cluster = Folder(self, "cluster", path=root, kustomize=False, labels=self.labels)
        self.flux_files = {group: Component(cluster, group) for group in FLUX_FILES}
        self.apps_file = self.flux_files["apps"]
        self.layers: list[Layer] = []
        self._secret_files: dict[str, Component] = {}
        self._layers: dict[str, Layer] = {}
        #: Credentials sealed once and copied into every namespace that reads them.
        self.shared_credentials: dict[str, SharedCredential] = {}
        # The source every Kustomization reads: Git (bootstrap's) or the tree's OCI
        # artifact (cluster.source); the webhook that reconciles it (cluster.receiver).
        # Its pull credential is sealed once the source is known: the secrets layer
        # reads it too.
        pending: list[tuple[str, str, list[str], str]] = []
        self.tree_source = delivery.tree_source(
            cluster, data, lambda *request: pending.append(request))
        for request in pending:
            self._sealed(*request)

        found = registrations(component_modules(data))
        shared = ComponentBuilder(self, found)
        self.environments: dict[str, dict[str, Component]] = {}
        for environment in settings.environments:
            builder = ComponentBuilder(self, found, environment, shared=shared)
            builder.build_all()
            self.environments[environment] = dict(builder.built)
        self.components: dict[str, Component] = self.environments[settings.environments[0]]
        self.prometheus = self.get(Prometheus)
        self.ingress = self.get(Traefik)

        if isinstance(self.tree_source, Manifest) and settings.name in self._layers:
            raise ConfigError(str(data.path), "cluster.name",
                              f"{settings.name!r} names both the cluster's root Kustomization "
                              "(cluster.source.kind: oci) and a layer")
        self.receiver = self._receiver()

        self.image_policies: dict[str, ImagePolicy] = (
            self.image_automation(cluster) if settings.image_automation else {})

        constructs = self.node.find_all()  # one jsii call for the whole subtree
        components = [c for c in constructs if isinstance(c, Component)]
        self.namespaces = self._namespaces(components)
        self.network = self._isolate(components)
        constructs = self.node.find_all()
        components = [c for c in constructs if isinstance(c, Component)]
        self.network.wire(components)
        workloads = [w for w in constructs if isinstance(w, Workload)]
        if self.prometheus is not None:
            for workload in workloads:
                if workload.metrics_port is not None:
                    self.network.allow(self.prometheus.server, workload, workload.metrics_port)
            if self.ingress is not None:
                self.network.allow(self.prometheus.server, self._ingress_metrics_pods(),
                                   "metrics")
        for environment in settings.environments:
            self._internet_egress(self.environments[environment], workloads)

        # checkov skips on everything that runs pods: the workloads, and the Jobs and
        # CronJobs components make themselves (the backups, PostgreSQL's role-sync Task).
        runners = [w.workload for w in workloads]
        runners += [m for m in constructs if isinstance(m, Manifest)
                    and m.object_kind in JOB_KINDS]
        for runner in runners:
            skip_checkov(runner, HOMELAB_WIDE_SKIPS)
        for runner in runners:
            if runner.component.checkov_skips:
                skip_checkov(runner, runner.component.checkov_skips)

        self._check_node_daemons(workloads)
        # A re-sealed credential rolls exactly the workloads reading it.
        self.sealed_digests = annotate_sealed_digests(
            [c for c in constructs if isinstance(c, Manifest)],
            [c for c in constructs if isinstance(c, SealedSecret)])
        self._namespace_dependencies(components)
        self._crd_dependencies(components)
        for layer in self.layers:
            layer.resolve_dependencies()
        self._order_flux_files()
        self.warnings = self._unused_credentials(constructs)
        if self.hc_app is not None:
            self.hc_app.warnings.extend(self.warnings)

    def _receiver(self) -> Receiver | None:
        """``cluster.receiver``: the webhook Receiver and its Ingress (a certificate from
        the ingress controller's issuer) in their own layer, ``infrastructure/receiver``."""
        if self.settings.receiver is None:
            return None
        if self.ingress is None:
            raise ConfigError(str(self.data.path), "cluster.receiver",
                              "the Receiver's Ingress needs infrastructure.traefik")
        registration_folder = "infrastructure/receiver" if self.settings.primary \
            else f"infrastructure/receiver-{self.settings.name}"
        layer = self.layer("receiver", registration_folder, self.flux_files["infrastructure"],
                           FLUX_NAMESPACE)
        return delivery.receiver(layer, self.data, self.tree_source, self._sealed,
                                 ingress=self.ingress)

    # --- namespaces: created by the namespaces layer, data ones never pruned -----------

    @property
    def namespaces_layer(self) -> Layer:
        """``infrastructure/namespaces``: the Namespaces (made on first use)."""
        layer = self._layers.get(NAMESPACES_LAYER)
        if layer is None:
            layer = self.layer(NAMESPACES_LAYER, self._own_folder(NAMESPACES_LAYER),
                               self.flux_files["infrastructure"], namespaced=False)
        return layer

    def _own_folder(self, name: str) -> str:
        """The folder of one of the cluster's own layers: ``infrastructure/<name>``, and
        ``infrastructure/<name>-<cluster>`` for a cluster other than the data file's."""
        return f"infrastructure/{name}" if self.settings.primary \
            else f"infrastructure/{name}-{self.settings.name}"

    def _own_namespaces(self, components: Sequence[Component]) -> dict[str, Component]:
        """Namespaces a component creates itself (cert-manager's, applied with its chart)."""
        return {o.object_name: c for c in components for o in c.objects
                if o.object_kind == "Namespace"}

    def _namespaces(self, components: Sequence[Component]) -> Namespaces:
        """A Namespace per namespace the components use, but those they create themselves
        and :data:`EXTERNAL_NAMESPACES`. A namespace holding data (a
        PersistentVolumeClaim, or a StatefulSet's claim templates) and every
        PersistentVolumeClaim carry Flux's ``prune: disabled``: deleting an app or a
        namespace from Git never deletes a volume."""
        own = self._own_namespaces(components)
        names: set[str] = set()
        data: set[str] = set()
        for layer in self.layers:
            if layer.namespace:
                names.add(layer.namespace)
        for component in components:
            for obj in component.objects:
                namespace = obj.object_namespace
                if namespace is None:
                    continue
                names.add(namespace)
                if obj.object_kind == "PersistentVolumeClaim":
                    data.add(namespace)
                    for key, value in PRUNE_DISABLED.items():
                        obj.annotate(key, value)
                elif obj.object_kind == "StatefulSet" and obj.body.get(
                        "spec", {}).get("volumeClaimTemplates"):
                    data.add(namespace)
        names -= set(own) | set(EXTERNAL_NAMESPACES)
        return Namespaces(self.namespaces_layer, "namespaces", names=names, data=data,
                          exceptions=self.pod_security_exceptions)

    def _namespace_dependencies(self, components: Sequence[Component]) -> None:
        """Every component with an object in a namespace uses what creates it."""
        creators: dict[str, Component] = {name: self.namespaces
                                          for name in self.namespaces.by_name}
        creators.update(self._own_namespaces(components))
        for component in components:
            for obj in component.objects:
                creator = creators.get(obj.object_namespace or "")
                if creator is not None:
                    component.use(creator)

    # --- CRDs before their objects ------------------------------------------------------

    def _crd_dependencies(self, components: Sequence[Component]) -> None:
        """Every component creating an object of a custom kind uses the controller that
        installs its CRD (Flux: its Kustomization ``dependsOn`` the controllers)."""
        controllers = [c for c in components if isinstance(c, Controller)]
        for component in components:
            if isinstance(component, Controller):
                continue
            for obj in component.objects:
                group = obj.object_api_version.rpartition("/")[0]
                for controller in controllers:
                    if controller.provides(group, obj.object_kind):
                        component.use(controller)

    # --- the network --------------------------------------------------------------------

    def _isolate(self, components: Sequence[Component]) -> Network:
        """Default deny in every namespace the tree creates but those of NOT_ISOLATED:
        a namespace a component creates itself gets its policies in that component's
        folder (``<namespace>-network-policies.yaml``), a layer's in its own."""
        network = Network(node_cidr=self.data.platform.network.node_cidr)
        for name, component in sorted(self._own_namespaces(components).items()):
            if name not in NOT_ISOLATED and component.folder is not None:
                network.isolate(component.folder, namespace=name)
        for layer in self.layers:
            if layer.namespace and layer.namespace in self.namespaces.by_name \
                    and layer.namespace not in NOT_ISOLATED \
                    and not network.isolated(layer.namespace):
                network.isolate(layer)
        return network

    def _internet_egress(self, built: Mapping[str, Component],
                         workloads: Sequence[Workload]) -> None:
        """``platform.network.egress`` of the data file: each named component's pods may
        open its ports to any address outside the pod and service ranges."""
        network = self.data.platform.network
        for name, ports in network.egress.items():
            component = built.get(f"services.{name}") or built.get(f"infrastructure.{name}")
            if component is None:
                continue  # disabled: nothing to let out
            for workload in workloads:
                if workload.component is component:
                    self.network.allow_internet(workload, ports,
                                                cluster_ranges=network.cluster_ranges)

    def _order_flux_files(self) -> None:
        """Each Flux file lists its Kustomizations in apply order: every one after those
        it depends on, ties in the order the layers were made."""
        position = {id(layer.kustomization): i for i, layer in enumerate(self.layers)}
        done: dict[int, int] = {}

        def visit(k: Kustomization, path: tuple[int, ...]) -> None:
            if id(k) in done or id(k) in path:
                return
            for dep in sorted(k.depends_on, key=lambda d: position.get(id(d), -1)):
                visit(dep, (*path, id(k)))
            done[id(k)] = len(done)

        for layer in self.layers:
            visit(layer.kustomization, ())
        for flux_file in self.flux_files.values():
            flux_file.objects.sort(key=lambda o: done.get(id(o), -1))

    @property
    def pod_security_exceptions(self) -> dict[str, PodSecurity]:
        """Namespace -> its exception to Pod Security ``restricted`` (as registered)."""
        return {layer.namespace: layer.pod_security for layer in self.layers
                if layer.namespace and layer.pod_security is not None}

    def _check_node_daemons(self, workloads: Sequence[Workload]) -> None:
        """A node daemon (host folders) only in a namespace registered ``privileged``."""
        exceptions = self.pod_security_exceptions
        for workload in workloads:
            if isinstance(workload, NodeDaemon):
                namespace = workload.namespace or ""
                exception = exceptions.get(namespace)
                if exception is None or exception.level != "privileged":
                    raise ConfigError(workload.component.where, "pod_security",
                                      f"node daemon {workload.name} mounts host folders, "
                                      f"which namespace {namespace} (not privileged) forbids: "
                                      "register the component with pod_security="
                                      "PodSecurity('privileged', reason)")

    def get(self, kind: type[T], environment: str | None = None) -> T | None:
        """The built component of class ``kind`` in ``environment`` (default: the
        cluster's first); None when its entry is off."""
        built = self.environments[environment or self.settings.environments[0]]
        found = [c for c in built.values() if isinstance(c, kind)]
        return found[0] if len(found) == 1 else None

    @property
    def store(self) -> Path:
        """The sealed store of this cluster's credentials: the repository's ``sealed/``
        for the data file's ``cluster``, ``sealed/_clusters/<name>/`` for the others
        (each cluster's controller has its own key)."""
        app = self.hc_app
        base = app.store if app is not None and app.store is not None else self.data.store_dir
        return base if self.settings.primary else cluster_store(base, self.settings.name)

    def _unused_credentials(self, constructs: Sequence[object]) -> list[str]:
        """A warning per sealed credential of the store no component uses."""
        store = self.store
        if not store.is_dir():
            return []
        used = {c.store_file.resolve() for c in constructs if isinstance(c, SealedSecret)}
        out = []
        for path, document in iter_store(store):
            if path.resolve() not in used:
                out.append(f"{path}: the sealed credential {document.ident} is used by no "
                           "component (remove the file, or enable what uses it)")
        return out

    def _ingress_metrics_pods(self) -> Pods:
        """The ingress controller's pods and the metrics port its chart annotates them with."""
        port = self.ingress.metrics_port
        namespace = self.ingress.target_namespace or ""
        return Pods.external("ingress-controller", namespace, self.ingress.pod_selector,
                             ports=[Port("metrics", port)])

    def image_automation(self, cluster: Folder) -> dict[str, ImagePolicy]:
        """An ImageRepository per image this monorepo builds and an ImagePolicy per
        environment the cluster runs, in ``clusters/<name>/image-automation.yaml`` (opt-in:
        the data file's ``cluster.imageAutomation``). Flux then reports each service's
        newest build; docs/RELEASING.md tells how to let it write tags back."""
        component = Component(cluster, "image-automation")
        policies: dict[str, ImagePolicy] = {}
        for name, service in sorted(self.data.services.items()):
            if service.upstream or not service.enabled:
                continue
            repository = ImageRepository(component, f"{name}-repository", name=name,
                                         image=service.image)
            for environment in self.settings.environments:
                key = name if environment == self.settings.environments[0] \
                    else f"{name}-{environment}"
                policies[key] = ImagePolicy(component, f"{key}-policy",
                                            name=f"{name}-{environment}",
                                            repository=repository, environment=environment)
        return policies

    def layer(self, id: str, path: str, flux_file: Component,
              namespace: str | None = None, *, namespaced: bool = True,
              part_of: str | None = None) -> Layer:
        """A new folder applied by its own Flux Kustomization (namespace: ``id``, or none
        when not ``namespaced``), synced as the data file's ``platform.sync`` says."""
        if id in self._layers:
            raise ConfigError(self.node.path, "layers", f"two layers named {id!r}")
        sync = self.data.platform.sync
        created = Layer(self, id, path=path,
                        namespace=(namespace or id) if namespaced else None,
                        flux_file=flux_file, interval=sync.interval,
                        retry_interval=sync.retry_interval, timeout=sync.timeout,
                        labels=self.labels, part_of=part_of, source=self.tree_source)
        self._layers[id] = created
        self.layers.append(created)
        return created

    def layer_for(self, registration: Registration,
                  environment: EnvironmentSettings | None = None) -> Layer:
        """The layer a registered component goes into in ``environment`` (made on first
        use): the registered folder and namespace for prod and for shared components,
        ``<folder>-<env>`` and ``<namespace>-<env>`` for another environment; a shared
        layer of a cluster other than the data file's ``cluster`` is in
        ``<folder>-<cluster>`` (each cluster's objects carry its own ownership label)."""
        env = environment or self.data.environment(self.settings.environments[0])
        if registration.shared:
            name, namespace = registration.layer, registration.namespace
            folder = registration.folder if self.settings.primary \
                else f"{registration.folder}-{self.settings.name}"
        else:
            name = registration.layer + env.suffix
            namespace = registration.namespace + env.suffix
            folder = registration.folder + env.suffix
        existing = self._layers.get(name)
        if existing is None:
            existing = self.layer(name, folder, self.flux_files[registration.group], namespace,
                                  part_of=registration.layer)
        elif existing.path != folder or existing.namespace != namespace:
            raise ConfigError(registration.label, "folder",
                              f"layer {name!r} is {existing.path} (namespace "
                              f"{existing.namespace}); {folder} (namespace "
                              f"{namespace}) would clash")
        declared = registration.pod_security
        if declared is not None:
            if existing.pod_security is not None and existing.pod_security != declared:
                raise ConfigError(registration.label, "pod_security",
                                  f"namespace {existing.namespace} is already declared "
                                  f"{existing.pod_security.level} with another reason; "
                                  "declare one PodSecurity and share it")
            existing.pod_security = declared
        return existing

    @property
    def secrets(self) -> Layer:
        """``infrastructure/secrets``: every SealedSecret, one file per namespace (made on
        first use, after the namespaces layer)."""
        layer = self._layers.get(SECRETS_LAYER)
        if layer is None:
            self.namespaces_layer  # noqa: B018 -- made first: secrets need namespaces
            layer = self.layer(SECRETS_LAYER, self._own_folder(SECRETS_LAYER),
                               self.flux_files["infrastructure"], namespaced=False)
        return layer

    def _sealed(self, namespace: str, name: str, keys: list[str], type: str) -> SealedSecret:
        return SealedSecret(self.secrets_file(namespace), name, name=name, keys=keys, type=type,
                            store=self.store)

    def secrets_file(self, namespace: str) -> Component:
        """The file of ``infrastructure/secrets/`` holding ``namespace``'s SealedSecrets."""
        if namespace not in self._secret_files:
            self._secret_files[namespace] = Component(self.secrets, namespace,
                                                      namespace=namespace)
        return self._secret_files[namespace]
