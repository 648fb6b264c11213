"""Where JSON Schemas come from, and compiled validators for them (one per kind/version).

Schema locations follow kubeconform: a location is either a path template using
kubeconform's Go template variables, or a folder. Without any location, ``default`` then
``packaged-crds`` are used; given locations replace that list (as in kubeconform). The
forms:

* ``default`` — the Kubernetes schemas bundled in the PyPI package
  ``kubernetes-validate`` (``v<version>-local[-strict]/<kind>-<group>-<version>.json``),
  whose ``$ref`` to ``/api/_definitions.json`` is resolved from the same folder, never
  over the network. The Kubernetes version picks the newest bundled folder that is not
  newer than its major.minor, as ``kubernetes-validate`` itself does.
* ``packaged-crds`` — the JSON schemas of the custom resources (Flux, Sealed Secrets,
  cert-manager) shipped in this package, ``data/schemas/{{.Group}}/{{.ResourceKind}}_
  {{.ResourceAPIVersion}}.json``, generated from the CRDs of the controller versions the
  data file pins (``scripts/update-crd-schemas.py``).
* a folder (a location not ending in ``.json``) — kubeconform's layout
  ``<folder>/{{.NormalizedKubernetesVersion}}-standalone{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json``
  and, when that file is absent, the CRDs-catalog layout
  ``<folder>/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json``.

Each schema file is read and compiled once per process (``jsonschema-rs``): stores share
the compiled schemas, kept while the file's size and modification time stay the same.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from homelab_charts.errors import ConfigError

DEFAULT_KUBERNETES_VERSION = "1.33.0"

_TEMPLATE_VAR = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")
_TEMPLATE_ANY = re.compile(r"\{\{.*?\}\}")
TEMPLATE_VARIABLES = frozenset({
    "NormalizedKubernetesVersion", "StrictSuffix", "ResourceKind", "KindSuffix", "Group",
    "ResourceAPIVersion",
})
_FOLDER_STANDARD = ("{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/"
                    "{{ .ResourceKind }}{{ .KindSuffix }}.json")
_FOLDER_CRDS = "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")

#: Location names: the Kubernetes schemas bundled in ``kubernetes-validate`` (kubeconform's
#: ``default``), and the CRD schemas shipped in this package.
DEFAULT = "default"
PACKAGED_CRDS = "packaged-crds"
#: ``<group>/<kind>_<version>.json`` of every custom resource the tree may use, generated
#: by scripts/update-crd-schemas.py from the CRDs of the controllers the data file pins.
PACKAGED_CRD_FOLDER = Path(__file__).resolve().parents[1] / "data" / "schemas"


def bundled_root() -> Path:
    """The folder of Kubernetes schemas shipped in the ``kubernetes-validate`` package.

    Found without importing the package (its import loads the jsonschema library).
    """
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("kubernetes-validate", None, "the package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


@cache
def bundled_versions() -> tuple[tuple[int, int, int], ...]:
    """The Kubernetes versions ``kubernetes-validate`` bundles, oldest first."""
    found = set()
    root = bundled_root()
    if root.is_dir():
        for entry in root.iterdir():
            m = re.match(r"^v(\d+)\.(\d+)\.(\d+)-local$", entry.name)
            if m:
                found.add((int(m[1]), int(m[2]), int(m[3])))
    return tuple(sorted(found))


def normalize_version(version: str) -> str:
    """``1.33`` / ``v1.33.0`` -> ``1.33.0``; ``master`` stays; anything else is an error."""
    if version == "master":
        return version
    m = _VERSION.match(version.strip())
    if not m:
        raise ConfigError("--kubernetes-version", None,
                          f"{version!r} is not a Kubernetes version such as 1.33.0")
    return f"{int(m[1])}.{int(m[2])}.{int(m[3] or 0)}"


def bundled_folder(version: str, strict: bool) -> Path:
    """The bundled schema folder serving Kubernetes ``version`` (newest not newer)."""
    versions = bundled_versions()
    if not versions:
        raise ConfigError("kubernetes-validate", None,
                          f"no bundled schemas found under {bundled_root()}")
    if version == "master":
        chosen = versions[-1]
    else:
        major, minor, _ = (int(p) for p in version.split("."))
        older = [v for v in versions if (v[0], v[1]) <= (major, minor)]
        if not older or (major, minor) > versions[-1][:2]:
            lo, hi = versions[0], versions[-1]
            raise ConfigError(
                "--kubernetes-version", None,
                f"{version} is not covered by the bundled schemas "
                f"({lo[0]}.{lo[1]} to {hi[0]}.{hi[1]}); pass --schema-location for it")
        chosen = older[-1]
    name = f"v{chosen[0]}.{chosen[1]}.{chosen[2]}-local" + ("-strict" if strict else "")
    return bundled_root() / name


def template_data(kind: str, api_version: str, k8s_version: str,
                  strict: bool) -> dict[str, str]:
    """kubeconform's template variables for a resource (``registry.schemaPath``)."""
    group_parts = api_version.split("/")
    version_parts = group_parts[0].split(".")
    kind_suffix = "-" + version_parts[0].lower()
    if len(group_parts) > 1:
        kind_suffix += "-" + group_parts[1].lower()
    return {
        "NormalizedKubernetesVersion": k8s_version if k8s_version == "master"
        else f"v{k8s_version}",
        "StrictSuffix": "-strict" if strict else "",
        "ResourceKind": kind.lower(),
        "ResourceAPIVersion": group_parts[-1],
        "Group": group_parts[0],
        "KindSuffix": kind_suffix,
    }


