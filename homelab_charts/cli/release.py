"""``release``, ``rollback`` and ``version``: the "update manifests" step of the pipeline.

``homelab-charts release SERVICE --env dev|prod`` computes the service's next tag
(version from git tags and Conventional Commits, GIT_SHA of the commit being built),
pins it in the data file and re-synthesizes the tree: a commit of the data file and the
tree is then all Flux needs. ``rollback`` pins an earlier tag the same way. ``version``
answers the pipeline's questions (parse a tag, next version, GIT_SHA, changed services).

Exit codes: 0 done; 1 nothing to do (nothing to release, already at that tag, no
service changed with ``--exit-code``); 2 bad input or a failed command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_charts import config, project
from homelab_charts.config import ENVIRONMENTS
from homelab_charts.errors import ConfigError
from homelab_charts.fsutil import atomic_write_text

#: How many commits of the data file's history ``rollback --previous`` looks through.
ROLLBACK_HISTORY = 200

Synthesize = Callable[[Path, Path], None]


# --------------------------------------------------------------------------- helpers


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def repo_root(root: str | None) -> Path:
    """``--root`` or the git top-level of the current directory."""
    from homelab_charts.versioning import Git, GitError

    if root is not None:
        path = Path(root)
        if not path.is_dir():
            raise ConfigError("--root", None, f"{root!r} is not a folder")
        return path.resolve()
    try:
        return Git(Path.cwd()).toplevel()
    except GitError:
        raise ConfigError("--root", None, "not inside a git repository: pass --root DIR") \
            from None


def data_path(root: Path, data: str | None) -> Path:
    return Path(data).resolve() if data is not None else project.data_file(root)


def synthesize_tree(root: Path, data_file: Path) -> None:
    """Re-synthesize the generated tree under ``root`` from ``data_file``."""
    from homelab_charts.synth import synth_tree  # lazy: cdk8s and jsii are heavy

    synth_tree(root, data_file=data_file)


def _own_service(data_file: Path, service: str,
                 env: str) -> tuple[config.HomelabData, config.Service]:
    data = config.load(data_file)
    svc = data.service(service)
    svc.env(env)
    return data, svc


@dataclass(frozen=True)
class Pinned:
    """What ``release``/``rollback`` did (or, with dry_run, would do)."""

    service: str
    env: str
    tag: str
    previous: str
    written: bool


def pin_tag(root: Path, data_file: Path, service: str, env: str, tag: str, *,
            dry_run: bool = False, synthesize: Synthesize | None = None) -> Pinned:
    """Pin ``tag`` for ``service`` in ``env`` in the data file and re-synthesize the tree.

    When synthesis fails the data file is put back as it was, so the data file and the
    tree never disagree in the working tree.
    """
    from homelab_charts import datafile

    previous = datafile.get_service_tag(data_file, service, env)
    if dry_run or previous == tag:
        return Pinned(service, env, tag, previous, written=False)
    original = data_file.read_text(encoding="utf-8")
    datafile.set_service_tag(data_file, service, env, tag)
    try:
        (synthesize or synthesize_tree)(root, data_file)
    except BaseException:
        atomic_write_text(data_file, original)
        raise
    return Pinned(service, env, tag, previous, written=True)


# --------------------------------------------------------------------------- release


def plan_release(root: Path, data_file: Path, service: str, env: str, *,
                 bump: str | None = None, sha: str | None = None, ref: str | None = None,
                 allow_empty: bool = False, baseline_envs: Sequence[str] | None = None,
                 environ: Mapping[str, str] | None = None) -> tuple[str, Any]:
    """The tag to release ``service`` to ``env`` with, and the version plan behind it.

    The version counts from the higher of the service's latest git tag and what the data
    file pins for ``baseline_envs`` (default: ``env``; the highest of them when several).
    """
    from homelab_charts.versioning import (
        Bump,
        Git,
        ReleaseTag,
        VersionPlan,
        next_version,
        parse_tag,
        release_paths,
        resolve_sha,
    )
    from homelab_charts.versioning.changes import data_file_path
    from homelab_charts.versioning.pins import data_file_baseline

    data, svc = _own_service(data_file, service, env)
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
        return pinned.format(), VersionPlan(
            service, full, pinned.version, None, pinned.version, None,
            f"{env} already pins {pinned}, a build of this commit",
            counted_from=f"{pinned} in {data_file.name}")
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
    if not plan.commit.startswith(short):
        _say(f"warning: building commit {short} but its version was read at "
             f"{plan.commit[:7]} ({commit}); pass --ref to read it at the built commit")
    return ReleaseTag(plan.version, short, env).format(), plan


def _cmd_release(args: argparse.Namespace) -> int:
    from homelab_charts.versioning import Git, NothingToRelease

    root = repo_root(args.root)
    data_file = data_path(root, args.data)
    try:
        tag, plan = plan_release(root, data_file, args.service, args.env, bump=args.bump,
                                 sha=args.sha, ref=args.ref, allow_empty=args.allow_empty)
    except NothingToRelease as exc:
        _say(f"homelab-charts release: {exc}")
        return 1
    _say(f"{args.service} {args.env}: {plan.reason}")
    git = Git(root)
    create_git_tag = False
    if args.git_tag:
        existing = git.try_resolve(f"refs/tags/{plan.git_tag}")
        if existing is not None and existing != plan.commit:
            raise ConfigError("--git-tag", None,
                              f"git tag {plan.git_tag} already exists on another commit "
                              f"({existing[:7]})")
        create_git_tag = existing is None
    pinned = pin_tag(root, data_file, args.service, args.env, tag, dry_run=args.dry_run)
    _note_other_environment(data_file, args.env)
    if create_git_tag and args.dry_run:
        _say(f"would create git tag {plan.git_tag} at {plan.commit[:7]}")
    elif create_git_tag:
        git.create_tag(plan.git_tag, plan.commit, f"{args.service} {plan.version}")
        _say(f"created git tag {plan.git_tag} at {plan.commit[:7]} (push it: "
             f"git push origin {plan.git_tag})")
    _report(pinned, args.dry_run)
    print(tag)
    return 0


def _note_other_environment(data_file: Path, env: str) -> None:
    """Say so when ``env`` is not the environment this repository's cluster runs."""
    data = config.load(data_file)
    if env != data.cluster.environment:
        _say(f"{data.cluster.name} runs {data.cluster.environment}: the {env} tag is "
             "recorded in the data file; no generated file changes")


