"""Real servers for the backup script tests: PostgreSQL (Debian's postgresql, as a
non-root user), Redis (redis-server on 127.0.0.1), a local restic repository, and a
stand-in for Qdrant's snapshot HTTP API (no Qdrant binary installs here).

Missing tools make the tests skip, saying what to install (`.ci/run` installs them).
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import glob
import hashlib
import io
import json
import os
import pwd
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from homelab_charts.infrastructure.backup.scripts import SCRIPTS_DIR

INSTALL = "apt-get install -y postgresql redis-server restic (what .ci/run does as root)"


def need(*tools: str) -> dict[str, str]:
    found = {}
    for tool in tools:
        path = shutil.which(tool)
        if path is None and tool in ("initdb", "pg_ctl"):
            candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
            path = candidates[-1] if candidates else None
        if path is None:
            pytest.skip(f"{tool} is not installed: the backup scripts are tested against real "
                        f"servers; {INSTALL}")
        found[tool] = path
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_script(script: str, env: Mapping[str, str], *, check: bool = True,
               timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run a shipped script (the ConfigMap's file) with ``sh``, as the jobs do."""
    full = {"PATH": os.environ["PATH"], "SCRIPTS_DIR": str(SCRIPTS_DIR), **env}
    result = subprocess.run(["sh", str(SCRIPTS_DIR / script)], env=full, capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{script} exited {result.returncode}\n{result.stdout}\n"
                             f"{result.stderr}")
    return result


@dataclass
class Restic:
    """A local restic repository the scripts store into and fetch from."""

    root: Path
    password: str = "correct horse battery staple"

    @property
    def env(self) -> dict[str, str]:
        return {"RESTIC_REPOSITORY": str(self.root / "repo"), "RESTIC_PASSWORD": self.password,
                "RESTIC_CACHE_DIR": str(self.root / "cache"), "BACKUP_HOST": "homelab",
                "HOME": str(self.root), "TMPDIR": str(self.root)}

    def snapshots(self, tag: str | None = None) -> list[dict[str, Any]]:
        args = ["restic", "snapshots", "--json"] + (["--tag", tag] if tag else [])
        out = subprocess.run(args, env={**os.environ, **self.env}, capture_output=True,
                             text=True, check=True).stdout
        return list(json.loads(out) or [])


# --- PostgreSQL ---------------------------------------------------------------------

@dataclass
class Postgres:
    data: Path
    port: int
    password: str
    tools: dict[str, str]
    user: str | None

    def as_owner(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *args] if self.user else list(args)

    @property
    def env(self) -> dict[str, str]:
        return {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(self.port),
                "PGUSER": "postgres", "PGPASSWORD": self.password}

    def psql(self, sql: str, db: str = "postgres") -> str:
        result = subprocess.run(
            ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-h", "127.0.0.1", "-p",
             str(self.port), "-U", "postgres", "-d", db, "-c", sql],
            env={**os.environ, "PGPASSWORD": self.password}, capture_output=True, text=True)
        if result.returncode != 0:
            raise AssertionError(result.stderr)
        return result.stdout.strip()

    def stop(self) -> None:
        subprocess.run(self.as_owner(self.tools["pg_ctl"], "-D", str(self.data), "-m", "fast",
                                     "-w", "stop"), capture_output=True, timeout=60)


