"""PostgreSQL: one primary with a persistent volume, and a role and database per app."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from homelab_charts.base import Component, Folder, Manifest
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.databases.skips import DATABASE_SKIPS
from homelab_charts.registry import ClusterContext, register
from homelab_charts.workloads import (
    ConfigFile,
    Container,
    Port,
    Probe,
    Resources,
    RunAs,
    StatefulService,
)
from homelab_charts.workloads.credentials import Credentials, secret_key

INIT_SCRIPT_KEY = "10-app-databases.sh"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: Runs once, when the data folder is first initialised: a LOGIN role and a database
#: owned by it per application. psql's :'var' quoting and \gexec keep the password out
#: of the SQL text and safe to quote.
_INIT_SCRIPT = """#!/bin/sh
# Creates one role and one database per application (first start only).
set -eu
create() {
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \\
    --set=name="$1" --set=password="$2" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password') \\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name') \\gexec
SQL
}
"""


@dataclass(frozen=True)
class AppDatabase:
    """A database and the LOGIN role owning it; the password is ``password_key`` of the
    PostgreSQL credentials Secret (and the app seals the same value in its namespace)."""

    name: str
    password_key: str

    @property
    def env_var(self) -> str:
        return f"APP_DB_PASSWORD_{self.name.upper()}"


class InitScripts(Manifest):
    """The ConfigMap of PostgreSQL's first-start script; its databases are rendered late,
    so apps built after the database can still ask for theirs."""

    def __init__(self, scope: Construct, id: str, *, name: str,
                 databases: list[AppDatabase]) -> None:
        super().__init__(scope, id, api_version="v1", kind="ConfigMap", name=name)
        self.databases = databases

    def render_body(self) -> dict[str, Any]:
        script = _INIT_SCRIPT + "".join(
            f'create {db.name} "${db.env_var}"\n' for db in self.databases)
        return {"data": {INIT_SCRIPT_KEY: script}}


@register("infrastructure.postgresql", folder="infrastructure/databases")
class PostgreSQL(Component):
    """PostgreSQL as a StatefulSet (``postgresql.yaml`` of its folder).

    ``credentials`` holds the superuser password (``superuser_password_key``) and one
    password per app database. An app asks for its database and role with
    :meth:`provide_database` (``databases`` gives some up front); each is created on the
    first start of an empty data folder.
    """

    PORT = 5432
    checkov_skips = DATABASE_SKIPS

    def __init__(self, scope: Construct, id: str, *, image: Image, credentials: Credentials,
                 databases: Sequence[AppDatabase] = (),
                 superuser_password_key: str = "postgres-password",
                 storage_size: str = "10Gi", storage_class: str | None = None,
                 resources: Resources | None = None, name: str = "postgresql") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "databases"})
        self.credentials = credentials
        self._databases: list[AppDatabase] = []
        self.use(credentials.component)
        env = {
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": secret_key(credentials, superuser_password_key),
            "PGDATA": "/var/lib/postgresql/data/pgdata",
        }
        init = InitScripts(self, "init-scripts", name=f"{name}-init",
                           databases=self._databases)
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
                config_files=(ConfigFile(init.object_name, INIT_SCRIPT_KEY,
                                         f"/docker-entrypoint-initdb.d/{INIT_SCRIPT_KEY}"),),
                # The official image's postgres user (alpine: uid/gid 70).
                run_as=RunAs(user=70, group=70, fs_group=70),
            ),
            data_path="/var/lib/postgresql/data",
            storage_size=storage_size, storage_class=storage_class,
        )
        self.service = self.server.service
        self._env: list[dict[str, Any]] = (
            self.server.workload.body["spec"]["template"]["spec"]["containers"][0]["env"])
        for db in databases:
            self.provide_database(db.name, password_key=db.password_key)

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

    @property
    def host(self) -> str:
        return self.server.host

    def provide_database(self, name: str, *, password_key: str) -> AppDatabase:
        """A database ``name`` and its LOGIN role, password ``password_key`` of the
        credentials (which must be sealed there): created on first start. Asking twice
        with the same key returns the same database."""
        for db in self._databases:
            if db.name == name:
                if db.password_key != password_key:
                    raise ConfigError(self.where, "databases",
                                      f"{name!r} is asked for with password key "
                                      f"{password_key!r}, and before with {db.password_key!r}")
                return db
        if not _IDENTIFIER.match(name) or name in ("postgres", "template0", "template1"):
            raise ConfigError(self.where, "databases",
                              f"{name!r} is not a usable database/role name "
                              "(lower case letters, digits, _)")
        declare = getattr(self.credentials, "declare", None)
        if declare is not None:
            declare(password_key)
        db = AppDatabase(name, password_key)
        ref = secret_key(self.credentials, password_key)
        self._env.append({"name": db.env_var,
                          "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}})
        self._databases.append(db)
        return db

    def database(self, name: str) -> AppDatabase:
        for db in self._databases:
            if db.name == name:
                return db
        raise ConfigError(self.where, "databases", f"no database named {name!r}")
