"""Operations on a cluster, built on the tree's read model (:mod:`homelab_charts.tree`).

* :mod:`.manual` — the manual GitOps path: the apply plan ``scripts/manual-deploy.sh``
  follows and the object listing it prunes by;
* :mod:`.binding` — which cluster a tree is for (``homelab-charts cluster bind``) and the
  check every command changing a live cluster makes first;
* :mod:`.backup` — ``homelab-charts backup`` and ``restore`` (docs/BACKUPS.md).
"""
