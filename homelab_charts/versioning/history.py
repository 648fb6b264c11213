"""The next version of a service, from its git tags and the commits since the latest one.

* The latest version is the highest ``<service>/vX.Y.Z`` tag reachable from the commit
  being released (tags of other branches do not count; tags that are not plain
  ``vX.Y.Z`` are ignored).
* The commits since it that touch the service's paths or the shared paths decide the bump
  (see :mod:`homelab_charts.versioning.bump`); ``bump=`` overrides them.
* A commit that carries a ``<service>/vX.Y.Z`` tag itself releases that version (a
  pipeline run for a pushed version tag), unless a bump is given.
* With a ``baseline`` (what the data file pins, see :mod:`homelab_charts.versioning.pins`)
  higher than the latest tag, or with no tag at all, the version counts from the
  baseline and the commits since the data-file commit that pinned it.
* With neither a tag nor a baseline the first version is 0.1.0 (an explicit bump counts
  from 0.0.0).
* With no relevant commit and no explicit bump there is nothing to release
  (:class:`NothingToRelease`), unless ``allow_empty``: then the latest version is built
  again at the new commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import semver

from homelab_charts.errors import HomelabError
from homelab_charts.versioning.bump import Bump, parse_message
from homelab_charts.versioning.git import Commit, Git, GitError
from homelab_charts.versioning.paths import PathSet
from homelab_charts.versioning.pins import Baseline
from homelab_charts.versioning.tags import TagError, git_tag_prefix, parse_git_tag

INITIAL_VERSION = semver.Version(0, 1, 0)
ZERO = semver.Version(0, 0, 0)


class NothingToRelease(HomelabError):
    """No commit since the latest tag touches the service (and no bump was asked for)."""


@dataclass(frozen=True)
class VersionPlan:
    """How a service's next version was worked out."""

    service: str
    commit: str
    version: semver.Version
    previous_tag: str | None
    previous_version: semver.Version | None
    bump: Bump | None
    reason: str
    commits: tuple[Commit, ...] = field(default=())
    #: What the version counts from: a git tag, or what the data file pins.
    counted_from: str | None = None

    @property
    def git_tag(self) -> str:
        return f"{git_tag_prefix(self.service)}{self.version}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "version": str(self.version),
            "commit": self.commit,
            "previousTag": self.previous_tag,
            "previousVersion": None if self.previous_version is None
            else str(self.previous_version),
            "bump": None if self.bump is None else str(self.bump),
            "reason": self.reason,
            "countedFrom": self.counted_from,
            "gitTag": self.git_tag,
            "commits": [
                {"sha": c.short, "subject": c.subject, "bump": str(parse_message(c.message).bump)}
                for c in self.commits
            ],
        }


def _highest(names: Iterable[str], service: str) -> tuple[str, semver.Version] | None:
    """The tag of ``names`` with the highest version (tags not of ``service`` are ignored)."""
    best: tuple[str, semver.Version] | None = None
    for name in names:
        try:
            _, version = parse_git_tag(name, service=service)
        except TagError:
            continue
        if best is None or version > best[1]:
            best = (name, version)
    return best


def latest_version(git: Git, service: str, commit: str) -> tuple[str, semver.Version] | None:
    """The highest ``<service>/vX.Y.Z`` tag reachable from ``commit``, with its version."""
    return _highest(git.tags_merged(commit, f"{git_tag_prefix(service)}*"), service)


def version_at(git: Git, service: str, commit: str) -> tuple[str, semver.Version] | None:
    """The highest ``<service>/vX.Y.Z`` tag on ``commit`` itself."""
    return _highest(git.tags_at(commit, f"{git_tag_prefix(service)}*"), service)


def relevant_commits(git: Git, commit: str, since: str | None, paths: PathSet,
                     ignore: Iterable[str] = ()) -> list[Commit]:
    """Commits after ``since`` up to ``commit`` that touch ``paths`` (``ignore``d files aside)."""
    ignored = set(ignore)
    revisions = [commit] if since is None else [f"{since}..{commit}"]
    return [
        c for c in git.log(revisions)
        if paths.any_match(f for f in c.files if f not in ignored)
    ]


def next_version(git: Git, service: str, paths: PathSet, *, commit: str = "HEAD",
                 bump: Bump | None = None, allow_empty: bool = False,
                 ignore: Iterable[str] = (), baseline: Baseline | None = None) -> VersionPlan:
    """Work out the version to release ``service`` at ``commit`` (see the module doc)."""
    if git.is_shallow():
        raise GitError(
            f"{git.path} is a shallow clone: versions need the whole history and the tags "
            "(actions/checkout with fetch-depth: 0, or git fetch --unshallow --tags)"
        )
    full = git.resolve(commit)
    latest = latest_version(git, service, full)
    at_head = version_at(git, service, full)
    if at_head is not None and bump is None:
        return VersionPlan(service, full, at_head[1], at_head[0], at_head[1], None,
                           f"the commit is tagged {at_head[0]}", counted_from=at_head[0])

    previous_tag, previous = latest if latest is not None else (None, None)
    since, label = previous_tag, previous_tag
    if baseline is not None and (previous is None or baseline.version > previous):
        previous, since, label = baseline.version, baseline.since, baseline.label
        previous_tag = None  # the version does not come from a git tag
    commits = relevant_commits(git, full, since, paths, ignore)
    if bump is not None:
        base = previous if previous is not None else ZERO
        return VersionPlan(service, full, bump.apply(base), previous_tag, previous, bump,
                           f"--bump {bump}" + (f" from {label}" if label else ""),
                           tuple(commits), label)
    if previous is None:
        return VersionPlan(service, full, INITIAL_VERSION, None, None, None,
                           f"no {git_tag_prefix(service)}* tag yet: first version "
                           f"{INITIAL_VERSION}", tuple(commits))
    if not commits:
        if allow_empty:
            return VersionPlan(service, full, previous, previous_tag, previous, None,
                               f"no change since {label}: rebuilding {previous}",
                               counted_from=label)
        raise NothingToRelease(
            f"nothing to release for {service}: no commit since {label} touches its "
            "paths or the shared paths (pass --bump to release anyway)"
        )
    inferred = max(parse_message(c.message).bump for c in commits)
    deciding = next(c for c in commits if parse_message(c.message).bump == inferred)
    return VersionPlan(
        service, full, inferred.apply(previous), previous_tag, previous, inferred,
        f"{inferred} from {len(commits)} commit(s) since {label} "
        f"({deciding.short} {deciding.subject!r})",
        tuple(commits), label,
    )