def _report(pinned: Pinned, dry_run: bool) -> None:
    where = f"{pinned.service} {pinned.env}"
    if dry_run:
        _say(f"{where}: would change {pinned.previous} -> {pinned.tag} (dry run)")
    elif pinned.written:
        _say(f"{where}: {pinned.previous} -> {pinned.tag}; data file and tree updated")
    else:
        _say(f"{where}: already at {pinned.tag}")


# --------------------------------------------------------------------------- rollback


def check_rollback_tag(data_file: Path, service: str, env: str, tag: str) -> None:
    """``tag`` must be a release tag of ``env`` (our services) or a pinned tag (upstream)."""
    from homelab_charts.versioning import parse_tag

    _, svc = _own_service(data_file, service, env)
    if svc.upstream:
        return  # the data file's schema checks pinned tags (no `latest`) on write
    parsed = parse_tag(tag, where="--to")
    if parsed.env != env:
        raise ConfigError("--to", None,
                          f"{tag!r} is a {parsed.env} build; --env {env} needs a tag "
                          f"ending in -{env}")


def previous_tag(root: Path, data_file: Path, service: str, env: str) -> str:
    """The tag ``service`` had in ``env`` before the current one, from the data file's history.

    The last :data:`ROLLBACK_HISTORY` commits of the data file are read, newest first; the
    first tag there that differs from the current one is the answer.
    """
    from homelab_charts import datafile
    from homelab_charts.versioning import Git
    from homelab_charts.versioning.changes import data_file_path
    from homelab_charts.versioning.pins import data_file_history, tag_in

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