def render_template(template: str, data: dict[str, str]) -> str:
    return _TEMPLATE_VAR.sub(lambda m: data[m[1]], template)


def check_template(template: str) -> None:
    """A ConfigError unless ``template`` only uses kubeconform's variables."""
    for m in _TEMPLATE_ANY.finditer(template):
        var = _TEMPLATE_VAR.fullmatch(m[0])
        if not var or var[1] not in TEMPLATE_VARIABLES:
            raise ConfigError(
                "--schema-location", None,
                f"{template!r}: unsupported template {m[0]!r} (use "
                + ", ".join("{{." + v + "}}" for v in sorted(TEMPLATE_VARIABLES)) + ")")


@dataclass(frozen=True)
class SchemaLocation:
    """One ``--schema-location``: ``default`` (bundled), a template, or a folder."""

    spec: str
    templates: tuple[str, ...] = ()
    bundled: bool = False

    @classmethod
    def parse(cls, spec: str) -> SchemaLocation:
        if spec == DEFAULT:
            return cls(spec=spec, bundled=True)
        if spec == PACKAGED_CRDS:
            return cls(spec=spec, templates=(f"{PACKAGED_CRD_FOLDER}/{_FOLDER_CRDS}",))
        if spec.startswith(("http://", "https://")):
            raise ConfigError(
                "--schema-location", None,
                f"{spec!r}: remote schema locations need the network; the built-in engine "
                "reads local schemas only (use --engine kubeconform for remote ones)")
        check_template(spec)
        if spec.endswith("json"):
            return cls(spec=spec, templates=(spec,))
        base = spec.rstrip("/") or "/"
        return cls(spec=spec, templates=(f"{base}/{_FOLDER_STANDARD}", f"{base}/{_FOLDER_CRDS}"))


class Schema:
    """A compiled schema: ``source`` is the file it was read from."""

    __slots__ = ("source", "validator")

    def __init__(self, source: str, validator: Any) -> None:
        self.source = source
        self.validator = validator


class SchemaError(Exception):
    """A schema file exists but cannot be read or compiled."""


