"""What the database components share: their part of the homelab, their checkov skips, the
credentials they read and the one StatefulService clients connect to."""

from __future__ import annotations

from constructs import Construct

from homelab_charts.base import Component, Manifest
from homelab_charts.infrastructure.databases.skips import DATABASE_SKIPS
from homelab_charts.workloads import StatefulService
from homelab_charts.workloads.credentials import Credentials


class DatabaseServer(Component):
    """A database component (part-of ``databases``) whose workload is :attr:`server`; it
    uses ``credentials`` (their SealedSecret's layer comes first)."""

    checkov_skips = DATABASE_SKIPS
    server: StatefulService

    def __init__(self, scope: Construct, id: str, *, credentials: Credentials) -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "databases"})
        self.use(credentials.component)

    @property
    def host(self) -> str:
        """The server's in-cluster DNS name."""
        return self.server.host

    @property
    def service(self) -> Manifest:
        """The server's client Service."""
        return self.server.service