def _cmd_rollback(args: argparse.Namespace) -> int:
    from homelab_charts import datafile
    from homelab_charts.versioning import TagError, parse_tag

    root = repo_root(args.root)
    data_file = data_path(root, args.data)
    _own_service(data_file, args.service, args.env)
    tag = args.to if args.to is not None else previous_tag(root, data_file, args.service,
                                                           args.env)
    check_rollback_tag(data_file, args.service, args.env, tag)
    current = datafile.get_service_tag(data_file, args.service, args.env)
    if current == tag:
        _say(f"{args.service} {args.env}: already at {tag}")
        print(tag)
        return 1
    try:
        if parse_tag(tag).version > parse_tag(current).version:
            _say(f"warning: {tag} is newer than the current {current} (rolling forward)")
    except TagError:
        pass  # upstream tags: no order to check
    pinned = pin_tag(root, data_file, args.service, args.env, tag, dry_run=args.dry_run)
    _note_other_environment(data_file, args.env)
    _report(pinned, args.dry_run)
    print(tag)
    return 0


# --------------------------------------------------------------------------- version


def _cmd_version_parse(args: argparse.Namespace) -> int:
    from homelab_charts.versioning import parse_alias, parse_git_tag, parse_tag

    tag: str = args.tag
    if "/" in tag:
        service, version = parse_git_tag(tag)
        out: dict[str, Any] = {"kind": "git-tag", "tag": tag, "service": service,
                               "version": str(version), "major": version.major,
                               "minor": version.minor, "patch": version.patch}
    elif "-" not in tag:
        version = parse_alias(tag)
        out = {"kind": "alias", "tag": tag, "version": str(version), "major": version.major,
               "minor": version.minor, "patch": version.patch}
    else:
        out = {"kind": "release", **parse_tag(tag).as_dict()}
    print(json.dumps(out, indent=None if args.compact else 2))
    return 0


def _cmd_version_next(args: argparse.Namespace) -> int:
    from homelab_charts.versioning import NothingToRelease

    root = repo_root(args.root)
    data_file = data_path(root, args.data)
    env = args.env or ENVIRONMENTS[0]
    # Without --env the version counts from the highest one pinned in any environment.
    envs = None if args.env else tuple(config.load(data_file).service(args.service)
                                       .environments)
    try:
        tag, plan = plan_release(root, data_file, args.service, env, bump=args.bump,
                                 sha=args.sha, ref=args.ref, allow_empty=args.allow_empty,
                                 baseline_envs=envs)
    except NothingToRelease as exc:
        _say(str(exc))
        return 1
    if args.json:
        out = plan.as_dict()
        if args.env:
            out["tag"] = tag
        print(json.dumps(out, indent=2))
    else:
        print(tag if args.env else str(plan.version))
    return 0


def _cmd_version_sha(args: argparse.Namespace) -> int:
    from homelab_charts.versioning import Git, GitError, resolve_sha

    try:
        git: Git | None = Git(repo_root(args.root))
    except ConfigError:
        git = None
    try:
        print(resolve_sha(git, sha=args.sha, ref=args.ref))
    except GitError as exc:
        raise ConfigError("version sha", None, str(exc)) from None
    return 0


def _cmd_version_changed(args: argparse.Namespace) -> int:
    from homelab_charts.versioning import Git, changed_between, matrix
    from homelab_charts.versioning.changes import data_file_path

    root = repo_root(args.root)
    data_file = data_path(root, args.data)
    data = config.load(data_file)
    ignore = [p for p in (data_file_path(root, data_file),) if p]
    changed = changed_between(Git(root), data, args.base, args.head, ignore)
    if args.list:
        for item in changed:
            print(item.name)
    else:
        print(json.dumps(matrix(changed), separators=(",", ":")))
    for item in changed:
        _say(f"changed: {item.name} ({item.reason})")
    return 1 if args.exit_code and not changed else 0


# --------------------------------------------------------------------------- parsers


def _location_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", metavar="DIR",
                        help="repository root (default: git top-level of the current folder)")
    parser.add_argument("--data", metavar="FILE",
                        help=f"data file (default: <root>/{project.DATA_FILE.as_posix()})")


