"""Small builders shared by the construct tests."""

from __future__ import annotations

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
