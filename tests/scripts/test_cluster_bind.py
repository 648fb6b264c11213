"""homelab-charts cluster bind: the data file records the cluster, synthesis writes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from homelab_charts import config
from homelab_charts.cli import main
from homelab_charts.synth import render
from homelab_charts.tree import Tree
from tests.conftest import DATA_FILE
from tests.helpers import as_project
from tests.scripts.gitops_sandbox import CLUSTER_UID, FAKE_KUBECTL


@pytest.fixture
def fake_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(FAKE_KUBECTL)
    (bin_dir / "kubectl").chmod(0o755)
    log = tmp_path / "kubectl.log"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_KUBECTL_LOG", str(log))
    monkeypatch.setenv("FAKE_KUBECTL_RULES", str(tmp_path / "rules.json"))
    monkeypatch.setenv("FAKE_KUBECTL_STATE", str(tmp_path / "context"))
    (tmp_path / "context").write_text("work-prod")  # bind reads --context, not the current
    (tmp_path / "rules.json").write_text("[]")
    return log


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    copy = tmp_path / "homelab.yaml"
    shutil.copyfile(DATA_FILE, copy)
    return copy


def test_bind_reads_the_uid_and_synthesis_records_it(fake_kubectl: Path, data_file: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = data_file.read_text()
    assert main(["cluster", "bind", "--context", "fake-homelab", "--data", str(data_file)]) == 0
    out = capsys.readouterr().out
    assert (f"cluster 'homelab' bound to kube-system UID {CLUSTER_UID} "
            "(context 'fake-homelab')") in out
    calls = [json.loads(line) for line in fake_kubectl.read_text().splitlines()]
    assert [(c["context"], c["argv"]) for c in calls] == [
        ("fake-homelab", ["get", "namespace", "kube-system", "-o", "jsonpath={.metadata.uid}",
                          "--request-timeout=30s"])]
    after = data_file.read_text()
    assert after.replace(f"  uid: {CLUSTER_UID}\n", "") == before  # only that line added
    data = config.load(data_file)
    assert data.cluster.uid == CLUSTER_UID
    files = render(data)
    identity = Tree(files).cluster_identity("homelab")
    assert identity is not None and (identity.name, identity.uid) == ("homelab", CLUSTER_UID)
    # Every generated object carries the cluster's ownership label.
    for obj in Tree(files).objects.values():
        assert obj.body["metadata"]["labels"]["homelab-charts.io/cluster"] == "homelab", obj.id
    # Binding again to the same cluster changes nothing.
    assert main(["cluster", "bind", "--uid", CLUSTER_UID, "--data", str(data_file)]) == 0
    assert "already bound" in capsys.readouterr().out and data_file.read_text() == after


def test_rebinding_warns_and_bad_input_is_one_line(fake_kubectl: Path, data_file: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cluster", "bind", "--uid", CLUSTER_UID, "--data", str(data_file)]) == 0
    other = "0badc0de-0000-4000-8000-000000000000"
    assert main(["cluster", "bind", "--uid", other, "--data", str(data_file)]) == 0
    assert f"was bound to kube-system UID {CLUSTER_UID}" in capsys.readouterr().err
    before = data_file.read_text()
    assert main(["cluster", "bind", "--uid", "not-a-uid", "--data", str(data_file)]) == 2
    err = capsys.readouterr().err
    assert err == ("homelab-charts cluster: error: --uid: 'not-a-uid' is not a Namespace UID "
                   "(8-4-4-4-12 lower-case hexadecimal digits)\n")
    assert main(["cluster", "bind", "--context", "nope", "--data", str(data_file)]) == 2
    assert capsys.readouterr().err == (
        "homelab-charts cluster: error: --context nope: cannot read the kube-system "
        'Namespace: error: context "nope" does not exist\n')
    assert data_file.read_text() == before


def test_bind_without_data_edits_the_data_file_of_the_repository_around(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = as_project(tmp_path / "homelab")
    (root / "sub").mkdir()
    monkeypatch.chdir(root / "sub")
    assert main(["cluster", "bind", "--uid", CLUSTER_UID]) == 0
    assert config.load(root / "homelab.yaml").cluster.uid == CLUSTER_UID
