"""One source per credential: sealed once, copied everywhere, rotated together, and
never on a command line (issue 17)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from homelab_charts.secrets.store import SealedDocument
from homelab_charts.workloads.rollout import DIGEST_ANNOTATION
from tests.apps.tree import Pod, Tree, homelab_tree
from tests.conftest import CERT_FILE, STORE_DIR
from tests.helpers import as_project

CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"
SHARED = ("postgresql-family-assistant", "postgresql-n8n", "redis-credentials",
          "qdrant-credentials", "restic-repository")


@pytest.fixture(scope="module")
def tree() -> Tree:
    return homelab_tree()


def sealed_secrets(tree: Tree) -> list[dict[str, Any]]:
    return tree.of_kind("SealedSecret")


def secret_refs(pod: Pod) -> set[tuple[str, str]]:
    """(Secret, key) pairs a pod reads, from env and from secret/projected volumes."""
    refs: set[tuple[str, str]] = set()
    for container in pod.containers:
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.add((ref["name"], ref["key"]))
    for volume in pod.spec.get("volumes", []):
        sources = [{"secret": {"name": volume["secret"]["secretName"],
                               "items": volume["secret"].get("items", [])}}] \
            if "secret" in volume else volume.get("projected", {}).get("sources", [])
        for source in sources:
            for item in source.get("secret", {}).get("items", []):
                refs.add((source["secret"]["name"], item["key"]))
    return refs


def test_each_shared_credential_has_exactly_one_sealing_input(tree: Tree) -> None:
    """Every SealedSecret found in more than one namespace is a copy of one cluster-wide
    store file, byte for byte; no other store file seals the same credential."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for sealed in sealed_secrets(tree):
        by_name.setdefault(sealed["metadata"]["name"], []).append(sealed)
    shared = {name for name, copies in by_name.items() if len(copies) > 1}
    assert shared == set(SHARED)
    store_files = [p.relative_to(STORE_DIR).as_posix() for p in STORE_DIR.glob("*/*.yaml")]
    for name in SHARED:
        assert [f for f in store_files if f.endswith(f"/{name}.yaml")] == [
            f"_cluster/{name}.yaml"], name
        source = SealedDocument.read(STORE_DIR / "_cluster" / f"{name}.yaml")
        for copy in by_name[name]:
            assert copy["metadata"]["annotations"][CLUSTER_WIDE] == "true"
            assert copy["spec"]["encryptedData"] == source.encrypted_data
    # The database side and the app side read the same SealedSecret.
    backend = {name: value.get("secretKeyRef") for name, value in
               tree.pod("family-assistant-backend").env().items() if isinstance(value, dict)}
    (job,) = tree.of_kind("Job", "databases")
    sync = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef")
            for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert backend["DATABASE_PASSWORD"] == sync["APP_DB_PASSWORD_FAMILY_ASSISTANT"]
    assert backend["REDIS_PASSWORD"] == tree.pod("redis").env()["REDISCLI_AUTH"][
        "secretKeyRef"]
    assert ("postgresql-n8n", "password") in secret_refs(tree.pod("n8n"))


def test_a_strict_store_file_seals_nothing_shared() -> None:
    for path in STORE_DIR.glob("*/*.yaml"):
        doc = SealedDocument.read(path)
        if path.parent.name != "_cluster":
            assert doc.name not in SHARED
            assert doc.scope.value == "strict"


def test_the_redis_password_never_reaches_a_command_line(tree: Tree) -> None:
    """No value read from a Secret is expanded into a command, its arguments or a probe
    command (``/proc/<pid>/cmdline`` is readable on the node): Redis reads its password
    from a file of its Secret, redis-cli from REDISCLI_AUTH."""
    checked = 0
    for pod in tree.pods():
        for container in pod.containers:
            secret_env = {e["name"] for e in container.get("env", [])
                          if "secretKeyRef" in e.get("valueFrom", {})}
            words = [*container.get("command", []), *container.get("args", [])]
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                words += container.get(probe, {}).get("exec", {}).get("command", [])
            text = "\n".join(words)
            for name in secret_env:
                checked += 1
                assert not re.search(rf"\$\(?\{{?{name}\b", text), (pod.ident, name)
            assert "--requirepass" not in words and "-a" not in words, pod.ident
    assert checked >= 5
    redis = tree.pod("redis")
    (ctr,) = redis.containers
    assert ctr["command"] == ["redis-server"] and ctr["args"] == ["/etc/redis/redis.conf"]
    assert "REDISCLI_AUTH" in redis.env()
    assert ("redis-credentials", "redis-auth.conf") in secret_refs(redis)


