"""Synthesis: data file -> cdk8s app -> the Flux tree on disk (or a drift check)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from homelab_charts import config, project
from homelab_charts.base import TreeApp
from homelab_charts.config import CLUSTER_IDENTITY_FILE, CLUSTER_LABEL, HomelabData
from homelab_charts.writer import TreeChanges, plan, render_files, write_tree

#: Builds the constructs of a tree into an app; the homelab's by default.
Builder = Callable[[TreeApp, HomelabData], object]


def build_homelab(app: TreeApp, data: HomelabData) -> object:
    from homelab_charts.cluster import HomelabCluster

    return HomelabCluster(app, data.cluster.name, data=data)


def build_app(data: HomelabData, builder: Builder = build_homelab) -> TreeApp:
    """The app of the tree: every object carries the cluster ownership label
    (``homelab-charts.io/cluster: <name>``), and a ConfigMap records the cluster the tree
    is bound to: the homelab's cluster writes it into its ``namespaces`` layer
    (``infrastructure/namespaces/cluster-identity.yaml``, applied by Flux); for any other
    builder it is ``clusters/<name>/cluster-identity.yaml``."""
    from homelab_charts.cluster import cluster_identity

    app = TreeApp(store=data.store_dir, labels={CLUSTER_LABEL: data.cluster.name})
    built = builder(app, data)
    if getattr(built, "identity", None) is None:
        cluster_identity(app, data.cluster,
                         file=f"clusters/{data.cluster.name}/{CLUSTER_IDENTITY_FILE}")
    return app


def render(data: HomelabData, builder: Builder = build_homelab, *,
           progress: bool = False) -> dict[str, str]:
    """Every generated file (relative path -> content), in memory."""
    return render_files(build_app(data, builder).components, progress=progress)


@dataclass
class SynthResult:
    files: dict[str, str]
    changes: TreeChanges
    #: One-line warnings to show (a sealed credential no component uses...).
    warnings: list[str] = field(default_factory=list)


def synth_tree(root: Path, *, data_file: Path | None = None, check: bool = False,
               builder: Builder = build_homelab, progress: bool = False) -> SynthResult:
    """Synthesize the tree under ``root`` (write it, or with ``check`` only compare).

    ``data_file`` defaults to the repository's ``homelab.yaml`` under ``root``;
    ``progress`` draws a bar on stderr for long runs in a terminal.
    """
    data = config.load(data_file if data_file is not None else project.data_file(root))
    app = build_app(data, builder)
    files = render_files(app.components, progress=progress)
    changes = plan(root, files) if check else write_tree(root, files)
    return SynthResult(files, changes, list(app.warnings))
