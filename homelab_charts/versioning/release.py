"""Release planning: the next tag of a service, pinning a tag, the tag to roll back to.

``homelab-charts release`` / ``rollback`` / ``version next`` are thin wrappers around
these functions (``homelab_charts.cli.release`` parses and prints). Synthesis is passed
in (``synthesize``), so this module stays below the cluster in the layers.

Only reviewed history is released: :func:`check_merged` refuses a commit that is not an
ancestor of the default branch (a tag on an unmerged branch, a workflow run on a feature
branch) unless an explicit, logged override gives a reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from homelab_charts import config, datafile
from homelab_charts.errors import ConfigError, HomelabError
from homelab_charts.fsutil import atomic_write_text
from homelab_charts.versioning.bump import Bump
from homelab_charts.versioning.changes import data_file_path, release_paths
from homelab_charts.versioning.git import Git, GitError, resolve_sha
from homelab_charts.versioning.history import VersionPlan, next_version
from homelab_charts.versioning.pins import data_file_baseline, data_file_history, tag_in
from homelab_charts.versioning.tags import ReleaseTag, TagError, parse_tag

#: How many commits of the data file's history ``rollback --previous`` looks through.
ROLLBACK_HISTORY = 200
#: Tried in order when no default branch is named: what ``origin/HEAD`` points at, then these.
DEFAULT_BRANCH_CANDIDATES = ("origin/main", "main", "origin/master", "master")

#: ``synthesize(root, data_file)`` re-synthesizes the tree of ``root`` from ``data_file``.
Synthesize = Callable[[Path, Path], None]


class UnmergedCommit(HomelabError):
    """A commit to release is not on the default branch (not reviewed)."""


def own_service(data_file: Path, service: str,
                env: str) -> tuple[config.HomelabData, config.Service]:
    """The data file and one of its services, which must have settings for ``env``."""
    data = config.load(data_file)
    svc = data.service(service)
    svc.env(env)
    return data, svc


# --------------------------------------------------------------------------- reviewed history


@dataclass(frozen=True)
class MergeCheck:
    """The outcome of :func:`check_merged`: which branch, and what was let through."""

    branch: str
    branch_commit: str
    #: (label, commit) of the commits that are not on the branch but were allowed.
    allowed: tuple[tuple[str, str], ...] = ()
    reason: str | None = None

    def log_line(self) -> str | None:
        """One line for the release's log and commit message, when an override was used."""
        if not self.allowed:
            return None
        commits = ", ".join(f"{sha[:7]} ({label})" for label, sha in self.allowed)
        return (f"Allow-unmerged: {commits} not on {self.branch} "
                f"({self.branch_commit[:7]}): {self.reason}")


def default_branch(git: Git, given: str | None = None) -> tuple[str, str]:
    """(name, commit) of the default branch: ``given``, else what ``origin/HEAD`` points
    at, else the first of :data:`DEFAULT_BRANCH_CANDIDATES` that exists."""
    if given is not None:
        commit = git.try_resolve(given)
        if commit is None:
            raise ConfigError("--default-branch", None, f"{given!r} names no commit in "
                              f"{git.path}")
        return given, commit
    head = git.run("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD",
                   check=False).strip()
    for name in (*([head] if head else []), *DEFAULT_BRANCH_CANDIDATES):
        commit = git.try_resolve(name)
        if commit is not None:
            return name, commit
    raise ConfigError("--default-branch", None,
                      "no default branch found (origin/HEAD, "
                      + ", ".join(DEFAULT_BRANCH_CANDIDATES) + "): pass --default-branch")


def is_ancestor(git: Git, commit: str, of: str) -> bool:
    """True when ``commit`` is ``of`` or in its history (both full commit ids)."""
    return git.run("rev-list", "--max-count=1", f"{of}..{commit}").strip() == ""