def test_qdrant_writes_its_init_marker_on_its_data_volume(tree: Tree) -> None:
    env = tree.pod("qdrant").env()
    assert env["QDRANT_INIT_FILE_PATH"].startswith("/qdrant/storage/")


def test_every_pod_reading_sealed_data_carries_its_digest(tree: Tree) -> None:
    sealed_names = {(s["metadata"]["namespace"], s["metadata"]["name"])
                    for s in sealed_secrets(tree)}
    for pod in tree.pods():
        if pod.kind in ("Job", "CronJob"):  # a new pod per run reads the Secret as it is
            continue
        reads = {(pod.namespace, name) for name, _ in secret_refs(pod)} & sealed_names
        annotated = DIGEST_ANNOTATION in pod.annotations
        assert annotated == bool(reads), pod.ident
        if annotated:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", pod.annotations[DIGEST_ANNOTATION])


def reseal(root: Path, name: str, key: str, value: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "homelab_charts", "seal", "--scope", "cluster-wide",
         "--name", name, "--store", str(root / "sealed"), "--cert", str(CERT_FILE),
         "--from-env-file", "-"],
        input=f"{key}={value}\n", text=True, check=True, capture_output=True, cwd=root)


def copied_data(root: Path) -> Path:
    """The data file under another name: the tree of the re-sealed store, not a cached one."""
    copy = root / "homelab-after.yaml"
    shutil.copyfile(root / "homelab.yaml", copy)
    return copy


def digests(tree: Tree) -> dict[str, str]:
    return {p.ident: p.annotations.get(DIGEST_ANNOTATION, "") for p in tree.pods()
            if p.kind not in ("Job", "CronJob")}


def test_a_reseal_updates_every_copy_and_rolls_exactly_its_readers(tmp_path: Path) -> None:
    root = as_project(tmp_path / "repo")
    before = homelab_tree(root / "homelab.yaml")
    reseal(root, "redis-credentials", "password", "rotated-redis-password")
    after = homelab_tree(copied_data(root))
    old = {s["metadata"]["namespace"]: s for s in before.of_kind("SealedSecret")
           if s["metadata"]["name"] == "redis-credentials"}
    new = {s["metadata"]["namespace"]: s for s in after.of_kind("SealedSecret")
           if s["metadata"]["name"] == "redis-credentials"}
    assert set(new) == {"databases", "family-assistant"}
    ciphertexts = {json.dumps(s["spec"]["encryptedData"]) for s in new.values()}
    assert len(ciphertexts) == 1
    assert all(new[ns]["spec"]["encryptedData"] != old[ns]["spec"]["encryptedData"]
               for ns in new)
    changed = {k for k, v in digests(after).items() if digests(before)[k] != v}
    assert changed == {"databases/redis", "family-assistant/family-assistant-backend"}
    # The role-sync Job is unchanged: Redis is none of its inputs.
    assert [j["metadata"]["name"] for j in before.of_kind("Job")] == [
        j["metadata"]["name"] for j in after.of_kind("Job")]


def test_a_rotated_role_password_reruns_the_role_sync(tmp_path: Path) -> None:
    root = as_project(tmp_path / "repo")
    before = homelab_tree(root / "homelab.yaml")
    reseal(root, "postgresql-n8n", "password", "rotated-n8n-password")
    after = homelab_tree(copied_data(root))
    (old_job,) = before.of_kind("Job")
    (new_job,) = after.of_kind("Job")
    assert old_job["metadata"]["name"] != new_job["metadata"]["name"]
    assert new_job["metadata"]["name"].startswith("postgresql-role-sync-")
    changed = {k for k, v in digests(after).items() if digests(before)[k] != v}
    assert changed == {"n8n/n8n"}  # PostgreSQL itself reads only its superuser password


