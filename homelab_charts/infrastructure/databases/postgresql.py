"""PostgreSQL: one primary with a persistent volume, and a role and database per app.

Each app's role password is one shared credential (sealed once, cluster-wide; see
:mod:`homelab_charts.secrets.shared`): the app reads its namespace's copy, PostgreSQL's
namespace holds another, and the ``postgresql-role-sync`` Job creates every role and
database that is missing and sets each role's password from that copy. The Job's name
carries the digest of what it reads, so a password re-sealed in Git runs it again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from homelab_charts.base import Folder, skip_checkov
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.databases.server import DatabaseServer
from homelab_charts.registry import ClusterContext, register
from homelab_charts.secrets.sealed_secret import SealedSecret, combined_digest
from homelab_charts.workloads import (
    Container,
    Port,
    Probe,
    Resources,
    RunAs,
    StatefulService,
)
from homelab_charts.workloads.credentials import Credentials, secret_key
from homelab_charts.workloads.job import Task
from homelab_charts.workloads.network import Connection, Pods

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: Per application: its LOGIN role (created when missing) gets the password of the
#: Secret, and a database owned by it exists. Idempotent, so the Job can run at every
#: change. ``\getenv`` (psql 15+) reads the password from the environment: it never
#: appears on a command line or in the SQL text psql is given.
_SYNC_SQL = """psql -v ON_ERROR_STOP=1 --no-psqlrc --set=name={name} <<'SQL'
\\getenv password {env}
SELECT format('CREATE ROLE %I LOGIN', :'name')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \\gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'name', :'password') \\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \\gexec
SQL
"""
_WAIT = """set -eu
# The server may still be starting (first initdb, or a restart): wait up to 10 minutes.
i=0
until pg_isready --quiet; do
  i=$((i + 1)); [ "$i" -lt 120 ] || { echo "PostgreSQL is not ready" >&2; exit 1; }
  sleep 5
