"""A hand-written Flux tree of two clusters, ``prod`` and ``lab``, each with its own
Kustomizations ``flux-system/databases``, ``apps`` and ``shared`` (other paths, other
``dependsOn``), for the tests of every command that reads a tree per cluster."""

from __future__ import annotations


def ks(name: str, path: str, deps: tuple[str, ...] = (), *, cluster: str | None = None
       ) -> str:
    """A Flux Kustomization reading bootstrap's GitRepository (``cluster``: its label)."""
    labels = f"\n  labels: {{homelab-charts.io/cluster: {cluster}}}" if cluster else ""
    depends = "".join(f"\n  - name: {d}" for d in deps) or " []"
    return (f"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
            f"metadata:\n  name: {name}\n  namespace: flux-system{labels}\n"
            f"spec:\n  path: ./{path}\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n"
            f"  dependsOn:{depends}\n")


def two_clusters(*, labelled: bool = True) -> dict[str, str]:
    """``prod``: apps waits for databases. ``lab``: apps waits for cache only, and its
    databases applies another folder. A shared folder (``apps/shared``) that both apply
    holds a Kustomization of its own (``extras``), which belongs to both clusters."""
    prod = "prod" if labelled else None
    lab = "lab" if labelled else None
    return {
        "clusters/prod/infrastructure.yaml": ks("databases", "infrastructure/databases",
                                                cluster=prod) + "---\n"
        + ks("apps", "apps/prod", ("databases",), cluster=prod) + "---\n"
        + ks("shared", "apps/shared", ("apps",), cluster=prod),
        "clusters/lab/infrastructure.yaml": ks("databases", "infrastructure/databases-lab",
                                               cluster=lab) + "---\n"
        + ks("cache", "infrastructure/cache", cluster=lab) + "---\n"
        + ks("apps", "apps/lab", ("cache",), cluster=lab) + "---\n"
        + ks("shared", "apps/shared", cluster=lab),
        "apps/shared/extras.yaml": ks("extras", "apps/extras", ("shared",)),
        "apps/extras/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, "
                               "namespace: default}\n",
        "apps/orphan/ks.yaml": ks("orphan", "apps/nowhere"),
        # lab's apps applies a HelmRelease (an ``applies`` edge of lab's graph only)
        "apps/lab/web.yaml": RELEASE,
    }


RELEASE = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: web}
spec: {url: https://charts.example.org}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: web}
spec:
  chart: {spec: {chart: web, sourceRef: {kind: HelmRepository, name: charts}}}
"""
