"""Next version, GIT_SHA and changed services, read from real git repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import semver

from homelab_charts import config
from homelab_charts.versioning import (
    Bump,
    Git,
    GitError,
    NothingToRelease,
    TagError,
    changed_between,
    latest_version,
    matrix,
    next_version,
    release_paths,
    resolve_sha,
)

DATA = Path("homelab.yaml")

V = semver.Version
DASH = "homelab-dashboard"
BACKEND = "family-assistant-backend"
DASH_FILE = "services/homelab-dashboard/app.py"
BACKEND_FILE = "services/family-assistant/backend/main.py"
IGNORE = [DATA.as_posix()]


def plan(repo, service=DASH, **kwargs):
    data = config.load(repo.path / DATA)
    kwargs.setdefault("ignore", IGNORE)
    return next_version(Git(repo.path), service, release_paths(data, service), **kwargs)


def test_first_version_without_tags_is_0_1_0(repo):
    repo.commit("feat: first dashboard", DASH_FILE)
    p = plan(repo)
    assert p.version == V(0, 1, 0)
    assert p.previous_tag is None
    assert "first version 0.1.0" in p.reason
    assert [c.subject for c in p.commits] == ["feat: first dashboard"]
    assert plan(repo, bump=Bump.MAJOR).version == V(1, 0, 0)
    assert plan(repo, bump=Bump.PATCH).version == V(0, 0, 1)


def test_bumps_follow_conventional_commits_per_service(repo):
    repo.commit("feat: dashboard", DASH_FILE)
    repo.tag(f"{DASH}/v1.4.2")
    repo.commit("feat: backend", BACKEND_FILE)
    repo.tag(f"{BACKEND}/v2.1.0", annotated=False)

    with pytest.raises(NothingToRelease, match=f"no commit since {DASH}/v1.4.2"):
        plan(repo)  # the backend's feat does not touch the dashboard
    repo.commit("fix: dashboard crash", DASH_FILE)
    p = plan(repo)
    assert (p.version, p.bump, p.previous_tag) == (V(1, 4, 3), Bump.PATCH, f"{DASH}/v1.4.2")
    repo.commit("docs: dashboard readme", DASH_FILE)
    assert plan(repo).version == V(1, 4, 3)
    repo.commit("feat(ui): dark mode", DASH_FILE)
    p = plan(repo)
    assert p.version == V(1, 5, 0)
    assert "feat(ui): dark mode" in p.reason
    assert len(p.commits) == 3
    repo.commit("refactor: new storage\n\nBREAKING CHANGE: schema migration", DASH_FILE)
    assert plan(repo).version == V(2, 0, 0)
    assert plan(repo, bump=Bump.PATCH).version == V(1, 4, 3)  # --bump overrides

    # The backend versions independently, from its lightweight tag.
    with pytest.raises(NothingToRelease):
        plan(repo, BACKEND)
    repo.commit("feat!: new API", BACKEND_FILE)
    assert plan(repo, BACKEND).version == V(3, 0, 0)
    assert plan(repo).version == V(2, 0, 0)


def test_shared_paths_count_for_every_service_but_the_data_file_does_not(repo):
    repo.commit("init", DASH_FILE, BACKEND_FILE)
    repo.tag(f"{DASH}/v1.0.0")
    repo.tag(f"{BACKEND}/v1.0.0")
    # A release commit: data file (under the shared homelab_charts/**) and the tree.
    (repo.path / DATA).write_text(
        (repo.path / DATA).read_text().replace("v1.4.2-9c1d7e0-dev", "v1.4.3-1234567-dev"))
    repo.git("add", "--", str(DATA))
    repo.commit("chore(release): homelab-dashboard dev", "apps/homelab-dashboard/app.yaml")
    with pytest.raises(NothingToRelease):
        plan(repo)
    repo.commit("feat: shared build tooling", "pyproject.toml")
    assert plan(repo).version == V(1, 1, 0)
    assert plan(repo, BACKEND).version == V(1, 1, 0)
    repo.commit("fix: generator", "homelab_charts/cli/x.py")
    assert [c.subject for c in plan(repo).commits] == [
        "fix: generator", "feat: shared build tooling"]


def test_tagged_commit_releases_its_own_version(repo):
    repo.commit("feat: a", DASH_FILE)
    repo.tag(f"{DASH}/v1.0.0")
    repo.commit("feat: b", DASH_FILE)
    repo.tag(f"{DASH}/v1.1.0")
    p = plan(repo)
    assert (p.version, p.bump) == (V(1, 1, 0), None)
    assert p.reason == f"the commit is tagged {DASH}/v1.1.0"
    assert plan(repo, bump=Bump.PATCH).version == V(1, 1, 1)


def test_allow_empty_rebuilds_the_latest_version(repo):
    repo.commit("feat: a", DASH_FILE)
    repo.tag(f"{DASH}/v1.0.0")
    repo.commit("chore: unrelated", "README.md")
    p = plan(repo, allow_empty=True)
    assert p.version == V(1, 0, 0)
    assert "rebuilding 1.0.0" in p.reason


def test_highest_reachable_plain_version_tag_wins(repo):
    base = repo.commit("feat: a", DASH_FILE)
    repo.tag(f"{DASH}/v1.9.0")
    repo.commit("fix: b", DASH_FILE)
    repo.tag(f"{DASH}/v1.10.0")           # 1.10 > 1.9 (not text order)
    repo.tag(f"{DASH}/v2.0.0-rc.1")       # pre-release tags are not versions here
    repo.tag(f"{DASH}/vnext")             # nor is junk
    repo.tag("homelab-dashboard-old/v9.0.0")  # another service's prefix
    # A higher tag on a branch that is not merged does not count.
    repo.git("switch", "-q", "-c", "hotfix", base)
    repo.commit("fix: hotfix", DASH_FILE)
    repo.tag(f"{DASH}/v5.0.0")
    repo.git("switch", "-q", "main")
    git = Git(repo.path)
    assert latest_version(git, DASH, git.resolve("HEAD")) == (f"{DASH}/v1.10.0", V(1, 10, 0))
    repo.commit("fix: c", DASH_FILE)
    assert plan(repo).version == V(1, 10, 1)
    assert plan(repo, commit="hotfix").version == V(5, 0, 0)


def test_merge_commits_are_followed(repo):
    repo.commit("feat: a", DASH_FILE)
    repo.tag(f"{DASH}/v1.0.0")
    repo.git("switch", "-q", "-c", "topic")
    repo.commit("feat: topic work", DASH_FILE)
    repo.git("switch", "-q", "main")
    repo.commit("fix: main work", "README.md")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch topic", "topic")
    p = plan(repo)
    assert p.version == V(1, 1, 0)
    assert [c.subject for c in p.commits] == ["feat: topic work"]


def test_shallow_clone_is_refused(repo, tmp_path):
    repo.commit("feat: a", DASH_FILE)
    repo.commit("feat: b", DASH_FILE)
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)],
                   check=True, capture_output=True)
    data = config.load(clone / DATA)
    with pytest.raises(GitError, match=r"shallow clone.*fetch-depth: 0"):
        next_version(Git(clone), DASH, release_paths(data, DASH))


def test_unknown_revision_and_not_a_repository(repo, tmp_path):
    with pytest.raises(GitError, match="'nope' names no commit"):
        Git(repo.path).resolve("nope")
    with pytest.raises(GitError, match="is not a revision"):
        Git(repo.path).resolve("--all")
    with pytest.raises(GitError, match="not a git repository"):
        Git(tmp_path).toplevel()


def test_git_sha_precedence(repo):
    first = repo.commit("feat: a", DASH_FILE)
    head = repo.commit("feat: b", DASH_FILE)
    git = Git(repo.path)
    assert resolve_sha(git, environ={}) == head[:7]
    assert resolve_sha(git, ref="HEAD~1", environ={}) == first[:7]
    env = {"GITHUB_SHA": first.upper()}
    assert resolve_sha(git, environ=env) == first[:7]
    assert resolve_sha(git, ref="HEAD", environ=env) == head[:7]  # an explicit ref wins
    assert resolve_sha(git, sha="ABCDEF0123", ref="HEAD", environ=env) == "abcdef0"
    assert resolve_sha(None, environ=env) == first[:7]
    with pytest.raises(GitError, match="pass --sha, set GITHUB_SHA"):
        resolve_sha(None, environ={})
    with pytest.raises(GitError, match="GITHUB_SHA"):
        resolve_sha(git, environ={"GITHUB_SHA": "not-a-sha"})
    with pytest.raises(TagError, match="--sha"):
        resolve_sha(git, sha="xyz", environ={})


def changed(repo, base, head="HEAD"):
    data = config.load(repo.path / DATA)
    return changed_between(Git(repo.path), data, base, head, IGNORE)


def test_changed_services(repo):
    base = repo.commit("init", DASH_FILE, BACKEND_FILE, "services/family-assistant/frontend/x")
    repo.commit("fix: dashboard", DASH_FILE)
    after_dash = repo.head()
    assert [s.name for s in changed(repo, base)] == [DASH]
    repo.commit("fix: backend", BACKEND_FILE)
    assert [s.name for s in changed(repo, base)] == [BACKEND, DASH]  # data-file order
    assert [s.name for s in changed(repo, after_dash)] == [BACKEND]
    assert matrix(changed(repo, after_dash)) == {
        "include": [{"service": BACKEND,
                     "image": "registry.homelab.lan:5000/family-assistant-backend"}]}
    assert changed(repo, "HEAD", "HEAD") == []

    # A release commit touches only the data file and the tree: nothing to build.
    before_release = repo.head()
    (repo.path / DATA).write_text((repo.path / DATA).read_text() + "# edited\n")
    repo.git("add", "--", str(DATA))
    repo.commit("chore(release): x", "apps/homelab-dashboard/x.yaml")
    assert changed(repo, before_release) == []

    # A shared path marks every service of ours (never the upstream n8n).
    repo.commit("build: bump python", "pyproject.toml")
    names = [s.name for s in changed(repo, before_release)]
    assert names == [BACKEND, "family-assistant-frontend", DASH]
    assert all(s.reason == "shared path pyproject.toml" for s in changed(repo, before_release))


def test_changed_from_a_pull_request_base_uses_the_merge_base(repo):
    repo.commit("init", DASH_FILE, BACKEND_FILE)
    main_before = repo.head()
    repo.git("switch", "-q", "-c", "pr")
    repo.commit("feat: dashboard", DASH_FILE)
    repo.git("switch", "-q", "main")
    repo.commit("fix: backend on main", BACKEND_FILE)
    # The PR changed only the dashboard, even though main moved on since it branched.
    assert [s.name for s in changed(repo, "main", "pr")] == [DASH]
    assert [s.name for s in changed(repo, main_before, "main")] == [BACKEND]


def test_new_branch_without_a_base_changes_everything(repo):
    repo.commit("init", DASH_FILE)
    names = [s.name for s in changed(repo, "0" * 40)]
    assert names == [BACKEND, "family-assistant-frontend", DASH]


def test_highest_tag_of_a_service_ignores_other_and_invalid_tags() -> None:
    from homelab_charts.versioning.history import _highest

    names = [f"{DASH}/v1.9.0", f"{DASH}/v1.10.0", f"{DASH}/v1.2.0", "n8n/v9.0.0",
             f"{DASH}/v2.0", f"{DASH}/latest", f"{DASH}-old/v5.0.0"]
    assert _highest(names, DASH) == (f"{DASH}/v1.10.0", V(1, 10, 0))
    assert _highest(["n8n/v9.0.0", f"{DASH}/oops"], DASH) is None
    assert _highest([], DASH) is None
