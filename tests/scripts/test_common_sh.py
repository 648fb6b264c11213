"""scripts/lib/common.sh: the shell functions both manual GitOps scripts source."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.scripts.gitops_sandbox import SCRIPTS
from tests.scripts.test_shell_quality import shellcheck

COMMON = SCRIPTS / "lib" / "common.sh"
BASH = shutil.which("bash") or "/bin/bash"


def bash(body: str, *, prog: str | None = "demo", env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in strict-mode bash after sourcing common.sh with ``prog`` set."""
    setup = f"prog={prog}\n" if prog is not None else ""
    script = f"set -euo pipefail\n{setup}source {COMMON}\n{body}\n"
    return subprocess.run([BASH, "-c", script], capture_output=True, text=True,
                          timeout=30, env=env, cwd=cwd)


def test_shellcheck_clean() -> None:
    result = subprocess.run([shellcheck(), "--severity=style", str(COMMON)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_both_scripts_source_it() -> None:
    for name in ("manual-deploy.sh", "verify-deployment.sh"):
        text = (SCRIPTS / name).read_text()
        assert "# shellcheck source=lib/common.sh\n" in text
        assert 'source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"' in text


def test_needs_prog() -> None:
    result = bash("echo unreachable", prog=None)
    assert result.returncode != 0
    assert "set prog before sourcing" in result.stderr
    assert "unreachable" not in result.stdout


def test_code_root_is_the_checkout() -> None:
    result = bash('echo "$code_root"', cwd=Path("/"))
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == SCRIPTS.parent


def test_die_and_note() -> None:
    result = bash('note "starting"; die 3 "it broke:" "badly"; echo after')
    assert result.returncode == 3
    assert result.stderr == "demo: starting\ndemo: error: it broke: badly\n"
    assert result.stdout == ""


@pytest.mark.parametrize("layer", ["secrets", "infrastructure", "apps"])
def test_check_layer_accepts_layers(layer: str) -> None:
    result = bash(f'check_layer {layer}; echo ok')
    assert (result.returncode, result.stdout) == (0, "ok\n")


def test_check_layer_refuses_others() -> None:
    result = bash("check_layer networking; echo after")
    assert result.returncode == 2
    assert result.stderr == (
        "demo: error: --only takes secrets, infrastructure or apps, not 'networking'\n")


@pytest.mark.parametrize("value", ["90s", "5m", "1h", "120s"])
def test_check_duration_accepts(value: str) -> None:
    assert bash(f"check_duration {value} 5m; echo ok").stdout == "ok\n"


@pytest.mark.parametrize("value", ["5", "m", "5d", "1.5m", "5m ", ""])
def test_check_duration_refuses(value: str) -> None:
    result = bash(f"check_duration '{value}' 7m; echo after")
    assert result.returncode == 2
    assert result.stderr == (
        f"demo: error: --timeout takes a duration such as 90s or 7m, not '{value}'\n")


def test_require_dir(tmp_path: Path) -> None:
    assert bash(f"require_dir {tmp_path}; echo ok").stdout == "ok\n"
    missing = tmp_path / "nope"
    result = bash(f"require_dir {missing}; echo after")
    assert result.returncode == 2
    assert result.stderr == f"demo: error: --root {missing}: no such directory\n"


def test_require_kubectl(tmp_path: Path) -> None:
    (tmp_path / "dirname").symlink_to(shutil.which("dirname") or "/usr/bin/dirname")
    env = {"PATH": str(tmp_path)}
    result = bash("require_kubectl; echo after", env=env)
    assert result.returncode == 2
    assert "demo: error: kubectl not found on PATH" in result.stderr
    kubectl = tmp_path / "kubectl"
    kubectl.write_text("#!/bin/sh\nexit 0\n")
    kubectl.chmod(0o755)
    assert bash("require_kubectl; echo ok", env=env).stdout == "ok\n"


def test_find_python_and_plan_steps_pass_layers_in_order(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text('#!/usr/bin/env bash\n[ "$1" = -c ] && exit 0\n'
                    'echo "PYTHONPATH=$PYTHONPATH"; printf "<%s>" "$@"; echo\n')
    fake.chmod(0o755)
    result = bash('find_python; plan_steps /r homelab infrastructure apps',
                  env={"PATH": "/usr/bin:/bin", "HOMELAB_CHARTS_PYTHON": str(fake)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"PYTHONPATH={SCRIPTS.parent}"
    assert lines[1] == ("<-m><homelab_charts.cli.plan><--root></r><--cluster><homelab>"
                        "<--only><infrastructure><--only><apps>")


def test_find_python_needs_pyyaml(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/usr/bin/env bash\nexit 1\n")
    fake.chmod(0o755)
    result = bash("find_python; echo after",
                  env={"PATH": "/usr/bin:/bin", "HOMELAB_CHARTS_PYTHON": str(fake)})
    assert result.returncode == 2
    assert "demo: error: needs Python 3 with PyYAML" in result.stderr


def test_context_and_cluster_checks(tmp_path: Path) -> None:
    kubectl = tmp_path / "kubectl"
    log = tmp_path / "log"
    kubectl.write_text('#!/usr/bin/env bash\n'
                       f'echo "$*" >>{log}\n'
                       'if [ "$1 $2" = "config current-context" ]; then echo lab; exit 0; fi\n'
                       'if [ "$3" = version ]; then echo "connection refused" >&2\n'
                       'echo "second line" >&2; exit 1; fi\nexit 0\n')
    kubectl.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    result = bash('resolve_context ""; echo "ctx=$context"; kube get pods; '
                  'require_cluster "$context"; echo after', env=env)
    assert result.returncode == 2
    assert result.stdout == "ctx=lab\n"
    assert result.stderr == ("demo: error: cannot reach the cluster of context 'lab' "
                             "(kubectl version: connection refused)\n")
    assert log.read_text().splitlines() == [
        "config current-context", "--context lab get pods",
        "--context lab version --request-timeout=15s"]
    # --context wins and the current context is not read; none at all: resolve fails.
    log.unlink()
    given = bash('resolve_context other; echo "ctx=$context"', env=env)
    assert given.stdout == "ctx=other\n" and not log.exists()
    kubectl.write_text("#!/usr/bin/env bash\nexit 1\n")
    none = bash('resolve_context "" || echo "none"; kube get pods', env=env)
    assert none.stdout == "none\n" and none.returncode != 0
    assert "resolve_context first" in none.stderr
