"""Every folder a Flux Kustomization points at builds with `kubectl kustomize`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl")


def flux_paths() -> list[str]:
    paths: list[str] = []
    for file in sorted((REPO / "clusters").glob("*/*.yaml")):
        for doc in yaml.safe_load_all(file.read_text()):
            if doc and doc.get("kind") == "Kustomization" and \
                    doc["apiVersion"].startswith("kustomize.toolkit.fluxcd.io/"):
                paths.append(doc["spec"]["path"])
    return paths


def kustomize_folders() -> list[Path]:
    return sorted(p.parent for top in ("clusters", "infrastructure", "apps")
                  for p in (REPO / top).rglob("kustomization.yaml")
                  if "flux-system" not in p.parts)


def test_every_flux_path_has_a_generated_kustomization_file() -> None:
    paths = flux_paths()
    assert paths, "no Flux Kustomization found under clusters/"
    for path in paths:
        assert (REPO / path / "kustomization.yaml").is_file(), path


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: kustomize builds skipped")
@pytest.mark.parametrize("folder", kustomize_folders(), ids=lambda p: str(p.relative_to(REPO)))
def test_kubectl_kustomize_builds_the_folder(folder: Path) -> None:
    assert KUBECTL is not None
    proc = subprocess.run([KUBECTL, "kustomize", str(folder)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    built = [d for d in yaml.safe_load_all(proc.stdout) if d]
    listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    expected = sum(len([d for d in yaml.safe_load_all((folder / f).read_text()) if d])
                   for f in listed)
    assert len(built) == expected