@dataclass
class SchemaStore:
    """Finds and compiles the schema of each (kind, apiVersion), caching both."""

    locations: list[SchemaLocation]
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    strict: bool = True
    _cache: dict[tuple[str, str], Schema | None] = field(default_factory=dict)
    _registries: dict[Path, Any] = field(default_factory=dict)
    _files: dict[str, Schema] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kubernetes_version = normalize_version(self.kubernetes_version)
        self._bundled: Path | None = None
        if any(loc.bundled for loc in self.locations):
            self._bundled = bundled_folder(self.kubernetes_version, self.strict)

    def lookup(self, kind: str, api_version: str) -> Schema | None:
        """The schema for a resource, or None when no location has one."""
        key = (kind, api_version)
        try:
            return self._cache[key]
        except KeyError:
            pass
        found = self._find(kind, api_version)
        self._cache[key] = found
        return found

    def _find(self, kind: str, api_version: str) -> Schema | None:
        data = template_data(kind, api_version, self.kubernetes_version, self.strict)
        for location in self.locations:
            if location.bundled:
                assert self._bundled is not None
                path = self._bundled / f"{data['ResourceKind']}{data['KindSuffix']}.json"
                if path.is_file():
                    return self._compile(path, bundled=True)
                continue
            for template in location.templates:
                path = Path(render_template(template, data))
                if path.is_file():
                    return self._compile(path, bundled=False)
        return None

    def _compile(self, path: Path, *, bundled: bool) -> Schema:
        source = str(path)
        done = self._files.get(source)
        if done is not None:
            return done
        if bundled:
            self._registry(path.parent)  # (a changed _definitions.json drops its schemas)
        try:
            with open(path, "rb") as fh:
                stamp = _stamp(fh.fileno())
                compiled = _COMPILED.get((source, bundled))
                if compiled is None or compiled[0] != stamp:
                    schema = orjson.loads(fh.read())
                    compiled = (stamp, Schema(source, self._validator(schema, path, bundled)))
                    _COMPILED[(source, bundled)] = compiled
        except (OSError, ValueError) as exc:
            raise SchemaError(f"cannot read schema {source}: {exc}") from exc
        self._files[source] = compiled[1]
        return compiled[1]

    def _validator(self, schema: Any, path: Path, bundled: bool) -> Any:
        try:
            if bundled:
                return jsonschema_rs.validator_for(schema, registry=self._registry(path.parent))
            return jsonschema_rs.validator_for(
                schema, base_uri=Path(os.path.abspath(path)).as_uri())
        except (ValueError, jsonschema_rs.ReferencingError) as exc:
            raise SchemaError(f"cannot compile schema {path}: {exc}") from exc

    def _registry(self, folder: Path) -> Any:
        registry = self._registries.get(folder)
        if registry is None:
            defs_path = folder / "_definitions.json"
            try:
                with open(defs_path, "rb") as fh:
                    stamp = _stamp(fh.fileno())
                    cached = _REGISTRIES.get(str(defs_path))
                    if cached is None or cached[0] != stamp:
                        defs = orjson.loads(fh.read())
                        uri = defs.get("$id", "https://kubernetes.io/api/_definitions.json")
                        cached = (stamp, jsonschema_rs.Registry([(uri, defs)]))
                        _REGISTRIES[str(defs_path)] = cached
                        for key in [k for k in _COMPILED  # compiled against the old one
                                    if k[1] and os.path.dirname(k[0]) == str(folder)]:
                            del _COMPILED[key]
            except (OSError, ValueError) as exc:
                raise SchemaError(f"cannot read {defs_path}: {exc}") from exc
            registry = self._registries[folder] = cached[1]
        return registry


#: Compiled schemas and reference registries of this process, by file (with the file's
#: :func:`_stamp`): shared by every store, so that a process validating many times (a
#: library user, a test run) compiles each schema once, and a run's end does not free
#: them one by one.
_COMPILED: dict[tuple[str, bool], tuple[tuple[int, int, int, int], Schema]] = {}
_REGISTRIES: dict[str, tuple[tuple[int, int, int, int], Any]] = {}


def _stamp(fd: int) -> tuple[int, int, int, int]:
    """What identifies a file's version: device, inode, size, modification time."""
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def clear_cache() -> None:
    """Forgets the compiled schemas of this process (benchmarks measure cold runs)."""
    _COMPILED.clear()
    _REGISTRIES.clear()


def default_locations() -> list[SchemaLocation]:
    """No ``--schema-location``: the bundled Kubernetes schemas, then the packaged CRD ones."""
    return [SchemaLocation.parse(DEFAULT), SchemaLocation.parse(PACKAGED_CRDS)]


def packaged_crd_groups() -> tuple[str, ...]:
    """The API groups whose custom resources have a packaged schema."""
    if not PACKAGED_CRD_FOLDER.is_dir():
        return ()
    return tuple(sorted(p.name for p in PACKAGED_CRD_FOLDER.iterdir() if p.is_dir()))
