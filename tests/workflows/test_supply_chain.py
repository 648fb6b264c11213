"""Supply chain of CI and releases (issue 11, finding 8 and the low findings).

Dependencies come from a lock with hashes, the write token lives in one git-only job,
prod runs in a protected environment, the registry login does not outlive its job, the
Trivy gate is a setting.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
LOCK = REPO / "requirements" / "ci.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def locked(lock: Path = LOCK) -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) of a lock file."""
    out: dict[str, tuple[Version, int]] = {}
    name: str | None = None
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match[1])
            out[name] = (Version(match[2]), 0)
        if name is not None and "--hash=sha256:" in line:
            version, hashes = out[name]
            out[name] = (version, hashes + line.count("--hash=sha256:"))
        if not line.strip():
            name = None
    return out


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def required() -> list[Requirement]:
    project = pyproject()
    reqs = [*project["project"]["dependencies"],
            *project["project"]["optional-dependencies"]["dev"],
            *project["build-system"]["requires"]]
    return [Requirement(r) for r in reqs]


def uncovered(lock: Path = LOCK) -> list[str]:
    """Requirements of pyproject.toml the lock misses or pins outside their range."""
    pins = locked(lock)
    out = []
    for req in required():
        name = canonicalize_name(req.name)
        if name not in pins:
            out.append(f"{req}: not locked")
        elif not req.specifier.contains(pins[name][0], prereleases=True):
            out.append(f"{req}: locked {pins[name][0]}")
    return out


def test_the_lock_covers_pyprojects_dependencies() -> None:
    assert len(locked()) >= 20
    assert uncovered() == [], "regenerate requirements/ci.txt (docs/RELEASING.md)"


def test_every_locked_package_is_pinned_with_hashes() -> None:
    text = LOCK.read_text(encoding="utf-8")
    entries = [line for line in text.splitlines() if line and not line[0].isspace()
               and not line.startswith("#")]
    assert entries and all(PIN.match(line) for line in entries), entries
    assert all(hashes >= 1 for _, hashes in locked().values())
    assert "file://" not in text and "/opt/" not in text  # nothing from a local mirror


def test_the_lock_check_sees_a_missing_or_stale_pin(tmp_path: Path) -> None:
    text = LOCK.read_text(encoding="utf-8")
    missing = tmp_path / "missing.txt"
    missing.write_text(re.sub(r"(?ms)^jsonschema-rs==.*?(?=^\S)", "", text))
    assert [u for u in uncovered(missing) if u.startswith("jsonschema-rs")] == [
        "jsonschema-rs>=0.29: not locked"]
    stale = tmp_path / "stale.txt"
    stale.write_text(re.sub(r"(?m)^cdk8s==\S+", "cdk8s==1.0.0", text))
    assert any(u.startswith("cdk8s") and "locked 1.0.0" in u for u in uncovered(stale))


def test_installs_use_the_lock_with_hashes() -> None:
    run = (REPO / "scripts" / "run").read_text(encoding="utf-8")
    assert "pip install -q --require-hashes --no-deps -r requirements/ci.txt" in run
    assert "pip install -q --no-deps --no-build-isolation -e ." in run
    assert ".[dev]" not in run and "--upgrade pip" not in run
    for path in WORKFLOWS.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "pip install" not in text, f"{path.name}: install through scripts/run"
        assert "cache-dependency-path: pyproject.toml" not in text


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def all_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path.name, name, job) for path in sorted(WORKFLOWS.glob("*.yaml"))
            for name, job in load(path.name)["jobs"].items()]


def test_the_write_token_is_only_in_the_git_only_push_job() -> None:
    writers = [(f, n) for f, n, job in all_jobs()
               if (job.get("permissions") or {}).get("contents") == "write"]
    assert writers == [("release.yaml", "push")]
    push = load("release.yaml")["jobs"]["push"]
    with_token = [s for s in push["steps"] if "github.token" in str(s.get("env", {}))]
    assert [s["name"] for s in with_token] == ["Push (the only step with the write token)"]
    for f, n, job in all_jobs():
        for step in job.get("steps", []):
            if "actions/checkout" in step.get("uses", ""):
                assert step["with"]["persist-credentials"] is False, f"{f} {n}"
            if (f, n) == ("release.yaml", "push") and step == with_token[0]:
                continue
            # pr-diff's token may comment on pull requests (pull-requests: write) only.
            assert "github.token" not in str(step) or (f, n) == ("ci.yaml", "pr-diff"), \
                f"{f} {n}: {step.get('name')}"


def test_prod_jobs_run_in_a_protected_environment() -> None:
    build = load("build-service.yaml")["jobs"]["build"]
    assert build["environment"] == "${{ inputs.environment }}"
    release = load("release.yaml")
    assert release["jobs"]["build"]["with"]["environment"] == \
        "${{ needs.plan.outputs.environment }}"
    assert release["jobs"]["push"]["environment"] == "${{ needs.plan.outputs.environment }}"
    doc = (REPO / "docs" / "RELEASING.md").read_text(encoding="utf-8")
    assert "Required reviewers" in doc and "Deployment branches and tags" in doc


def test_registry_logins_end_with_a_logout() -> None:
    for f, n, job in all_jobs():
        steps = job.get("steps", [])
        logins = [i for i, s in enumerate(steps) if "docker login" in s.get("run", "")]
        if not logins:
            continue
        logout = steps[-1]
        assert "docker logout" in logout.get("run", ""), f"{f} {n}: last step logs out"
        assert logout.get("if") == "always()"
        login_env = steps[logins[0]].get("env", {})
        assert login_env.get("DOCKER_CONFIG") == logout["env"]["DOCKER_CONFIG"]
        assert "runner.temp" in login_env["DOCKER_CONFIG"]


def test_the_trivy_gate_is_a_setting_failing_fixable_critical_and_high() -> None:
    build = load("build-service.yaml")
    inputs = build["on"]["workflow_call"]["inputs"]
    assert inputs["trivy-severity"]["default"] == "CRITICAL,HIGH"
    assert inputs["trivy-ignore-unfixed"]["default"] is True
    release = load("release.yaml")
    assert "vars.TRIVY_SEVERITY" in release["jobs"]["build"]["with"]["trivy-severity"]
