"""``homelab-charts seal``, ``reseal`` and ``unseal``."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys

import pytest
import yaml

from homelab_charts.cli import COMMAND_MODULES
from homelab_charts.cli import seal as seal_cli
from homelab_charts.errors import HomelabError
from homelab_charts.secrets.store import SealedDocument

SECRET = "hunter2-Sup3rSecret"


def run(argv, stdin: bytes | None = None, monkeypatch=None):
    """The CLI frame of homelab_charts.cli.main, with only the seal commands registered."""
    parser = argparse.ArgumentParser(prog="homelab-charts")
    sub = parser.add_subparsers(dest="command", required=True)
    seal_cli.register(sub)
    args = parser.parse_args(argv)
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    try:
        return args.func(args)
    except HomelabError as exc:
        print(f"homelab-charts {args.command}: error: {exc}", file=sys.stderr)
        return 2


@pytest.fixture
def env(tmp_path, key4096):
    cert = tmp_path / "pub.pem"
    cert.write_bytes(key4096.cert_pem)
    store = tmp_path / "store"
    store.mkdir()
    return {"cert": cert, "store": store, "tmp": tmp_path, "key": key4096,
            "base": ["--cert", str(cert), "--store", str(store)],
            "file": store / "databases" / "db.yaml"}


def seal(env, *args, **kw):
    return run(["seal", *env["base"], *args], **kw)


def read(path):
    return SealedDocument.read(path)


def test_seal_is_a_registered_command():
    assert "seal" in COMMAND_MODULES


def test_seal_creates_the_store_file(env, capsys):
    assert seal(env, "-n", "databases", "--name", "db", f"password={SECRET}", "user=app") == 0
    doc = read(env["file"])
    assert doc.keys == ("password", "user")
    assert doc.key_fingerprint.startswith("sha256:")
    assert doc.unseal(env["key"].private_key) == {"password": SECRET.encode(), "user": b"app"}
    out, err = capsys.readouterr()
    assert "sealed password, user into" in err
    assert SECRET not in out + err + env["file"].read_text()


def test_update_keeps_other_ciphertext_byte_for_byte(env):
    seal(env, "-n", "databases", "--name", "db", "a=1", "b=2", "c=3")
    before = read(env["file"]).encrypted_data
    lines_before = env["file"].read_text().splitlines()
    assert seal(env, "-n", "databases", "--name", "db", "b=22", "d=4") == 0
    after = read(env["file"])
    assert after.encrypted_data["a"] == before["a"]
    assert after.encrypted_data["c"] == before["c"]
    assert after.encrypted_data["b"] != before["b"]
    assert after.unseal(env["key"].private_key) == {"a": b"1", "b": b"22", "c": b"3", "d": b"4"}
    changed = set(env["file"].read_text().splitlines()) ^ set(lines_before)
    assert {line.split(":")[0].strip() for line in changed} == {"b", "d"}


def test_replace_drops_other_keys(env, capsys):
    seal(env, "-n", "databases", "--name", "db", "a=1", "b=2")
    assert seal(env, "-n", "databases", "--name", "db", "--replace", "b=3") == 0
    assert read(env["file"]).keys == ("b",)
    assert "removed: a" in capsys.readouterr().err


def test_scope_change_needs_every_key(env, capsys):
    seal(env, "-n", "databases", "--name", "db", "a=1", "b=2")
    before = env["file"].read_bytes()
    assert seal(env, "-n", "databases", "--name", "db", "--scope", "namespace-wide",
                "a=9") == 2
    err = capsys.readouterr().err
    assert "scope changes from strict to namespace-wide" in err and "of b would no" in err
    assert env["file"].read_bytes() == before
    assert seal(env, "-n", "databases", "--name", "db", "--scope", "namespace-wide",
                "a=9", "b=8") == 0
    doc = read(env["file"])
    assert doc.scope.value == "namespace-wide"
    assert doc.unseal(env["key"].private_key) == {"a": b"9", "b": b"8"}
    # The scope is remembered: a later update keeps it.
    assert seal(env, "-n", "databases", "--name", "db", "c=7") == 0
    assert read(env["file"]).scope.value == "namespace-wide"


def test_cert_change_needs_every_key(env, other2048, capsys):
    seal(env, "-n", "databases", "--name", "db", "a=1", "b=2")
    new_cert = env["tmp"] / "new.pem"
    new_cert.write_bytes(other2048.cert_pem)
    args = ["seal", "--cert", str(new_cert), "--store", str(env["store"]), "-n", "databases",
            "--name", "db"]
    assert run([*args, "a=1"]) == 2
    assert "sealed for another key" in capsys.readouterr().err
    assert run([*args, "a=1", "b=2"]) == 0
    assert read(env["file"]).unseal(other2048.private_key) == {"a": b"1", "b": b"2"}


def test_kubeseal_file_kept_keys_lose_the_fingerprint(env, capsys):
    seal(env, "-n", "databases", "--name", "db", "a=1")
    manifest = yaml.safe_load(env["file"].read_text())
    del manifest["metadata"]["annotations"]          # as kubeseal writes it
    env["file"].write_text(yaml.safe_dump(manifest))
    assert seal(env, "-n", "databases", "--name", "db", "b=2") == 0
    assert "without knowing which certificate" in capsys.readouterr().err
    assert read(env["file"]).key_fingerprint is None
    assert seal(env, "-n", "databases", "--name", "db", "a=1", "b=2") == 0
    assert read(env["file"]).key_fingerprint is not None


@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_every_scope_from_the_cli(env, scope):
    ns = [] if scope == "cluster-wide" else ["-n", "databases"]
    assert seal(env, *ns, "--name", "db", "--scope", scope, "k=v") == 0
    path = env["store"] / ("_cluster" if scope == "cluster-wide" else "databases") / "db.yaml"
    doc = read(path)
    assert doc.scope.value == scope
    assert doc.unseal(env["key"].private_key) == {"k": b"v"}


def test_cert_from_stdin_and_output_override(env, monkeypatch):
    out = env["tmp"] / "elsewhere.yaml"
    assert run(["seal", "--cert", "-", "-n", "n8n", "--name", "x", "-o", str(out), "k=v"],
               stdin=env["key"].cert_pem, monkeypatch=monkeypatch) == 0
    assert read(out).unseal(env["key"].private_key) == {"k": b"v"}


def test_env_file(env, monkeypatch):
    envfile = env["tmp"] / "creds.env"
    envfile.write_text(f"# creds\nexport PASSWORD='{SECRET}'\nUSER=app\n")
    assert seal(env, "-n", "databases", "--name", "db", "--from-env-file", str(envfile),
                "extra=1") == 0
    assert read(env["file"]).unseal(env["key"].private_key) == {
        "PASSWORD": SECRET.encode(), "USER": b"app", "extra": b"1"}
    assert seal(env, "-n", "databases", "--name", "db", "--from-env-file", "-",
                stdin=b"USER=other\n", monkeypatch=monkeypatch) == 0
    assert read(env["file"]).unseal(env["key"].private_key)["USER"] == b"other"


def test_default_cert_is_the_packaged_one(tmp_path, capsys):
    assert run(["seal", "--store", str(tmp_path), "-n", "n8n", "--name", "x", "k=v"]) == 0
    from homelab_charts.secrets.crypto import SealingCertificate
    from tests.conftest import CERT_FILE
    packaged = SealingCertificate.from_pem(CERT_FILE.read_bytes(), "packaged")
    assert read(tmp_path / "n8n" / "x.yaml").key_fingerprint == packaged.fingerprint


def write_cert(env, pem):
    path = env["tmp"] / "bad.pem"
    path.write_bytes(pem)
    return ["seal", "--cert", str(path), "--store", str(env["store"])]


@pytest.mark.parametrize(("setup", "args", "message"), [
    ("not-pem", ["-n", "databases", "--name", "db", f"k={SECRET}"], "not a PEM certificate"),
    ("small", ["-n", "databases", "--name", "db", f"k={SECRET}"], "1024 bits"),
    ("ok", ["-n", "databases", "--name", "db", f"bad/key={SECRET}"],
     "argument 1: the part before '=' is not a valid Secret key"),
    ("ok", ["-n", "databases", "--name", "db", SECRET], "argument 1: expected KEY=VALUE"),
    ("ok", ["--name", "db", f"k={SECRET}"], "--namespace: required"),
    ("ok", ["--scope", "namespace-wide", "--name", "db", f"k={SECRET}"],
     "--namespace: required"),
    ("ok", ["-n", "Databases", "--name", "db", f"k={SECRET}"], "not a valid DNS-1123 label"),
    ("ok", ["-n", "databases", "--name", "db"], "nothing to seal"),
    ("envfile", ["-n", "databases", "--name", "db"], "creds.env: line 3: expected KEY=VALUE"),
    ("envfile-missing", ["-n", "databases", "--name", "db"], "cannot read the env file"),
    ("broken-store", ["-n", "databases", "--name", "db", f"k={SECRET}"], "not valid YAML"),
])
def test_bad_input_exits_2_writes_nothing_and_hides_values(env, capsys, cert_for, setup,
                                                           args, message):
    from cryptography.hazmat.primitives.asymmetric import rsa

    head = ["seal", *env["base"]]
    if setup == "not-pem":
        head = write_cert(env, b"just text\n")
    elif setup == "small":
        head = write_cert(env, cert_for(rsa.generate_private_key(public_exponent=65537,
                                                                 key_size=1024)))
    elif setup.startswith("envfile"):
        envfile = env["tmp"] / "creds.env"
        if setup == "envfile":
            envfile.write_text(f"# c\nA=1\n{SECRET}\n")
        args = [*args, "--from-env-file", str(envfile)]
    elif setup == "broken-store":
        env["file"].parent.mkdir(parents=True)
        env["file"].write_text("apiVersion: bitnami.com/v1alpha1\nkind: [SealedSecret\n")
    before = env["file"].read_bytes() if env["file"].exists() else None
    assert run([*head, *args]) == 2
    out, err = capsys.readouterr()
    assert message in err
    assert err.startswith("homelab-charts seal: error: ")
    assert SECRET not in out + err
    after = env["file"].read_bytes() if env["file"].exists() else None
    assert after == before
    assert not list(env["tmp"].rglob("*.tmp"))


@pytest.mark.parametrize(("days", "problem"), [(-1, "expired"), (None, "not valid before")])
def test_expired_cert_warns_errors_and_can_be_overridden(env, capsys, cert_for, days,
                                                         problem):
    now = dt.datetime.now(dt.UTC)
    if days is None:
        pem = cert_for(env["key"].private_key, not_before=now + dt.timedelta(days=2),
                       not_after=now + dt.timedelta(days=30))
    else:
        pem = cert_for(env["key"].private_key, not_before=now - dt.timedelta(days=30),
                       not_after=now + dt.timedelta(days=days))
    head = write_cert(env, pem)
    args = ["-n", "databases", "--name", "db", "k=v"]
    assert run([*head, *args]) == 2
    err = capsys.readouterr().err
    assert "warning:" in err and problem in err and "--allow-expired" in err
    assert not env["file"].exists()
    assert run([*head, "--allow-expired", *args]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "error:" not in err
    assert read(env["file"]).unseal(env["key"].private_key) == {"k": b"v"}


def test_output_file_of_another_secret_is_refused(env, capsys):
    seal(env, "-n", "databases", "--name", "db", "k=v")
    assert seal(env, "-n", "databases", "--name", "other", "-o", str(env["file"]), "k=v") == 2
    assert "holds SealedSecret databases/db" in capsys.readouterr().err


# -- reseal and unseal ----------------------------------------------------------------------

def test_reseal_all_for_a_new_certificate(env, other2048, capsys):
    seal(env, "-n", "databases", "--name", "db", "a=1", "b=2")
    seal(env, "--scope", "cluster-wide", "--name", "global", "c=3")
    old_key = env["tmp"] / "old.key"
    old_key.write_bytes(env["key"].private_pem)
    new_cert = env["tmp"] / "new.pem"
    new_cert.write_bytes(other2048.cert_pem)
    assert run(["reseal", "--all", "--private-key", str(old_key), "--cert", str(new_cert),
                "--store", str(env["store"])]) == 0
    assert read(env["file"]).unseal(other2048.private_key) == {"a": b"1", "b": b"2"}
    glob = read(env["store"] / "_cluster" / "global.yaml")
    assert glob.scope.value == "cluster-wide"
    assert glob.unseal(other2048.private_key) == {"c": b"3"}
    err = capsys.readouterr().err
    assert "resealed databases/db (a, b)" in err
    # Now the old key no longer opens anything: a second reseal fails and writes nothing.
    before = env["file"].read_bytes()
    assert run(["reseal", "--all", "--private-key", str(old_key), "--cert", str(new_cert),
                "--store", str(env["store"])]) == 2
    assert "cannot be unsealed" in capsys.readouterr().err
    assert env["file"].read_bytes() == before


def test_reseal_one(env, capsys):
    seal(env, "-n", "databases", "--name", "db", "a=1")
    key = env["tmp"] / "k.pem"
    key.write_bytes(env["key"].private_pem)
    before = read(env["file"]).encrypted_data["a"]
    assert run(["reseal", "-n", "databases", "--name", "db", "--private-key", str(key),
                *env["base"]]) == 0
    after = read(env["file"])
    assert after.encrypted_data["a"] != before
    assert after.unseal(env["key"].private_key) == {"a": b"1"}
    assert run(["reseal", "-n", "databases", "--name", "nope", "--private-key", str(key),
                *env["base"]]) == 2
    assert "no such sealed secret file" in capsys.readouterr().err


def test_unseal_writes_an_env_file_seal_reads_back(env, capsys):
    seal(env, "-n", "databases", "--name", "db", f"password={SECRET}", "q=it's \"x\"")
    key = env["tmp"] / "k.pem"
    key.write_bytes(env["key"].private_pem)
    out = env["tmp"] / "recovered.env"
    assert run(["unseal", "--private-key", str(key), "-n", "databases", "--name", "db",
                "-o", str(out), "--store", str(env["store"])]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert SECRET not in capsys.readouterr().err
    from homelab_charts.secrets.values import read_env_file
    assert read_env_file(out) == {"password": SECRET.encode(), "q": b"it's \"x\""}
    assert run(["unseal", "--private-key", str(key), "-n", "databases", "--name", "db",
                "-o", "-", "--store", str(env["store"])]) == 0
    assert f"password='{SECRET}'" in capsys.readouterr().out


def test_unseal_refuses_multiline_values(env, capsys):
    seal(env, "-n", "databases", "--name", "db", "pem=line1\nline2")
    key = env["tmp"] / "k.pem"
    key.write_bytes(env["key"].private_pem)
    out = env["tmp"] / "recovered.env"
    assert run(["unseal", "--private-key", str(key), "-n", "databases", "--name", "db",
                "-o", str(out), "--store", str(env["store"])]) == 2
    assert "several lines" in capsys.readouterr().err
    assert not out.exists()


def test_store_folder_must_exist(env, capsys, monkeypatch, tmp_path):

    missing = tmp_path / "nonexistent" / "dir"
    args = ["seal", "--cert", str(env["cert"]), "-n", "databases", "--name", "db",
            f"k={SECRET}"]
    assert run([*args, "--store", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"--store: {missing} does not exist" in err
    assert not (tmp_path / "nonexistent").exists()
    assert run([*args, "--store", str(env["cert"])]) == 2
    assert "is not a folder" in capsys.readouterr().err
    # -o writes where it is told; the default store is created when missing.
    out = tmp_path / "out" / "db.yaml"
    assert run([*args, "--store", str(missing), "-o", str(out)]) == 0
    assert out.is_file()
    project_root = tmp_path / "project"
    project_root.mkdir()
    (project_root / "cdk8s.yaml").write_text("language: python\n")
    default = project_root / "sealed"
    monkeypatch.chdir(project_root)
    assert run([*args, "--store", str(default)]) == 0
    assert (default / "databases" / "db.yaml").is_file()


# -- unseal writes plaintext only where Git cannot pick it up (issue 11, finding 7) -------

def _unseal_args(env, out):
    key = env["tmp"] / "k.pem"
    key.write_bytes(env["key"].private_pem)
    return ["unseal", "--private-key", str(key), "-n", "databases", "--name", "db",
            "-o", str(out), "--store", str(env["store"])]


def test_unseal_refuses_an_output_inside_the_work_tree(env, capsys, monkeypatch):
    seal(env, "-n", "databases", "--name", "db", f"password={SECRET}")
    project = env["tmp"] / "project"
    project.mkdir()
    (project / "cdk8s.yaml").write_text("language: python\n")
    store = project / "sealed"
    env["store"].rename(store)
    env["store"] = store
    capsys.readouterr()
    for out in (project / "sealed" / "creds.env", project / "creds.env"):
        assert run(_unseal_args(env, out)) == 2
        err = capsys.readouterr().err
        assert f"is inside the work tree {project.resolve()}" in err and err.count("\n") == 1
        assert not out.exists() and SECRET not in err
    # The current folder's work tree counts too (the repository one works in).
    (env["tmp"] / "repo" / ".git").mkdir(parents=True)
    monkeypatch.chdir(env["tmp"] / "repo")
    assert run(_unseal_args(env, env["tmp"] / "repo" / "x.env")) == 2
    assert "inside the work tree" in capsys.readouterr().err
    outside = env["tmp"] / "elsewhere"
    outside.mkdir()
    assert run(_unseal_args(env, outside / "creds.env")) == 0


def test_unseal_never_follows_a_link_nor_overwrites(env, capsys):
    seal(env, "-n", "databases", "--name", "db", f"password={SECRET}")
    victim = env["tmp"] / "victim.txt"
    victim.write_text("mine\n")
    link = env["tmp"] / "out.env"
    link.symlink_to(victim)
    assert run(_unseal_args(env, link)) == 2
    assert "a symbolic link already exists there" in capsys.readouterr().err
    assert victim.read_text() == "mine\n"
    existing = env["tmp"] / "existing.env"
    existing.write_text("old\n")
    assert run(_unseal_args(env, existing)) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert existing.read_text() == "old\n"


def test_unseal_into_a_missing_folder_is_a_one_line_error(env, capsys):
    seal(env, "-n", "databases", "--name", "db", f"password={SECRET}")
    out = env["tmp"] / "missing" / "creds.env"
    capsys.readouterr()
    assert run(_unseal_args(env, out)) == 2
    err = capsys.readouterr().err
    assert "the folder" in err and "does not exist" in err and err.count("\n") == 1


def test_env_files_are_ignored_by_git(repo_root):
    lines = (repo_root / ".gitignore").read_text().splitlines()
    assert "*.env" in lines


def test_seal_warns_when_the_certificate_differs_from_the_stores(env, other2048, capsys):
    seal(env, "-n", "databases", "--name", "db", "a=1")
    capsys.readouterr()
    new_cert = env["tmp"] / "new.pem"
    new_cert.write_bytes(other2048.cert_pem)
    args = ["seal", "--cert", str(new_cert), "--store", str(env["store"])]
    # Another secret, sealed with a certificate the store's values were not sealed for.
    assert run([*args, "-n", "apps", "--name", "other", "k=v"]) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if "warning" in line]
    assert len(warning) == 1
    assert "1 stored secret(s) (e.g. databases/db) were sealed for sha256:" in warning[0]
    assert "homelab-charts reseal --all" in warning[0]
    # Re-sealing every key of the file for the new certificate warns too.
    assert run([*args, "-n", "databases", "--name", "db", "a=1"]) == 0
    assert "were sealed for" in capsys.readouterr().err
    # Once the whole store is sealed for the new certificate: silence.
    assert run([*args, "-n", "databases", "--name", "db", "a=2"]) == 0
    assert "warning" not in capsys.readouterr().err
