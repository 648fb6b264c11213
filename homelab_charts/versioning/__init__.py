"""Semantic versions and release tags of the homelab's own services.

Images are tagged ``v{MAJOR}.{MINOR}.{PATCH}-{GIT_SHA7}-{ENV}``; ``vX.Y.Z`` is the alias of
the latest stable build. Versions are cut per service with git tags ``<service>/vX.Y.Z``
or, without a higher tag, counted from what the data file pins (:mod:`.pins`), and bumped
from Conventional Commit messages. See docs/RELEASING.md.
"""

from homelab_charts.versioning.bump import Bump, ConventionalCommit, bump_for, parse_message
from homelab_charts.versioning.changes import (
    ChangedService,
    changed_between,
    changed_services,
    matrix,
    release_paths,
)
from homelab_charts.versioning.git import Commit, Git, GitError, resolve_sha
from homelab_charts.versioning.history import (
    INITIAL_VERSION,
    NothingToRelease,
    VersionPlan,
    latest_version,
    next_version,
)
from homelab_charts.versioning.paths import PathSet, glob_to_regex
from homelab_charts.versioning.tags import (
    ReleaseTag,
    TagError,
    format_alias,
    format_git_tag,
    format_tag,
    is_release_tag,
    normalize_sha,
    parse_alias,
    parse_git_tag,
    parse_tag,
    parse_version,
)

__all__ = [
    "INITIAL_VERSION",
    "Bump",
    "ChangedService",
    "Commit",
    "ConventionalCommit",
    "Git",
    "GitError",
    "NothingToRelease",
    "PathSet",
    "ReleaseTag",
    "TagError",
    "VersionPlan",
    "bump_for",
    "changed_between",
    "changed_services",
    "format_alias",
    "format_git_tag",
    "format_tag",
    "glob_to_regex",
    "is_release_tag",
    "latest_version",
    "matrix",
    "next_version",
    "normalize_sha",
    "parse_alias",
    "parse_git_tag",
    "parse_message",
    "parse_tag",
    "parse_version",
    "release_paths",
    "resolve_sha",
]
