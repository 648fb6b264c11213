"""PostgreSQL: one primary with a persistent volume, and a role and database per app."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from constructs import Construct

from homelab_charts.base import Component, Manifest
from homelab_charts.config import Image
from homelab_charts.errors import ConfigError
from homelab_charts.infrastructure.databases.credentials import Credentials, secret_key
from homelab_charts.workloads import (
    ConfigFile,
    Container,
    Port,
    Probe,
    Resources,
    RunAs,
    StatefulService,
)

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


class PostgreSQL(Component):
    """PostgreSQL as a StatefulSet (``postgresql.yaml`` of its folder).

    ``credentials`` holds the superuser password (``superuser_password_key``) and one
    password per entry of ``databases``.
    """

    PORT = 5432

    def __init__(self, scope: Construct, id: str, *, image: Image, credentials: Credentials,
                 databases: Sequence[AppDatabase] = (),
                 superuser_password_key: str = "postgres-password",
                 storage_size: str = "10Gi", storage_class: str | None = None,
                 resources: Resources | None = None, name: str = "postgresql") -> None:
        super().__init__(scope, id, labels={"app.kubernetes.io/part-of": "databases"})
        seen: set[str] = set()
        for db in databases:
            if not _IDENTIFIER.match(db.name) or db.name in ("postgres", "template0", "template1"):
                raise ConfigError(self.where, "databases",
                                  f"{db.name!r} is not a usable database/role name "
                                  "(lower case letters, digits, _)")
            if db.name in seen:
                raise ConfigError(self.where, "databases", f"{db.name!r} is listed twice")
            seen.add(db.name)
        self.databases = tuple(databases)
        self.use(credentials.component)
        env = {
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": secret_key(credentials, superuser_password_key),
            "PGDATA": "/var/lib/postgresql/data/pgdata",
        }
        for db in self.databases:
            env[db.env_var] = secret_key(credentials, db.password_key)
        config_files: tuple[ConfigFile, ...] = ()
        if self.databases:
            script = _INIT_SCRIPT + "".join(
                f'create {db.name} "${db.env_var}"\n' for db in self.databases)
            init = Manifest(self, "init-scripts", api_version="v1", kind="ConfigMap",
                            name=f"{name}-init", body={"data": {"10-app-databases.sh": script}})
            config_files = (ConfigFile(init.object_name, "10-app-databases.sh",
                                       "/docker-entrypoint-initdb.d/10-app-databases.sh"),)
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
                config_files=config_files,
                # The official image's postgres user (alpine: uid/gid 70).
                run_as=RunAs(user=70, group=70, fs_group=70),
            ),
            data_path="/var/lib/postgresql/data",
            storage_size=storage_size, storage_class=storage_class,
        )
        self.service = self.server.service

    @property
    def host(self) -> str:
        return self.server.host

    def database(self, name: str) -> AppDatabase:
        for db in self.databases:
            if db.name == name:
                return db
        raise ConfigError(self.where, "databases", f"no database named {name!r}")
