"""The data file: clusters, the environments each runs, and per-environment values.

Values that change often live in the repository's ``homelab.yaml`` (CI's release step
edits it; :mod:`homelab_charts.project` finds it) and are checked against
``homelab.schema.json`` before anything is built. Every error names the file and the JSON
path of the bad value.

Environments: ``prod`` is the default; every other environment's values are overrides
of prod's (a dev entry without ``replicas`` runs prod's replica count), except the tag
(each environment runs its own build) and the host (one host name is one Ingress: hosts
never carry over). ``cluster`` is the first cluster; ``clusters`` lists more, each with
the environments it runs; one environment runs on at most one cluster.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from homelab_charts import project, yamlsafe
from homelab_charts.errors import ConfigError
from homelab_charts.platform import ControllerPin, PlatformSettings, parse_controllers
from homelab_charts.platform import parse as parse_platform

DATA_DIR = Path(__file__).parent / "data"
SCHEMA_FILE = DATA_DIR / "homelab.schema.json"

ENVIRONMENTS = ("dev", "prod")
#: The environment whose values are the defaults and whose folders and namespaces carry
#: no suffix (``apps/n8n``, namespace ``n8n``); others get ``-<env>`` (``n8n-dev``).
DEFAULT_ENVIRONMENT = "prod"
#: Head-sampling ratio of traces (the SDKs' ``OTEL_TRACES_SAMPLER_ARG``) per environment
#: when the data file's ``environments`` section sets none.
DEFAULT_SAMPLING_RATIOS = {"prod": 0.1, "dev": 1.0}

#: Label on every generated object naming the cluster it is for: the manual path prunes
#: only objects carrying it with its own cluster's name (never ``managed-by`` alone).
CLUSTER_LABEL = "homelab-charts.io/cluster"
#: Label (value "true") on an OCIRepository of the tree that serves this repository's tree
#: (``cluster.source.kind: oci``): its Kustomizations read the tree like bootstrap's
#: GitRepository ``flux-system``.
TREE_SOURCE_LABEL = "homelab-charts.io/tree-source"
#: The generated ConfigMap recording which cluster ``clusters/<name>/`` is bound to
#: (``cluster.uid`` of the data file: the UID of that cluster's kube-system Namespace).
CLUSTER_IDENTITY_FILE = "cluster-identity.yaml"
CLUSTER_IDENTITY_NAME = "homelab-charts-cluster"
CLUSTER_IDENTITY_NAMESPACE = "kube-system"
CLUSTER_UID_KEY = "kubeSystemUID"
RELEASE_TAG = re.compile(
    r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)-(?P<sha>[0-9a-f]{7})-(?P<env>dev|prod)$"
)


@dataclass(frozen=True)
class Image:
    """A container image pinned to an explicit tag."""

    repository: str
    tag: str

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class ResourceSettings:
    """CPU and memory requests and limits from the data file (Kubernetes quantities)."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


@dataclass(frozen=True)
class ServiceEnvironment:
    """A service's values in one environment (non-default environments: prod's values
    with this environment's overrides, see the module doc)."""

    tag: str
    replicas: int
    host: str | None = None
    #: Requests and limits; None: the component's own defaults.
    resources: ResourceSettings | None = None
    #: The OpenTelemetry SDK switch (false: ``OTEL_SDK_DISABLED=true``).
    otel: bool = True


@dataclass(frozen=True)
class EnvironmentSettings:
    """Values of a whole environment (the data file's ``environments.<env>``)."""

    name: str
    #: Share of traces the SDKs keep (``parentbased_traceidratio``), 0 < ratio <= 1.
    sampling_ratio: float
    #: false turns OpenTelemetry off in every service of the environment (kill switch).
    otel: bool = True

    @property
    def suffix(self) -> str:
        """What names of this environment's folders, namespaces and Kustomizations end
        with: nothing for prod, ``-dev`` for dev."""
        return "" if self.name == DEFAULT_ENVIRONMENT else f"-{self.name}"


