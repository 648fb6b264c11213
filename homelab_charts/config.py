"""The data file: image tags, replicas and host names per environment.

Values that change often live in the repository's ``homelab.yaml`` (CI's release step
edits it; :mod:`homelab_charts.project` finds it) and are checked against
``homelab.schema.json`` before anything is built. Every error names the file and the JSON
path of the bad value.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homelab_charts import project, yamlsafe
from homelab_charts.errors import ConfigError
from homelab_charts.platform import ControllerPin, PlatformSettings, parse_controllers
from homelab_charts.platform import parse as parse_platform

DATA_DIR = Path(__file__).parent / "data"
SCHEMA_FILE = DATA_DIR / "homelab.schema.json"

ENVIRONMENTS = ("dev", "prod")

#: Label on every generated object naming the cluster it is for: the manual path prunes
#: only objects carrying it with its own cluster's name (never ``managed-by`` alone).
CLUSTER_LABEL = "homelab-charts.io/cluster"
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
class ServiceEnvironment:
    tag: str
    replicas: int
    host: str | None = None


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
class ClusterSettings:
    name: str
    environment: str
    ingress_class_name: str = "traefik"
    storage_class_name: str = "local-path"
    #: Flux image automation (ImageRepository + ImagePolicy per built service): off.
    image_automation: bool = False
    #: UID of the cluster's kube-system Namespace (``homelab-charts cluster bind``): the
    #: manual scripts refuse any other cluster. None: not bound yet.
    uid: str | None = None


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

    services: dict[str, Service] = {}
    for name, raw in document["services"].items():
        upstream = bool(raw.get("upstream", False))
        envs: dict[str, ServiceEnvironment] = {}
        for env_name, env in raw["environments"].items():
            tag = env["tag"]
            if not upstream:
                match = RELEASE_TAG.match(tag)
                where = f"services.{name}.environments.{env_name}.tag"
                if match is None:
                    raise ConfigError(
                        str(source), where,
                        f"{tag!r} is not a release tag v{{MAJOR}}.{{MINOR}}.{{PATCH}}-{{GIT_SHA7}}-"
                        "{ENV} (e.g. v2.1.0-a3f5c2b-prod); third-party images set upstream: true",
                    )
                if match["env"] != env_name:
                    raise ConfigError(
                        str(source), where,
                        f"{tag!r} is a {match['env']} build, not a {env_name} build",
                    )
            envs[env_name] = ServiceEnvironment(tag, env["replicas"], env.get("host"))
        services[name] = Service(
            name=name,
            image=raw["image"],
            upstream=upstream,
            otel=bool(raw.get("otel", True)),
            paths=tuple(raw.get("paths", ())),
            environments=envs,
            enabled=bool(raw.get("enabled", True)),
        )

    c = document["cluster"]
    cluster = ClusterSettings(
        name=c["name"],
        environment=c["environment"],
        ingress_class_name=c.get("ingressClassName", "traefik"),
        storage_class_name=c.get("storageClassName", "local-path"),
        image_automation=bool(c.get("imageAutomation", False)),
        uid=c.get("uid"),
    )
    for name, svc in services.items():
        if cluster.environment not in svc.environments:
            raise ConfigError(
                str(source), f"services.{name}.environments",
                f"no settings for the cluster's environment {cluster.environment!r}",
            )
    infrastructure = {name: Image(raw["image"], raw["tag"])
                      for name, raw in document["infrastructure"].items() if "image" in raw}
    entries = {f"infrastructure.{name}": bool(raw.get("enabled", True))
               for name, raw in document["infrastructure"].items()}
    entries.update((f"services.{name}", svc.enabled) for name, svc in services.items())
    return HomelabData(
        path=Path(source),
        cluster=cluster,
        services=services,
        infrastructure=infrastructure,
        shared_paths=tuple(document.get("sharedPaths", ())),
        entries=entries,
        modules=tuple(document.get("modules", ())),
        controllers=parse_controllers(document.get("controllers"), str(source)),
        platform=parse_platform(document.get("platform"), str(source),
                                entries=frozenset(e.split(".", 1)[1] for e in entries)),
    )


def load(path: str | Path | None = None) -> HomelabData:
    """Read and check the data file (by default the ``homelab.yaml`` of the repository
    around the current folder).

    Bounded like every YAML read (:mod:`homelab_charts.yamlsafe`): size, alias
    expansion, duplicate keys, UTF-8, regular file only.
    """
    file = Path(path) if path is not None else project.data_file()
    text = yamlsafe.read_text(file, "data file")
    return parse(yamlsafe.load(text, str(file)), file)
