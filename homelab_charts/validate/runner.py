"""One validation run: find the files, check schemas, builds, the Flux graph and policy.

The checks a run does not enable are not imported: the Flux graph (which reads the tree
model), the policy (which loads the credential guard and cryptography), the kustomize
builds and the kubeconform engine load only when used, so that a schema-only run starts
as fast as the schema checks need.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from homelab_charts.errors import ConfigError
from homelab_charts.progress import track
from homelab_charts.validate import kustomize, parallel
from homelab_charts.validate.engine import SchemaOptions, SchemaValidator
from homelab_charts.validate.loader import load_documents
from homelab_charts.validate.model import Problem, Report, Result
from homelab_charts.validate.schemas import (
    DEFAULT_KUBERNETES_VERSION,
    SchemaLocation,
    SchemaStore,
    default_locations,
    normalize_version,
    packaged_crd_groups,
)

if TYPE_CHECKING:
    from homelab_charts.tree import Tree, TreeObject
    from homelab_charts.validate import flux, kubeconform

#: Folders validated when no path is given, relative to the repository root.
DEFAULT_FOLDERS = ("clusters", "infrastructure", "apps")
YAML_SUFFIXES = (".yaml", ".yml", ".json")
ENGINES = ("builtin", "kubeconform")
#: How a missing schema is worded (engine.py and kubeconform alike).
MISSING_SCHEMA = "could not find schema for"


@dataclass
class Options:
    """What ``homelab-charts validate`` does; every field has the CLI's default."""

    paths: Sequence[Path] | None = None
    root: Path | None = None
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    schema_locations: Sequence[str] | None = None
    strict: bool = True
    ignore_missing_schemas: bool = False
    skip: frozenset[str] = frozenset()
    reject: frozenset[str] = frozenset()
    engine: str = "builtin"
    kustomize: bool = True
    flux: bool = True
    policy: bool = True
    #: Draw a progress bar on stderr (only in a terminal, and only for long runs).
    progress: bool = False
    #: Processes for the schema checks: None picks by input size (parallel.workers_for).
    workers: int | None = None


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding ``.git`` (else ``start``)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def is_bootstrap_file(root: Path, path: Path) -> bool:
    """True for files under ``clusters/<cluster>/flux-system/`` (owned by flux bootstrap)."""
    parts = display_name(root, path).split("/")
    return len(parts) >= 4 and parts[0] == "clusters" and parts[2] == "flux-system"


def collect_files(paths: Sequence[Path]) -> list[Path]:
    """YAML/JSON files of ``paths`` (folders walked in sorted order, dot-folders skipped).

    ``kustomization.yaml`` files are not resources: they are read by the kustomize builds.
    """
    files: list[Path] = []
    for path in (Path(os.path.abspath(p)) for p in paths):
        if path.is_file():
            files.append(path)
            continue
        if not path.is_dir():
            raise ConfigError(str(path), None, "no such file or folder")
        for folder, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if name.endswith(YAML_SUFFIXES) and name not in kustomize.KUSTOMIZATION_FILES:
                    files.append(Path(folder) / name)
    return list(dict.fromkeys(files))


