"""The data file as the record of what runs: its history and the version baseline."""

from __future__ import annotations

from pathlib import Path

import pytest
import semver

from homelab_charts import config, datafile
from homelab_charts.versioning import Bump, Git, NothingToRelease, next_version, release_paths
from homelab_charts.versioning.pins import (
    data_file_baseline,
    data_file_history,
    pinned_since,
    tag_in,
)

DATA = Path("homelab.yaml")
REL = DATA.as_posix()
DASH = "homelab-dashboard"
DASH_FILE = "services/homelab-dashboard/app.py"
V = semver.Version


def pin(repo, env: str, tag: str, message: str | None = None) -> str:
    datafile.set_service_tag(repo.path / DATA, DASH, env, tag)
    repo.git("add", "--", str(DATA))
    return repo.commit(message or f"chore(release): {tag}")


def test_history_is_newest_first_and_reads_each_version(repo):
    first = repo.head()
    second = pin(repo, "prod", "v1.5.0-1111111-prod")
    repo.commit("docs: unrelated", "README.md")
    history = list(data_file_history(Git(repo.path), REL))
    assert [c for c, _ in history] == [second, first]
    assert [tag_in(d, DASH, "prod") for _, d in history] == [
        "v1.5.0-1111111-prod", "v1.4.2-9c1d7e0-prod"]
    assert len(list(data_file_history(Git(repo.path), REL, max_count=1))) == 1
    assert tag_in(history[0][1], DASH, "qa") is None
    assert tag_in(None, DASH, "prod") is None


def test_history_reads_many_versions_and_skips_broken_ones(repo):
    commits = [pin(repo, "dev", f"v1.{n}.0-1234567-dev") for n in range(5, 45)]
    (repo.path / DATA).write_text("services: [unclosed\n", encoding="utf-8")
    repo.git("add", "--", str(DATA))
    broken = repo.commit("chore: broken data file")
    history = list(data_file_history(Git(repo.path), REL))
    assert history[0] == (broken, None)
    assert [c for c, _ in history[1:41]] == commits[::-1]
    assert tag_in(history[1][1], DASH, "dev") == "v1.44.0-1234567-dev"


def test_blobs_of_missing_files(repo):
    git = Git(repo.path)
    assert git.blobs([]) == []
    head = repo.head()
    out = git.blobs([f"{head}:nope.txt", f"{head}:{REL}", f"{head}:homelab_charts"])
    assert out[0] is None and out[2] is None
    assert out[1] == (repo.path / DATA).read_bytes()


def test_pinned_since_is_the_commit_that_set_the_version(repo):
    git = Git(repo.path)
    first = repo.head()
    assert pinned_since(git, REL, DASH, ["prod"], V(1, 4, 2)) == first
    set_16 = pin(repo, "prod", "v1.6.0-1111111-prod")
    pin(repo, "prod", "v1.6.0-2222222-prod", "chore: rebuild 1.6.0")  # same version
    pin(repo, "dev", "v1.7.0-2222222-dev")
    assert pinned_since(git, REL, DASH, ["prod"], V(1, 6, 0)) == set_16
    assert pinned_since(git, REL, DASH, ["prod"], V(9, 9, 9)) is None
    assert pinned_since(git, None, DASH, ["prod"], V(1, 6, 0)) is None
    # Both environments at one version: the earliest pin of it counts.
    dev_16 = pin(repo, "dev", "v1.6.0-3333333-dev")
    assert pinned_since(git, REL, DASH, ["dev"], V(1, 6, 0)) == dev_16
    assert pinned_since(git, REL, DASH, ["dev", "prod"], V(1, 6, 0)) == set_16


def test_baseline_takes_the_highest_pin(repo):
    git = Git(repo.path)
    set_dev = pin(repo, "dev", "v2.0.0-1234567-dev")
    data = config.load(repo.path / DATA)
    b = data_file_baseline(git, data, REL, DASH, ["dev", "prod"])
    assert (b.version, b.envs, b.since) == (V(2, 0, 0), ("dev",), set_dev)
    assert b.label == f"v2.0.0 pinned for dev in {REL} (set in {set_dev[:7]})"
    b = data_file_baseline(git, data, REL, DASH, ["prod"])
    assert (b.version, b.since) == (V(1, 4, 2), repo.git("rev-list", "--max-parents=0",
                                                           "HEAD"))
    # An uncommitted pin is not in the history: every commit counts.
    datafile.set_service_tag(repo.path / DATA, DASH, "prod", "v3.0.0-1234567-prod")
    b = data_file_baseline(git, config.load(repo.path / DATA), REL, DASH, ["prod"])
    assert b.since is None
    assert "not in its git history: every commit counts" in b.label


def test_next_version_from_a_baseline(repo):
    git = Git(repo.path)
    data = config.load(repo.path / DATA)
    paths = release_paths(data, DASH)
    baseline = data_file_baseline(git, data, REL, DASH, ["prod"])
    with pytest.raises(NothingToRelease, match=r"no commit since v1\.4\.2 pinned for prod"):
        next_version(git, DASH, paths, ignore=[REL], baseline=baseline)
    repo.commit("feat: widgets", DASH_FILE)
    p = next_version(git, DASH, paths, ignore=[REL], baseline=baseline)
    assert (p.version, p.previous_tag, p.previous_version) == (V(1, 5, 0), None, V(1, 4, 2))
    assert p.counted_from == baseline.label
    assert next_version(git, DASH, paths, ignore=[REL], baseline=baseline,
                        bump=Bump.PATCH).version == V(1, 4, 3)
    repo.commit("docs: elsewhere", "README.md")
    p = next_version(git, DASH, paths, ignore=[REL], baseline=baseline, allow_empty=False)
    assert p.version == V(1, 5, 0)
    # A git tag lower than the pin does not pull the version back.
    repo.tag(f"{DASH}/v1.0.0", repo.git("rev-list", "--max-parents=0", "HEAD"))
    assert next_version(git, DASH, paths, ignore=[REL], baseline=baseline).version == V(1, 5, 0)