done
"""
#: checkov skips on the role-sync Job (docs/CHECKOV.md).
ROLE_SYNC_SKIPS = {
    "CKV_K8S_35": "psql reads the superuser password from PGPASSWORD; the Job runs for "
                  "seconds and mounts no service account token",
    "CKV_K8S_40": "runs psql as the postgres image's own user (uid 70) like the server; "
                  "non-root, every capability dropped, no volume",
}


@dataclass(frozen=True)
class AppDatabase:
    """A database and the LOGIN role owning it; the role's password is ``key`` of
    ``credentials`` (PostgreSQL's namespace's copy of the app's shared credential)."""

    name: str
    credentials: Credentials
    key: str = "password"

    @property
    def env_var(self) -> str:
        return f"APP_DB_PASSWORD_{self.name.upper()}"


@register("infrastructure.postgresql", folder="infrastructure/databases")
class PostgreSQL(DatabaseServer):
    """PostgreSQL as a StatefulSet (``postgresql.yaml`` of its folder).

    ``credentials`` holds the superuser password (``superuser_password_key``). An app
    asks for its database and role with :meth:`provide_database`, giving its copy of the
    role's shared credential (``databases`` gives some up front); the
    ``<name>-role-sync`` Job creates the roles and databases and sets the passwords, at
    the first start and again whenever a sealed password changes.
    """

    PORT = 5432

    def __init__(self, scope: Construct, id: str, *, image: Image, credentials: Credentials,
                 databases: Sequence[AppDatabase] = (),
                 superuser_password_key: str = "postgres-password",
                 storage_size: str = "10Gi", storage_class: str | None = None,
                 resources: Resources | None = None, name: str = "postgresql") -> None:
        super().__init__(scope, id, credentials=credentials)
        self.name = name
        self.image = image
        self.credentials = credentials
        self.superuser_password_key = superuser_password_key
        self._databases: list[AppDatabase] = []
        env = {
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": secret_key(credentials, superuser_password_key),
            "PGDATA": "/var/lib/postgresql/data/pgdata",
        }
        ready = ("pg_isready", "--username=postgres", "--host=127.0.0.1", f"--port={self.PORT}")
        self.server = StatefulService(
            self, "server", name=name,
            container=Container(
                image=image,
                ports=(Port("postgresql", self.PORT),),
                env=env,
                resources=resources or Resources("100m", "1", "256Mi", "1Gi"),
                startup=Probe.exec(*ready, period_seconds=5, failure_threshold=60),
                readiness=Probe.exec(*ready, period_seconds=10),
                liveness=Probe.exec(*ready, period_seconds=20, failure_threshold=6),
                writable_paths={"run": "/var/run/postgresql", "tmp": "/tmp"},
                # The official image's postgres user (alpine: uid/gid 70).
                run_as=RunAs(user=70, group=70, fs_group=70),
            ),
            data_path="/var/lib/postgresql/data",
            storage_size=storage_size, storage_class=storage_class,
        )
        self.connections: list[Connection] = []
        self.role_sync: Task | None = None
        for db in databases:
            self.provide_database(db.name, credentials=db.credentials, key=db.key)

    @classmethod
    def create(cls, scope: Folder, id: str, ctx: ClusterContext) -> PostgreSQL:
        """The homelab's PostgreSQL: image from ``infrastructure.postgresql``, the
        superuser password in ``postgresql-credentials``."""
        return cls(scope, id, image=ctx.image("postgresql"),
                   credentials=ctx.credentials(scope, "postgresql-credentials",
                                               keys=["postgres-password"]),
                   storage_class=ctx.settings.storage_class_name)

    @property
    def databases(self) -> tuple[AppDatabase, ...]:
        return tuple(self._databases)

    def provide_database(self, name: str, *, credentials: Credentials,
                         key: str = "password") -> AppDatabase:
        """A database ``name`` and its LOGIN role, whose password is ``key`` of
        ``credentials``: the asking app's copy of a shared credential (``ctx.credentials(
        ..., shared=True)``), which PostgreSQL copies into its own namespace, or a Secret
        of PostgreSQL's namespace. The role-sync Job creates and updates it. Asking twice
        for the same database returns it."""
        for db in self._databases:
            if db.name == name:
                return db
        if not _IDENTIFIER.match(name) or name in ("postgres", "template0", "template1"):
            raise ConfigError(self.where, "databases",
                              f"{name!r} is not a usable database/role name "
                              "(lower case letters, digits, _)")
        own = self._own_copy(name, credentials, key)
        db = AppDatabase(name, own, key)
        self.use(own.component)
        self._databases.append(db)
        self._sync_roles()
        return db

    def _own_copy(self, name: str, credentials: Credentials, key: str) -> Credentials:
        """The copy of ``credentials`` in PostgreSQL's namespace."""
        namespace = self.default_namespace
        if credentials.component.default_namespace == namespace:
            credentials.key_ref(key)  # declared, or a ConfigError naming it
            return credentials
        shared = credentials.shared if isinstance(credentials, SealedSecret) else None
        if shared is None:
            raise ConfigError(self.where, f"databases.{name}",
                              f"the password of {name!r} is Secret "
                              f"{credentials.secret_name} of namespace "
                              f"{credentials.component.default_namespace}, which PostgreSQL "
                              f"({namespace}) cannot read: seal it once, cluster-wide, and "
                              "ask for it with ctx.credentials(..., shared=True)")
        copy: Credentials = shared.copy_in(self.credentials.component, keys=[key])
        return copy

    def _sync_roles(self) -> None:
        """The Job that gives every app role the password of its Secret (and creates the
        role and database when missing). Its name carries the digest of the sealed
        values it reads: re-sealing a password in Git runs it again."""
        env: dict[str, Any] = {
            "PGHOST": self.host,
            "PGPORT": str(self.PORT),
            "PGUSER": "postgres",
            "PGDATABASE": "postgres",
            "PGPASSWORD": secret_key(self.credentials, self.superuser_password_key),
            **{db.env_var: secret_key(db.credentials, db.key) for db in self._databases},
        }
        script = _WAIT + "".join(_SYNC_SQL.format(name=db.name, env=db.env_var)
                                 for db in self._databases)
        command = ("sh", "-c", script)
        digest = combined_digest([self.credentials, *(db.credentials for db in self._databases)])
        if self.role_sync is not None:
            self.role_sync.update(command=command, env=env, digest=digest)
            return
        task = Task(self, "role-sync", name=f"{self.name}-role-sync", digest=digest,
                    image=self.image, command=command, env=env,
                    run_as=RunAs(user=70, group=70))
        skip_checkov(task.workload, ROLE_SYNC_SKIPS)
        pods = Pods.external(task.name, self.default_namespace or "", task.selector)
        self.connections.append(Connection.to(pods, self.server, "postgresql"))
        self.role_sync = task

    def database(self, name: str) -> AppDatabase:
        for db in self._databases:
            if db.name == name:
                return db
        raise ConfigError(self.where, "databases", f"no database named {name!r}")
