"""PostgreSQL, Redis and Qdrant, each a hardened StatefulService (infrastructure/databases/)."""

from homelab_charts.infrastructure.databases.postgresql import AppDatabase, PostgreSQL
from homelab_charts.infrastructure.databases.qdrant import Qdrant
from homelab_charts.infrastructure.databases.redis import Redis

__all__ = ["AppDatabase", "PostgreSQL", "Qdrant", "Redis"]
