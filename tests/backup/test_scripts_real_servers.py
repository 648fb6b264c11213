"""The backup and restore scripts the jobs run, against real servers started here.

The scripts are the files of homelab_charts/infrastructure/backup/scripts/, the same
text the ``backup-scripts`` ConfigMaps ship (checked below). Each test backs a server up
into a local restic repository, destroys the data, restores it and compares it exactly.
PostgreSQL, Redis and restic are Debian's (`.ci/run` installs them); Qdrant is a stand-in
following its documented snapshot API. Durations are printed (``pytest -s``) for the
restore drill in docs/BACKUPS.md; nothing asserts on them.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from homelab_charts.infrastructure.backup.scripts import SCRIPTS_DIR, script_texts
from tests.apps.tree import homelab_tree
from tests.backup.servers import (
    Restic,
    need,
    postgres_server,
    qdrant_stand_in,
    redis_fingerprint,
    redis_server,
    run_script,
)


@pytest.fixture
def restic(tmp_path: Path) -> Restic:
    need("restic")
    return Restic(tmp_path / "restic")


def timed(label: str, timings: dict[str, float], func, *args, **kwargs):
    start = time.monotonic()
    result = func(*args, **kwargs)
    timings[label] = time.monotonic() - start
    return result


def report(component: str, timings: dict[str, float]) -> None:
    print(f"\n[drill] {component}: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()))


def test_the_config_maps_ship_exactly_these_scripts() -> None:
    tree = homelab_tree()
    shipped = [cm for cm in tree.of_kind("ConfigMap") if cm["metadata"]["name"] ==
               "backup-scripts"]
    assert {cm["metadata"]["namespace"] for cm in shipped} == {"databases", "n8n"}
    for cm in shipped:
        assert cm["data"] == script_texts()
    assert set(script_texts()) == {p.name for p in SCRIPTS_DIR.glob("*.sh")}


def test_postgresql_backup_destroy_restore(tmp_path: Path, restic: Restic) -> None:
    timings: dict[str, float] = {}
    with postgres_server(tmp_path) as pg:
        pg.psql("CREATE ROLE family_assistant LOGIN PASSWORD 'fa-secret'")
        pg.psql("CREATE DATABASE family_assistant OWNER family_assistant")
        pg.psql("CREATE ROLE n8n LOGIN PASSWORD 'n8n-secret'")
        pg.psql("CREATE DATABASE n8n OWNER n8n")
        pg.psql("SET ROLE family_assistant; CREATE TABLE notes (id serial PRIMARY KEY, "
                "body text, meta jsonb, blob bytea, at timestamptz, maybe int); "
                "INSERT INTO notes (body, meta, blob, at, maybe) SELECT 'note ' || g || "
                "E' \\u00e9\\n''quoted''', jsonb_build_object('n', g, 'tags', "
                "jsonb_build_array('a', g % 7)), decode(md5(g::text), 'hex'), "
                "'2025-01-01'::timestamptz + g * interval '1 minute', "
                "CASE WHEN g % 3 = 0 THEN NULL ELSE g END FROM generate_series(1, 50000) g",
                db="family_assistant")
        pg.psql("SET ROLE n8n; CREATE TABLE workflow (id text PRIMARY KEY, nodes json); "
                "INSERT INTO workflow SELECT 'wf-' || g, json_build_object('g', g) "
                "FROM generate_series(1, 5000) g", db="n8n")

        def fingerprint() -> dict[str, str]:
            return {
                "notes": pg.psql("SELECT count(*) || ':' || md5(string_agg(n::text, '|' "
                                 "ORDER BY id)) FROM notes n", db="family_assistant"),
                "sequence": pg.psql("SELECT last_value FROM notes_id_seq", db="family_assistant"),
                "workflow": pg.psql("SELECT count(*) || ':' || md5(string_agg(w::text, '|' "
                                    "ORDER BY id)) FROM workflow w", db="n8n"),
                "owners": pg.psql("SELECT string_agg(datname || '=' || pg_get_userbyid(datdba), "
                                  "',' ORDER BY datname) FROM pg_database WHERE datname IN "
                                  "('family_assistant', 'n8n')"),
            }

        before = fingerprint()
        work = tmp_path / "work"
        env = {**restic.env, **pg.env, "BACKUP_DIR": str(work), "BACKUP_COMPONENT": "postgresql"}
        timed("dump", timings, run_script, "postgresql-dump.sh", env)
        assert sorted(p.name for p in (work / "postgresql").iterdir()) == [
            "databases.txt", "family_assistant.dump", "n8n.dump", "roles.sql"]
        timed("store", timings, run_script, "restic-store.sh", env)
        [snapshot] = restic.snapshots("postgresql")

        # Destroy: both databases and a role gone, so the restore must recreate the owner.
        pg.psql("DROP DATABASE family_assistant WITH (FORCE)")
        pg.psql("DROP DATABASE n8n WITH (FORCE)")
        pg.psql("DROP ROLE family_assistant")
        pg.psql("ALTER ROLE n8n PASSWORD 'rotated-since'")
        restore = {**env, "RESTORE_DIR": str(tmp_path / "restore"), "RESTORE_SNAPSHOT": "latest"}
        timed("fetch", timings, run_script, "restic-fetch.sh", restore)
        timed("load", timings, run_script, "postgresql-load.sh", restore)
        assert fingerprint() == before
        # The recreated role logs in with its backed-up password; the surviving role kept
        # the password it has now (roles are only recreated, never overwritten).
        login = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(pg.port),
                                "-U", "family_assistant", "-d", "family_assistant", "-c",
                                "SELECT 1"], env={**os.environ, "PGPASSWORD": "fa-secret"},
                               capture_output=True, text=True)
        assert login.stdout.strip() == "1", login.stderr
        kept = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(pg.port),
                               "-U", "n8n", "-d", "n8n", "-c", "SELECT 1"],
                              env={**os.environ, "PGPASSWORD": "rotated-since"},
                              capture_output=True, text=True)
        assert kept.stdout.strip() == "1", kept.stderr

        # One database by snapshot ID: n8n comes back, family_assistant is left alone.
        pg.psql("INSERT INTO notes (body) VALUES ('written after the backup')",
                db="family_assistant")
        pg.psql("DELETE FROM workflow", db="n8n")
        one = {**restore, "RESTORE_DIR": str(tmp_path / "restore-one"),
               "RESTORE_SNAPSHOT": snapshot["short_id"], "RESTORE_DATABASE": "n8n"}
        run_script("restic-fetch.sh", one)
        run_script("postgresql-load.sh", one)
        after = fingerprint()
        assert after["workflow"] == before["workflow"]
        assert after["notes"] != before["notes"]  # untouched: still has the new row

        missing = run_script("postgresql-load.sh", {**one, "RESTORE_DATABASE": "nope"},
                             check=False)
        assert missing.returncode != 0
        assert "the snapshot has no database nope" in missing.stderr
    report("postgresql (50,000 + 5,000 rows)", timings)


def test_restic_fetch_refuses_another_components_snapshot(tmp_path: Path,
                                                          restic: Restic) -> None:
    folder = tmp_path / "work" / "redis"
    folder.mkdir(parents=True)
    (folder / "dump.rdb").write_bytes(b"REDIS0011")
    env = {**restic.env, "BACKUP_DIR": str(tmp_path / "work"), "BACKUP_COMPONENT": "redis"}
    run_script("restic-store.sh", env)
    [snapshot] = restic.snapshots("redis")
    fetch = {**restic.env, "BACKUP_COMPONENT": "postgresql", "RESTORE_DIR": str(tmp_path / "r"),
             "RESTORE_SNAPSHOT": snapshot["short_id"]}
    result = run_script("restic-fetch.sh", fetch, check=False)
    assert result.returncode != 0
    assert f"snapshot {snapshot['short_id']} is not a postgresql snapshot" in result.stderr
    bad = run_script("restic-fetch.sh", {**fetch, "RESTORE_SNAPSHOT": "$(id)"}, check=False)
    assert bad.returncode != 0 and "is not a snapshot ID" in bad.stderr
    ok = run_script("restic-fetch.sh", {**fetch, "BACKUP_COMPONENT": "redis"})
    assert ok.returncode == 0
    assert (tmp_path / "r" / "dump.rdb").read_bytes() == b"REDIS0011"


def test_redis_backup_flush_restore(tmp_path: Path, restic: Restic) -> None:
    timings: dict[str, float] = {}
    with redis_server(tmp_path) as redis:
        client = redis.client()
        for i in range(20000):
            client("SET", f"session:{i}", f"value {i} " * 3)
        client("HSET", "user:1", "name", "Ada", "lang", "en")
        client("RPUSH", "queue", "a", "b", "c", "a")
        client("SADD", "tags", "x", "y", "z")
        client("ZADD", "scores", "1.5", "ada", "2", "bob")
        client("SET", "expiring", "soon", "EX", "3600")
        client("SET", b"binary\nkey\x00\xff", b"\x00\x01\x02\n")
        client("SELECT", 3)
        client("SET", "other-db", "kept")
        client("SELECT", 0)
        before = redis_fingerprint(client)
        assert len(before) == 20007
        client.close()

        work = tmp_path / "work"
        env = {**restic.env, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis.port),
               "REDISCLI_AUTH": redis.password, "BACKUP_DIR": str(work),
               "BACKUP_COMPONENT": "redis"}
        timed("dump", timings, run_script, "redis-dump.sh", env)
        timed("store", timings, run_script, "restic-store.sh", env)

        client = redis.client()
        client("FLUSHALL")
        assert redis_fingerprint(client) == {}
        client.close()
        redis.stop()  # what the restore command does first: scale Redis to 0

        socket_dir = Path(os.environ.get("TMPDIR", "/tmp"))
        restore = {**env, "RESTORE_DIR": str(tmp_path / "restore"), "RESTORE_SNAPSHOT": "latest",
                   "REDIS_DATA_DIR": str(redis.data),
                   "REDIS_RESTORE_SOCKET": str(socket_dir / f"hc-redis-{os.getpid()}.sock")}
        timed("fetch", timings, run_script, "restic-fetch.sh", restore)
        timed("load", timings, run_script, "redis-load.sh", restore)
        assert (redis.data / "appendonlydir").is_dir()

        redis.start()  # ...then back up, with its own arguments (appendonly yes)
        client = redis.client()
        after = redis_fingerprint(client)
        client.close()
        assert after == before
    report("redis (20,007 keys)", timings)


def test_qdrant_snapshots_through_the_api_stand_in(tmp_path: Path, restic: Restic) -> None:
    need("curl")
    with qdrant_stand_in("qdrant-key") as qdrant:
        qdrant.collections = {
            "documents": [{"id": i, "vector": [i / 10, 1 - i / 10], "payload": {"n": i}}
                          for i in range(200)],
            "memories": [{"id": "a", "vector": [0.1, 0.2], "payload": {}}],
        }
        before = {k: list(v) for k, v in qdrant.collections.items()}
        work = tmp_path / "work"
        env = {**restic.env, "QDRANT_URL": qdrant.url, "QDRANT_API_KEY": "qdrant-key",
               "BACKUP_DIR": str(work), "BACKUP_COMPONENT": "qdrant"}
        run_script("qdrant-dump.sh", env)
        assert qdrant.snapshots == {}, "the dump deletes its snapshots from the server"
        assert sorted(p.name for p in (work / "qdrant").iterdir()) == [
            "collections.txt", "documents.snapshot", "memories.snapshot"]
        run_script("restic-store.sh", env)

        qdrant.collections.clear()  # destroy
        restore = {**env, "RESTORE_DIR": str(tmp_path / "restore")}
        run_script("restic-fetch.sh", restore)
        qdrant.calls.clear()
        run_script("qdrant-load.sh", restore)
        assert qdrant.collections == before
        assert [c for c in qdrant.calls if c[0] == "POST"] == [
            ("POST", f"/collections/{name}/snapshots/upload?priority=snapshot&wait=true")
            for name in ("documents", "memories")]

        qdrant.collections["memories"] = []
        run_script("qdrant-load.sh", {**restore, "RESTORE_COLLECTION": "memories"})
        assert qdrant.collections == before

        wrong = run_script("qdrant-dump.sh", {**env, "QDRANT_API_KEY": "wrong"}, check=False)
        assert wrong.returncode != 0


def test_n8n_data_folder_restored_in_place(tmp_path: Path, restic: Restic) -> None:
    data = tmp_path / "n8n"
    (data / "binaryData" / "wf1").mkdir(parents=True)
    (data / "config").write_text('{"encryptionKey": "from-the-sealed-secret"}')
    (data / "config").chmod(0o600)
    (data / "binaryData" / "wf1" / "blob").write_bytes(os.urandom(100_000))

    def tree() -> dict[str, tuple[bytes, int]]:
        return {str(p.relative_to(data)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
                for p in sorted(data.rglob("*")) if p.is_file()}

    before = tree()
    env = {**restic.env, "BACKUP_COMPONENT": "n8n", "BACKUP_PATH": str(data)}
    run_script("restic-store.sh", env)
    (data / "config").unlink()
    (data / "junk").write_text("written after the backup")
    run_script("restic-fetch.sh", {**env, "RESTORE_DIR": str(data), "RESTORE_CLEAR": "yes"})
    assert tree() == before


def test_retention_and_check(tmp_path: Path, restic: Restic) -> None:
    folder = tmp_path / "work" / "redis"
    folder.mkdir(parents=True)
    for component in ("redis", "redis", "redis", "qdrant"):
        (folder / "dump.rdb").write_bytes(os.urandom(1000))
        env = {**restic.env, "BACKUP_COMPONENT": component, "BACKUP_PATH": str(folder)}
        run_script("restic-store.sh", env)
    assert len(restic.snapshots()) == 4
    run_script("restic-forget.sh", {**restic.env, "KEEP_DAILY": "1", "KEEP_WEEKLY": "0",
                                    "KEEP_MONTHLY": "0"})
    kept = restic.snapshots()
    assert sorted(s["tags"][0] for s in kept) == ["qdrant", "redis"]  # newest of each
    run_script("restic-check.sh", {**restic.env, "CHECK_READ_SUBSET": "100%"})
    broken = next(p for p in (Path(restic.env["RESTIC_REPOSITORY"]) / "data").rglob("*")
                  if p.is_file())
    broken.chmod(0o600)
    broken.write_bytes(b"corrupted")
    assert run_script("restic-check.sh", {**restic.env, "CHECK_READ_SUBSET": "100%"},
                      check=False).returncode != 0


def test_scripts_are_posix_and_shellcheck_clean() -> None:
    from tests.scripts.test_shell_quality import shellcheck

    for script in sorted(SCRIPTS_DIR.glob("*.sh")):
        text = script.read_text()
        assert text.startswith("#!/bin/sh\n"), script.name
        if script.name != "lib.sh":
            assert "\nset -eu\n" in text, script.name
        result = subprocess.run([shellcheck(), "--shell=sh", "--severity=style", "-x",
                                 "-P", str(SCRIPTS_DIR), str(script)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout


def test_yaml_of_the_scripts_config_map_is_plain() -> None:
    text = (Path(__file__).resolve().parents[2] / "infrastructure/databases/backups.yaml"
            ).read_text()
    assert "&id" not in text  # no YAML anchors: every object stands alone
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert docs[0]["kind"] == "ConfigMap"
