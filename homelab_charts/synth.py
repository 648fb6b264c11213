"""Synthesis: data file -> cdk8s app -> the Flux tree on disk (or a drift check)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from homelab_charts import config, project
from homelab_charts.base import Component, Manifest, TreeApp
from homelab_charts.config import (
    CLUSTER_IDENTITY_FILE,
    CLUSTER_IDENTITY_NAME,
    CLUSTER_IDENTITY_NAMESPACE,
    CLUSTER_LABEL,
    CLUSTER_UID_KEY,
    ClusterSettings,
    HomelabData,
)
from homelab_charts.writer import TreeChanges, plan, render_files, write_tree

#: Builds the constructs of a tree into an app; the homelab's by default.
Builder = Callable[[TreeApp, HomelabData], object]


def build_homelab(app: TreeApp, data: HomelabData) -> object:
    """Every cluster of the data file (``cluster``, then ``clusters``), one construct each."""
    from homelab_charts.cluster import HomelabCluster

    built = [HomelabCluster(app, cluster.name, data=data, settings=cluster)
             for cluster in data.clusters]
    return built[0] if len(built) == 1 else built


def build_app(data: HomelabData, builder: Builder = build_homelab, *,
              store: Path | None = None) -> TreeApp:
    """The app of the tree: every object of a cluster carries its ownership label
    (``homelab-charts.io/cluster: <name>``), and ``clusters/<name>/cluster-identity.yaml``
    records the cluster each ``clusters/<name>/`` is bound to. SealedSecrets read ``store``
    (default: the data file's repository's ``sealed/``)."""
    app = TreeApp(store=store if store is not None else data.store_dir)
    builder(app, data)
    for cluster in data.clusters:
        cluster_identity(app, cluster)
    return app


def cluster_identity(app: TreeApp, cluster: ClusterSettings) -> Component:
    """The ConfigMap naming the cluster ``clusters/<name>/`` is for and, once bound
    (``homelab-charts cluster bind``), the UID of its kube-system Namespace: the manual
    scripts compare it with the live cluster's before applying anything."""
    component = Component(app, "cluster-identity" if cluster.primary
                          else f"cluster-identity-{cluster.name}",
                          file=f"clusters/{cluster.name}/{CLUSTER_IDENTITY_FILE}",
                          namespace=CLUSTER_IDENTITY_NAMESPACE,
                          labels={CLUSTER_LABEL: cluster.name})
    data = {"cluster": cluster.name}
    if cluster.uid:
        data[CLUSTER_UID_KEY] = cluster.uid
    Manifest(component, "identity", api_version="v1", kind="ConfigMap",
             name=CLUSTER_IDENTITY_NAME, body={"data": data})
    return component


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