def _commit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sha", metavar="SHA",
                        help="commit id of the build (default: --ref, $GITHUB_SHA, HEAD)")
    parser.add_argument("--ref", metavar="REF",
                        help="commit whose history gives the version (default: the --sha "
                             "commit if known, else HEAD)")


def _bump_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bump", choices=("major", "minor", "patch"),
                        help="bump explicitly instead of from Conventional Commits")
    parser.add_argument("--allow-empty", action="store_true",
                        help="with no change since the latest tag, rebuild that version")


def register(subparsers: argparse._SubParsersAction) -> None:
    release = subparsers.add_parser(
        "release", help="pin the next release tag of a service and re-synthesize",
        description="Compute SERVICE's next tag v{MAJOR}.{MINOR}.{PATCH}-{GIT_SHA7}-{ENV}, "
                    "pin it in the data file for --env, re-synthesize the tree, print it. "
                    "Exit 1 when there is nothing to release.",
    )
    release.add_argument("service", metavar="SERVICE")
    release.add_argument("--env", required=True, choices=ENVIRONMENTS)
    _bump_option(release)
    _commit_options(release)
    release.add_argument("--git-tag", action="store_true",
                         help="also create the annotated git tag <service>/vX.Y.Z "
                              "(not pushed)")
    release.add_argument("--dry-run", action="store_true", help="only print the tag")
    _location_options(release)
    release.set_defaults(func=_cmd_release)

    rollback = subparsers.add_parser(
        "rollback", help="pin an earlier tag of a service and re-synthesize",
        description="Pin TAG for SERVICE in --env and re-synthesize the tree. "
                    "Exit 1 when the service is already at that tag.",
    )
    rollback.add_argument("service", metavar="SERVICE")
    rollback.add_argument("--env", required=True, choices=ENVIRONMENTS)
    target = rollback.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", metavar="TAG", help="the tag to run")
    target.add_argument("--previous", action="store_true",
                        help="the tag before the current one, from the data file's git log")
    rollback.add_argument("--dry-run", action="store_true", help="only print the tag")
    _location_options(rollback)
    rollback.set_defaults(func=_cmd_rollback)

    version = subparsers.add_parser("version", help="tags, versions, GIT_SHA, changed services")
    actions = version.add_subparsers(dest="action", metavar="ACTION", required=True)

    parse = actions.add_parser("parse", help="print the fields of a tag as JSON")
    parse.add_argument("tag", metavar="TAG",
                       help="v2.1.0-a3f5c2b-prod, v2.1.0 or <service>/v2.1.0")
    parse.add_argument("--compact", action="store_true", help="one line of JSON")
    parse.set_defaults(func=_cmd_version_parse)

    nxt = actions.add_parser("next", help="the next version of a service")
    nxt.add_argument("service", metavar="SERVICE")
    nxt.add_argument("--env", choices=ENVIRONMENTS, help="print the full tag for this env")
    _bump_option(nxt)
    _commit_options(nxt)
    nxt.add_argument("--json", action="store_true", help="the plan as JSON")
    _location_options(nxt)
    nxt.set_defaults(func=_cmd_version_next)

    sha = actions.add_parser("sha", help="GIT_SHA of the build (7 lower-case hex digits)")
    _commit_options(sha)
    sha.add_argument("--root", metavar="DIR", help="repository (default: current folder)")
    sha.set_defaults(func=_cmd_version_sha)

    changed = actions.add_parser(
        "changed", help="services changed between two commits (GitHub Actions matrix)")
    changed.add_argument("--base", required=True, metavar="REF",
                         help="base commit (all zeros: every service)")
    changed.add_argument("--head", default="HEAD", metavar="REF")
    changed.add_argument("--list", action="store_true", help="one service per line")
    changed.add_argument("--exit-code", action="store_true",
                         help="exit 1 when no service changed")
    _location_options(changed)
    changed.set_defaults(func=_cmd_version_changed)


__all__ = ["pin_tag", "plan_release", "register"]