@dataclass(frozen=True)
class Service:
    """A workload of the homelab whose version the pipeline (or a person) moves."""

    name: str
    image: str
    upstream: bool
    otel: bool
    paths: tuple[str, ...]
    environments: dict[str, ServiceEnvironment]
    #: ``enabled: false`` in the data file: its component is left out of the tree.
    enabled: bool = True

    def env(self, environment: str) -> ServiceEnvironment:
        try:
            return self.environments[environment]
        except KeyError:
            raise ConfigError(
                f"service {self.name}", f"environments.{environment}",
                f"no settings for environment {environment!r}",
            ) from None

    def image_for(self, environment: str) -> Image:
        return Image(self.image, self.env(environment).tag)


@dataclass(frozen=True)
class TreeSource:
    """Where the cluster's Flux Kustomizations read the tree (``cluster.source``): ``git``,
    bootstrap's GitRepository ``flux-system`` (the default), or ``oci``, an OCIRepository
    following ``url`` at ``tag`` or the newest tag in ``semver`` (``homelab-charts push``)."""

    kind: str = "git"
    url: str | None = None
    tag: str | None = None
    semver: str | None = None
    #: The sealed credential (namespace flux-system, key .dockerconfigjson) to pull with.
    secret_ref: str | None = None
    #: Plain HTTP (a registry without TLS).
    insecure: bool = False
    interval: str = "1m"


@dataclass(frozen=True)
class ReceiverSettings:
    """A Flux webhook Receiver for the tree's source (``cluster.receiver``), served at
    ``/hook/`` on ``host`` through the ingress controller."""

    host: str
    secret_ref: str = "flux-receiver-token"


@dataclass(frozen=True)
class ClusterSettings:
    """One cluster of the data file and the environments it runs.

    ``environment`` is the environment being built (a component's ``ctx.settings``
    during that environment's build); outside a build, the cluster's first one.
    """

    name: str
    environment: str
    ingress_class_name: str = "traefik"
    storage_class_name: str = "local-path"
    #: Flux image automation (ImageRepository + ImagePolicy per built service): off.
    image_automation: bool = False
    #: UID of the cluster's kube-system Namespace (``homelab-charts cluster bind``): the
    #: manual scripts refuse any other cluster. None: not bound yet.
    uid: str | None = None
    #: Every environment the cluster runs, the default one (prod) first when it runs it.
    environments: tuple[str, ...] = ()
    source: TreeSource = field(default_factory=TreeSource)
    receiver: ReceiverSettings | None = None
    #: True for the data file's ``cluster`` (its shared folders carry no suffix).
    primary: bool = True

    def __post_init__(self) -> None:
        if not self.environments:
            object.__setattr__(self, "environments", (self.environment,))

    @property
    def key(self) -> str:
        """Where the cluster is in the data file: ``cluster`` or ``clusters.<name>``."""
        return "cluster" if self.primary else f"clusters.{self.name}"


