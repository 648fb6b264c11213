"""The apps (apps/<app>/): one module per app, each app one Flux Kustomization."""

from homelab_charts.apps.common import AppRelease
from homelab_charts.apps.family_assistant import FamilyAssistantBackend, FamilyAssistantFrontend
from homelab_charts.apps.homelab_dashboard import HomelabDashboard
from homelab_charts.apps.n8n import N8n

__all__ = ["AppRelease", "FamilyAssistantBackend", "FamilyAssistantFrontend",
           "HomelabDashboard", "N8n"]
