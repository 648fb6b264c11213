"""Conventional Commit bumps and the path globs of the data file."""

from __future__ import annotations

import pytest
import semver

from homelab_charts.errors import ConfigError
from homelab_charts.versioning import Bump, PathSet, bump_for, parse_message

V = semver.Version


@pytest.mark.parametrize(
    ("message", "bump", "type_", "breaking"),
    [
        ("feat: add calendar sync", Bump.MINOR, "feat", False),
        ("feat(api): add calendar sync", Bump.MINOR, "feat", False),
        ("Feat: capitalised type", Bump.MINOR, "feat", False),
        ("fix: handle empty reply", Bump.PATCH, "fix", False),
        ("fix(frontend): typo", Bump.PATCH, "fix", False),
        ("feat!: drop v1 endpoints", Bump.MAJOR, "feat", True),
        ("fix(db)!: migrate schema", Bump.MAJOR, "fix", True),
        ("refactor!: rename env vars", Bump.MAJOR, "refactor", True),
        ("feat: new store\n\nBREAKING CHANGE: the schema moved", Bump.MAJOR, "feat", True),
        ("fix: x\n\nbody\n\nBREAKING-CHANGE: config keys renamed", Bump.MAJOR, "fix", True),
        ("chore: bump deps", Bump.PATCH, "chore", False),
        ("perf: faster queries", Bump.PATCH, "perf", False),
        ("docs: readme", Bump.PATCH, "docs", False),
        ("Update the backend", Bump.PATCH, None, False),
        ("Update\n\nBREAKING CHANGE: yes", Bump.MAJOR, None, True),
        ("feat:missing space", Bump.PATCH, None, False),
        ("feat: x\n\nnot a footer: BREAKING CHANGE: inline", Bump.MINOR, "feat", False),
        ("feat: x\n\nbreaking change: lower case is not a footer", Bump.MINOR, "feat", False),
        ("feat(scope: x", Bump.PATCH, None, False),
        ("\r\nfeat: windows line ends\r\n", Bump.MINOR, "feat", False),
    ],
)
def test_conventional_commit_bumps(message, bump, type_, breaking):
    parsed = parse_message(message)
    assert parsed.bump is bump
    assert parsed.type == type_
    assert parsed.breaking is breaking
    assert parsed.conventional is (type_ is not None)


def test_range_takes_the_largest_bump():
    assert bump_for([]) is None
    assert bump_for(["fix: a", "chore: b"]) is Bump.PATCH
    assert bump_for(["fix: a", "feat: b", "docs: c"]) is Bump.MINOR
    assert bump_for(["feat: a", "fix!: b"]) is Bump.MAJOR


@pytest.mark.parametrize(
    ("bump", "before", "after"),
    [
        (Bump.MAJOR, V(2, 1, 3), V(3, 0, 0)),
        (Bump.MINOR, V(2, 1, 3), V(2, 2, 0)),
        (Bump.PATCH, V(2, 1, 3), V(2, 1, 4)),
        (Bump.MINOR, V(0, 0, 0), V(0, 1, 0)),
    ],
)
def test_bump_apply(bump, before, after):
    assert bump.apply(before) == after


def test_bump_parse():
    assert Bump.parse("Major") is Bump.MAJOR
    assert str(Bump.parse("patch")) == "patch"
    with pytest.raises(ConfigError, match="'huge' is not a bump"):
        Bump.parse("huge")


@pytest.mark.parametrize(
    ("patterns", "path", "matches"),
    [
        (["services/homelab-dashboard/**"], "services/homelab-dashboard/app.py", True),
        (["services/homelab-dashboard/**"], "services/homelab-dashboard/a/b/c.ts", True),
        (["services/homelab-dashboard/**"], "services/homelab-dashboard-v2/app.py", False),
        (["services/homelab-dashboard/**"], "services/homelab-dashboard", False),
        (["services/homelab-dashboard"], "services/homelab-dashboard/app.py", True),
        (["services/homelab-dashboard/"], "services/homelab-dashboard/app.py", True),
        (["pyproject.toml"], "pyproject.toml", True),
        (["pyproject.toml"], "sub/pyproject.toml", False),
        (["pyproject.toml"], "pyproject.tomlx", False),
        (["*.toml"], "pyproject.toml", True),
        (["*.toml"], "sub/pyproject.toml", False),
        (["**/*.toml"], "sub/dir/pyproject.toml", True),
        (["**/*.toml"], "pyproject.toml", True),
        (["services/*/Dockerfile"], "services/n8n/Dockerfile", True),
        (["services/*/Dockerfile"], "services/a/b/Dockerfile", False),
        (["services/**/Dockerfile"], "services/a/b/Dockerfile", True),
        (["services/**/Dockerfile"], "services/Dockerfile", True),
        (["app?.py"], "app1.py", True),
        (["app?.py"], "app/.py", False),
        (["app[0-9].py"], "app7.py", True),
        (["app[!0-9].py"], "app7.py", False),
        (["app[!0-9].py"], "appx.py", True),
        (["a.b"], "axb", False),
        (["/pyproject.toml"], "pyproject.toml", True),
        (["./pyproject.toml"], "pyproject.toml", True),
        (["weird[name"], "weird[name", True),
        (["homelab_charts/**"], "homelab_charts/data/homelab.yaml", True),
        ([], "anything", False),
    ],
)
def test_path_globs(patterns, path, matches):
    assert PathSet(tuple(patterns)).matches(path) is matches


@pytest.mark.parametrize("bad", ["", "  ", "../outside/**"])
def test_bad_globs_name_the_field(bad):
    with pytest.raises(ConfigError) as info:
        PathSet(("ok/**", bad), where="homelab.yaml: services.x.paths")
    assert str(info.value).startswith("homelab.yaml: services.x.paths: [1]: ")
