"""The GitHub Actions workflows: GitHub's schema, actionlint, and the pipeline's rules."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from homelab_charts import config

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
VENV_BIN = Path(sys.executable).parent
FILES = sorted(WORKFLOWS.glob("*.yaml"))


def tool(name: str) -> str:
    found = VENV_BIN / name
    if found.exists():
        return str(found)
    on_path = shutil.which(name)
    if on_path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return on_path


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def run_text(job: dict[str, Any]) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def test_the_workflows_exist() -> None:
    assert {f.name for f in FILES} >= {"ci.yaml", "build-service.yaml", "release.yaml"}


def test_github_workflow_schema() -> None:
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
         *map(str, FILES)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint() -> None:
    exe = tool("actionlint")
    # actionlint runs shellcheck over every `run:` script when shellcheck is on PATH.
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([exe, "-no-color"], cwd=REPO, capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The lint is real: a bad expression and an unknown runner label are reported."""
    exe = tool("actionlint")
    bad = tmp_path / "bad.yaml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: [self-hosted, nowhere]\n"
                   "    steps:\n      - run: echo ${{ github.nope.really }}\n")
    config_file = str(REPO / ".github/actionlint.yaml")
    result = subprocess.run([exe, "-no-color", "-config-file", config_file, str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "nowhere" in result.stdout


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_are_pinned_by_full_sha_with_a_version_comment(path: Path) -> None:
    found = 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = USES.match(line)
        if not match:
            continue
        ref, rest = match.groups()
        if ref.startswith("./"):
            continue  # a workflow of this repository
        found += 1
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{path.name}:{number}: {ref}"
        assert re.search(r"#\s*v\d+\.\d+\.\d+\b", rest), \
            f"{path.name}:{number}: pinned SHA without a '# vX.Y.Z' comment"
    assert found


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_least_privilege_permissions(path: Path) -> None:
    workflow = load(path.name)
    assert workflow["permissions"] == {}, "default token permissions must be none"
    for name, job in workflow["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{path.name}: job {name} sets no permissions"
        assert "write-all" not in str(perms)
        for scope, level in perms.items():
            if level == "write":
                assert (path.name, name, scope) in {
                    ("build-service.yaml", "build", "security-events"),
                    ("release.yaml", "build", "security-events"),
                    ("release.yaml", "push", "contents"),
                    ("ci.yaml", "pr-diff", "pull-requests"),
                }, f"{path.name}: job {name} may not write {scope}"


def test_pull_requests_get_one_object_diff_comment() -> None:
    job = load("ci.yaml")["jobs"]["pr-diff"]
    assert job["if"] == "github.event_name == 'pull_request'"
    text = run_text(job)
    assert "diff --against" in text and "--output markdown" in text
    assert "<!-- homelab-charts diff -->" in text and "PATCH" in text


def test_ci_workflow() -> None:
    ci = load("ci.yaml")
    assert set(ci["on"]) == {"push", "pull_request"}
    assert ci["concurrency"]["group"]
    text = run_text(ci["jobs"]["test"])
    assert "scripts/run test" in text and "--cov-fail-under=80" in text
    assert "synth --check" in text
    assert "actionlint" in text
    assert "shellcheck" in text and "scripts/*.sh" in text
    manifests = ci["jobs"]["manifests"]
    env = manifests["env"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", env["KUBECONFORM_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{64}", env["KUBECONFORM_SHA256"])
    # The packaged CRD schemas (pinned by homelab.yaml), not a catalog fetched at @main.
    assert env["CRD_SCHEMAS"] == (
        "homelab_charts/data/schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json")
    assert (REPO / "homelab_charts/data/schemas/kustomize.toolkit.fluxcd.io/"
            "kustomization_v1.json").is_file()
    assert "raw.githubusercontent.com" not in (WORKFLOWS / "ci.yaml").read_text()
    text = run_text(manifests)
    assert "sha256sum --check" in text
    assert text.count("kubeconform -strict") == 2
    assert '-schema-location "$CRD_SCHEMAS"' in text
    assert "kubectl kustomize" in text and "cli plan" in text
    assert "validate --engine kubeconform" in text
    assert "--schema-location default --schema-location packaged-crds" in text
    for job in ci["jobs"].values():
        setup = [s for s in steps(job) if "setup-python" in s.get("uses", "")]
        assert setup
        assert setup[0]["with"]["python-version"] == "${{ env.PYTHON_VERSION }}"
    assert ci["env"] == {"PYTHON_VERSION": "3.11", "NODE_VERSION": "20",
                         "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def test_build_service_workflow() -> None:
    build = load("build-service.yaml")
    call = build["on"]["workflow_call"]
    assert set(call["inputs"]) == {"service", "environment", "ref", "bump", "allow-unmerged",
                                   "trivy-severity", "trivy-ignore-unfixed"}
    assert call["inputs"]["trivy-severity"]["default"] == "CRITICAL,HIGH"
    assert call["inputs"]["trivy-ignore-unfixed"]["default"] is True
    job = build["jobs"]["build"]
    assert job["runs-on"] == ["self-hosted", "linux", "homelab"]
    labels = yaml.safe_load((REPO / ".github/actionlint.yaml").read_text())
    assert "homelab" in labels["self-hosted-runner"]["labels"]
    assert job["env"]["REGISTRY"] == "${{ vars.REGISTRY }}"
    text = run_text(job)
    assert job["environment"] == "${{ inputs.environment }}"  # prod: protected environment
    assert "release \"$SERVICE\" --env \"$ENVIRONMENT\" --sha \"$GITHUB_SHA\" --dry-run" in text
    assert '--default-branch "origin/$DEFAULT_BRANCH"' in text
    assert "docker build --pull --target test" in text
    assert 'docker push "$IMAGE:$TAG"' in text and 'docker push "$IMAGE:$ALIAS"' in text
    trivy = [s for s in steps(job) if "trivy-action" in s.get("uses", "")]
    report, gate = trivy
    assert report["with"]["format"] == "sarif" and report["with"]["exit-code"] == "0"
    assert gate["with"]["severity"] == "${{ inputs.trivy-severity }}"
    assert gate["with"]["ignore-unfixed"] == "${{ inputs.trivy-ignore-unfixed }}"
    assert gate["with"]["exit-code"] == "1"
    names = [s.get("uses", s.get("name", "")) for s in steps(job)]
    sarif = next(i for i, n in enumerate(names) if "upload-sarif" in n)
    gate_at = next(i for i, s in enumerate(steps(job)) if s is gate)
    push_at = next(i for i, s in enumerate(steps(job)) if "docker push" in s.get("run", ""))
    assert sarif < gate_at < push_at  # report uploaded even when the gate fails; no push then
    assert steps(job)[sarif]["if"].startswith("always()")


def test_release_workflow() -> None:
    release = load("release.yaml")
    on = release["on"]
    assert on["push"]["branches"] == ["main"]
    assert on["push"]["tags"] == ["*/v[0-9]+.[0-9]+.[0-9]+"]
    built = [name for name, svc in config.load().services.items() if not svc.upstream]
    assert on["workflow_dispatch"]["inputs"]["service"]["options"] == built
    assert release["concurrency"]["cancel-in-progress"] is False
    assert "github.ref" not in release["concurrency"]["group"]  # one queue for all refs
    plan = run_text(release["jobs"]["plan"])
    assert 'cli version changed --base "$BEFORE" --head "$GITHUB_SHA"' in plan
    build = release["jobs"]["build"]
    assert build["uses"] == "./.github/workflows/build-service.yaml"
    assert build["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert "cli \"${check[@]}\"" in plan and "version merged --sha" in plan
    assert build["with"]["trivy-severity"] == "${{ vars.TRIVY_SEVERITY || 'CRITICAL,HIGH' }}"
    job = release["jobs"]["release"]
    assert job["needs"] == ["plan", "build", "retag"]
    assert job["permissions"] == {"contents": "read"}
    text = run_text(job)
    assert "git add homelab.yaml clusters infrastructure apps" in text
    assert "git bundle create" in text and "git push" not in text
    assert 'message+=(-m "Allow-unmerged: $ALLOW_UNMERGED")' in text
    assert '[ "$tag" != "$built_tag" ]' in text  # releases exactly what was built
    push = release["jobs"]["push"]
    assert push["environment"] == "${{ needs.plan.outputs.environment }}"
    assert push["permissions"] == {"contents": "write"}
    push_text = run_text(push)
    assert "scripts/run" not in push_text and "pip install" not in push_text  # git only
    assert 'push origin "${refs[@]}"' in push_text
    # Then the tree goes to the local registry as a Flux OCI artifact, and Flux is told.
    publish = release["jobs"]["publish"]
    assert publish["needs"] == ["plan", "release", "push"]
    assert publish["permissions"] == {"contents": "read"}
    assert "self-hosted" in publish["runs-on"]  # the runner that reaches the registry
    publish_text = run_text(publish)
    assert 'args=(push "oci://$REGISTRY/$TREE_REPOSITORY:$DEFAULT_BRANCH"' in publish_text
    assert 'args+=(--reconcile "$FLUX_RECEIVER_URL")' in publish_text
    assert 'scripts/run cli "${args[@]}"' in publish_text
    for name, job in release["jobs"].items():
        for step in steps(job):
            if "actions/checkout" in step.get("uses", ""):
                assert step["with"]["fetch-depth"] == 0, f"{name}: versions need full history"


def test_release_workflow_promotes_by_retagging_never_rebuilding() -> None:
    release = load("release.yaml")
    action = release["on"]["workflow_dispatch"]["inputs"]["action"]
    assert action["options"] == ["release", "promote"] and action["default"] == "release"
    jobs = release["jobs"]
    plan = run_text(jobs["plan"])
    assert 'environment=prod\n  promote=true' in plan
    # A promotion builds nothing: the build job is skipped, the retag job runs.
    assert jobs["build"]["if"].startswith("needs.plan.outputs.promote != 'true' && ")
    retag = jobs["retag"]
    assert retag["if"] == "needs.plan.outputs.promote == 'true'"
    assert retag["needs"] == "plan"
    assert retag["environment"] == "prod"  # protected: reviewers approve the prod tag
    assert retag["permissions"] == {"contents": "read"}
    text = run_text(retag)
    assert "docker build " not in text and "docker push" not in text
    checked = text.index("cli promote \"$SERVICE\" --from dev --to prod --dry-run --json")
    copied = text.index('docker buildx imagetools create --tag "$IMAGE:$TAG"')
    assert checked < copied  # refused before the registry is touched
    assert '"$IMAGE@$source_digest"' in text  # by digest
    assert '[ "$(digest "$ref")" != "$source_digest" ]' in text
    # The release job pins what the retag job tagged, only if dev still runs it.
    job = jobs["release"]
    assert job["if"] == "${{ !cancelled() && !failure() }}"
    pin = run_text(job)
    assert 'cli promote "$PROMOTED_SERVICE" --from dev --to prod' in pin
    assert '--tag "$PROMOTED_FROM"' in pin
    assert '[ "$tag" != "$PROMOTED_TAG" ]' in pin
    push = jobs["push"]
    assert "needs.release.outputs.commit == 'true'" in push["if"]
    assert push["environment"] == "${{ needs.plan.outputs.environment }}"


def test_cli_commands_used_by_the_workflows_exist() -> None:
    import argparse

    from homelab_charts.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    used = set()
    for path in FILES:
        text = path.read_text()
        used |= set(re.findall(r"scripts/run cli ([a-z][\w-]*)", text))
        used |= set(re.findall(r"args=\(([a-z][\w-]*) ", text))
    assert {"synth", "plan", "validate", "version", "release", "promote"} <= used
    assert used <= set(sub.choices), used - set(sub.choices)
