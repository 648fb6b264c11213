"""Small builders shared by the construct tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from homelab_charts.base import Component, Folder, TreeApp


def new_component(namespace: str = "demo", path: str = "apps/demo",
                  id: str = "things") -> tuple[TreeApp, Component]:
    """A fresh app with one folder and one component (one generated file)."""
    app = TreeApp()
    folder = Folder(app, "folder", path=path, namespace=namespace)
    return app, Component(folder, id)


def rendered(component: Component) -> list[dict[str, Any]]:
    return [obj.render() for obj in component.objects]


#: What makes a folder a homelab repository (homelab_charts.project): copied by as_project.
PROJECT_FILES = ("cdk8s.yaml", "homelab.yaml", "sealed")


def as_project(root: Path) -> Path:
    """Make ``root`` a homelab repository: this repository's cdk8s.yaml, data file and
    sealed store copied in (idempotent). Returns ``root``."""
    repo = Path(__file__).resolve().parents[1]
    root.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source, target = repo / name, root / name
        if target.exists():
            continue
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copyfile(source, target)
    return root
