"""Monorepo change detection: which services a range of commits changed.

A service changed when a file that differs between ``base`` and ``head`` matches one of
its ``paths`` globs; a file matching ``sharedPaths`` marks every service as changed.
Third-party (``upstream``) services are never built here, so they are never listed.
The data file itself is ignored: a release commit (data file + generated tree) must not
trigger another build of every service.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_charts.config import HomelabData
from homelab_charts.versioning.git import Git
from homelab_charts.versioning.paths import PathSet


@dataclass(frozen=True)
class ChangedService:
    name: str
    image: str
    reason: str

    def matrix_entry(self) -> dict[str, str]:
        return {"service": self.name, "image": self.image}


def data_file_path(root: Path, data_file: Path) -> str | None:
    """The data file relative to the repository root (None when outside it)."""
    try:
        return data_file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def service_paths(data: HomelabData, service: str) -> PathSet:
    svc = data.service(service)
    return PathSet(svc.paths, where=f"{data.path}: services.{service}.paths")


def release_paths(data: HomelabData, service: str) -> PathSet:
    """The paths whose changes make a new version of ``service``: its own + the shared ones."""
    svc = data.service(service)
    return PathSet(svc.paths + data.shared_paths,
                   where=f"{data.path}: services.{service}.paths + sharedPaths")


def changed_services(data: HomelabData, files: Iterable[str],
                     ignore: Iterable[str] = ()) -> list[ChangedService]:
    """The services (in data-file order) that ``files`` change."""
    ignored = set(ignore)
    changed = [f for f in files if f not in ignored]
    shared = PathSet(data.shared_paths, where=f"{data.path}: sharedPaths")
    shared_hit = next((f for f in changed if shared.matches(f)), None)
    out = []
    for name, svc in data.services.items():
        if svc.upstream:
            continue
        if shared_hit is not None:
            out.append(ChangedService(name, svc.image, f"shared path {shared_hit}"))
            continue
        own = service_paths(data, name)
        hit = next((f for f in changed if own.matches(f)), None)
        if hit is not None:
            out.append(ChangedService(name, svc.image, f"{hit}"))
    return out


def changed_between(git: Git, data: HomelabData, base: str, head: str,
                    ignore: Iterable[str] = ()) -> list[ChangedService]:
    """Services changed from ``base`` to ``head``; a missing base (all zeros) changes all."""
    head_sha = git.resolve(head)
    if not base.strip("0"):  # "" or NULL_SHA: a new branch, nothing to compare with
        return [ChangedService(name, svc.image, f"no base commit ({base or 'empty'})")
                for name, svc in data.services.items() if not svc.upstream]
    return changed_services(data, git.changed_files(git.resolve(base), head_sha), ignore)


def matrix(services: list[ChangedService]) -> dict[str, Any]:
    """``{"include": [{"service": ..., "image": ...}, ...]}`` for a GitHub Actions matrix."""
    return {"include": [s.matrix_entry() for s in services]}
