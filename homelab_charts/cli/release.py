"""``release``, ``rollback``, ``promote`` and ``version``: the "update manifests" step of
the pipeline.

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
import sys
from pathlib import Path
from typing import Any

from homelab_charts import config, project
from homelab_charts.config import ENVIRONMENTS
from homelab_charts.errors import ConfigError
from homelab_charts.versioning.release import (
    MergeCheck,
    Pinned,
    build_commit,
    check_merged,
    check_rollback_tag,
    git_tag_to_create,
    other_environment_note,
    own_service,
    pin_tag,
    plan_release,
    previous_tag,
    rolls_forward,
)

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


def _pin(root: Path, data_file: Path, service: str, env: str, tag: str,
         dry_run: bool) -> Pinned:
    # synthesize_tree is looked up at call time (tests replace it).
    return pin_tag(root, data_file, service, env, tag, dry_run=dry_run,
                   synthesize=synthesize_tree)


def _note_other_environment(data_file: Path, env: str) -> None:
    note = other_environment_note(data_file, env)
    if note:
        _say(note)


def _report(pinned: Pinned, dry_run: bool) -> None:
    where = f"{pinned.service} {pinned.env}"
    if dry_run:
        _say(f"{where}: would change {pinned.previous} -> {pinned.tag} (dry run)")
    elif pinned.written:
        _say(f"{where}: {pinned.previous} -> {pinned.tag}; data file and tree updated")
    else:
        _say(f"{where}: already at {pinned.tag}")


# --------------------------------------------------------------------------- release


def _merged(root: Path, args: argparse.Namespace) -> MergeCheck:
    """Refuses commits that are not on the default branch (UnmergedCommit, exit 2)."""
    from homelab_charts.versioning import Git

    commits = {"--sha" if args.sha else "build": build_commit(args.sha, args.ref)}
    if args.ref is not None:
        commits["--ref"] = args.ref
    check = check_merged(Git(root), commits, branch=args.default_branch,
                         allow_unmerged=args.allow_unmerged)
    line = check.log_line()
    if line:
        _say(f"warning: {line}")
    return check


def _cmd_release(args: argparse.Namespace) -> int:
    from homelab_charts.versioning import Git, NothingToRelease

    root = repo_root(args.root)
    data_file = data_path(root, args.data)
    try:
        release = plan_release(root, data_file, args.service, args.env, bump=args.bump,
                               sha=args.sha, ref=args.ref, allow_empty=args.allow_empty)
    except NothingToRelease as exc:
        _say(f"homelab-charts release: {exc}")
        return 1
    merged = _merged(root, args)  # before anything is written
    plan = release.version
    for warning in release.warnings:
        _say(f"warning: {warning}")
    _say(f"{args.service} {args.env}: {plan.reason}")
    git = Git(root)
    create_git_tag = args.git_tag and git_tag_to_create(git, plan)
    pinned = _pin(root, data_file, args.service, args.env, release.tag, args.dry_run)
    _note_other_environment(data_file, args.env)
    if create_git_tag and args.dry_run:
        _say(f"would create git tag {plan.git_tag} at {plan.commit[:7]}")
    elif create_git_tag:
        message = f"{args.service} {plan.version}"
        if merged.log_line():
            message += f"\n\n{merged.log_line()}"
        git.create_tag(plan.git_tag, plan.commit, message)
        _say(f"created git tag {plan.git_tag} at {plan.commit[:7]} (push it: "
             f"git push origin {plan.git_tag})")
    _report(pinned, args.dry_run)
    print(release.tag)
    return 0


# --------------------------------------------------------------------------- rollback


def _cmd_rollback(args: argparse.Namespace) -> int:
    from homelab_charts import datafile

    root = repo_root(args.root)
    data_file = data_path(root, args.data)
    own_service(data_file, args.service, args.env)
    tag = args.to if args.to is not None else previous_tag(root, data_file, args.service,
                                                           args.env)
    check_rollback_tag(data_file, args.service, args.env, tag)
    current = datafile.get_service_tag(data_file, args.service, args.env)
    if current == tag:
        _say(f"{args.service} {args.env}: already at {tag}")
        print(tag)
        return 1
    if rolls_forward(current, tag):
        _say(f"warning: {tag} is newer than the current {current} (rolling forward)")
    pinned = _pin(root, data_file, args.service, args.env, tag, args.dry_run)
    _note_other_environment(data_file, args.env)
    _report(pinned, args.dry_run)
    print(tag)
    return 0


# --------------------------------------------------------------------------- promote


def _cmd_promote(args: argparse.Namespace) -> int:
    from homelab_charts.versioning.promote import plan_promotion, promote

    root = repo_root(args.root)
    data_file = data_path(root, args.data)
    plan = plan_promotion(data_file, args.service, source=args.source, target=args.target,
                          tag=args.tag)
    _say(f"{plan.service}: {plan.source} runs {plan.source_tag} (cluster {plan.tested_on}); "
         f"{plan.target} gets the same build as {plan.tag}")
    if plan.current == plan.tag:
        _say(f"{plan.service} {plan.target}: already at {plan.tag}")
        if args.json:
            print(json.dumps(plan.as_dict(), indent=2))
        else:
            print(plan.tag)
        return 1
    pinned = promote(root, data_file, plan, synthesize=synthesize_tree, dry_run=args.dry_run)
    _report(pinned, args.dry_run)
    if not args.dry_run:
        _say(f"the registry must hold {plan.image}:{plan.tag} as the digest of "
             f"{plan.image}:{plan.source_tag} (the release workflow's promote path retags it)")
    if args.json:
        print(json.dumps(plan.as_dict(), indent=2))
    else:
        print(plan.tag)
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
        release = plan_release(root, data_file, args.service, env, bump=args.bump,
                               sha=args.sha, ref=args.ref, allow_empty=args.allow_empty,
                               baseline_envs=envs)
    except NothingToRelease as exc:
        _say(str(exc))
        return 1
    for warning in release.warnings:
        _say(f"warning: {warning}")
    tag, plan = release.tag, release.version
    if args.json:
        out = plan.as_dict()
        if args.env:
            out["tag"] = tag
        print(json.dumps(out, indent=2))
    else:
        # the why on stderr, so that $(homelab-charts version next ...) captures only the value
        _say(f"{args.service}{' ' + args.env if args.env else ''}: {plan.reason}")
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


def _cmd_version_merged(args: argparse.Namespace) -> int:
    root = repo_root(args.root)
    check = _merged(root, args)
    print(f"{check.branch} {check.branch_commit}")
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


def _merge_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--default-branch", metavar="REF",
                        help="the reviewed history: the commits released must be in it "
                             "(default: origin/HEAD, else origin/main, main, ...)")
    parser.add_argument("--allow-unmerged", metavar="REASON",
                        help="emergency only: release commits that are not on the default "
                             "branch; REASON is printed and belongs in the release commit")


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
    _merge_options(release)
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

    promote = subparsers.add_parser(
        "promote", help="pin for prod the build dev runs (same version and commit)",
        description="Pin for --to the build --from runs: vX.Y.Z-<sha7>-dev becomes "
                    "vX.Y.Z-<sha7>-prod (the same image digest, retagged by the release "
                    "workflow, never rebuilt), and re-synthesize the tree. Refused for "
                    "third-party images, a --from environment no cluster runs, or a --tag "
                    "--from does not run. Exit 1 when --to already runs that build.",
    )
    promote.add_argument("service", metavar="SERVICE")
    promote.add_argument("--from", dest="source", default="dev", choices=ENVIRONMENTS,
                         help="the environment that ran the build (default: dev)")
    promote.add_argument("--to", dest="target", default="prod", choices=ENVIRONMENTS,
                         help="the environment to pin it for (default: prod)")
    promote.add_argument("--tag", metavar="TAG",
                         help="the build expected (refused unless --from runs it)")
    promote.add_argument("--dry-run", action="store_true", help="only print the tag")
    promote.add_argument("--json", action="store_true",
                         help="print the image, both tags and the cluster as JSON")
    _location_options(promote)
    promote.set_defaults(func=_cmd_promote)

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

    merged = actions.add_parser(
        "merged", help="check the commits to build are on the default branch (exit 2 if not)")
    _commit_options(merged)
    _merge_options(merged)
    merged.add_argument("--root", metavar="DIR",
                        help="repository root (default: git top-level of the current folder)")
    merged.set_defaults(func=_cmd_version_merged)

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


__all__ = ["register", "synthesize_tree"]
