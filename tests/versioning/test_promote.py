"""``homelab-charts promote``: prod pins the build dev runs; refusals; rollback per
environment with both layouts (real synthesis at the end)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from homelab_charts import datafile
from homelab_charts.synth import synth_tree
from tests.environments.layouts import DEV_CLUSTER, dev_cluster, side_by_side
from tests.versioning.conftest import DATA, Repo

BACKEND = "family-assistant-backend"
DEV_BUILD = "v2.2.0-1234abc-dev"


def run_dev(repo: Repo) -> None:
    """The cluster runs dev beside prod, and dev runs DEV_BUILD of the backend."""
    file = repo.path / DATA
    datafile.set_service_tag(file, BACKEND, "dev", DEV_BUILD)
    text = file.read_text(encoding="utf-8").replace("environments: [prod]\n",
                                                     "environments: [prod, dev]\n")
    file.write_text(text, encoding="utf-8")
    repo.git("commit", "-qam", "chore: run dev")


def test_promote_pins_the_same_version_and_commit_for_prod(repo, cli, capsys, synth_calls):
    run_dev(repo)
    assert cli(repo.argv("promote", BACKEND, "--from", "dev", "--to", "prod")) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "v2.2.0-1234abc-prod"
    assert repo.pinned(BACKEND, "prod") == "v2.2.0-1234abc-prod"
    assert repo.pinned(BACKEND, "dev") == DEV_BUILD
    assert f"dev runs {DEV_BUILD} (cluster homelab)" in err
    assert synth_calls == [(repo.path, repo.path / DATA)]
    # Again: prod already runs it (exit 1, nothing written).
    assert cli(repo.argv("promote", BACKEND)) == 1
    assert "already at v2.2.0-1234abc-prod" in capsys.readouterr().err
    assert len(synth_calls) == 1


def test_promote_json_names_the_image_and_both_tags(repo, cli, capsys, synth_calls):
    run_dev(repo)
    assert cli(repo.argv("promote", BACKEND, "--dry-run", "--json", "--tag", DEV_BUILD)) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan == {"service": BACKEND,
                    "image": "registry.homelab.lan:5000/family-assistant-backend",
                    "from": "dev", "to": "prod", "fromTag": DEV_BUILD,
                    "tag": "v2.2.0-1234abc-prod", "current": "v2.1.0-a3f5c2b-prod",
                    "testedOn": "homelab"}
    assert synth_calls == []
    assert repo.pinned(BACKEND, "prod") == "v2.1.0-a3f5c2b-prod"


@pytest.mark.parametrize(("argv", "message"), [
    (["--tag", "v2.2.0-9999999-dev"],
     "--tag: dev does not run v2.2.0-9999999-dev: it runs v2.2.0-1234abc-dev"),
    (["--tag", "v2.3.0-1234abc-dev"], "dev does not run v2.3.0-1234abc-dev"),
    (["--tag", "latest"], "--tag"),
    (["--to", "dev"], "dev is also the source environment"),
])
def test_promote_refuses_a_build_dev_does_not_run(repo, cli, capsys, synth_calls, argv,
                                                  message):
    run_dev(repo)
    before = (repo.path / DATA).read_bytes()
    assert cli(repo.argv("promote", BACKEND, *argv)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert (repo.path / DATA).read_bytes() == before
    assert synth_calls == []


def test_promote_refuses_upstream_images_and_an_environment_no_cluster_runs(
        repo, cli, capsys, synth_calls):
    before = (repo.path / DATA).read_bytes()
    assert cli(repo.argv("promote", BACKEND)) == 2  # the shipped file runs prod only
    assert "no cluster runs dev: its tag was never deployed" in capsys.readouterr().err
    run_dev(repo)
    assert cli(repo.argv("promote", "n8n")) == 2
    err = capsys.readouterr().err
    assert "services.n8n.upstream: n8n is a third-party image" in err
    assert "rollback n8n --env prod --to TAG" in err
    assert synth_calls == []
    assert repo.pinned("n8n", "prod") == \
        yaml.safe_load(before)["services"]["n8n"]["environments"]["prod"]["tag"]


def test_promote_never_moves_prod_back(repo, cli, capsys, synth_calls):
    run_dev(repo)
    datafile.set_service_tag(repo.path / DATA, BACKEND, "prod", "v3.0.0-aaaaaaa-prod")
    assert cli(repo.argv("promote", BACKEND)) == 2
    err = capsys.readouterr().err
    assert "prod runs v3.0.0-aaaaaaa-prod, newer than dev's v2.2.0-1234abc-dev" in err
    assert "rollback family-assistant-backend --env prod --to v2.2.0-1234abc-prod" in err


# --------------------------------------------------------------------------- real synthesis


def _image(root: Path, rel: str) -> str:
    for doc in yaml.safe_load_all((root / rel).read_text(encoding="utf-8")):
        if doc and doc["kind"] == "Deployment":
            return doc["spec"]["template"]["spec"]["containers"][0]["image"]
    raise AssertionError(rel)


@pytest.mark.parametrize("layout", [side_by_side, dev_cluster])
def test_promote_and_rollback_per_environment_rewrite_that_environments_files(
        tmp_path: Path, cli, capsys, layout) -> None:
    repo = Repo(tmp_path / "repo")
    data_file = layout(repo.path)
    for change in ("chore: dev beside prod", "chore: dev runs a new build"):
        if "new build" in change:
            datafile.set_service_tag(data_file, BACKEND, "dev", DEV_BUILD)
        synth_tree(repo.path, data_file=data_file)
        repo.git("add", "-A")
        repo.git("commit", "-qm", change)
    prod_file, dev_file = "apps/family-assistant/backend.yaml", \
        "apps/family-assistant-dev/backend.yaml"
    assert _image(repo.path, dev_file).endswith(f":{DEV_BUILD}")
    dev_before = (repo.path / dev_file).read_bytes()

    assert cli(repo.argv("promote", BACKEND)) == 0
    assert _image(repo.path, prod_file).endswith(":v2.2.0-1234abc-prod")
    assert (repo.path / dev_file).read_bytes() == dev_before
    capsys.readouterr()

    # Rollback is per environment: dev goes back, prod keeps the promoted build.
    assert cli(repo.argv("rollback", BACKEND, "--env", "dev", "--previous")) == 0
    assert capsys.readouterr().out.strip() == "v2.1.0-a3f5c2b-dev"
    assert _image(repo.path, dev_file).endswith(":v2.1.0-a3f5c2b-dev")
    assert _image(repo.path, prod_file).endswith(":v2.2.0-1234abc-prod")
    assert cli(repo.argv("rollback", BACKEND, "--env", "prod",
                         "--to", "v2.1.0-a3f5c2b-prod")) == 0
    assert _image(repo.path, prod_file).endswith(":v2.1.0-a3f5c2b-prod")
    assert synth_tree(repo.path, data_file=data_file, check=True).changes.changed is False
    if layout is dev_cluster:
        labels = yaml.safe_load_all((repo.path / dev_file).read_text(encoding="utf-8"))
        assert {d["metadata"]["labels"]["homelab-charts.io/cluster"]
                for d in labels if d} == {DEV_CLUSTER}