def display_name(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` when inside it (no symlink resolution: it is per file)."""
    full = os.path.abspath(path)
    base = os.path.abspath(root)
    if full.startswith(base + os.sep):
        return full[len(base) + 1:].replace(os.sep, "/")
    return full


def read(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ConfigError(str(path), None, f"cannot read: {exc.strerror or exc}") from exc


def validate(options: Options) -> Report:
    """Runs every enabled check; raises ConfigError for usage and I/O errors."""
    if options.engine not in ENGINES:
        raise ConfigError("--engine", None, f"{options.engine!r} is not one of {ENGINES}")
    root = (options.root or find_root(Path.cwd())).resolve()
    if options.paths:
        paths = list(options.paths)
    else:
        paths = [root / d for d in DEFAULT_FOLDERS if (root / d).is_dir()]
        if not paths:
            raise ConfigError(str(root), None, "nothing to validate: no "
                              + ", ".join(f"{d}/" for d in DEFAULT_FOLDERS) + " folder here")
    version = normalize_version(options.kubernetes_version)
    if options.schema_locations:
        locations = [SchemaLocation.parse(s) for s in options.schema_locations]
    else:
        locations = default_locations()
    report = Report()

    files = collect_files(paths)
    contents = {path: read(path) for path in files}
    names = {path: display_name(root, path) for path in files}

    kc_exe: str | None = None
    kc_opts: kubeconform.KubeconformOptions | None = None
    validator: SchemaValidator | None = None
    if options.engine == "kubeconform":
        from homelab_charts.validate import kubeconform

        kc_exe = kubeconform.binary()
        if kc_exe is None:
            raise ConfigError("--engine", None, "kubeconform is not on PATH")
        kc_opts = kubeconform.KubeconformOptions(
            kubernetes_version=version, schema_locations=locations, strict=options.strict,
            ignore_missing_schemas=options.ignore_missing_schemas, skip=options.skip,
            reject=options.reject)
        report.results.extend(_kubeconform_files(kc_exe, kc_opts, files, contents, names,
                                                 strict=options.strict))
    else:
        store = SchemaStore(locations, kubernetes_version=version, strict=options.strict)
        validator = SchemaValidator(SchemaOptions(
            store=store, strict=options.strict,
            ignore_missing_schemas=options.ignore_missing_schemas,
            skip=options.skip, reject=options.reject))
        sizes = [len(contents[p]) for p in files]
        workers = options.workers or parallel.workers_for(sum(sizes))
        with _collector_paused():
            if workers > 1:
                # Each process compiles the schemas of the kinds its own share names, as
                # it meets them. The objects travel back from the workers only when a
                # later check reads them (the kustomize check reads Flux Kustomizations
                # alone).
                keep = options.policy or options.flux
                check = _Check(validator, keep_objects=keep)
                for found in parallel.map_ordered(
                        check, [(contents[p], names[p]) for p in files], sizes, workers):
                    report.results.extend(found)
            else:
                for path in track(files, "validating", enabled=options.progress):
                    report.results.extend(validator.validate_text(contents[path],
                                                                  names[path]))
    report.files.update(names[p] for p in files)
    if not options.ignore_missing_schemas:
        hint = missing_schema_hint(report.results, options.schema_locations)
        if hint:
            report.notes.append(hint)

    tree_results = list(report.results)
    bootstrap = {names[p] for p in files if is_bootstrap_file(root, p)}
    if options.policy:
        _policy(tree_results, bootstrap)
    if options.flux or options.kustomize:
        from homelab_charts.validate import flux

        tree, checked = _read_tree(tree_results, root, files, strict=options.strict)
        if options.flux:
            flux.check_graph(tree, checked, root)
            # CRD-001: every custom resource's CRD is installed by a Kustomization it needs.
            from homelab_charts.validate import crds

            crds.check(tree_results, root, tree)
        if options.kustomize:
            _kustomize(report, flux.kustomization_folders(checked, root), root,
                       validator=validator, kc_exe=kc_exe, kc_opts=kc_opts)
    return report


def missing_schema_hint(results: Sequence[Result],
                        schema_locations: Sequence[str] | None) -> str | None:
    """A note naming the kinds that had no schema and what to pass for them."""
    missing = sorted({f"{r.kind} ({r.api_version})" for r in results
                      if any(p.message.startswith(MISSING_SCHEMA) for p in r.problems)})
    if not missing:
        return None
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5
                                      else "")
    if schema_locations:
        where = ("--schema-location replaces the default locations (default packaged-crds): "
                 "name those you need, e.g. --schema-location default --schema-location "
                 "packaged-crds --schema-location DIR")
    else:
        where = ("the packaged CRD schemas cover " + ", ".join(packaged_crd_groups())
                 + "; for other custom resources pass --schema-location default "
                 "--schema-location packaged-crds --schema-location DIR")
    return f"no schema for {shown}: {where} (or --ignore-missing-schemas to skip them)"


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while documents load: loaded manifests hold no
    cycles, and its passes over the growing heap of new objects cost a tenth of a load's
    time. Reference counting still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class _Check:
    """Schema checks of one (content, name) item, as a forked worker runs them."""

    validator: SchemaValidator
    keep_objects: bool

    def __call__(self, item: tuple[bytes, str]) -> list[Result]:
        results = self.validator.validate_text(*item)
        if not self.keep_objects:
            for result in results:
                if result.kind != "Kustomization":
                    result.obj = None
        return results


def _kubeconform_files(exe: str, opts: kubeconform.KubeconformOptions, files: list[Path],
                       contents: dict[Path, bytes], names: dict[Path, str], *,
                       strict: bool) -> list[Result]:
    from homelab_charts.validate import kubeconform

    if not files:
        return []
    by_file: dict[str, list[Result]] = {}
    for result in kubeconform.run(exe, opts, [str(p) for p in files]):
        by_file.setdefault(result.filename, []).append(result)
    out: list[Result] = []
    for path in files:
        found = by_file.get(str(path), [])
        for result in found:
            result.filename = names[path]
        _attach_objects(found, contents[path], strict=strict)
        out.extend(found)
    return out


def _attach_objects(results: list[Result], text: str | bytes, *, strict: bool) -> None:
    """Gives kubeconform's results the loaded objects, document numbers and namespaces."""
    docs = [d for d in load_documents(text, strict=strict) if isinstance(d.obj, dict)]
    used: set[int] = set()
    for result in results:
        for i, doc in enumerate(docs):
            meta = doc.obj.get("metadata")
            name = meta.get("name") if isinstance(meta, dict) else None
            if i in used or doc.obj.get("kind") != result.kind or (name or "") != result.name:
                continue
            used.add(i)
            result.obj = doc.obj
            result.document = doc.index
            result.line = doc.line
            ns = meta.get("namespace") if isinstance(meta, dict) else None
            result.namespace = ns if isinstance(ns, str) else ""
            break


def _policy(results: list[Result], bootstrap: set[str]) -> None:
    from homelab_charts.validate import policy

    for result in results:
        if not isinstance(result.obj, dict) or result.skipped or result.filename in bootstrap:
            continue
        for found in policy.check_object(result.obj):
            result.problems.append(Problem("policy", found.message, path=found.path,
                                           rule=found.rule, waived=found.waived))


def _read_tree(results: list[Result], root: Path, files: list[Path], *,
               strict: bool) -> tuple[Tree, list[flux.Checked]]:
    """The read model of the validated objects (:func:`flux.read_tree`), with the objects
    of bootstrap's files (present, not checked, when not among ``files``) and the kustomize
    build files of the folders read and of the folders the Kustomizations apply."""
    from homelab_charts.validate import flux

    scanned = {os.path.abspath(p) for p in files}
    also: list[TreeObject] = []
    for path in sorted(root.glob("clusters/*/flux-system/*.yaml")):
        if os.path.abspath(path) not in scanned:
            also.extend(_plain_objects(path, root, strict=strict))
    checked = [(obj, r) for r in results if (obj := flux.tree_object(r)) is not None]
    folders = {p.parent for p in files}
    for obj, _ in checked:
        k = flux.kustomization_of(obj)
        if k is not None and not k.outside_repository:
            folders.add((root / k.path).resolve())
    build_files: dict[str, str] = {}
    for folder in sorted(folders):
        kfile = kustomize.kustomization_file(folder)
        if kfile is None:
            continue
        try:
            build_files[display_name(root, kfile)] = kfile.read_text(encoding="utf-8",
                                                                     errors="replace")
        except OSError:
            continue
    return flux.read_tree(results, also=also, build_files=build_files)


def _plain_objects(path: Path, root: Path, *, strict: bool) -> list[TreeObject]:
    """The objects of a file, read without checks (documents that cannot be read are
    left out): what counts as present besides the validated files."""
    try:
        docs = load_documents(path.read_bytes(), strict=strict)
    except OSError:
        return []
    from homelab_charts.validate import flux

    name = display_name(root, path)
    out = []
    for doc in docs:
        obj = doc.obj
        if not isinstance(obj, dict):
            continue
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        found = flux.tree_object(Result(
            filename=name, document=doc.index, kind=str(obj.get("kind") or ""),
            name=str(meta.get("name") or ""), namespace=str(meta.get("namespace") or ""),
            api_version=str(obj.get("apiVersion") or ""), obj=obj, line=doc.line))
        if found is not None:
            out.append(found)
    return out


def _kustomize(report: Report, kustomization_folders: list[Path], root: Path, *,
               validator: SchemaValidator | None, kc_exe: str | None,
               kc_opts: kubeconform.KubeconformOptions | None) -> None:
    from homelab_charts.validate import kubeconform

    folders = [f for f in kustomization_folders if kustomize.kustomization_file(f) is not None]
    if not folders:
        return
    exe = kustomize.kubectl()
    if exe is None:
        report.notes.append("kubectl not found on PATH: kustomize builds were not checked")
        return
    for build in kustomize.build_all(folders, exe):
        folder_name = display_name(root, build.folder)
        if build.error is not None:
            kfile = kustomize.kustomization_file(build.folder)
            name = display_name(root, kfile) if kfile else folder_name
            report.results.append(Result(
                filename=name, kind="Kustomization", api_version="kustomize.config.k8s.io/v1beta1",
                problems=[Problem("kustomize", build.error, error=True)]))
            report.files.add(name)
            continue
        label = f"{folder_name} (kustomize build)"
        if validator is not None:
            built = validator.validate_text(build.output, label)
        else:
            assert kc_exe is not None and kc_opts is not None
            built = kubeconform.run(kc_exe, kc_opts, [], stdin=build.output, stdin_name=label)
        for result in built:
            result.obj = None  # built output: schema verdicts only
        report.results.extend(built)
        report.files.add(label)
