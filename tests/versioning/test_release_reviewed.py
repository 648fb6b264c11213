"""Releases only from reviewed history (issue 11, finding 3), on real git repositories.

A tag on an unmerged branch plus ``release SERVICE --env prod --sha <that commit> --ref
<tag>`` used to pin it on main. Now every commit released must be an ancestor of the
default branch, unless ``--allow-unmerged REASON`` says why (printed, and recorded in the
git tag and, by the workflow, in the release commit).
"""

from __future__ import annotations

import subprocess

import pytest

from homelab_charts.errors import ConfigError
from homelab_charts.versioning import Git
from homelab_charts.versioning.release import UnmergedCommit, check_merged, default_branch
from tests.versioning.conftest import DASH, DASH_FILE, DATA


@pytest.fixture
def unmerged(repo):
    """main, plus a branch ``feature`` (not merged) whose head carries a version tag."""
    repo.commit("feat: dashboard", DASH_FILE)
    main = repo.head()
    repo.git("switch", "-q", "-c", "feature")
    feature = repo.commit("feat!: rewrite, not reviewed", DASH_FILE)
    repo.tag(f"{DASH}/v3.0.0")
    repo.git("switch", "-q", "main")
    return main, feature


def release(repo, *argv: str) -> list[str]:
    return repo.argv("release", DASH, "--env", "prod", *argv)


def test_a_tag_on_an_unmerged_branch_is_refused(repo, unmerged, cli, capsys, synth_calls):
    main, feature = unmerged
    before = (repo.path / DATA).read_bytes()
    argv = release(repo, "--sha", feature, "--ref", f"{DASH}/v3.0.0")
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert (f"commit {feature[:7]} (--sha, --ref) is not on the default branch main "
            f"(at {main[:7]})") in err
    assert "--allow-unmerged REASON" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (repo.path / DATA).read_bytes() == before
    assert synth_calls == []
    # The tag alone (the build commit taken from it) is refused the same way.
    assert cli(release(repo, "--ref", f"{DASH}/v3.0.0")) == 2
    assert f"commit {feature[:7]} (build, --ref) is not on the default branch main" in \
        capsys.readouterr().err
    # So is a run on the feature branch itself (HEAD).
    repo.git("switch", "-q", "feature")
    assert cli(release(repo, "--dry-run")) == 2
    assert f"commit {feature[:7]} (build) is not on the default branch main" in \
        capsys.readouterr().err


def test_the_same_release_once_merged_is_accepted(repo, unmerged, cli, capsys, synth_calls):
    _, feature = unmerged
    repo.git("merge", "-q", "--no-ff", "-m", "Merge pull request #7", "feature")
    assert cli(release(repo, "--sha", feature, "--ref", f"{DASH}/v3.0.0")) == 0
    captured = capsys.readouterr()
    assert captured.out == f"v3.0.0-{feature[:7]}-prod\n"
    assert "Allow-unmerged" not in captured.err
    assert repo.pinned() == f"v3.0.0-{feature[:7]}-prod"
    assert len(synth_calls) == 1


def test_the_emergency_override_is_accepted_and_logged(repo, unmerged, cli, capsys,
                                                       synth_calls):
    main, feature = unmerged
    reason = "outage INC-42: hotfix before review"
    assert cli(release(repo, "--sha", feature, "--ref", f"{DASH}/v3.0.0",
                       "--allow-unmerged", reason)) == 0
    captured = capsys.readouterr()
    assert captured.out == f"v3.0.0-{feature[:7]}-prod\n"
    assert (f"warning: Allow-unmerged: {feature[:7]} (--sha, --ref) not on main ({main[:7]}): "
            f"{reason}") in captured.err
    assert repo.pinned() == f"v3.0.0-{feature[:7]}-prod"
    # --git-tag records the override in the annotated tag it creates.
    repo.git("switch", "-q", "feature")
    repo.commit("fix: hotfix", DASH_FILE)
    assert cli(release(repo, "--git-tag", "--allow-unmerged", reason)) == 0
    capsys.readouterr()
    message = repo.git("tag", "--list", "--format=%(contents)", f"{DASH}/v3.0.1")
    assert f"Allow-unmerged: {repo.head()[:7]} (build) not on main" in message
    assert reason in message


def test_the_override_needs_a_reason(repo, unmerged, cli, capsys, synth_calls):
    _, feature = unmerged
    assert cli(release(repo, "--sha", feature, "--allow-unmerged", "  ")) == 2
    assert "--allow-unmerged: needs a reason" in capsys.readouterr().err
    assert synth_calls == []


def test_a_sha_that_names_no_commit_cannot_be_checked(repo, cli, capsys, synth_calls):
    repo.commit("fix: dashboard", DASH_FILE)
    assert cli(release(repo, "--sha", "deadbee")) == 2
    assert "--sha 'deadbee' names no commit of this repository" in capsys.readouterr().err


def test_unpushed_commits_are_not_reviewed(repo, tmp_path, cli, capsys, synth_calls):
    """In a clone the default branch is origin/HEAD, not the local branch."""
    repo.commit("fix: dashboard", DASH_FILE)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    git = Git(clone)
    assert default_branch(git)[0] == "origin/main"
    subprocess.run(["git", "-C", str(clone), "commit", "-q", "--allow-empty", "-m",
                    "fix: local only"], check=True)
    local = git.resolve("HEAD")
    with pytest.raises(UnmergedCommit, match=rf"commit {local[:7]} \(build\) is not on "
                                             "the default branch origin/main"):
        check_merged(git, {"build": "HEAD"})
    # Naming the branch explicitly (what CI does) works the same way.
    assert check_merged(git, {"build": "HEAD~1"}, branch="origin/main").log_line() is None
    with pytest.raises(ConfigError, match="--default-branch: 'nope' names no commit"):
        check_merged(git, {"build": "HEAD"}, branch="nope")


def test_version_merged_checks_before_anything_is_built(repo, unmerged, cli, capsys):
    """CI's plan job runs this before the image of the commit is built."""
    main, feature = unmerged
    assert cli(repo.argv("version", "merged", "--sha", feature, "--ref",
                         f"{DASH}/v3.0.0")) == 2
    assert f"commit {feature[:7]} (--sha, --ref) is not on the default branch main" in \
        capsys.readouterr().err
    assert cli(repo.argv("version", "merged", "--sha", main,
                         "--default-branch", "main")) == 0
    assert capsys.readouterr().out == f"main {main}\n"
    assert cli(repo.argv("version", "merged", "--sha", feature,
                         "--allow-unmerged", "INC-42")) == 0
    assert "warning: Allow-unmerged:" in capsys.readouterr().err