def check_merged(git: Git, commits: Mapping[str, str], *, branch: str | None = None,
                 allow_unmerged: str | None = None) -> MergeCheck:
    """Every commit of ``commits`` (label -> revision) must be on the default branch.

    A revision that names no commit of the repository cannot be checked and is refused
    like an unmerged one. With ``allow_unmerged`` (a non-empty reason) the commits are let
    through and listed in the result, whose :meth:`MergeCheck.log_line` records it.
    """
    name, tip = default_branch(git, branch)
    if allow_unmerged is not None and not allow_unmerged.strip():
        raise ConfigError("--allow-unmerged", None,
                          "needs a reason (it is recorded in the release commit)")
    labels: dict[str, list[str]] = {}  # commit (or unresolvable revision) -> its labels
    for label, revision in commits.items():
        sha = git.try_resolve(revision)
        if sha is None or not is_ancestor(git, sha, tip):
            labels.setdefault(sha or revision, []).append(label)
    outside = [(", ".join(names), sha) for sha, names in labels.items()]
    if not outside:
        return MergeCheck(name, tip)
    if allow_unmerged is not None:
        return MergeCheck(name, tip, tuple(outside), allow_unmerged.strip())
    label, sha = outside[0]
    what = (f"{label} {sha!r} names no commit of this repository" if git.try_resolve(sha)
            is None else f"commit {sha[:7]} ({label}) is not on the default branch {name} "
            f"(at {tip[:7]})")
    raise UnmergedCommit(
        f"{what}: only reviewed history is released; merge it first, or pass "
        "--allow-unmerged REASON for an emergency (recorded in the release commit)")


# --------------------------------------------------------------------------- pinning


@dataclass(frozen=True)
class Pinned:
    """What ``release``/``rollback`` did (or, with dry_run, would do)."""

    service: str
    env: str
    tag: str
    previous: str
    written: bool


def pin_tag(root: Path, data_file: Path, service: str, env: str, tag: str, *,
            synthesize: Synthesize, dry_run: bool = False) -> Pinned:
    """Pin ``tag`` for ``service`` in ``env`` in the data file and re-synthesize the tree.

    When synthesis fails the data file is put back as it was, so the data file and the
    tree never disagree in the working tree.
    """
    previous = datafile.get_service_tag(data_file, service, env)
    if dry_run or previous == tag:
        return Pinned(service, env, tag, previous, written=False)
    original = data_file.read_text(encoding="utf-8")
    datafile.set_service_tag(data_file, service, env, tag)
    try:
        synthesize(root, data_file)
    except BaseException:
        atomic_write_text(data_file, original)
        raise
    return Pinned(service, env, tag, previous, written=True)


def other_environment_note(data_file: Path, env: str) -> str | None:
    """A sentence when no cluster of the data file runs ``env`` (its tag changes no
    generated file)."""
    data = config.load(data_file)
    if data.cluster_running(env) is not None:
        return None
    runs = ", ".join(f"{c.name} runs {'/'.join(c.environments)}" for c in data.clusters)
    return (f"no cluster runs {env} ({runs}): the {env} tag is recorded in the data file; "
            "no generated file changes")


# --------------------------------------------------------------------------- release


@dataclass(frozen=True)
class ReleasePlan:
    """The tag to release with, the version plan behind it and the commits involved."""

    tag: str
    version: VersionPlan
    #: The commit whose history gives the version (``--ref``, ``--sha``, GITHUB_SHA, HEAD).
    commit: str
    warnings: tuple[str, ...] = ()


def build_commit(sha: str | None, ref: str | None,
                 environ: Mapping[str, str] | None = None) -> str:
    """The revision being built: ``sha`` > ``ref`` > ``$GITHUB_SHA`` > ``HEAD``."""
    env = os.environ if environ is None else environ
    return sha or ref or env.get("GITHUB_SHA") or "HEAD"


def plan_release(root: Path, data_file: Path, service: str, env: str, *,
                 bump: str | None = None, sha: str | None = None, ref: str | None = None,
                 allow_empty: bool = False, baseline_envs: Sequence[str] | None = None,
                 environ: Mapping[str, str] | None = None) -> ReleasePlan:
    """The tag to release ``service`` to ``env`` with, and the version plan behind it.

    The version counts from the higher of the service's latest git tag and what the data
    file pins for ``baseline_envs`` (default: ``env``; the highest of them when several).
    """
    data, svc = own_service(data_file, service, env)
    if svc.upstream:
        raise ConfigError(
            str(data_file), f"services.{service}.upstream",
            f"{service} is a third-party image (upstream: true): its tags are upstream "
            "versions, not built here; pin one with `homelab-charts rollback "
            f"{service} --env {env} --to TAG`",
        )
    git = Git(root)
    env_vars = os.environ if environ is None else environ
    short = resolve_sha(git, sha=sha, ref=ref, environ=env_vars)
    if ref is not None:
        commit = ref
    elif sha is not None and git.try_resolve(sha) is not None:
        commit = sha
    elif env_vars.get("GITHUB_SHA") and git.try_resolve(env_vars["GITHUB_SHA"]) is not None:
        commit = env_vars["GITHUB_SHA"]
    else:
        commit = "HEAD"
    pinned = parse_tag(svc.env(env).tag)
    if bump is None and not baseline_envs and pinned.sha == short:
        # A build of this very commit is already pinned (a re-run): release it as is.
        full = git.resolve(commit)
        return ReleasePlan(pinned.format(), VersionPlan(
            service, full, pinned.version, None, pinned.version, None,
            f"{env} already pins {pinned}, a build of this commit",
            counted_from=f"{pinned} in {data_file.name}"), commit)
    relative = data_file_path(root, data_file)
    ignore = [p for p in (relative,) if p]
    baseline = data_file_baseline(git, data, relative, service,
                                  tuple(baseline_envs) if baseline_envs else (env,))
    plan = next_version(
        git, service, release_paths(data, service), commit=commit,
        bump=None if bump is None else Bump.parse(bump), allow_empty=allow_empty,
        ignore=ignore, baseline=baseline,
    )
    if plan.version < baseline.version:  # only a tagged commit can be lower
        runs = baseline.envs[0]
        raise ConfigError(
            str(data_file), f"services.{service}.environments.{runs}.tag",
            f"a release never goes back: {runs} runs {baseline.version} but the next "
            f"version is {plan.version} ({plan.reason}); use `homelab-charts rollback` "
            "for a deliberate downgrade",
        )
    warnings: tuple[str, ...] = ()
    if not plan.commit.startswith(short):
        warnings = (f"building commit {short} but its version was read at "
                    f"{plan.commit[:7]} ({commit}); pass --ref to read it at the built "
                    "commit",)
    return ReleasePlan(ReleaseTag(plan.version, short, env).format(), plan, commit, warnings)


