"""The ingress controller (infrastructure/networking/)."""

from homelab_charts.infrastructure.networking.traefik import Traefik

__all__ = ["Traefik"]
