"""scripts/manual-deploy.sh against a fixture tree and a fake kubectl."""

from __future__ import annotations

import json

from tests.scripts.gitops_sandbox import CLUSTER_UID, OTHER_UID, Sandbox, git, identity

MUTATING = ("apply", "delete", "create", "patch", "replace", "rollout", "wait", "scale")

APPLY_ORDER = [
    ["-f", "clusters/homelab/namespaces.yaml"],
    ["-f", "clusters/homelab/cluster-identity.yaml"],
    ["-k", "clusters/homelab/secrets"],
    ["-k", "infrastructure/networking"],
    ["-k", "infrastructure/observability"],
    ["-k", "infrastructure/databases"],
    ["-k", "apps/family-assistant"],
    ["-k", "apps/n8n"],
]


def applies(calls: list[list[str]]) -> list[list[str]]:
    out = []
    for argv in calls:
        if argv[:1] == ["apply"]:
            flag = "-f" if "-f" in argv else "-k"
            out.append([flag, argv[argv.index(flag) + 1]])
    return out


def test_applies_in_flux_order_waits_and_records_the_commit(sandbox: Sandbox) -> None:
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 0, result.stderr
    calls = sandbox.calls()
    assert applies(calls) == [*APPLY_ORDER, ["-f", "-"]]  # the tree, then the record
    for argv in calls:
        if argv[:1] == ["apply"]:
            assert "--server-side" in argv and "--force-conflicts" in argv
    # Readiness: each workload of a layer is waited for before the next layer is applied.
    flat = [" ".join(argv) for argv in calls]
    networking = flat.index(next(c for c in flat if "-k infrastructure/networking" in c))
    traefik = flat.index(
        next(c for c in flat if c.startswith("rollout status deployment.apps/traefik")))
    observability = flat.index(next(c for c in flat if "-k infrastructure/observability" in c))
    assert networking < traefik < observability
    assert "rollout status statefulset.apps/postgresql --namespace databases --timeout=5m" in flat
    assert "rollout status deployment.apps/n8n --namespace n8n --timeout=5m" in flat
    # The cluster was checked before anything was applied.
    assert calls.index(["version", "--request-timeout=15s"]) < flat.index(
        next(c for c in flat if c.startswith("apply")))
    commit = git(sandbox.root, "rev-parse", "HEAD")
    record = json.loads(sandbox.entries()[-1]["stdin"])
    assert record["metadata"] == {
        "name": "homelab-charts-applied", "namespace": "kube-system",
        "labels": {"app.kubernetes.io/managed-by": "manual-deploy"}}
    assert record["data"]["commit"] == commit
    assert record["data"]["subject"] == "release: family-assistant-backend v2.1.1"
    assert record["data"]["layers"] == "all"
    assert f"applied commit {commit}" in result.stdout
    # Every call that reached the cluster named the context resolved at start, once.
    sandbox.assert_pinned("fake-homelab")
    assert calls.count(["config", "current-context"]) == 1
    assert calls.index(["config", "current-context"]) == 0


def test_dry_run_prints_the_plan_and_changes_nothing(sandbox: Sandbox) -> None:
    result = sandbox.run("manual-deploy.sh", "--dry-run")
    assert result.returncode == 0, result.stderr
    calls = sandbox.calls()
    assert not [c for c in calls if c[0] in MUTATING], calls
    assert ["version", "--request-timeout=15s"] not in calls  # works without a cluster
    out = result.stdout
    assert "dry run: nothing is applied" in out
    positions = [out.index(f"{flag} {path}") for flag, path in APPLY_ORDER]
    assert positions == sorted(positions)
    assert ("kubectl --context fake-homelab apply --server-side --force-conflicts "
            "--field-manager=kustomize-controller -k infrastructure/databases") in out
    assert ("kubectl --context fake-homelab rollout status statefulset.apps/postgresql "
            "--namespace databases") in out
    assert ("kubectl --context fake-homelab get deployment.apps --all-namespaces -l "
            "app.kubernetes.io/managed-by=homelab-charts\\,homelab-charts.io/cluster=homelab"
            ) in out
    assert "kubectl --context fake-homelab apply --server-side --force-conflicts " \
        "--field-manager=homelab-charts-manual -f -" in out  # the record
    shown = [line for line in out.splitlines() if line.startswith("  $ kubectl")]
    assert shown and all(line.startswith("  $ kubectl --context fake-homelab ") for line in shown)
    assert "8 step(s) planned" in out