# --- the real servers ------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def redis_server(tree: Tree, tmp_path: Path) -> Iterator[tuple[int, str, int]]:
    """redis-server with the tree's redis.conf and the auth file the controller renders
    from its template (Go's toJson of the password: a JSON string)."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server/redis-cli not installed (apt-get install redis-server)")
    password = 'p4ss "quoted" \\ word'
    config_map = tree.get("ConfigMap", "databases", "redis-config")["data"]["redis.conf"]
    secret = tree.get("SealedSecret", "databases", "redis-credentials")
    template = secret["spec"]["template"]["data"]["redis-auth.conf"]
    assert template == "requirepass {{ toJson .password }}\n"
    auth = tmp_path / "redis-auth.conf"
    auth.write_text(template.replace("{{ toJson .password }}", json.dumps(password)))
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text(config_map.replace("dir /data", f"dir {data}").replace(
        "include /run/secrets/redis/redis-auth.conf", f"include {auth}")
        + f"port {port}\nbind 127.0.0.1\nsave \"\"\n")
    server = subprocess.Popen(["redis-server", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, "redis")
        yield port, password, server.pid
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_redis_reads_its_password_from_the_secret_file_and_the_probe_from_env(
        tree: Tree, redis_server: tuple[int, str, int]) -> None:
    port, password, pid = redis_server
    (ctr,) = tree.pod("redis").containers
    probe = ctr["readinessProbe"]["exec"]["command"]
    assert probe[:2] == ["sh", "-c"]
    command = probe[2].replace("redis-cli", f"redis-cli -p {port}")
    env = {"PATH": os.environ["PATH"]}
    refused = subprocess.run(["sh", "-c", command], env=env)
    assert refused.returncode != 0
    ok = subprocess.run(["sh", "-c", command], env={**env, "REDISCLI_AUTH": password})
    assert ok.returncode == 0
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert password.encode() not in cmdline and b"requirepass" not in cmdline


def _pg_bin(name: str) -> str | None:
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).is_file():
            return str(folder / name)
    return shutil.which(name)


@pytest.fixture
def postgres() -> Iterator[tuple[int, str]]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None or shutil.which("psql") is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    version = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout
    if int(re.search(r"(\d+)", version)[1]) < 15:  # type: ignore[index]
        pytest.skip(f"psql 15+ needed for \\getenv (have {version.strip()})")
    run_as: list[str] = []
    # Not under pytest's tmp_path: as root that folder is closed to the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="homelab-charts-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if shutil.which("runuser") is None:
            shutil.rmtree(folder)
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    superuser = "superuser-secret"
    pwfile = folder / "pw"
    pwfile.write_text(superuser + "\n")
    if run_as:
        shutil.chown(pwfile, "postgres")
    data = folder / "data"
    port = free_port()
    try:
        subprocess.run([*run_as, initdb, "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                        f"--pwfile={pwfile}"], check=True, capture_output=True)
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-w", "-l", str(folder / "log"),
                        "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1",
                        "start"], check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise AssertionError(f"PostgreSQL did not start: {exc.stderr!r}") from None
    try:
        yield port, superuser
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def login(port: int, role: str, password: str) -> bool:
    result = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", role, "-d", role, "-tAc",
         "SELECT current_user"],
        env={**os.environ, "PGPASSWORD": password}, capture_output=True, text=True)
    return result.returncode == 0 and result.stdout.strip() == role


def test_the_role_sync_job_creates_roles_and_applies_rotated_passwords(
        tree: Tree, postgres: tuple[int, str]) -> None:
    port, superuser = postgres
    (job,) = tree.of_kind("Job", "databases")
    (ctr,) = job["spec"]["template"]["spec"]["containers"]
    literal = {e["name"]: e["value"] for e in ctr["env"] if "value" in e}
    assert set(literal) == {"PGHOST", "PGPORT", "PGUSER", "PGDATABASE"}

    def run(passwords: dict[str, str]) -> None:
        env = {"PATH": os.environ["PATH"], **literal, "PGHOST": "127.0.0.1",
               "PGPORT": str(port), "PGPASSWORD": superuser, **passwords}
        subprocess.run(ctr["command"], env=env, check=True, capture_output=True, timeout=60)

    first = {"APP_DB_PASSWORD_FAMILY_ASSISTANT": "first'fa\"pw",
             "APP_DB_PASSWORD_N8N": "first-n8n"}
    run(first)
    assert login(port, "family_assistant", "first'fa\"pw")
    assert login(port, "n8n", "first-n8n")
    run({**first, "APP_DB_PASSWORD_N8N": "rotated-n8n"})  # idempotent, and rotates
    assert not login(port, "n8n", "first-n8n")
    assert login(port, "n8n", "rotated-n8n")
    assert login(port, "family_assistant", "first'fa\"pw")
    assert yaml.safe_dump(job).count("first-n8n") == 0
