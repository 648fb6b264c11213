"""A new homelab repository in one command (``homelab-charts init DIR``).

The repository uses homelab-charts as a dependency, pinned to this package's version
(``requirements.txt``), and holds what a homelab of its own needs: its data file
``homelab.yaml``, ``cdk8s.yaml``, an example app in its own package (``my_homelab.apps``,
listed under the data file's ``modules``), a sealed store with example credentials for
every component the data file enables, the README's two set-up commands
(``scripts/run synth``, ``scripts/run test``), CI (``.github/workflows/ci.yaml``,
``.ci/run``), tests, and the synthesized tree.

Its files come from the templates in ``homelab_charts/templates/init/`` (package data):
each ``<path>.tmpl`` becomes ``<path>`` (a leading ``dot_`` in a name becomes ``.``),
with ``@@version@@`` and ``@@name@@`` filled in. The data file is the template's
``homelab.yaml`` with the components chosen by ``--with``/``--without`` switched on or
off (``enabled: false``), comments and order kept.

The whole repository is made and synthesized in a temporary folder first; only when
that worked are its files copied into ``DIR``, each created anew (an existing file is
never overwritten; a failure removes what this run created).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_charts import __version__, config, datafile, project, yamlsafe
from homelab_charts.errors import ConfigError
from homelab_charts.registry import SECTIONS
from homelab_charts.secrets.crypto import SealingCertificate
from homelab_charts.secrets.examples import seal_random, throwaway_certificate
from homelab_charts.secrets.sealed_secret import MissingSealedData
from homelab_charts.secrets.store import SealedDocument
from homelab_charts.synth import build_app, synth_tree

#: The templates of a new repository (package data).
TEMPLATES = Path(__file__).resolve().parent / "templates" / "init"
TEMPLATE_SUFFIX = ".tmpl"
#: A leading ``dot_`` in a template's path part stands for ``.`` (package data globs skip
#: hidden folders such as ``.github``).
DOT_PREFIX = "dot_"
PLACEHOLDER = re.compile(r"@@([a-z_]+)@@")
#: Entries of a folder that do not make it "not empty" (a fresh ``git clone`` of an empty
#: repository, or ``git init``).
IGNORED_IN_EMPTY = frozenset({".git"})
#: How many times the tree is built while sealing example credentials, at most (each
#: build reports one SealedSecret without its data; a homelab has a handful).
MAX_SEAL_ROUNDS = 200


@dataclass(frozen=True)
class InitResult:
    """What ``init`` made: the repository, its files, the components and credentials."""

    root: Path
    files: tuple[str, ...]
    enabled: tuple[str, ...]
    disabled: tuple[str, ...]
    credentials: tuple[str, ...]
    fingerprint: str


# --- the templates -----------------------------------------------------------------------

def template_files() -> dict[str, Path]:
    """Target path (relative, POSIX) -> template file, for every file of a new repository."""
    found: dict[str, Path] = {}
    for path in sorted(TEMPLATES.rglob(f"*{TEMPLATE_SUFFIX}")):
        parts = path.relative_to(TEMPLATES).parts
        target = ["." + p[len(DOT_PREFIX):] if p.startswith(DOT_PREFIX) else p
                  for p in parts]
        target[-1] = target[-1].removesuffix(TEMPLATE_SUFFIX)
        found["/".join(target)] = path
    if "homelab.yaml" not in found:
        raise ConfigError(str(TEMPLATES), None, "the package's templates are incomplete "
                          "(no homelab.yaml.tmpl): reinstall homelab-charts")
    return found


def render_template(text: str, values: dict[str, str], source: str) -> str:
    """``text`` with every ``@@name@@`` replaced by ``values[name]``."""
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ConfigError(source, None, f"unknown placeholder @@{name}@@")
        return values[name]

    return PLACEHOLDER.sub(fill, text)


def data_file_template() -> str:
    """The data file of a new repository, before components are chosen."""
    path = template_files()["homelab.yaml"]
    return render_template(path.read_text(encoding="utf-8"), _values("homelab"), str(path))


def template_components(text: str | None = None) -> dict[str, bool]:
    """``<section>.<name>`` -> enabled, for every component of the data-file template."""
    document = yamlsafe.load(text if text is not None else data_file_template(),
                             "homelab.yaml template")
    entries: dict[str, bool] = {}
    for section in SECTIONS:
        for name, settings in (document.get(section) or {}).items():
            on = not (isinstance(settings, dict) and settings.get("enabled") is False)
            entries[f"{section}.{name}"] = on
    return entries


def _values(name: str) -> dict[str, str]:
    return {"version": __version__, "name": name}


# --- choosing components -------------------------------------------------------------------

def resolve_names(names: Iterable[str], entries: Iterable[str], option: str) -> list[str]:
    """Data-file entries (``services.n8n``) for component names (``n8n`` or the entry)."""
    known = list(entries)
    by_name: dict[str, list[str]] = {}
    for entry in known:
        by_name.setdefault(entry.split(".", 1)[1], []).append(entry)
    resolved: list[str] = []
    for name in names:
        matches = [name] if name in known else by_name.get(name, [])
        if len(matches) != 1:
            choices = ", ".join(sorted(by_name))
            problem = "is ambiguous" if matches else "is not a component of the data file"
            raise ConfigError(option, None, f"{name!r} {problem} (components: {choices})")
        if matches[0] not in resolved:
            resolved.append(matches[0])
    return resolved


def choose_components(path: Path, *, enable: Sequence[str] = (),
                      disable: Sequence[str] = ()) -> config.HomelabData:
    """Switch the data file's ``enable`` entries on (``enabled`` removed) and ``disable``
    off (``enabled: false``), keeping its comments and order; checked before written."""
    both = sorted(set(enable) & set(disable))
    if both:
        raise ConfigError("--with/--without", None,
                          f"{', '.join(both)} both enabled and disabled")

    def change(document: Any) -> None:
        for entry in (*enable, *disable):
            section, name = entry.split(".", 1)
            settings = document[section][name]
            if entry in enable:
                if "enabled" in settings:
                    del settings["enabled"]
            elif settings.get("enabled") is not False:
                if len(settings) == 0:
                    settings.fa.set_block_style()
                settings.insert(0, "enabled", False)

    return datafile.edit(path, change)


# --- example credentials -------------------------------------------------------------------

def seal_example_credentials(root: Path, certificate: SealingCertificate, *,
                             store: Path | None = None) -> list[SealedDocument]:
    """Seal random values for every credential the tree of ``root`` asks for and the store
    lacks (a missing file, or keys missing in one), for ``certificate``.

    What is needed comes from the components themselves: the tree is built, and each
    SealedSecret without its data (:class:`MissingSealedData`) is sealed, until the
    tree builds. Returns the documents written, last version of each.
    """
    data = config.load(project.data_file(root))
    store = store if store is not None else project.store_dir(root)
    written: dict[Path, SealedDocument] = {}
    seen: set[tuple[Path, tuple[str, ...]]] = set()
    for _ in range(MAX_SEAL_ROUNDS):
        try:
            build_app(data, store=store)
        except MissingSealedData as missing:
            if (missing.path, missing.keys) in seen:
                raise ConfigError(str(missing.path), "keys",
                                  f"still missing after sealing them: {missing}") from None
            seen.add((missing.path, missing.keys))
            written[missing.path] = seal_random(
                store, certificate, namespace=missing.namespace, name=missing.name,
                keys=missing.keys, scope=missing.scope, type=missing.type)
            continue
        return sorted(written.values(), key=lambda d: d.ident)
    raise ConfigError(str(root), None, f"the tree still lacks sealed credentials after "
                                       f"{MAX_SEAL_ROUNDS} rounds of sealing")


# --- init ------------------------------------------------------------------------------------

def check_target(target: Path, files: Iterable[str], *, force: bool) -> None:
    """``target`` may receive ``files``: it is missing or empty (``.git`` aside), or, with
    ``force``, none of the files exists and no folder on their way is a file or a link."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ConfigError(str(target), None, "exists and is not a folder")
    if not target.exists():
        return
    present = sorted(p.name for p in target.iterdir() if p.name not in IGNORED_IN_EMPTY)
    if present and not force:
        shown = ", ".join(present[:3]) + (", ..." if len(present) > 3 else "")
        raise ConfigError(str(target), None,
                          f"is not empty ({shown}); init writes into a new or empty folder "
                          "(--force adds to a folder, but never overwrites a file)")
    for rel in files:
        path = target
        for part in Path(rel).parts:
            path = path / part
            if path.is_symlink():
                raise ConfigError(str(path), None, "is a symbolic link; init writes no file "
                                  "through one")
            if not path.exists():
                break
            if path != target / rel and not path.is_dir():
                raise ConfigError(str(path), None, f"is not a folder (init writes {rel})")
            if path == target / rel:
                raise ConfigError(str(path), None,
                                  "exists; init never overwrites a file (move it away first)")


