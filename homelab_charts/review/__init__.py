"""Review tools: what a change does to the cluster before it is merged (trees are read
with :mod:`homelab_charts.tree`).

* :mod:`~homelab_charts.review.diff` compares two trees object by object;
* :mod:`~homelab_charts.review.graph` draws the Flux dependency graph;
* :mod:`~homelab_charts.progress` is the terminal progress bar other commands share.
"""