def git_tag_to_create(git: Git, plan: VersionPlan) -> bool:
    """Whether ``<service>/vX.Y.Z`` must be created; an error when it names another commit."""
    existing = git.try_resolve(f"refs/tags/{plan.git_tag}")
    if existing is not None and existing != plan.commit:
        raise ConfigError("--git-tag", None,
                          f"git tag {plan.git_tag} already exists on another commit "
                          f"({existing[:7]})")
    return existing is None


# --------------------------------------------------------------------------- rollback


def check_rollback_tag(data_file: Path, service: str, env: str, tag: str) -> None:
    """``tag`` must be a release tag of ``env`` (our services) or a pinned tag (upstream)."""
    _, svc = own_service(data_file, service, env)
    if svc.upstream:
        return  # the data file's schema checks pinned tags (no `latest`) on write
    parsed = parse_tag(tag, where="--to")
    if parsed.env != env:
        raise ConfigError("--to", None,
                          f"{tag!r} is a {parsed.env} build; --env {env} needs a tag "
                          f"ending in -{env}")


def rolls_forward(current: str, tag: str) -> bool:
    """True when ``tag`` is a newer release than ``current`` (False for upstream tags)."""
    try:
        return parse_tag(tag).version > parse_tag(current).version
    except TagError:
        return False  # upstream tags: no order to check


def previous_tag(root: Path, data_file: Path, service: str, env: str) -> str:
    """The tag ``service`` had in ``env`` before the current one, from the data file's history.

    The last :data:`ROLLBACK_HISTORY` commits of the data file are read, newest first; the
    first tag there that differs from the current one is the answer.
    """
    current = datafile.get_service_tag(data_file, service, env)
    relative = data_file_path(root, data_file)
    if relative is None:
        raise ConfigError("--previous", None,
                          f"{data_file} is not inside {root}: it has no git history; "
                          "use --to TAG")
    git = Git(root)
    seen = 0
    for _, document in data_file_history(git, relative, max_count=ROLLBACK_HISTORY):
        seen += 1
        tag = tag_in(document, service, env)
        if tag is not None and tag != current:
            return tag
    if seen == 0:
        why = "the data file has no committed history"
    elif seen < ROLLBACK_HISTORY:
        why = (f"its tag never changed in the {seen} commit(s) of {relative}"
               + (" (a shallow clone: fetch the whole history)" if git.is_shallow() else ""))
    else:
        why = f"its tag is the same in the last {ROLLBACK_HISTORY} commits of {relative}"
    raise ConfigError("--previous", None,
                      f"the data file's history has no earlier {env} tag for {service} "
                      f"({why}); use --to TAG")


__all__ = [
    "ROLLBACK_HISTORY",
    "GitError",
    "MergeCheck",
    "Pinned",
    "ReleasePlan",
    "Synthesize",
    "UnmergedCommit",
    "build_commit",
    "check_merged",
    "check_rollback_tag",
    "default_branch",
    "git_tag_to_create",
    "other_environment_note",
    "own_service",
    "pin_tag",
    "plan_release",
    "previous_tag",
    "rolls_forward",
]
