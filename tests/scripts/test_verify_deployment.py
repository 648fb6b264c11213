"""scripts/verify-deployment.sh against a fixture tree and a fake kubectl."""

from __future__ import annotations

from tests.scripts.gitops_sandbox import Sandbox

# The fixture tree: 6 workloads, 6 Services with selectors, pods in 5 namespaces.
WORKLOADS = 6
SERVICES = 6
POD_NAMESPACES = 5


def healthy(sandbox: Sandbox, *, flux: bool = False) -> None:
    missing = 'Error from server (NotFound): "kustomizations" not found\n'
    sandbox.rule("get", "crd", rc=0 if flux else 1, stderr="" if flux else missing)
    sandbox.rule("get", "endpointslices.discovery.k8s.io", stdout="false\ntrue\n")
    sandbox.rule("get", "pods", stdout="web-1 Running True\njob-x Succeeded False\n")


def summary(result) -> str:
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    return lines[-1]


def test_all_healthy(sandbox: Sandbox) -> None:
    healthy(sandbox)
    result = sandbox.run("verify-deployment.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    total = WORKLOADS + SERVICES + POD_NAMESPACES
    assert summary(result) == (
        f"verify-deployment: OK: all {total} checks passed on context 'fake-homelab'")
    calls = sandbox.calls()
    assert ["rollout", "status", "statefulset.apps/postgresql", "--namespace", "databases",
            "--timeout=2m"] in calls
    assert "ok    endpoints service/backend in family-assistant" in result.stdout
    assert "Flux is not installed" in result.stdout
    assert not [c for c in calls if c[0] in ("apply", "delete", "patch")]
    sandbox.assert_pinned("fake-homelab")


def test_checks_keep_to_the_context_resolved_at_start(sandbox: Sandbox) -> None:
    healthy(sandbox, flux=True)
    sandbox.rule("get", "kustomizations.kustomize.toolkit.fluxcd.io",
                 stdout="|True|Applied revision: main@sha1:abc")
    sandbox.rule("rollout", "deployment.apps/traefik", then_context="work-prod")
    result = sandbox.run("verify-deployment.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox.current_context() == "work-prod"
    assert not [e for e in sandbox.entries() if e["cluster"] == "work-prod"]
    sandbox.assert_pinned("fake-homelab")
    assert summary(result).endswith("on context 'fake-homelab'")
    # --context: that cluster, whatever is current; the wrong one is refused.
    sandbox.log.unlink()
    assert sandbox.run("verify-deployment.sh", "--context", "fake-homelab").returncode == 0
    assert ["config", "current-context"] not in sandbox.calls()
    sandbox.assert_pinned("fake-homelab")
    sandbox.use_context("fake-homelab")
    wrong = sandbox.run("verify-deployment.sh", "--context", "work-prod")
    assert wrong.returncode == 2 and "but context 'work-prod' is the cluster" in wrong.stderr


def test_rollout_timeout_fails_with_a_one_line_summary(sandbox: Sandbox) -> None:
    healthy(sandbox)
    sandbox.rule("rollout", "deployment.apps/backend", rc=1,
                 stderr="error: timed out waiting for the condition\n")
    result = sandbox.run("verify-deployment.sh", "--timeout", "10s")
    assert result.returncode == 1
    assert ("FAIL  rollout deployment.apps/backend in family-assistant: not complete within "
            "10s: error: timed out waiting for the condition") in result.stdout
    assert summary(result) == (
        "verify-deployment: FAILED: 1 of 17 checks failed on context 'fake-homelab': "
        "rollout deployment.apps/backend in family-assistant")


def test_pods_not_ready_and_services_without_endpoints(sandbox: Sandbox) -> None:
    sandbox.rule("get", "crd", rc=1)
    sandbox.rule("get", "endpointslices.discovery.k8s.io", "kubernetes.io/service-name=n8n",
                 stdout="")
    sandbox.rule("get", "endpointslices.discovery.k8s.io", stdout="true\n")
    sandbox.rule("get", "pods", "n8n", stdout="n8n-0 Running False\nn8n-1 Pending \n")
    sandbox.rule("get", "pods", stdout="ok-0 Running True\n")
    result = sandbox.run("verify-deployment.sh")
    assert result.returncode == 1
    assert "FAIL  pods in n8n: not Ready: n8n-0 (Running) n8n-1 (Pending)" in result.stdout
    assert ("FAIL  endpoints service/n8n in n8n: no ready endpoint") in result.stdout
    assert summary(result).startswith("verify-deployment: FAILED: 2 of 17 checks failed")


def test_flux_kustomizations_checked_when_flux_is_installed(sandbox: Sandbox) -> None:
    healthy(sandbox, flux=True)
    sandbox.rule("get", "kustomizations.kustomize.toolkit.fluxcd.io", "n8n",
                 stdout="true||")
    sandbox.rule("get", "kustomizations.kustomize.toolkit.fluxcd.io", "databases",
                 stdout="|False|kustomize build failed: accumulating resources")
    sandbox.rule("get", "kustomizations.kustomize.toolkit.fluxcd.io", "networking", rc=1,
                 stderr='Error from server (NotFound): kustomizations "networking" not found\n')
    sandbox.rule("get", "kustomizations.kustomize.toolkit.fluxcd.io",
                 stdout="|True|Applied revision: main@sha1:abc")
    result = sandbox.run("verify-deployment.sh")
    assert result.returncode == 1
    out = result.stdout
    assert "ok    flux kustomization family-assistant" in out
    assert "info  flux kustomization n8n is suspended (manual mode)" in out
    assert ("FAIL  flux kustomization databases: not Ready: kustomize build failed: "
            "accumulating resources") in out
    assert 'FAIL  flux kustomization networking: Error from server (NotFound)' in out
    assert summary(result).endswith(
        "flux kustomization networking; flux kustomization databases")


def test_no_flux_skips_the_flux_checks(sandbox: Sandbox) -> None:
    healthy(sandbox, flux=True)
    result = sandbox.run("verify-deployment.sh", "--no-flux")
    assert result.returncode == 0, result.stdout
    assert not [c for c in sandbox.calls() if "crd" in c or any("fluxcd" in a for a in c)]


def test_only_one_layer(sandbox: Sandbox) -> None:
    healthy(sandbox)
    result = sandbox.run("verify-deployment.sh", "--only", "apps")
    assert result.returncode == 0
    assert "rollout deployment.apps/traefik" not in result.stdout
    assert "all 6 checks passed" in summary(result)


def test_kubectl_missing(sandbox: Sandbox) -> None:
    sandbox.remove_kubectl()
    result = sandbox.run("verify-deployment.sh")
    assert result.returncode == 2
    assert "kubectl not found on PATH" in result.stderr


def test_no_cluster_access(sandbox: Sandbox) -> None:
    sandbox.rule("version", rc=1,
                 stderr="The connection to the server 10.0.0.1:6443 was refused\n")
    result = sandbox.run("verify-deployment.sh")
    assert result.returncode == 2
    assert ("cannot reach the cluster of context 'fake-homelab' (kubectl version: The "
            "connection to the server 10.0.0.1:6443 was refused)") in result.stderr
    assert not [c for c in sandbox.calls() if c[0] == "rollout"]


def test_render_failure_is_a_failed_check(sandbox: Sandbox) -> None:
    healthy(sandbox)
    sandbox.rule("kustomize", "apps/n8n", rc=1, stderr="error: accumulating resources\n")
    result = sandbox.run("verify-deployment.sh")
    assert result.returncode == 1
    assert "FAIL  render apps/n8n: error: accumulating resources" in result.stdout


def test_bad_timeout(sandbox: Sandbox) -> None:
    result = sandbox.run("verify-deployment.sh", "--timeout", "soon")
    assert result.returncode == 2
    assert "--timeout takes a duration" in result.stderr
