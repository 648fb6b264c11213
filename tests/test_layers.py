"""The library's layers depend only on the ones above them (README, docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "homelab_charts"

#: Top-level module or package -> layer. 0 is shared ground (errors, data file, the cdk8s
#: base classes); 1 flux, 2 secrets, 3 workloads, 3.5 the component registry, 4
#: components, 5 the cluster, 6 tools.
LAYERS = {
    "__init__": 0, "errors": 0, "project": 0, "config": 0, "base": 0, "progress": 0,
    "fsutil": 0, "docpath": 0, "versioning": 0, "datafile": 0, "yamlsafe": 0, "platform": 0,
    "flux": 1,
    "secrets": 2,
    "workloads": 3, "registry": 3.5,
    "infrastructure": 4, "apps": 4.5,
    "cluster": 5, "delivery": 5,
    "apidoc": 6,
    "writer": 6, "synth": 6, "main": 6, "validate": 6, "review": 6, "cli": 6, "__main__": 6,
    "tree": 6, "operations": 6, "scaffold": 6, "templates": 6,
}


def imports() -> list[tuple[str, str, str]]:
    found = []
    for file in sorted(PACKAGE.rglob("*.py")):
        source = file.relative_to(PACKAGE).parts[0].removesuffix(".py")
        tree = ast.parse(file.read_text(encoding="utf-8"))
        if file == PACKAGE / "__init__.py":
            # The public facade loads its names lazily (homelab_charts.__getattr__); its
            # `if TYPE_CHECKING:` imports exist for type checkers only.
            tree.body = [n for n in tree.body if not (
                isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "homelab_charts":
                    target = parts[1] if len(parts) > 1 else "__init__"
                    found.append((str(file.relative_to(PACKAGE)), source, target))
    return found


def test_every_module_has_a_layer() -> None:
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py")
            for p in PACKAGE.rglob("*.py")}
    assert tops <= set(LAYERS), sorted(tops - set(LAYERS))


def test_no_module_imports_from_a_lower_layer() -> None:
    found = imports()
    assert found, "no imports found: the scan is broken"
    wrong = [f"{file}: {source} (layer {LAYERS[source]}) imports {target} "
             f"(layer {LAYERS[target]})"
             for file, source, target in found
             if source != target and LAYERS[target] > LAYERS[source]]
    assert wrong == []


def test_the_scan_sees_a_violation() -> None:
    assert LAYERS["flux"] < LAYERS["workloads"]
    assert ("workloads" in {t for _, s, t in imports() if s == "infrastructure"})
