"""Editing the data file in place: comments, order, quoting and indentation are kept.

The release step of the pipeline (``homelab-charts release``) and people
(``homelab-charts rollback``) change image tags here. The file is edited in ruamel.yaml's
round-trip mode, the result is checked with :func:`homelab_charts.config.parse` (schema
and release-tag rules) before anything is written, and it replaces the old file
atomically: a bad tag never lands and a crash never leaves half a file.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from homelab_charts import config, yamlsafe
from homelab_charts.errors import ConfigError
from homelab_charts.fsutil import atomic_write_text


def _yaml() -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # never re-wrap long lines
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _load(path: Path) -> tuple[Any, str]:
    text = yamlsafe.read_text(path, "data file")
    yamlsafe.load(text, str(path))  # size, alias expansion and duplicate keys, first
    try:
        return _yaml().load(text), text
    except RuamelYAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), line, f"invalid YAML: {problem}") from None


def _dump(document: Any) -> str:
    buf = io.StringIO()
    _yaml().dump(document, buf)
    return buf.getvalue()


def check_text(path: Path, text: str) -> config.HomelabData:
    """Parse ``text`` the way :func:`config.load` does; ConfigError naming ``path`` if bad."""
    return config.parse(yamlsafe.load(text, str(path)), path)


def edit(path: str | Path, change: Callable[[Any], None]) -> config.HomelabData:
    """Apply ``change`` to the round-trip document of ``path``, check it, write it back.

    ``change`` mutates the ruamel document (raise ConfigError to refuse). Nothing is
    written when it raises or when the result fails :func:`config.parse`. Returns the
    checked data of the new file.
    """
    file = Path(path)
    document, original = _load(file)
    change(document)
    text = _dump(document)
    data = check_text(file, text)
    if text != original:
        atomic_write_text(file, text)
    return data


def _same_style(old: Any, new: str) -> str:
    """``new`` quoted the way ``old`` was (plain strings stay plain unless YAML needs quotes)."""
    if isinstance(old, DoubleQuotedScalarString):
        return DoubleQuotedScalarString(new)
    if isinstance(old, SingleQuotedScalarString):
        return SingleQuotedScalarString(new)
    return new


def _environment(document: Any, path: Path, service: str, env: str) -> Any:
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict) or service not in services:
        raise ConfigError(str(path), f"services.{service}", "no such service")
    environments = services[service].get("environments")
    if not isinstance(environments, dict) or env not in environments:
        raise ConfigError(str(path), f"services.{service}.environments.{env}",
                          f"service {service} has no settings for environment {env!r}")
    settings = environments[env]
    if not isinstance(settings, dict):
        raise ConfigError(str(path), f"services.{service}.environments.{env}",
                          "is not a mapping")
    return settings


def get_service_tag(path: str | Path, service: str, env: str) -> str:
    """The tag the data file pins for ``service`` in ``env``."""
    file = Path(path)
    document, _ = _load(file)
    return str(_environment(document, file, service, env).get("tag"))


def set_service_tag(path: str | Path, service: str, env: str, tag: str) -> str:
    """Pin ``services.<service>.environments.<env>.tag`` to ``tag``; returns the previous tag.

    Only that value changes; comments, order and formatting of the file stay as they
    were. The new file must pass :func:`config.parse` (a release tag of the right
    environment for our own services, a pinned tag for upstream ones), else nothing is
    written.
    """
    file = Path(path)
    previous: list[str] = []

    def change(document: Any) -> None:
        settings = _environment(document, file, service, env)
        old = settings.get("tag")
        previous.append(str(old))
        settings["tag"] = _same_style(old, tag)

    edit(file, change)
    return previous[0]


def set_service_replicas(path: str | Path, service: str, env: str, replicas: int) -> int:
    """Set ``services.<service>.environments.<env>.replicas``; returns the previous value."""
    file = Path(path)
    previous: list[int] = []

    def change(document: Any) -> None:
        settings = _environment(document, file, service, env)
        previous.append(int(settings.get("replicas", 0)))
        settings["replicas"] = replicas

    edit(file, change)
    return previous[0]
