"""A tree of two clusters: each cluster's Flux Kustomizations are a graph of their own.

Bootstrap of cluster X applies ``clusters/X/`` only, so two clusters may each define
``flux-system/apps`` with other paths and other ``dependsOn``: the read model must never
merge them into one node (the bug this file reproduces: ``apps`` of ``lab`` drawn as
waiting for ``databases`` of ``prod``).
"""

from __future__ import annotations

import pytest

from homelab_charts.errors import ConfigError
from homelab_charts.tree import Tree
from tests.two_clusters import two_clusters


def deps(tree: Tree) -> dict[str, list[str]]:
    return {name: sorted(d for _, d in targets) for (_, name), targets in tree.graph.deps.items()}


@pytest.mark.parametrize("labelled", [True, False])
def test_each_cluster_has_its_own_graph(labelled: bool) -> None:
    tree = Tree(two_clusters(labelled=labelled))
    assert tree.clusters() == ["lab", "prod"]
    lab, prod, rest = tree.views()
    assert (lab.cluster, prod.cluster, rest.cluster) == ("lab", "prod", "")
    assert deps(prod) == {"databases": [], "apps": ["databases"], "shared": ["apps"],
                          "extras": ["shared"]}
    assert deps(lab) == {"databases": [], "cache": [], "apps": ["cache"], "shared": [],
                         "extras": ["shared"]}
    assert lab.kustomization("flux-system", "databases").path == "infrastructure/databases-lab"
    assert prod.layers()[("flux-system", "extras")] == 3
    assert lab.layers()[("flux-system", "extras")] == 1
    # the shared folder's objects belong to both clusters; the orphan to neither
    assert {o.file for o in lab.objects.values()} >= {"apps/shared/extras.yaml",
                                                      "apps/extras/cm.yaml"}
    assert "apps/orphan/ks.yaml" not in lab.paths | prod.paths
    assert [k.name for k in rest.kustomizations] == ["orphan"]
    assert [k.name for k in prod.order()] == ["databases", "apps", "shared", "extras"]


def test_the_whole_tree_never_merges_same_named_kustomizations() -> None:
    tree = Tree(two_clusters())
    with pytest.raises(ConfigError, match=r"also defined in clusters/prod/infrastructure\.yaml"):
        _ = tree.graph
    # a layer is read in the Kustomization's own cluster
    layers = {(k.file, k.name): tree.layer_of(k) for k in tree.kustomizations}
    assert layers[("clusters/prod/infrastructure.yaml", "apps")] == 1
    assert layers[("clusters/lab/infrastructure.yaml", "apps")] == 1
    assert layers[("clusters/prod/infrastructure.yaml", "shared")] == 2
    assert layers[("clusters/lab/infrastructure.yaml", "shared")] == 0


def test_unlabelled_objects_take_the_cluster_of_their_folder() -> None:
    tree = Tree(two_clusters(labelled=False))  # used to be "defined twice"
    clusters = sorted(o.id.cluster for o in tree.objects.values() if o.id.name == "apps")
    assert clusters == ["lab", "prod"]
    assert {o.id.cluster for o in tree.in_file("apps/shared/extras.yaml")} == {""}


def test_a_tree_of_one_cluster_is_its_own_only_view() -> None:
    files = {k: v for k, v in two_clusters().items() if not k.startswith("clusters/lab/")}
    tree = Tree(files)
    assert tree.views() == [tree]
    assert tree.cluster is None
    assert deps(tree)["apps"] == ["databases"]


def test_an_unknown_cluster_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"clusters/nope: no such cluster folder in the "
                                          r"tree \(clusters: lab, prod\)"):
        Tree(two_clusters()).for_cluster("nope")


def test_a_cluster_reaches_only_what_its_own_kustomizations_apply() -> None:
    files = two_clusters()
    # lab's Kustomizations never apply apps/prod: its objects are prod's only
    files["apps/prod/app.yaml"] = ("apiVersion: v1\nkind: ConfigMap\nmetadata: "
                                   "{name: app, namespace: default}\n")
    tree = Tree(files)
    assert "apps/prod/app.yaml" in tree.for_cluster("prod").paths
    assert "apps/prod/app.yaml" not in tree.for_cluster("lab").paths
    owner = tree.for_cluster("prod").owner_of("apps/prod/app.yaml")
    assert owner is not None and owner.name == "apps"
