"""The configs layer: objects of the controllers' kinds the whole cluster shares."""

from homelab_charts.infrastructure.configs.issuers import ClusterIssuers, Issuer

__all__ = ["ClusterIssuers", "Issuer"]