@contextlib.contextmanager
def postgres_server(root: Path) -> Iterator[Postgres]:
    tools = need("initdb", "pg_ctl", "psql", "pg_dump", "pg_restore", "pg_dumpall", "pg_isready")
    user = None
    if os.geteuid() == 0:  # initdb refuses root: run the server as nobody
        user = "nobody"
        pwd.getpwnam(user)
    # Outside pytest's tmp folder, which is private to root: the server's user must reach it.
    base = Path(tempfile.mkdtemp(prefix="hc-pg-"))
    password = "pg-superuser-secret"
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    sockets = base / "sockets"
    sockets.mkdir()
    if user:
        info = pwd.getpwnam(user)
        for path in (base, pwfile, sockets):
            os.chown(path, info.pw_uid, info.pw_gid)
    data = base / "data"
    port = free_port()
    pg = Postgres(data, port, password, tools, user)
    subprocess.run(pg.as_owner(tools["initdb"], "-D", str(data), "-U", "postgres",
                               "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                               "--locale=C"), check=True, capture_output=True, timeout=120)
    subprocess.run(pg.as_owner(tools["pg_ctl"], "-D", str(data), "-l", str(base / "log"), "-w",
                               "-o", f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1",
                               "start"), check=True, capture_output=True, timeout=120)
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)


# --- Redis --------------------------------------------------------------------------

class Resp:
    """A minimal RESP client (enough to populate and compare a Redis exactly)."""

    def __init__(self, port: int, password: str | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rb")
        if password:
            self("AUTH", password)

    def __call__(self, *args: str | bytes | int) -> Any:
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.sock.sendall(b"*%d\r\n" % len(parts)
                          + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
        return self._reply()

    def _reply(self) -> Any:
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self.file.read(size + 2)[:-2]
            return data
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line!r}")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@dataclass
class Redis:
    data: Path
    port: int
    password: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def args(self) -> list[str]:
        # The StatefulSet's arguments (homelab_charts/infrastructure/databases/redis.py).
        return ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir",
                str(self.data), "--appendonly", "yes", "--requirepass", self.password]

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                client = self.client()
                if b"loading:0" in client("INFO", "persistence"):
                    client.close()
                    return
                client.close()
            except (OSError, RuntimeError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("redis-server did not start")
            time.sleep(0.1)

    def client(self) -> Resp:
        return Resp(self.port, self.password)

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(OSError, RuntimeError):
            self.client()("SHUTDOWN")
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextlib.contextmanager
def redis_server(root: Path) -> Iterator[Redis]:
    need("redis-server", "redis-cli")
    data = root / "redis-data"
    data.mkdir()
    server = Redis(data, free_port(), "redis-secret")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def value_of(client: Resp, key: bytes) -> tuple[str, Any]:
    """A key's type and value, in a canonical order (a set's DUMP order is not)."""
    kind = client("TYPE", key)
    if kind == "string":
        return kind, client("GET", key)
    if kind == "hash":
        flat = client("HGETALL", key)
        return kind, sorted(zip(flat[::2], flat[1::2], strict=True))
    if kind == "list":
        return kind, client("LRANGE", key, 0, -1)
    if kind == "set":
        return kind, sorted(client("SMEMBERS", key))
    if kind == "zset":
        return kind, client("ZRANGE", key, 0, -1, "WITHSCORES")
    raise AssertionError(f"unexpected type {kind} of {key!r}")


def redis_fingerprint(client: Resp, databases: range = range(16)) -> dict[
        tuple[int, bytes], tuple[tuple[str, Any], bool]]:
    """(db, key) -> ((type, value), has a TTL): every key of every database, exactly."""
    out = {}
    for db in databases:
        client("SELECT", db)
        cursor = b"0"
        while True:
            cursor, keys = client("SCAN", cursor, "COUNT", 1000)
            for key in keys:
                out[(db, key)] = (value_of(client, key), client("PTTL", key) > 0)
            if cursor == b"0":
                break
    client("SELECT", 0)
    return out


# --- Qdrant's snapshot API, stood in -----------------------------------------------

@dataclass
class QdrantStandIn:
    """Qdrant's documented collection snapshot API, over points held in memory:
    GET /collections; POST /collections/{c}/snapshots; GET and DELETE
    /collections/{c}/snapshots/{name}; POST /collections/{c}/snapshots/upload
    (multipart field ``snapshot``, ``priority``) which replaces or creates the collection.
    A snapshot is a tar holding the collection's points as JSON. Every call needs the
    ``api-key`` header."""

    api_key: str
    collections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    snapshots: dict[tuple[str, str], bytes] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    def snapshot_of(self, name: str) -> bytes:
        buffer = io.BytesIO()
        body = json.dumps(self.collections[name], sort_keys=True).encode()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo("points.json")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        return buffer.getvalue()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, status: int, body: Any, raw: bytes | None = None) -> None:
                data = raw if raw is not None else json.dumps(
                    {"result": body, "status": "ok", "time": 0.001}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream" if raw is not None
                                 else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def route(self, method: str) -> None:
                stand_in.calls.append((method, self.path))
                if self.headers.get("api-key") != stand_in.api_key:
                    self.reply(401, None, raw=b'{"status":{"error":"Invalid api-key"}}')
                    return
                path, _, query = self.path.partition("?")
                parts = path.strip("/").split("/")
                if method == "GET" and parts == ["collections"]:
                    self.reply(200, {"collections": [{"name": n}
                                                     for n in sorted(stand_in.collections)]})
                    return
                if len(parts) < 3 or parts[0] != "collections" or parts[2] != "snapshots":
                    self.reply(404, None, raw=b"{}")
                    return
                name = parts[1]
                if method == "POST" and len(parts) == 3 and name in stand_in.collections:
                    data = stand_in.snapshot_of(name)
                    snap = f"{name}-{len(stand_in.snapshots) + 1}-2025-01-01-00-00-00.snapshot"
                    stand_in.snapshots[(name, snap)] = data
                    self.reply(200, {"name": snap, "creation_time": "2025-01-01T00:00:00",
                                     "size": len(data),
                                     "checksum": hashlib.sha256(data).hexdigest()})
                elif method == "GET" and len(parts) == 4 and (name, parts[3]) in stand_in.snapshots:
                    self.reply(200, None, raw=stand_in.snapshots[(name, parts[3])])
                elif method == "DELETE" and len(parts) == 4 and \
                        stand_in.snapshots.pop((name, parts[3]), None) is not None:
                    self.reply(200, True)
                elif method == "POST" and parts[3:] == ["upload"]:
                    if "priority=snapshot" not in query:
                        self.reply(400, None, raw=b'{"status":{"error":"priority"}}')
                        return
                    length = int(self.headers["Content-Length"])
                    body = self.rfile.read(length)
                    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                        b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n"
                        + body)
                    files = [p for p in message.iter_parts()
                             if p.get_param("name", header="content-disposition") == "snapshot"]
                    if not files:
                        self.reply(400, None, raw=b'{"status":{"error":"no snapshot"}}')
                        return
                    payload = files[0].get_payload(decode=True)
                    with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
                        member = tar.extractfile("points.json")
                        assert member is not None
                        stand_in.collections[name] = json.loads(member.read())
                    self.reply(200, True)
                else:
                    self.reply(404, None, raw=b'{"status":{"error":"Not found"}}')

            def do_GET(self) -> None:
                self.route("GET")

            def do_POST(self) -> None:
                self.route("POST")

            def do_DELETE(self) -> None:
                self.route("DELETE")

        return Handler


@contextlib.contextmanager
def qdrant_stand_in(api_key: str) -> Iterator[QdrantStandIn]:
    stand_in = QdrantStandIn(api_key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), stand_in.handler())
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