def build_repository(root: Path, *, name: str, enable: Sequence[str] = (),
                     disable: Sequence[str] = ()) -> InitResult:
    """Make a new repository in the empty folder ``root``: templates, the chosen
    components, example credentials for a throwaway certificate, the synthesized tree."""
    values = _values(name)
    for rel, template in template_files().items():
        target = root / rel
        text = render_template(template.read_text(encoding="utf-8"), values, str(template))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        target.chmod(0o755 if text.startswith("#!") else 0o644)
    data_path = project.data_file(root)
    data = choose_components(data_path, enable=enable, disable=disable)
    pem = throwaway_certificate()
    cert_path = project.cert_file(root)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(pem)
    certificate = SealingCertificate.from_pem(pem, str(cert_path))
    documents = seal_example_credentials(root, certificate)
    synth_tree(root)
    files = tuple(sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                         if p.is_file() and "__pycache__" not in p.parts))
    return InitResult(
        root=root, files=files,
        enabled=tuple(e for e, on in data.entries.items() if on),
        disabled=tuple(e for e, on in data.entries.items() if not on),
        credentials=tuple(f"{d.ident} ({', '.join(d.keys)})" for d in documents),
        fingerprint=certificate.fingerprint)


def init(target: Path, *, enable: Sequence[str] = (), disable: Sequence[str] = (),
         force: bool = False) -> InitResult:
    """``homelab-charts init``: a new homelab repository in ``target``.

    ``enable``/``disable`` name components of the data-file template (``n8n`` or
    ``services.n8n``). Everything is made and synthesized in a temporary folder, then
    copied into ``target``; nothing is written there when anything fails.
    """
    target = Path(os.path.abspath(target))
    entries = template_components()
    on = resolve_names(enable, entries, "--with")
    off = resolve_names(disable, entries, "--without")
    check_target(target, (), force=force)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", target.name) or "homelab"
    with tempfile.TemporaryDirectory(prefix="homelab-charts-init-") as staging:
        root = Path(staging) / "repository"
        root.mkdir()
        try:
            made = build_repository(root, name=name, enable=on, disable=off)
        except ConfigError as exc:
            # Name the file as it would be in DIR, not in the temporary folder.
            def moved(text: str) -> str:
                return text.replace(str(root), str(target))
            raise ConfigError(moved(exc.where), exc.field,
                              f"{moved(exc.message)}; nothing was written to {target}"
                              ) from None
        check_target(target, made.files, force=force)
        _copy_new(root, target, made.files)
    return InitResult(root=target, files=made.files, enabled=made.enabled,
                      disabled=made.disabled, credentials=made.credentials,
                      fingerprint=made.fingerprint)


def _copy_new(source: Path, target: Path, files: Sequence[str]) -> None:
    """Copy ``files`` from ``source`` into ``target``, each created anew (O_EXCL) with its
    mode; on any error, remove what was created and re-raise."""
    created_files: list[Path] = []
    created_dirs: list[Path] = []
    try:
        for rel in files:
            destination = target / rel
            missing = [p for p in (destination.parent, *destination.parent.parents)
                       if not p.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                created_dirs.append(folder)
            origin = source / rel
            mode = origin.stat().st_mode & 0o777
            fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         mode)
            created_files.append(destination)
            with os.fdopen(fd, "wb") as out, origin.open("rb") as src:
                shutil.copyfileobj(src, out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(destination, mode)
    except BaseException as exc:
        for path in reversed(created_files):
            path.unlink(missing_ok=True)
        for folder in reversed(created_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, FileExistsError) and exc.errno == errno.EEXIST:
            raise ConfigError(str(exc.filename), None, "appeared while init was writing; "
                              "nothing was written") from None
        raise