@dataclass(frozen=True)
class HomelabData:
    """The parsed, checked data file."""

    path: Path
    cluster: ClusterSettings
    services: dict[str, Service]
    infrastructure: dict[str, Image]
    shared_paths: tuple[str, ...] = field(default=())
    #: Component entries (``services.<name>``, ``infrastructure.<name>``) in data-file
    #: order, infrastructure first -> enabled.
    entries: dict[str, bool] = field(default_factory=dict)
    #: Python packages of the repository whose components join the cluster.
    modules: tuple[str, ...] = field(default=())
    #: ``controllers:``: the controller releases the tree targets (and charts it installs).
    controllers: dict[str, ControllerPin] = field(default_factory=dict)
    #: The ``platform`` section: sync timing, TLS, the network (homelab_charts.platform).
    platform: PlatformSettings = field(default_factory=PlatformSettings)
    #: Each component entry's own settings as the data file has them (schema-checked),
    #: for the component that reads them (``infrastructure.backup``'s target, say).
    entry_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The schema-checked ``observability:`` section as written (its defaults are
    #: applied by homelab_charts.infrastructure.observability.settings).
    observability: dict[str, Any] = field(default_factory=dict)
    #: Every cluster: ``cluster`` first, then those of ``clusters``.
    clusters: tuple[ClusterSettings, ...] = field(default=())
    #: The values of each environment (defaults filled in).
    environments: dict[str, EnvironmentSettings] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.clusters:
            object.__setattr__(self, "clusters", (self.cluster,))

    def environment(self, name: str) -> EnvironmentSettings:
        """The values of environment ``name`` (defaults when the data file sets none)."""
        found = self.environments.get(name)
        if found is not None:
            return found
        return EnvironmentSettings(name, DEFAULT_SAMPLING_RATIOS.get(name, 1.0))

    def cluster_running(self, environment: str) -> ClusterSettings | None:
        """The cluster that runs ``environment``; None when none does."""
        for cluster in self.clusters:
            if environment in cluster.environments:
                return cluster
        return None

    def for_build(self, cluster: ClusterSettings, environment: str) -> HomelabData:
        """This data as one environment of one cluster sees it: ``cluster`` is that
        cluster with ``environment`` as the one being built (what ``ctx.data`` and
        ``AppRelease.from_data`` read)."""
        return replace(self, cluster=replace(cluster, environment=environment))

    @property
    def root(self) -> Path | None:
        """The repository the data file belongs to (the folder with cdk8s.yaml), if any."""
        try:
            return project.find_root(self.path.parent)
        except ConfigError:
            return None

    def enabled(self, entry: str) -> bool:
        """Whether the data file lists component ``entry`` and does not disable it."""
        return self.entries.get(entry, False)

    def entry_settings(self, entry: str) -> dict[str, Any]:
        """The data file's mapping for component ``entry`` (empty when it is not listed)."""
        return self.entry_values.get(entry, {})

    @property
    def store_dir(self) -> Path:
        """The sealed data store of the repository this data file belongs to (the
        repository around the data file, else the one around the current folder)."""
        try:
            return project.store_dir(project.find_root(self.path.parent))
        except ConfigError:
            return project.store_dir()

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            raise ConfigError(str(self.path), f"services.{name}", "no such service") from None

    def controller(self, name: str) -> ControllerPin:
        """The ``controllers.<name>`` pin; a ConfigError naming the field when absent."""
        try:
            return self.controllers[name]
        except KeyError:
            raise ConfigError(str(self.path), f"controllers.{name}",
                              "no version pinned (the tree installs this controller: "
                              "give version and chart)") from None

    def infra_image(self, name: str) -> Image:
        try:
            return self.infrastructure[name]
        except KeyError:
            raise ConfigError(str(self.path), f"infrastructure.{name}",
                              "no image pinned (image and tag)") from None


@functools.cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _json_path(parts: Any) -> str:
    return ".".join(str(p) for p in parts) or "(top level)"


def _message(error: Any) -> str:
    """jsonschema's message, in words for the rules whose default wording is obscure."""
    if error.validator == "not" and isinstance(error.instance, str):
        return f"{error.instance!r} is a moving tag: pin an explicit version"
    if error.validator == "not" and list(error.absolute_path)[-1:] == ["source"]:
        return "url, tag, semver, secretRef and insecure apply to kind: oci only"
    if error.validator == "oneOf" and list(error.absolute_path)[-1:] == ["source"]:
        return "an oci source follows exactly one of tag and semver"
    if error.validator == "pattern":
        description = error.schema.get("description")
        hint = f" ({description})" if description else ""
        return f"{error.instance!r} does not match {error.validator_value!r}{hint}"
    return str(error.message)


def parse(document: Any, source: str | Path) -> HomelabData:
    """Check ``document`` (the loaded YAML) and build the typed view of it."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.path)))
    if errors:
        err = errors[0]
        raise ConfigError(str(source), _json_path(err.absolute_path), _message(err))

    clusters = _clusters(document, source)
    environments = _environments(document)
    services: dict[str, Service] = {}
    for name, raw in document["services"].items():
        services[name] = _service(name, raw, source)
    for cluster in clusters:
        for env in cluster.environments:
            for name, svc in services.items():
                if env not in svc.environments and svc.enabled:
                    raise ConfigError(
                        str(source), f"services.{name}.environments",
                        f"no settings for the cluster's environment {env!r} "
                        f"({cluster.key} {cluster.name} runs it)",
                    )
        _check_hosts(cluster, services, source)
    infrastructure = {name: Image(raw["image"], raw["tag"])
                      for name, raw in document["infrastructure"].items() if "image" in raw}
    entries = {f"infrastructure.{name}": bool(raw.get("enabled", True))
               for name, raw in document["infrastructure"].items()}
    entries.update((f"services.{name}", svc.enabled) for name, svc in services.items())
    entry_values = {f"{section}.{name}": dict(raw or {})
                    for section in ("infrastructure", "services")
                    for name, raw in document[section].items()}
    return HomelabData(
        path=Path(source),
        cluster=clusters[0],
        services=services,
        infrastructure=infrastructure,
        shared_paths=tuple(document.get("sharedPaths", ())),
        entries=entries,
        modules=tuple(document.get("modules", ())),
        controllers=parse_controllers(document.get("controllers"), str(source)),
        platform=parse_platform(document.get("platform"), str(source),
                                entries=frozenset(e.split(".", 1)[1] for e in entries)),
        observability=dict(document.get("observability") or {}),
        clusters=tuple(clusters),
        environments=environments,
        entry_values=entry_values,
    )


def _tree_source(raw: dict[str, Any] | None) -> TreeSource:
    if not raw:
        return TreeSource()
    return TreeSource(kind=raw["kind"], url=raw.get("url"), tag=raw.get("tag"),
                      semver=raw.get("semver"), secret_ref=raw.get("secretRef"),
                      insecure=bool(raw.get("insecure", False)),
                      interval=raw.get("interval", "1m"))


def _environment_order(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The default environment first, the others in the order given."""
    return tuple(sorted(names, key=lambda n: n != DEFAULT_ENVIRONMENT))


def _cluster(raw: dict[str, Any], key: str, source: str | Path, *, name: str,
             primary: bool, defaults: ClusterSettings | None = None) -> ClusterSettings:
    if "environment" in raw and "environments" in raw:
        raise ConfigError(str(source), f"{key}.environments",
                          "set environment (one) or environments (a list), not both")
    if "environments" in raw:
        envs = _environment_order(raw["environments"])
    elif "environment" in raw:
        envs = (raw["environment"],)
    else:
        raise ConfigError(str(source), f"{key}.environments",
                          "missing: the environments the cluster runs, e.g. [prod]")
    base = defaults
    return ClusterSettings(
        name=name,
        environment=envs[0],
        ingress_class_name=raw.get("ingressClassName",
                                   base.ingress_class_name if base else "traefik"),
        storage_class_name=raw.get("storageClassName",
                                   base.storage_class_name if base else "local-path"),
        image_automation=bool(raw.get("imageAutomation",
                                      base.image_automation if base else False)),
        uid=raw.get("uid"),
        environments=envs,
        primary=primary,
        source=_tree_source(raw.get("source")),
        receiver=(ReceiverSettings(raw["receiver"]["host"],
                                   raw["receiver"].get("secretRef", "flux-receiver-token"))
                  if "receiver" in raw else None),
    )


def _clusters(document: dict[str, Any], source: str | Path) -> list[ClusterSettings]:
    c = document["cluster"]
    first = _cluster(c, "cluster", source, name=c["name"], primary=True)
    clusters = [first]
    runs = {env: first for env in first.environments}
    for name, raw in (document.get("clusters") or {}).items():
        key = f"clusters.{name}"
        if name == first.name:
            raise ConfigError(str(source), key, f"{name!r} is the name of cluster.name")
        more = _cluster(raw, key, source, name=name, primary=False, defaults=first)
        for env in more.environments:
            if env in runs:
                raise ConfigError(str(source), f"{key}.environments",
                                  f"{env!r} already runs on {runs[env].key} "
                                  f"{runs[env].name}: an environment runs on one cluster")
            runs[env] = more
        clusters.append(more)
    return clusters


def _environments(document: dict[str, Any]) -> dict[str, EnvironmentSettings]:
    raw = document.get("environments") or {}
    out: dict[str, EnvironmentSettings] = {}
    for name in ENVIRONMENTS:
        values = raw.get(name) or {}
        out[name] = EnvironmentSettings(
            name=name,
            sampling_ratio=float(values.get("tracesSamplingRatio",
                                            DEFAULT_SAMPLING_RATIOS.get(name, 1.0))),
            otel=bool(values.get("otel", True)),
        )
    return out


def _resources(raw: dict[str, Any] | None) -> ResourceSettings | None:
    if raw is None:
        return None
    return ResourceSettings(cpu_request=str(raw["requests"]["cpu"]),
                            cpu_limit=str(raw["limits"]["cpu"]),
                            memory_request=str(raw["requests"]["memory"]),
                            memory_limit=str(raw["limits"]["memory"]))


def _service(name: str, raw: dict[str, Any], source: str | Path) -> Service:
    upstream = bool(raw.get("upstream", False))
    otel = bool(raw.get("otel", True))
    raw_envs: dict[str, Any] = raw["environments"]
    default = raw_envs.get(DEFAULT_ENVIRONMENT) or {}
    envs: dict[str, ServiceEnvironment] = {}
    for env_name in _environment_order(list(raw_envs)):
        env = raw_envs[env_name]
        where = f"services.{name}.environments.{env_name}"
        tag = env["tag"]
        if not upstream:
            match = RELEASE_TAG.match(tag)
            if match is None:
                raise ConfigError(
                    str(source), f"{where}.tag",
                    f"{tag!r} is not a release tag v{{MAJOR}}.{{MINOR}}.{{PATCH}}-{{GIT_SHA7}}-"
                    "{ENV} (e.g. v2.1.0-a3f5c2b-prod); third-party images set upstream: true",
                )
            if match["env"] != env_name:
                raise ConfigError(
                    str(source), f"{where}.tag",
                    f"{tag!r} is a {match['env']} build, not a {env_name} build",
                )
        # Overrides of the default environment's values; the tag and host never carry over.
        inherited = default if env_name != DEFAULT_ENVIRONMENT else {}
        replicas = env.get("replicas", inherited.get("replicas"))
        if replicas is None:
            raise ConfigError(str(source), f"{where}.replicas",
                              f"missing (and no {DEFAULT_ENVIRONMENT} value to inherit)")
        envs[env_name] = ServiceEnvironment(
            tag=tag, replicas=replicas, host=env.get("host"),
            resources=_resources(env.get("resources", inherited.get("resources"))),
            otel=bool(env.get("otel", inherited.get("otel", otel))),
        )
    return Service(
        name=name,
        image=raw["image"],
        upstream=upstream,
        otel=otel,
        paths=tuple(raw.get("paths", ())),
        environments=envs,
        enabled=bool(raw.get("enabled", True)),
    )


def _check_hosts(cluster: ClusterSettings, services: dict[str, Service],
                 source: str | Path) -> None:
    """One host name is one Ingress: no two services or environments of a cluster share one."""
    seen: dict[str, str] = {}
    for env in cluster.environments:
        for name, svc in services.items():
            settings = svc.environments.get(env)
            if not svc.enabled or settings is None or settings.host is None:
                continue
            where = f"services.{name}.environments.{env}.host"
            other = seen.get(settings.host)
            if other is not None:
                raise ConfigError(str(source), where,
                                  f"{settings.host!r} is also {other} on cluster "
                                  f"{cluster.name}: each environment needs its own host")
            seen[settings.host] = where


def load(path: str | Path | None = None) -> HomelabData:
    """Read and check the data file (by default the ``homelab.yaml`` of the repository
    around the current folder).

    Bounded like every YAML read (:mod:`homelab_charts.yamlsafe`): size, alias
    expansion, duplicate keys, UTF-8, regular file only.
    """
    file = Path(path) if path is not None else project.data_file()
    text = yamlsafe.read_text(file, "data file")
    return parse(yamlsafe.load(text, str(file)), file)
