"""homelab-charts status against recorded `kubectl get ... -o json` output (a fake kubectl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from homelab_charts.cli import main
from homelab_charts.operations.status import FLUX_RESOURCES, SEALED_SECRETS
from tests.scripts.gitops_sandbox import FAKE_KUBECTL

FIXTURES = Path(__file__).parent / "fixtures" / "status"
FLUX_QUERY = ",".join(FLUX_RESOURCES)


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Install a fake kubectl answering with a scenario's recorded output; return a
    function that selects the scenario (or raw rules) and the log of calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(FAKE_KUBECTL)
    (bin_dir / "kubectl").chmod(0o755)
    log = tmp_path / "kubectl.log"
    rules = tmp_path / "rules.json"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_KUBECTL_LOG", str(log))
    monkeypatch.setenv("FAKE_KUBECTL_RULES", str(rules))
    monkeypatch.setenv("FAKE_KUBECTL_STATE", str(tmp_path / "kubectl-context"))

    def use(scenario: str | None = None, *, flux: dict | None = None,
            sealed: str | None = None, sealed_rc: int = 0) -> Path:
        folder = FIXTURES / scenario if scenario else None
        flux_out = json.dumps(flux) if flux is not None else (folder / "flux.json").read_text()
        sealed_out = sealed if sealed is not None else (folder / "sealedsecrets.json").read_text()
        rules.write_text(json.dumps([
            {"args": [FLUX_QUERY], "stdout": flux_out},
            {"args": [SEALED_SECRETS], "stdout": "" if sealed_rc else sealed_out,
             "stderr": sealed if sealed_rc else "", "rc": sealed_rc},
        ]))
        return log

    return use


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["status", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_all_ready(kubectl, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    log = kubectl("all-ready")
    code, out, err = _run(["--context", "fake-homelab"], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "7 of 7 Kustomizations Ready"
    rows = [line.split()[:2] for line in lines[lines.index("kustomizations (dependencies first)")
                                               + 1:lines.index("helm releases")]]
    assert [state for state, _ in rows] == ["ready"] * 7
    names = [name.split("/")[1] for _, name in rows]
    # Dependencies first, along dependsOn.
    assert names.index("databases") < names.index("family-assistant")
    assert names.index("networking") < names.index("n8n")
    assert "main@sha1:4f1c2d3" in out and "waits" not in out and "FAILING" not in out
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c["argv"] for c in calls] == [
        ["get", FLUX_QUERY, "-A", "-o", "json", "--request-timeout=30s"],
        ["get", SEALED_SECRETS, "-A", "-o", "json", "--request-timeout=30s"],
    ]
    assert {c["context"] for c in calls} == {"fake-homelab"}  # every call pinned to it


def test_a_chain_blocked_by_a_sealed_secret(kubectl, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
                                            ) -> None:
    kubectl("sealed-secret-blocked")
    code, out, _ = _run([], capsys)
    assert code == 1
    cause = ("SealedSecret databases/postgresql-credentials: no key could decrypt secret "
             "(postgres-password, family-assistant-password, n8n-password)")
    lines = out.splitlines()
    assert lines[0] == "4 of 7 Kustomizations Ready; not everything is Ready"
    by_name = {line.split()[1]: line for line in lines
               if line.startswith("  ") and "flux-system/" in line}
    assert by_name["flux-system/databases"].split()[0] == "FAILING"
    assert by_name["flux-system/databases"].endswith(cause)
    for app in ("n8n", "family-assistant"):
        assert by_name[f"flux-system/{app}"].split()[0] == "waiting"
        assert by_name[f"flux-system/{app}"].endswith(f"waits for databases: {cause}")
    assert by_name["flux-system/homelab-dashboard"].split()[0] == "ready"
    assert "sealed secrets" in lines and any("databases/postgresql-credentials" in line
                                             for line in lines[lines.index("sealed secrets"):])

    code, out, _ = _run(["--output", "json"], capsys)
    report = json.loads(out)
    assert code == 1 and report["ready"] is False
    ks = {k["name"]: k for k in report["kustomizations"]}
    assert ks["n8n"]["state"] == "waiting" and ks["n8n"]["waitsFor"] == ["databases"]
    assert ks["n8n"]["cause"] == cause and ks["n8n"]["dependsOn"] == [
        "flux-system/databases", "flux-system/networking"]
    assert ks["databases"]["state"] == "failing" and ks["databases"]["cause"] == cause
    assert ks["networking"]["state"] == "ready" and ks["networking"]["cause"] is None
    assert report["gitFailing"] == []


def test_a_longer_chain_names_every_link(kubectl, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
                                         ) -> None:
    flux = json.loads((FIXTURES / "sealed-secret-blocked" / "flux.json").read_text())
    for item in flux["items"]:
        if item["kind"] == "Kustomization" and item["metadata"]["name"] == "homelab-dashboard":
            item["spec"]["dependsOn"] = [{"name": "n8n"}]
            item["status"]["conditions"][0].update(
                status="False", reason="DependencyNotReady",
                message="dependency 'flux-system/n8n' is not ready")
    kubectl(flux=flux, sealed=(FIXTURES / "sealed-secret-blocked" / "sealedsecrets.json")
            .read_text())
    code, out, _ = _run(["--output", "json"], capsys)
    ks = {k["name"]: k for k in json.loads(out)["kustomizations"]}
    assert code == 1
    assert ks["homelab-dashboard"]["waitsFor"] == ["n8n", "databases"]
    assert ks["homelab-dashboard"]["cause"].startswith(
        "SealedSecret databases/postgresql-credentials: no key could decrypt secret")


def test_a_failing_git_repository_names_the_oci_fallback(kubectl,  # type: ignore[no-untyped-def]
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    kubectl("git-failing")
    code, out, _ = _run([], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[1] == (
        "GitRepository flux-system/flux-system is failing: failed to checkout and determine "
        "revision: unable to clone 'https://github.com/example/homelab-charts.git': dial tcp "
        "140.82.121.3:443: i/o timeout")
    assert lines[2].startswith("  the OCI fallback: push the tree to the local registry "
                               "(homelab-charts push oci://REGISTRY/REPOSITORY:TAG) and set "
                               "cluster.source.kind: oci")
    # The Kustomizations keep what they last applied.
    assert lines[0] == "7 of 7 Kustomizations Ready; not everything is Ready"

    # With the tree's OCIRepository in the cluster, status names it and who still reads Git.
    flux = json.loads((FIXTURES / "git-failing" / "flux.json").read_text())
    flux["items"].append({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
        "metadata": {"name": "homelab", "namespace": "flux-system", "generation": 1,
                     "labels": {"homelab-charts.io/tree-source": "true"}},
        "spec": {"interval": "1m", "url": "oci://registry.homelab.lan:5000/homelab-tree",
                 "ref": {"tag": "main"}, "insecure": True},
        "status": {"observedGeneration": 1,
                   "artifact": {"revision": "main@sha256:" + "e" * 64},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                                   "message": "stored artifact"}]}})
    for item in flux["items"]:
        if item["kind"] == "Kustomization" and item["metadata"]["name"] == "n8n":
            item["spec"]["sourceRef"] = {"kind": "OCIRepository", "name": "homelab"}
    kubectl(flux=flux, sealed=(FIXTURES / "git-failing" / "sealedsecrets.json").read_text())
    code, out, _ = _run(["--output", "json"], capsys)
    [fallback] = json.loads(out)["gitFailing"]
    assert fallback["oci"]["name"] == "homelab" and "n8n" not in fallback["readers"]
    assert fallback["advice"].startswith(
        "the OCI fallback, OCIRepository flux-system/homelab "
        "(oci://registry.homelab.lan:5000/homelab-tree), is Ready at main@sha256:")
    assert "still reading the GitRepository: flux-system, networking, databases" in \
        fallback["advice"]


def test_sealed_secrets_not_installed_is_a_note(kubectl,  # type: ignore[no-untyped-def]
                                                capsys: pytest.CaptureFixture[str]) -> None:
    flux = json.loads((FIXTURES / "all-ready" / "flux.json").read_text())
    kubectl(flux=flux, sealed='error: the server doesn\'t have a resource type "sealedsecrets"\n',
            sealed_rc=1)
    code, out, _ = _run([], capsys)
    assert code == 0
    assert out.splitlines()[-1] == ("note: SealedSecrets not read: error: the server doesn't "
                                    "have a resource type \"sealedsecrets\"")


def test_kubectl_errors_are_one_line(kubectl, tmp_path: Path,  # type: ignore[no-untyped-def]
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules.json"
    kubectl("all-ready")
    rules.write_text(json.dumps([{"args": [FLUX_QUERY], "rc": 1,
                                  "stderr": "error: You must be logged in to the server\n"}]))
    code, _, err = _run([], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "You must be logged in to the server (is Flux installed?)" in err
    rules.write_text(json.dumps([{"args": [FLUX_QUERY], "stdout": "not json"}]))
    code, _, err = _run([], capsys)
    assert code == 2 and "did not print JSON" in err
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    code, _, err = _run([], capsys)
    assert code == 2 and err == "homelab-charts status: error: kubectl: not found on PATH: " \
                                "install kubectl\n"


# -- one cluster of a tree of two ---------------------------------------------------------

def _ready(name: str, depends: tuple[str, ...] = ()) -> dict:
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system", "generation": 1},
            "spec": {"dependsOn": [{"name": d} for d in depends],
                     "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
            "status": {"observedGeneration": 1, "lastAppliedRevision": "main@sha1:abc",
                       "conditions": [{"type": "Ready", "status": "True",
                                       "reason": "ReconciliationSucceeded"}]}}


def _two_cluster_tree(root: Path) -> Path:
    from tests.scripts.gitops_sandbox import CLUSTER_UID, OTHER_UID, identity
    from tests.two_clusters import ks, two_clusters

    files = two_clusters()
    files["clusters/prod/more.yaml"] = ks("reports", "apps/reports", ("apps",), cluster="prod")
    files["clusters/lab/cluster-identity.yaml"] = identity(CLUSTER_UID, "lab")
    files["clusters/prod/cluster-identity.yaml"] = identity(OTHER_UID, "prod")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


#: What cluster lab runs: its own Kustomizations (cache, not prod's reports).
LAB_LIVE = {"items": [_ready("flux-system"), _ready("databases"), _ready("cache"),
                      _ready("apps", ("cache",)), _ready("shared"),
                      _ready("extras", ("shared",)),
                      {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                       "metadata": {"name": "flux-system", "namespace": "flux-system"},
                       "status": {"conditions": [{"type": "Ready", "status": "True"}]}}]}


def test_status_of_one_cluster_of_the_tree(kubectl, tmp_path: Path,  # type: ignore[no-untyped-def]
                                           capsys: pytest.CaptureFixture[str]) -> None:
    root = _two_cluster_tree(tmp_path / "repo")
    log = kubectl(flux=LAB_LIVE, sealed='{"items": []}')
    code, out, err = _run(["--cluster", "lab", "--root", str(root)], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "cluster lab: 6 of 6 Kustomizations Ready"
    calls = [json.loads(line)["argv"] for line in log.read_text().splitlines()]
    assert calls[0][:4] == ["get", "namespace", "kube-system", "-o"]
    code, out, _ = _run(["--cluster", "lab", "--root", str(root), "--output", "json"], capsys)
    doc = json.loads(out)
    assert (doc["cluster"], doc["missing"], doc["unexpected"], doc["ready"]) == \
        ("lab", [], [], True)


def test_status_refuses_the_context_of_another_cluster(  # type: ignore[no-untyped-def]
        kubectl, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _two_cluster_tree(tmp_path / "repo")
    log = kubectl(flux=LAB_LIVE, sealed='{"items": []}')
    code, out, err = _run(["--cluster", "prod", "--root", str(root)], capsys)
    assert code == 2 and out == ""
    assert "wrong cluster: clusters/prod is bound to the cluster with kube-system UID " \
           "9a0e6b1c-" in err and err.count("\n") == 1
    assert not [c for c in log.read_text().splitlines() if "kustomizations" in c]
    code, _, err = _run(["--cluster", "staging", "--root", str(root)], capsys)
    assert code == 2 and "no such cluster folder in the tree (clusters: lab, prod)" in err


def test_status_lists_what_the_cluster_lacks(kubectl, tmp_path: Path,  # type: ignore[no-untyped-def]
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """prod not bound: not checked (a note); lab's objects are not prod's."""
    root = _two_cluster_tree(tmp_path / "repo")
    (root / "clusters/prod/cluster-identity.yaml").unlink()
    kubectl(flux=LAB_LIVE, sealed='{"items": []}')
    code, out, _ = _run(["--cluster", "prod", "--root", str(root)], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[:3] == [
        "cluster prod: 6 of 6 Kustomizations Ready; not everything is Ready",
        "not in the cluster (clusters/prod defines them): flux-system/reports",
        "in the cluster, not defined for it by clusters/prod: flux-system/cache"]
    assert lines[-1] == ("note: clusters/prod is bound to no cluster (homelab-charts cluster "
                         "bind): the context was not checked to be it")
