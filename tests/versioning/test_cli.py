"""``homelab-charts release``, ``rollback`` and ``version`` against real git repositories."""

from __future__ import annotations

import json
import subprocess

import pytest

from homelab_charts import config, datafile
from homelab_charts.cli import release as release_cli
from tests.helpers import as_project
from tests.versioning.conftest import DASH, DASH_FILE, DATA

# ----------------------------------------------------------------------- version


def test_version_parse(cli, capsys):
    assert cli(["version", "parse", "v2.1.0-a3f5c2b-prod"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"kind": "release", "tag": "v2.1.0-a3f5c2b-prod", "version": "2.1.0",
                   "major": 2, "minor": 1, "patch": 0, "sha": "a3f5c2b",
                   "environment": "prod", "alias": "v2.1.0"}
    assert cli(["version", "parse", "--compact", "v2.1.0"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "alias"
    assert cli(["version", "parse", "homelab-dashboard/v1.4.2"]) == 0
    assert json.loads(capsys.readouterr().out)["service"] == DASH


@pytest.mark.parametrize(
    ("tag", "message"),
    [("v2.1-abc1234-prod", "must have three numbers"),
     ("v2.1.0-ABC1234-prod", "must be lower case"),
     ("v2.1.0-abc12345-prod", "exactly 7 characters"),
     ("v2.1.0-abc1234-qa", "unknown environment 'qa'"),
     ("v2.01.0-abc1234-prod", "leading zero"),
     ("v2.01.0", "leading zero")],
)
def test_version_parse_rejects(cli, capsys, tag, message):
    assert cli(["version", "parse", tag]) == 2
    err = capsys.readouterr().err
    assert err.startswith("homelab-charts version: error: ")
    assert message in err
    assert "Traceback" not in err


def test_version_next_and_sha(repo, cli, capsys):
    repo.release_dashboard()
    assert cli(repo.argv("version", "next", DASH)) == 0  # the commit is tagged
    assert capsys.readouterr().out == "1.4.2\n"
    repo.commit("docs: unrelated", "README.md")
    assert cli(repo.argv("version", "next", DASH)) == 1
    assert "nothing to release for homelab-dashboard" in capsys.readouterr().err
    head = repo.commit("feat: charts", DASH_FILE)
    assert cli(repo.argv("version", "next", DASH)) == 0
    out, err = capsys.readouterr()
    assert out == "1.5.0\n"  # the value alone on stdout, the reason on stderr (RELEASING.md)
    assert err == f"{DASH}: minor from 1 commit(s) since {DASH}/v1.4.2 ({head[:7]} " \
                  "'feat: charts')\n"
    assert cli(repo.argv("version", "next", DASH, "--bump", "major", "--env", "dev")) == 0
    out, err = capsys.readouterr()
    assert out == f"v2.0.0-{head[:7]}-dev\n"
    assert err == f"{DASH} dev: --bump major from {DASH}/v1.4.2\n"
    assert cli(repo.argv("version", "next", DASH, "--json", "--env", "prod")) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["tag"] == f"v1.5.0-{head[:7]}-prod"
    assert plan["previousTag"] == f"{DASH}/v1.4.2"
    assert plan["commits"] == [{"sha": head[:7], "subject": "feat: charts", "bump": "minor"}]
    assert cli(repo.argv("version", "sha")) == 0
    assert capsys.readouterr().out == f"{head[:7]}\n"
    assert cli(repo.argv("version", "sha", "--sha", "ABCDEF12345")) == 0
    assert capsys.readouterr().out == "abcdef1\n"


def test_version_sha_from_github_actions(repo, cli, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
    assert cli(repo.argv("version", "sha")) == 0
    assert capsys.readouterr().out == "0123456\n"


def test_version_changed(repo, cli, capsys):
    base = repo.commit("init", DASH_FILE)
    repo.commit("fix: dashboard", DASH_FILE)
    assert cli(repo.argv("version", "changed", "--base", base, "--head", "HEAD")) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "include": [{"service": DASH, "image": "registry.homelab.lan:5000/homelab-dashboard"}]}
    assert f"changed: {DASH} ({DASH_FILE})" in captured.err
    assert cli(repo.argv("version", "changed", "--base", base, "--list")) == 0
    assert capsys.readouterr().out == f"{DASH}\n"
    assert cli(repo.argv("version", "changed", "--base", "HEAD", "--exit-code")) == 1
    assert json.loads(capsys.readouterr().out) == {"include": []}
    assert cli(repo.argv("version", "changed", "--base", "nope")) == 2
    assert "'nope' names no commit" in capsys.readouterr().err


# ----------------------------------------------------------------------- release


def test_release_dry_run_changes_nothing(repo, cli, capsys, synth_calls):
    repo.release_dashboard()
    repo.commit("fix: dashboard", DASH_FILE)
    before = (repo.path / DATA).read_bytes()
    assert cli(repo.argv("release", DASH, "--env", "prod", "--dry-run")) == 0
    captured = capsys.readouterr()
    assert captured.out == f"v1.4.3-{repo.head()[:7]}-prod\n"
    assert "would change v1.4.2-9c1d7e0-prod -> v1.4.3-" in captured.err
    assert (repo.path / DATA).read_bytes() == before
    assert synth_calls == []


def test_release_without_git_tags_counts_from_the_data_file(repo, cli, capsys, synth_calls):
    """A clean clone has no <service>/v* tags: the data file's pin is the baseline."""
    before = (repo.path / DATA).read_bytes()
    assert cli(repo.argv("release", DASH, "--env", "prod", "--dry-run")) == 1
    err = capsys.readouterr().err
    assert f"nothing to release for {DASH}: no commit since v1.4.2 pinned for prod" in err
    repo.commit("fix: dashboard crash", DASH_FILE)
    assert cli(repo.argv("release", DASH, "--env", "prod", "--dry-run")) == 0
    captured = capsys.readouterr()
    assert captured.out == f"v1.4.3-{repo.head()[:7]}-prod\n"
    assert f"patch from 1 commit(s) since v1.4.2 pinned for prod in {DATA.as_posix()}" \
        in captured.err
    repo.commit("feat: widgets", DASH_FILE)
    assert cli(repo.argv("version", "next", DASH)) == 0
    assert capsys.readouterr().out == "1.5.0\n"
    assert (repo.path / DATA).read_bytes() == before
    assert synth_calls == []


def test_release_counts_commits_since_the_data_file_pinned_the_version(repo, cli, capsys,
                                                                       synth_calls):
    repo.commit("feat: before the release", DASH_FILE)
    datafile.set_service_tag(repo.path / DATA, DASH, "dev", "v1.6.0-1234567-dev")
    repo.git("add", "--", str(DATA))
    repo.commit("chore(release): homelab-dashboard v1.6.0-1234567-dev")
    # The feat before the pin is in 1.6.0; the data-file commit itself does not count.
    assert cli(repo.argv("release", DASH, "--env", "dev", "--dry-run")) == 1
    assert "no commit since v1.6.0 pinned for dev" in capsys.readouterr().err
    repo.commit("fix: after", DASH_FILE)
    assert cli(repo.argv("release", DASH, "--env", "dev", "--dry-run")) == 0
    assert capsys.readouterr().out.startswith("v1.6.1-")
    # prod counts from its own pin (1.4.2, set in the first commit): feat + fix -> 1.5.0.
    assert cli(repo.argv("release", DASH, "--env", "prod", "--dry-run")) == 0
    assert capsys.readouterr().out.startswith("v1.5.0-")
    # Without --env, version next counts from the highest pin (dev's 1.6.0).
    assert cli(repo.argv("version", "next", DASH, "--json")) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["version"] == "1.6.1"
    assert plan["previousTag"] is None
    assert plan["countedFrom"].startswith("v1.6.0 pinned for dev in ")
    # A git tag higher than the pin wins, and counts from its commit.
    repo.tag(f"{DASH}/v2.0.0")
    assert cli(repo.argv("release", DASH, "--env", "dev", "--dry-run")) == 0
    assert capsys.readouterr().out.startswith("v2.0.0-")  # the commit is tagged
    repo.commit("fix: later", DASH_FILE)
    assert cli(repo.argv("release", DASH, "--env", "dev", "--dry-run")) == 0
    assert capsys.readouterr().out.startswith("v2.0.1-")


def test_release_never_goes_back(repo, cli, capsys, synth_calls):
    """A commit tagged with a version lower than what runs is refused."""
    repo.release_dashboard("1.0.0")
    before = (repo.path / DATA).read_bytes()
    assert cli(repo.argv("release", DASH, "--env", "prod")) == 2
    err = capsys.readouterr().err
    assert "a release never goes back: prod runs 1.4.2 but the next version is 1.0.0" in err
    assert "homelab-charts rollback" in err
    assert (repo.path / DATA).read_bytes() == before
    assert synth_calls == []


def test_release_for_the_other_environment_says_only_the_data_file_changes(
        repo, cli, capsys, synth_calls):
    repo.commit("fix: dashboard", DASH_FILE)
    assert cli(repo.argv("release", DASH, "--env", "dev", "--dry-run")) == 0
    assert ("no cluster runs dev (homelab runs prod): the dev tag is recorded in the data "
            "file; no generated file changes") in capsys.readouterr().err
    assert cli(repo.argv("release", DASH, "--env", "prod", "--dry-run")) == 0
    assert "no generated file changes" not in capsys.readouterr().err
    assert cli(repo.argv("rollback", DASH, "--env", "dev", "--to",
                         "v1.4.1-0abcdef-dev")) == 0
    assert "the dev tag is recorded in the data file" in capsys.readouterr().err


def test_release_pins_the_tag_and_resynthesizes(repo, cli, capsys, synth_calls, monkeypatch):
    repo.release_dashboard()
    repo.commit("fix: crash", DASH_FILE)
    monkeypatch.setenv("GITHUB_SHA", repo.head())
    assert cli(repo.argv("release", DASH, "--env", "dev")) == 0
    new = f"v1.4.3-{repo.head()[:7]}-dev"
    assert capsys.readouterr().out == f"{new}\n"
    assert repo.pinned(env="dev") == new
    assert repo.pinned(env="prod") == "v1.4.2-9c1d7e0-prod"
    assert synth_calls == [(repo.path.resolve(), (repo.path / DATA).resolve())]
    # Releasing the same commit again: already at that tag, nothing rewritten.
    assert cli(repo.argv("release", DASH, "--env", "dev")) == 0
    assert "already at" in capsys.readouterr().err
    assert len(synth_calls) == 1


def test_release_explicit_sha_and_bump(repo, cli, capsys, synth_calls):
    built = repo.release_dashboard()
    repo.commit("fix: later", DASH_FILE)
    assert cli(repo.argv("release", DASH, "--env", "prod", "--bump", "minor",
                         "--sha", built[:10].upper())) == 0
    assert capsys.readouterr().out == f"v1.5.0-{built[:7]}-prod\n"
    assert repo.pinned() == f"v1.5.0-{built[:7]}-prod"


def test_release_nothing_to_release(repo, cli, capsys, synth_calls):
    repo.release_dashboard()
    repo.commit("docs: unrelated", "README.md")
    before = (repo.path / DATA).read_bytes()
    assert cli(repo.argv("release", DASH, "--env", "prod")) == 1
    assert "nothing to release" in capsys.readouterr().err
    assert (repo.path / DATA).read_bytes() == before
    assert cli(repo.argv("release", DASH, "--env", "prod", "--allow-empty")) == 0
    assert capsys.readouterr().out == f"v1.4.2-{repo.head()[:7]}-prod\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["release", "n8n", "--env", "prod"], "n8n is a third-party image (upstream: true)"),
        (["release", "nope", "--env", "prod"], "services.nope: no such service"),
        (["release", DASH, "--env", "prod", "--sha", "xyz"], "--sha: 'xyz'"),
        (["release", DASH, "--env", "prod", "--ref", "nope"], "'nope' names no commit"),
    ],
)
def test_release_input_errors(repo, cli, capsys, synth_calls, argv, message):
    repo.commit("feat: dashboard", DASH_FILE)
    before = (repo.path / DATA).read_bytes()
    assert cli(repo.argv(*argv)) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert (repo.path / DATA).read_bytes() == before


def test_release_outside_a_repository(tmp_path, cli, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli(["release", DASH, "--env", "dev"]) == 2
    assert "not inside a git repository: pass --root" in capsys.readouterr().err


def test_failed_synthesis_restores_the_data_file(repo, cli, capsys, monkeypatch):
    repo.release_dashboard()
    repo.commit("fix: dashboard", DASH_FILE)
    before = (repo.path / DATA).read_bytes()

    def broken(root, data):
        from homelab_charts.errors import ConfigError

        raise ConfigError("homelab/apps", "image", "synthesis failed")

    monkeypatch.setattr(release_cli, "synthesize_tree", broken)
    assert cli(repo.argv("release", DASH, "--env", "prod")) == 2
    assert "synthesis failed" in capsys.readouterr().err
    assert (repo.path / DATA).read_bytes() == before


def test_release_git_tag(repo, cli, capsys, synth_calls):
    repo.release_dashboard()
    repo.commit("feat: more", DASH_FILE)
    assert cli(repo.argv("release", DASH, "--env", "prod", "--git-tag")) == 0
    assert f"created git tag {DASH}/v1.5.0" in capsys.readouterr().err
    assert repo.git("rev-parse", f"{DASH}/v1.5.0^{{commit}}") == repo.head()
    # The tagged commit now releases its own version to the other environment.
    assert cli(repo.argv("release", DASH, "--env", "dev")) == 0
    assert capsys.readouterr().out == f"v1.5.0-{repo.head()[:7]}-dev\n"


# ----------------------------------------------------------------------- rollback


def test_rollback(repo, cli, capsys, synth_calls):
    data = repo.path / DATA
    assert cli(repo.argv("rollback", DASH, "--env", "prod", "--to",
                         "v1.4.1-0abcdef-prod")) == 0
    assert capsys.readouterr().out == "v1.4.1-0abcdef-prod\n"
    assert repo.pinned() == "v1.4.1-0abcdef-prod"
    assert len(synth_calls) == 1
    assert cli(repo.argv("rollback", DASH, "--env", "prod", "--to",
                         "v1.4.1-0abcdef-prod")) == 1
    assert "already at v1.4.1-0abcdef-prod" in capsys.readouterr().err
    assert cli(repo.argv("rollback", DASH, "--env", "prod", "--to",
                         "v1.9.0-0abcdef-prod", "--dry-run")) == 0
    err = capsys.readouterr().err
    assert "newer than the current" in err and "dry run" in err
    assert repo.pinned() == "v1.4.1-0abcdef-prod"
    # Third-party images roll back to any pinned tag.
    assert cli(repo.argv("rollback", "n8n", "--env", "prod", "--to", "1.111.0")) == 0
    assert config.load(data).service("n8n").env("prod").tag == "1.111.0"


@pytest.mark.parametrize(
    ("service", "tag", "message"),
    [
        (DASH, "v1.4.1-0abcdef-dev", "is a dev build; --env prod needs a tag ending in -prod"),
        (DASH, "v1.4-0abcdef-prod", "must have three numbers"),
        (DASH, "v1.4.1-0ABCDEF-prod", "must be lower case"),
        ("n8n", "latest", "is a moving tag"),
        ("nope", "v1.4.1-0abcdef-prod", "no such service"),
    ],
)
def test_rollback_rejects(repo, cli, capsys, synth_calls, service, tag, message):
    before = (repo.path / DATA).read_bytes()
    assert cli(repo.argv("rollback", service, "--env", "prod", "--to", tag)) == 2
    assert message in capsys.readouterr().err
    assert (repo.path / DATA).read_bytes() == before
    assert synth_calls == []


def test_rollback_previous_reads_the_data_file_history(repo, cli, capsys, synth_calls):
    for tag in ("v1.5.0-1111111-prod", "v1.6.0-2222222-prod"):
        datafile.set_service_tag(repo.path / DATA, DASH, "prod", tag)
        repo.git("add", "--", str(DATA))
        repo.commit(f"chore(release): {tag}")
    repo.commit("unrelated", "README.md")
    assert cli(repo.argv("rollback", DASH, "--env", "prod", "--previous")) == 0
    assert capsys.readouterr().out == "v1.5.0-1111111-prod\n"
    assert cli(repo.argv("rollback", "family-assistant-backend", "--env", "prod",
                         "--previous")) == 2
    assert ("the data file's history has no earlier prod tag for family-assistant-backend "
            f"(its tag never changed in the 3 commit(s) of {DATA.as_posix()}); use --to TAG"
            ) in capsys.readouterr().err


def test_rollback_previous_without_committed_history(repo, cli, capsys, synth_calls, tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_bytes((repo.path / DATA).read_bytes())
    assert cli(repo.argv("rollback", DASH, "--env", "prod", "--previous",
                         "--data", str(outside))) == 2
    assert "has no git history; use --to TAG" in capsys.readouterr().err
    fresh = type(repo)(tmp_path / "fresh")
    (fresh.path / DATA).parent.mkdir(parents=True, exist_ok=True)
    (fresh.path / DATA).write_bytes(outside.read_bytes())
    fresh.commit("chore: empty")
    assert cli(fresh.argv("rollback", DASH, "--env", "prod", "--previous")) == 2
    assert "(the data file has no committed history); use --to TAG" in \
        capsys.readouterr().err


# ----------------------------------------------------------------------- end to end


def _git_changes(repo) -> list[str]:
    out = subprocess.run(["git", "-C", str(repo.path), "status", "--porcelain",
                          "--untracked-files=all"], capture_output=True, text=True,
                         check=True).stdout
    return sorted(line[3:] for line in out.splitlines())


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_release_end_to_end_with_real_synthesis(repo, cli, capsys, env):
    """Only the data file and the files that carry the image change; the tree stays in sync."""
    synth = pytest.importorskip("homelab_charts.synth", reason="synthesis not written yet")
    root = repo.path
    as_project(root)  # a repository root (cdk8s.yaml, the sealed store), for synth --root
    synth.synth_tree(root, data_file=root / DATA)
    repo.git("add", "--all")
    repo.commit("chore: generated tree")
    repo.tag(f"{DASH}/v1.4.2")
    repo.commit("feat: dashboard widgets", DASH_FILE)
    repo.git("add", "--all")
    old = repo.pinned(env=env)

    assert cli(repo.argv("release", DASH, "--env", env)) == 0
    new = capsys.readouterr().out.strip()
    assert new == f"v1.5.0-{repo.head()[:7]}-{env}"

    changed = _git_changes(repo)
    assert DATA.as_posix() in changed
    image = config.load(root / DATA).service(DASH).image
    running = config.load(root / DATA).cluster.environment
    for rel in changed:
        if rel != DATA.as_posix():
            text = (root / rel).read_text()
            assert f"{image}:{new}" in text, f"{rel} changed but does not carry the new tag"
    for generated in subprocess.run(["git", "-C", str(root), "ls-files"], capture_output=True,
                                    text=True, check=True).stdout.split():
        text = (root / generated).read_text() if generated.endswith(".yaml") else ""
        assert f"{image}:{old}" not in text or generated == DATA.as_posix() or env != running
    if env != running:  # the cluster runs the other environment: only the data file moved
        assert changed == [DATA.as_posix()]
    assert cli(["synth", "--check", "--root", str(root), "--data", str(root / DATA)]) == 0


def test_release_updates_only_the_files_that_carry_the_image(repo, cli, capsys, monkeypatch):
    """With the real writer and a tree where one file carries the image of each service."""
    synth = pytest.importorskip("homelab_charts.synth", reason="synthesis not written yet")
    from homelab_charts.base import Component, Folder, Manifest

    def builder(app, data):
        synth.build_homelab(app, data)
        folder = Folder(app, "probe", path="apps/release-probe", namespace="release-probe")
        env = data.cluster.environment
        for name, svc in data.services.items():
            Manifest(Component(folder, name), "cm", api_version="v1", kind="ConfigMap",
                     name=name, body={"data": {"image": svc.image_for(env).ref}})

    def synthesize(root, data_file):
        synth.synth_tree(root, data_file=data_file, builder=builder)

    monkeypatch.setattr(release_cli, "synthesize_tree", synthesize)
    root = repo.path
    synthesize(root, root / DATA)
    repo.git("add", "--all")
    repo.commit("chore: generated tree")
    repo.tag(f"{DASH}/v1.4.2")
    repo.commit("feat: dashboard widgets", DASH_FILE)
    repo.git("add", "--all")

    assert cli(repo.argv("release", DASH, "--env", "prod")) == 0
    new = capsys.readouterr().out.strip()
    ref = f"registry.homelab.lan:5000/homelab-dashboard:{new}"
    changed = _git_changes(repo)
    carrying = [rel for rel in changed
                if rel != DATA.as_posix() and ref in (root / rel).read_text()]
    assert "apps/release-probe/homelab-dashboard.yaml" in carrying
    assert sorted(changed) == sorted([*carrying, DATA.as_posix()])
    check = synth.synth_tree(root, data_file=root / DATA, builder=builder, check=True)
    assert not check.changes.changed


def test_release_git_tag_conflict_changes_nothing(repo, cli, capsys, synth_calls):
    repo.release_dashboard()
    other = repo.commit("docs: elsewhere", "README.md")
    repo.commit("feat: more", DASH_FILE)
    repo.tag(f"{DASH}/v1.5.0-taken", annotated=False)
    repo.git("tag", f"{DASH}/v1.5.0", other)  # a version tag on an older commit
    before = (repo.path / DATA).read_bytes()
    # The v1.5.0 tag is reachable, so the next version is 1.5.1 ...
    assert cli(repo.argv("release", DASH, "--env", "prod", "--bump", "minor",
                         "--git-tag")) == 0
    assert capsys.readouterr().out.startswith("v1.6.0-")
    # ... but asking for a version whose tag sits elsewhere is refused before any write.
    repo.git("switch", "-q", "-c", "side", f"{DASH}/v1.4.2")
    repo.commit("feat: side", DASH_FILE)
    (repo.path / DATA).write_bytes(before)
    side = ("--default-branch", "side")  # the side branch is the reviewed history here
    assert cli(repo.argv("release", DASH, "--env", "prod", "--git-tag", "--dry-run",
                         *side)) == 2
    assert f"git tag {DASH}/v1.5.0 already exists on another commit" in capsys.readouterr().err
    assert cli(repo.argv("release", DASH, "--env", "prod", "--git-tag", *side)) == 2
    assert (repo.path / DATA).read_bytes() == before
    assert len(synth_calls) == 1
