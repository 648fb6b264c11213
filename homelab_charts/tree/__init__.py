"""One read model of a generated tree, shared by every command that reads one.

* :mod:`.sources` reads a tree's files: from disk, from a git revision, synthesized;
* :mod:`.model` turns them into objects (with file, document and line), tells which Flux
  Kustomization applies which file, the ``dependsOn`` graph and the cluster binding; a
  tree of several clusters is read one cluster at a time (``Tree.views``,
  ``Tree.for_cluster``): each cluster's Flux graph is its own;
* :mod:`.graph` orders a dependency graph and finds its cycles and depths.

``validate`` (Flux checks), ``plan`` and the manual scripts, ``graph`` and ``diff`` all
read trees through it. It imports neither cdk8s nor the constructs.
"""

from __future__ import annotations

from homelab_charts.tree.graph import CycleError, DependencyGraph
from homelab_charts.tree.model import (
    BOOTSTRAP_OBJECTS,
    FLUX_NAMESPACE,
    HELM_TOOLKIT_GROUP,
    KUSTOMIZE_TOOLKIT_GROUP,
    OWN_SOURCE,
    SOURCE_TOOLKIT_GROUP,
    ClusterIdentity,
    FluxKustomization,
    ObjectId,
    Owners,
    Tree,
    TreeObject,
    api_group,
    cluster_folder,
    dependency_refs,
    depends_on,
    file_objects,
    flux_kustomization,
    generated_objects,
    is_flux_kustomization,
    leaves_repository,
    normalise_path,
    object_cluster,
    plain_id,
    source_ref,
    tree_objects,
)
from homelab_charts.tree.sources import (
    GENERATED_HEADER,
    TREE_ROOTS,
    GitError,
    default_base,
    git_tree,
    is_bootstrap_path,
    is_tree_file,
    read_disk_tree,
    repository_root,
    resolve_commit,
    synthesized_tree,
)

__all__ = [
    "BOOTSTRAP_OBJECTS", "FLUX_NAMESPACE", "GENERATED_HEADER", "HELM_TOOLKIT_GROUP",
    "KUSTOMIZE_TOOLKIT_GROUP", "OWN_SOURCE", "SOURCE_TOOLKIT_GROUP", "TREE_ROOTS",
    "ClusterIdentity", "CycleError", "DependencyGraph", "FluxKustomization", "GitError",
    "ObjectId", "Owners", "Tree", "TreeObject", "api_group", "cluster_folder", "default_base",
    "dependency_refs", "depends_on", "file_objects", "flux_kustomization",
    "generated_objects", "git_tree", "is_bootstrap_path", "is_flux_kustomization",
    "is_tree_file", "leaves_repository", "normalise_path", "object_cluster", "plain_id",
    "read_disk_tree",
    "repository_root", "resolve_commit", "source_ref", "synthesized_tree", "tree_objects",
]