def test_only_applies_one_layer_and_skips_prune(sandbox: Sandbox) -> None:
    result = sandbox.run("manual-deploy.sh", "--only", "apps")
    assert result.returncode == 0, result.stderr
    assert applies(sandbox.calls()) == [*APPLY_ORDER[-2:], ["-f", "-"]]
    assert "prune skipped" in result.stderr
    assert not [c for c in sandbox.calls() if c[:1] == ["get"] and c[1] != "namespace"]
    assert json.loads(sandbox.entries()[-1]["stdin"])["data"]["layers"] == "apps"


def test_only_secrets_applies_namespaces_and_secrets(sandbox: Sandbox) -> None:
    result = sandbox.run("manual-deploy.sh", "--only", "secrets", "--no-prune")
    assert result.returncode == 0, result.stderr
    assert applies(sandbox.calls())[:-1] == APPLY_ORDER[:3]


def test_only_rejects_an_unknown_layer(sandbox: Sandbox) -> None:
    result = sandbox.run("manual-deploy.sh", "--only", "databases")
    assert result.returncode == 2
    assert "--only takes secrets, infrastructure or apps" in result.stderr


def test_refuses_uncommitted_changes(sandbox: Sandbox) -> None:
    deployment = sandbox.root / "apps/n8n/n8n.yaml"
    deployment.write_text(deployment.read_text().replace("port: 80", "port: 8080"))
    (sandbox.root / "apps/n8n/extra.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: n8n}\n")
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 2
    assert "uncommitted changes" in result.stderr
    assert "apps/n8n/n8n.yaml" in result.stderr and "apps/n8n/extra.yaml" in result.stderr
    assert not [c for c in sandbox.calls() if c[0] in MUTATING]
    # A dry run changes nothing: it warns and shows the plan of the files as they are.
    dry = sandbox.run("manual-deploy.sh", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "warning: uncommitted changes" in dry.stderr and "apps/n8n/extra.yaml" in dry.stderr
    assert not [c for c in sandbox.calls() if c[0] in MUTATING]


def test_changes_outside_the_tree_do_not_block(sandbox: Sandbox) -> None:
    (sandbox.root / "notes.txt").write_text("scratch\n")
    assert sandbox.run("manual-deploy.sh", "--dry-run").returncode == 0


def test_kubectl_missing(sandbox: Sandbox) -> None:
    sandbox.remove_kubectl()
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 2
    assert "kubectl not found on PATH" in result.stderr


def test_no_cluster_access(sandbox: Sandbox) -> None:
    sandbox.rule("version", rc=1, stderr="error: Unable to connect to the server: dial tcp "
                 "10.0.0.1:6443: connect: connection refused\n")
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 2
    assert "cannot reach the cluster of context 'fake-homelab'" in result.stderr
    assert "Unable to connect to the server" in result.stderr
    assert not [c for c in sandbox.calls() if c[0] in MUTATING]


def test_rollout_timeout_stops_before_the_next_layer(sandbox: Sandbox) -> None:
    sandbox.rule("rollout", "statefulset.apps/postgresql", rc=1,
                 stderr="error: timed out waiting for the condition\n")
    result = sandbox.run("manual-deploy.sh", "--timeout", "30s")
    assert result.returncode == 1
    assert ("statefulset.apps/postgresql in databases not ready within 30s") in result.stderr
    applied = applies(sandbox.calls())
    assert ["-k", "infrastructure/databases"] in applied
    assert ["-k", "apps/family-assistant"] not in applied
    assert ["-f", "-"] not in applied  # nothing recorded: the commit was not fully applied


def test_failed_apply_stops(sandbox: Sandbox) -> None:
    sandbox.rule("apply", "infrastructure/networking", rc=1,
                 stderr='error: no matches for kind "HelmRelease"\n')
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 1
    assert "step 4 (infrastructure networking) failed" in result.stderr
    assert len(applies(sandbox.calls())) == 4


def test_no_wait_skips_readiness(sandbox: Sandbox) -> None:
    result = sandbox.run("manual-deploy.sh", "--no-wait", "--no-prune")
    assert result.returncode == 0, result.stderr
    assert not [c for c in sandbox.calls() if c[:1] in (["rollout"], ["wait"])]


def test_prune_deletes_only_labelled_orphans(sandbox: Sandbox) -> None:
    sandbox.rule("get", "deployment.apps", stdout=(
        "databases   qdrant        <none>\n"          # in the tree: kept
        "databases   old-exporter  <none>\n"          # removed from Git: pruned
        "n8n         n8n-worker    HorizontalPodAutoscaler\n"  # owned by another object: kept
    ))
    sandbox.rule("get", "configmap", stdout="<none>   nothing   <none>\n")
    sandbox.rule("get", "opentelemetrycollector.opentelemetry.io", rc=1,
                 stderr="error: the server doesn't have a resource type "
                        '"opentelemetrycollector"\n')
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 0, result.stderr
    gets = [c for c in sandbox.calls() if c[:1] == ["get"] and c[1] != "namespace"]
    # Only this cluster's objects: managed-by alone would match another tree's objects.
    assert all(c[c.index("-l") + 1] == "app.kubernetes.io/managed-by=homelab-charts,"
               "homelab-charts.io/cluster=homelab" for c in gets)
    kinds = {c[1] for c in gets}
    assert {"statefulset.apps", "sealedsecret.bitnami.com", "service"} <= kinds
    assert not kinds & {"namespace", "persistentvolumeclaim", "secret"}
    deletes = [c for c in sandbox.calls() if c[:1] == ["delete"]]
    assert deletes == [  # kinds in sorted order
        ["delete", "configmap", "nothing", "--wait=false"],
        ["delete", "deployment.apps", "old-exporter", "--wait=false", "--namespace", "databases"],
    ]
    assert "prune: 2 object(s) deleted" in result.stdout
    sandbox.assert_pinned("fake-homelab")


def test_prune_listing_error_fails(sandbox: Sandbox) -> None:
    sandbox.rule("get", "service", rc=1, stderr="error: forbidden\n")
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 1
    assert "prune: listing service failed: error: forbidden" in result.stderr


def test_target_namespace_is_passed_to_kubectl(sandbox: Sandbox) -> None:
    import yaml

    apps_file = sandbox.root / "clusters/homelab/apps.yaml"
    docs = list(yaml.safe_load_all(apps_file.read_text()))
    docs[1]["spec"]["targetNamespace"] = "n8n"
    apps_file.write_text("---\n".join(yaml.safe_dump(d) for d in docs))
    git(sandbox.root, "commit", "-qam", "n8n: targetNamespace")
    result = sandbox.run("manual-deploy.sh", "--only", "apps", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "-k apps/n8n --namespace n8n" in result.stdout


def test_invalid_tree_is_refused_with_file_object_and_field(sandbox: Sandbox) -> None:
    apps_file = sandbox.root / "clusters/homelab/apps.yaml"
    apps_file.write_text(apps_file.read_text().replace("name: observability", "name: monitoring"))
    git(sandbox.root, "commit", "-qam", "broken dependsOn")
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 2
    assert ("clusters/homelab/apps.yaml: Kustomization family-assistant: spec.dependsOn[1].name: "
            "no Kustomization 'monitoring'") in result.stderr
    assert not [c for c in sandbox.calls() if c[0] in MUTATING]


def test_not_a_git_repository(sandbox: Sandbox) -> None:
    import shutil

    shutil.rmtree(sandbox.root / ".git")
    result = sandbox.run("manual-deploy.sh", "--dry-run")
    assert result.returncode == 2
    assert "is not a Git repository" in result.stderr


def test_unpushed_commit_warns(sandbox: Sandbox) -> None:
    result = sandbox.run("manual-deploy.sh", "--dry-run")
    assert "is on no remote branch" in result.stderr


def test_help(sandbox: Sandbox) -> None:
    result = sandbox.run("manual-deploy.sh", "--help")
    assert result.returncode == 0
    assert "--dry-run" in result.stdout and "set -euo" not in result.stdout


# -- bound to one cluster (issue 11, findings 1 and 2, the late failure) ------------------

def test_another_cluster_is_refused_before_anything_is_applied(sandbox: Sandbox) -> None:
    sandbox.use_context("work-prod")
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert message == (
        f"manual-deploy: error: wrong cluster: clusters/homelab is bound to cluster 'homelab' "
        f"(kube-system UID {CLUSTER_UID}), but context 'work-prod' is the cluster with "
        f"kube-system UID {OTHER_UID}; nothing was changed (pass --context NAME of the bound "
        "cluster, or rebind with homelab-charts cluster bind)")
    assert not [c for c in sandbox.calls() if c[0] in MUTATING], sandbox.calls()
    sandbox.assert_pinned("work-prod")  # the check itself read the context it names
    # verify-deployment refuses the same way, before any check.
    verify = sandbox.run("verify-deployment.sh")
    assert verify.returncode == 2 and "wrong cluster" in verify.stderr
    assert not [c for c in sandbox.calls() if c[:1] == ["rollout"]]
    # --context names the bound cluster whatever the current context is.
    assert sandbox.run("manual-deploy.sh", "--context", "work-prod").returncode == 2
    sandbox.use_context("fake-homelab")
    refused = sandbox.run("manual-deploy.sh", "--context", "work-prod")
    assert refused.returncode == 2 and "but context 'work-prod' is the cluster" in refused.stderr
    assert not [c for c in sandbox.calls() if c[0] in MUTATING]


# -- one context for the whole run --------------------------------------------------------

def test_a_context_switched_mid_run_is_never_used(sandbox: Sandbox) -> None:
    # Another terminal runs `kubectl config use-context work-prod` while the networking
    # layer is being applied: the run keeps to the context it checked at start.
    sandbox.rule("apply", "infrastructure/networking", then_context="work-prod")
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 0, result.stderr
    assert sandbox.current_context() == "work-prod"  # the switch did happen
    assert applies(sandbox.calls()) == [*APPLY_ORDER, ["-f", "-"]]
    entries = sandbox.entries()
    switch = next(i for i, e in enumerate(entries) if "infrastructure/networking" in e["argv"])
    after = [e for e in sandbox.cluster_calls() if e in entries[switch + 1:]]
    assert [e for e in after if e["argv"][0] in MUTATING]  # the rest of the run ...
    assert not [e for e in sandbox.entries() if e["cluster"] == "work-prod"]  # ... went here
    sandbox.assert_pinned("fake-homelab")
    assert [e["argv"] for e in entries].count(["config", "current-context"]) == 1
    # The prune and the record, too (both after the switch).
    sandbox.rules.clear()
    sandbox.use_context("fake-homelab")
    sandbox.rule("apply", "infrastructure/networking", then_context="work-prod")
    sandbox.rule("get", "deployment.apps", stdout="databases   old-exporter  <none>\n")
    sandbox.log.unlink()
    assert sandbox.run("manual-deploy.sh").returncode == 0
    [delete] = [e for e in sandbox.entries() if e["argv"][0] == "delete"]
    assert (delete["context"], delete["cluster"]) == ("fake-homelab", "fake-homelab")
    assert sandbox.entries()[-1]["argv"][:1] == ["apply"]  # the record ConfigMap
    sandbox.assert_pinned("fake-homelab")


def test_the_context_option_pins_the_run(sandbox: Sandbox) -> None:
    sandbox.use_context("work-prod")  # current, but not the one asked for
    result = sandbox.run("manual-deploy.sh", "--context", "fake-homelab")
    assert result.returncode == 0, result.stderr
    assert "to context 'fake-homelab' (cluster 'homelab'" in result.stdout
    assert ["config", "current-context"] not in sandbox.calls()  # --context: never read
    sandbox.assert_pinned("fake-homelab")
    dry = sandbox.run("manual-deploy.sh", "--context", "fake-homelab", "--dry-run")
    assert "$ kubectl --context fake-homelab apply" in dry.stdout
    unknown = sandbox.run("manual-deploy.sh", "--context", "nope")
    assert unknown.returncode == 2
    assert ("cannot reach the cluster of context 'nope' (kubectl version: error: context "
            '"nope" does not exist)') in unknown.stderr
    assert "--context needs a value" in sandbox.run("manual-deploy.sh", "--context").stderr


def test_no_current_context(sandbox: Sandbox) -> None:
    sandbox.use_context("")
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 2
    assert ("no kubectl context: pass --context NAME (or select one: kubectl config "
            "use-context NAME)") in result.stderr
    assert not sandbox.cluster_calls()
    dry = sandbox.run("manual-deploy.sh", "--dry-run")  # a dry run needs no cluster
    assert dry.returncode == 0, dry.stderr
    assert "warning: no current kubectl context" in dry.stderr
    assert "$ kubectl --context CONTEXT apply" in dry.stdout
    assert sandbox.run("manual-deploy.sh", "--context", "fake-homelab").returncode == 0


def test_an_unbound_tree_is_refused(sandbox: Sandbox) -> None:
    (sandbox.root / "clusters/homelab/cluster-identity.yaml").write_text(identity(uid=None))
    git(sandbox.root, "commit", "-qam", "unbound")
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 2
    assert ("clusters/homelab is bound to no cluster (clusters/homelab/cluster-identity.yaml "
            "records no kube-system UID); refusing to touch context 'fake-homelab'"
            ) in result.stderr
    assert not [c for c in sandbox.calls() if c[0] in MUTATING]
    (sandbox.root / "clusters/homelab/cluster-identity.yaml").unlink()
    git(sandbox.root, "commit", "-qam", "no identity")
    assert "bound to no cluster" in sandbox.run("manual-deploy.sh").stderr
    dry = sandbox.run("manual-deploy.sh", "--dry-run")  # a dry run warns
    assert dry.returncode == 0 and "bound to no cluster: a real run refuses" in dry.stderr


def test_a_suspended_kustomization_is_kept_not_applied_nor_pruned(sandbox: Sandbox) -> None:
    import yaml

    apps_file = sandbox.root / "clusters/homelab/apps.yaml"
    docs = list(yaml.safe_load_all(apps_file.read_text()))
    docs[1]["spec"]["suspend"] = True  # n8n
    apps_file.write_text("---\n".join(yaml.safe_dump(d) for d in docs))
    git(sandbox.root, "commit", "-qam", "n8n: suspended")
    sandbox.rule("get", "deployment.apps", stdout=(
        "n8n         n8n           <none>\n"           # the suspended Kustomization's: kept
        "databases   old-exporter  <none>\n"))         # removed from Git: pruned
    sandbox.rule("get", "service", stdout="n8n   n8n   <none>\n")
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 0, result.stderr
    assert ["-k", "apps/n8n"] not in applies(sandbox.calls())
    assert "n8n (apps/n8n) suspended in Git: not applied, its objects are kept" in result.stdout
    assert not [c for c in sandbox.calls() if "deployment.apps/n8n" in c]  # not waited for
    deletes = [c for c in sandbox.calls() if c[:1] == ["delete"]]
    assert deletes == [
        ["delete", "deployment.apps", "old-exporter", "--wait=false", "--namespace", "databases"]]


def test_a_file_missing_at_the_last_step_stops_before_the_first_apply(sandbox: Sandbox) -> None:
    (sandbox.root / "apps/n8n/n8n.yaml").unlink()  # still listed in its kustomization.yaml
    git(sandbox.root, "commit", "-qam", "n8n: file lost")
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 2
    assert ("step 8/8 (apps n8n): cannot render apps/n8n (see the error above); nothing was "
            "applied") in result.stderr
    assert ["kustomize", "apps/n8n"] in sandbox.calls()
    assert not [c for c in sandbox.calls() if c[0] in MUTATING]


def test_dry_run_warns_about_an_untracked_file(sandbox: Sandbox) -> None:
    (sandbox.root / "apps/n8n/notes.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes, namespace: n8n}\n")
    result = sandbox.run("manual-deploy.sh", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "warning: uncommitted changes in the tree" in result.stderr
    assert "?? apps/n8n/notes.yaml" in result.stderr
    assert "8 step(s) planned" in result.stdout
    assert sandbox.run("manual-deploy.sh").returncode == 2  # a real run still refuses


def test_the_layered_tree_is_applied_in_dependency_order_once_bound(
        layered_sandbox: Sandbox) -> None:
    """The tree as synthesis writes it now: the cluster identity in clusters/homelab/,
    then the `namespaces` Kustomization first; the binding is checked before anything
    is applied."""
    result = layered_sandbox.run("manual-deploy.sh")
    assert result.returncode == 0, result.stderr
    calls = layered_sandbox.calls()
    assert applies(calls) == [
        ["-f", "clusters/homelab/cluster-identity.yaml"],
        ["-k", "infrastructure/namespaces"],
        ["-k", "infrastructure/secrets"],
        ["-k", "infrastructure/networking"],
        ["-k", "infrastructure/observability"],
        ["-k", "infrastructure/databases"],
        ["-k", "apps/family-assistant"],
        ["-k", "apps/n8n"],
        ["-f", "-"],
    ]
    flat = [" ".join(argv) for argv in calls]
    assert any(c.startswith("get namespace kube-system") for c in flat[:flat.index(
        next(c for c in flat if c.startswith("apply")))])
    # Unbound (no UID in the identity): refused, nothing applied.
    identity_file = layered_sandbox.root / "clusters/homelab/cluster-identity.yaml"
    identity_file.write_text(identity(uid=None))
    git(layered_sandbox.root, "commit", "-qam", "unbound")
    layered_sandbox.log.unlink()
    refused = layered_sandbox.run("manual-deploy.sh")
    assert refused.returncode == 2 and "bound to no cluster" in refused.stderr
    assert not [c for c in layered_sandbox.calls() if c[0] in MUTATING]


def test_a_checkout_changed_mid_run_stops_before_the_next_apply(sandbox: Sandbox) -> None:
    # `kubectl apply -k` reads the files again: an edit (or a `git checkout`) in another
    # terminal after the render would apply files that were never rendered nor checked.
    n8n = sandbox.root / "apps/n8n/n8n.yaml"
    sandbox.rule("apply", "infrastructure/networking",
                 then_write=("apps/n8n/n8n.yaml", n8n.read_text().replace("80", "8080")))
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 1
    assert ("the checkout changed during the run (HEAD " in result.stderr
            and "changed:  M apps/n8n/n8n.yaml); stopped before step 5 (infrastructure "
                "observability)" in result.stderr), result.stderr
    assert applies(sandbox.calls()) == APPLY_ORDER[:4]  # nothing after it, no prune/record
    assert not [c for c in sandbox.calls() if c[0] == "delete"]
    # A new commit checked out mid-run is caught the same way.
    git(sandbox.root, "checkout", "-q", "--", "apps/n8n/n8n.yaml")
    sandbox.rules.clear()
    sandbox.rule("rollout", "deployment.apps/backend",
                 then_write=(".git/HEAD", "ref: refs/heads/other\n"))
    git(sandbox.root, "branch", "other")
    git(sandbox.root, "commit", "-q", "--allow-empty", "-m", "later")  # on main
    sandbox.log.unlink()
    result = sandbox.run("manual-deploy.sh")
    assert result.returncode == 1
    assert "stopped before step 8 (apps n8n)" in result.stderr, result.stderr
    assert ["-k", "apps/n8n"] not in applies(sandbox.calls())
