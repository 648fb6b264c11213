"""``kubectl kustomize`` builds of the folders Flux Kustomizations point at.

(The process and thread modules load with the first build: the validator imports this
module for :data:`KUSTOMIZATION_FILES` also when it builds nothing.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
BUILD_TIMEOUT = 120


@dataclass
class Build:
    """The outcome of building one folder: ``output`` YAML, or ``error`` text."""

    folder: Path
    output: str = ""
    error: str | None = None


def kustomization_file(folder: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def kubectl() -> str | None:
    import shutil  # (here: a schema-only run needs none of it)

    return shutil.which("kubectl")


def build(folder: Path, binary: str) -> Build:
    import subprocess

    try:
        proc = subprocess.run([binary, "kustomize", str(folder)], capture_output=True,
                              text=True, timeout=BUILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return Build(folder, error=f"kubectl kustomize timed out after {BUILD_TIMEOUT}s")
    except OSError as exc:
        return Build(folder, error=f"cannot run kubectl: {exc}")
    if proc.returncode != 0:
        message = " ".join(proc.stderr.strip().splitlines()[-3:]) or f"exit {proc.returncode}"
        return Build(folder, error=f"kustomize build failed: {message}")
    return Build(folder, output=proc.stdout)


def build_all(folders: Iterable[Path], binary: str, *, jobs: int = 4) -> list[Build]:
    """Builds ``folders`` concurrently (each build is a subprocess), in input order."""
    from concurrent.futures import ThreadPoolExecutor

    todo = list(dict.fromkeys(folders))
    if not todo:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(todo)))) as pool:
        return list(pool.map(lambda f: build(f, binary), todo))
