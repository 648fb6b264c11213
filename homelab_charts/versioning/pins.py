"""What the data file pins, now and in its git history: the record of what runs.

Git tags ``<service>/vX.Y.Z`` are one record of released versions; the data file is the
other (a clean clone may have no tags at all, and dev releases are never tagged). The
next version counts from the higher of the two (:func:`data_file_baseline`):

* the version the data file pins for the environment(s) in question (the highest one
  when several are asked for);
* the changes that count are those after the data file's commit that set that version:
  the oldest commit of the newest unbroken run of commits of the data file in which one
  of those environments pins that version. When the working-tree data file pins a
  version its history never had (an uncommitted edit, a data file outside the
  repository), every commit counts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import semver

from homelab_charts import yamlsafe
from homelab_charts.config import HomelabData
from homelab_charts.errors import ConfigError
from homelab_charts.versioning.git import Git
from homelab_charts.versioning.tags import TagError, parse_tag

#: How many versions of the data file one ``git cat-file --batch`` reads.
_CHUNK = 32


def data_file_history(git: Git, relative: str, *, rev: str = "HEAD",
                      max_count: int | None = None) -> Iterator[tuple[str, Any]]:
    """``(commit, document)`` for each commit of ``rev`` that changed the data file.

    Newest first; ``document`` is the parsed YAML, None when that version does not parse.
    """
    commits = git.file_history(relative, rev)
    if max_count is not None:
        commits = commits[:max_count]
    for start in range(0, len(commits), _CHUNK):
        chunk = commits[start:start + _CHUNK]
        for commit, blob in zip(chunk, git.blobs([f"{c}:{relative}" for c in chunk]),
                                strict=True):
            try:
                document = None if blob is None else yamlsafe.load(
                    yamlsafe.decode(blob, f"{commit}:{relative}"), f"{commit}:{relative}")
            except ConfigError:  # not YAML, not UTF-8, an alias bomb...: no pin there
                document = None
            yield commit, document


def tag_in(document: Any, service: str, env: str) -> str | None:
    """``services.<service>.environments.<env>.tag`` of a parsed data file, if present."""
    try:
        tag = document["services"][service]["environments"][env]["tag"]
    except (KeyError, TypeError, IndexError):
        return None
    return None if tag is None else str(tag)


def _version(tag: str | None) -> semver.Version | None:
    if tag is None:
        return None
    try:
        return parse_tag(tag).version
    except TagError:
        return None


def pinned_since(git: Git, relative: str | None, service: str, envs: Sequence[str],
                 version: semver.Version, *, rev: str = "HEAD") -> str | None:
    """The data-file commit that set ``version`` for one of ``envs`` (see the module doc).

    None when the history never pinned it (or the data file is not in the repository).
    """
    if relative is None:
        return None
    found: str | None = None
    for commit, document in data_file_history(git, relative, rev=rev):
        if any(_version(tag_in(document, service, env)) == version for env in envs):
            found = commit
        elif found is not None:
            break
    return found


@dataclass(frozen=True)
class Baseline:
    """The version the data file pins, and the commit after which changes count."""

    version: semver.Version
    envs: tuple[str, ...]
    since: str | None
    label: str


def data_file_baseline(git: Git, data: HomelabData, relative: str | None, service: str,
                       envs: Sequence[str], *, rev: str = "HEAD") -> Baseline:
    """The highest version ``data`` pins for ``service`` in ``envs``, with its commit."""
    svc = data.service(service)
    pinned: dict[str, semver.Version] = {}
    for env in envs:
        where = f"services.{service}.environments.{env}.tag"
        pinned[env] = parse_tag(svc.env(env).tag, where=str(data.path), field=where).version
    version = max(pinned.values())
    at = tuple(env for env in envs if pinned[env] == version)
    since = pinned_since(git, relative, service, at, version, rev=rev)
    shown = relative or str(data.path)
    where = f"v{version} pinned for {'/'.join(at)} in {shown}"
    label = (f"{where} (set in {since[:7]})" if since is not None
             else f"{where} (not in its git history: every commit counts)")
    return Baseline(version, at, since, label)
