"""A new homelab from the built wheel, as a user gets one (issue 12, item 3).

The wheel of this project is built from a copy of the repository; a fresh virtualenv
installs it by its pinned requirement (``homelab-charts==<version>``, resolved to the
wheel through ``PIP_FIND_LINKS``; its dependencies come from the package index through
pip's cache); that installed ``homelab-charts init`` makes a repository with Qdrant and
n8n left out; then the repository's own ``scripts/run`` (its set-up, with the virtualenv
as its ``.venv``), ``scripts/run synth`` (``cdk8s synth``), ``homelab-charts synth
--check``, ``homelab-charts validate`` and ``scripts/run test`` (ruff and its tests) all
pass. Slow (a minute or two): the one test that installs anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from homelab_charts import __version__
from tests.conftest import REPO_ROOT

#: Package data that must travel in the wheel (the library reads them at run time).
PACKAGE_DATA = ("homelab_charts/data", "homelab_charts/templates")


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (f"{' '.join(map(str, result.args))}: exit "
                                    f"{result.returncode}\n{result.stdout[-3000:]}\n"
                                    f"{result.stderr[-3000:]}")
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the working tree (tracked and new files), built from a copy of it."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO_ROOT, check=True,
                            capture_output=True).stdout.split(b"\0")
    for name in filter(None, listed):
        rel = name.decode()
        if (REPO_ROOT / rel).is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / rel, source / rel)
    dist = work / "dist"
    # The build backend (setuptools, wheel) is pinned in requirements/ci.txt and installed
    # in this virtualenv: no build isolation, nothing fetched for the build.
    _ok(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
              "-q", "-w", str(dist), str(source)], cwd=work))
    (built,) = dist.glob("homelab_charts-*.whl")
    assert built.name.startswith(f"homelab_charts-{__version__}-")
    return built


def test_the_package_data_travels_in_the_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {p.relative_to(REPO_ROOT).as_posix()
                for folder in PACKAGE_DATA for p in (REPO_ROOT / folder).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
    assert any(n.endswith("homelab.schema.json") for n in expected)
    assert any(n.endswith("sealedsecret_v1alpha1.json") for n in expected)
    assert any(n.endswith("homelab.yaml.tmpl") for n in expected)
    assert expected - names == set()
    # a repository's own files never travel in the package
    assert not [n for n in names if n.startswith("homelab_charts/")
                and n.rsplit("/", 1)[-1] in {"homelab.yaml", "cdk8s.yaml"}]


def test_a_new_homelab_from_the_wheel_synthesizes_validates_and_passes_its_tests(
        wheel: Path, tmp_path: Path) -> None:
    for tool in ("npm", "node", "kubectl"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the scaffold's scripts/run needs Node.js 20 "
                        "with npm; validate needs kubectl)")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "CDK8S_CHECK_UPGRADE": "false"}
    # The wheel first; the machine's own find-links (if any) after it.
    env["PIP_FIND_LINKS"] = " ".join(filter(None, (str(wheel.parent),
                                                   os.environ.get("PIP_FIND_LINKS"))))
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    venv = tmp_path / "venv"
    base_python = getattr(sys, "_base_executable", None) or shutil.which("python3")
    _ok(_run([str(base_python), "-m", "venv", str(venv)], cwd=tmp_path, env=env))
    python = venv / "bin" / "python"
    _ok(_run([str(python), "-m", "pip", "install", "-q", f"homelab-charts=={__version__}"],
             cwd=tmp_path, env=env))
    # It is this build that got installed, not some other homelab-charts.
    installed = Path(_ok(_run([str(python), "-c", "import homelab_charts.scaffold as s; "
                               "print(s.__file__)"], cwd=tmp_path, env=env)).strip())
    assert installed.is_relative_to(venv)
    assert installed.read_bytes() == (REPO_ROOT / "homelab_charts/scaffold.py").read_bytes()

    out = _ok(_run([str(venv / "bin" / "homelab-charts"), "init", "my-homelab",
                    "--without", "qdrant", "--without", "n8n"], cwd=tmp_path, env=env))
    root = tmp_path / "my-homelab"
    assert f"created {root}" in out
    assert (root / "requirements.txt").read_text().count(f"homelab-charts=={__version__}") == 1
    # The fresh virtualenv is the repository's .venv: its scripts/run installs the rest of
    # requirements.txt (homelab-charts is already the wheel) and the pinned cdk8s CLI.
    (root / ".venv").symlink_to(venv)
    _ok(_run(["scripts/run", "synth"], cwd=root, env=env))
    assert (root / "node_modules" / ".bin" / "cdk8s").exists()
    assert (root / "dist" / "homelab.k8s.yaml").is_file()
    check = _run(["scripts/run", "cli", "synth", "--check"], cwd=root, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "in sync" in check.stdout
    validate = _run(["scripts/run", "cli", "validate", "--summary"], cwd=root, env=env)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "Invalid: 0, Errors: 0" in validate.stdout
    tests = _ok(_run(["scripts/run", "test", "-q", "-p", "no:cacheprovider"], cwd=root,
                     env=env))
    assert "3 passed" in tests
    assert not (root / "infrastructure/databases/qdrant.yaml").exists()
    assert (root / "apps/whoami/whoami.yaml").is_file()
