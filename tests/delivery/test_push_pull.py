"""push/pull against a real registry (Debian's docker-registry, started by the tests)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from homelab_charts.cli import main
from homelab_charts.operations.artifact import (
    CONFIG_MEDIA_TYPE,
    CONTENT_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    Reference,
    TreeFile,
    pack,
    pull_artifact,
    unpack,
)
from tests.delivery.conftest import git
from tests.delivery.registry import RunningRegistry, need_registry, registry

REPO = "homelab/tree"


def _committed(root: Path) -> dict[str, bytes]:
    """The files the artifact must hold: clusters/homelab (no flux-system), infra, apps."""
    out = {}
    for top in ("clusters/homelab", "infrastructure", "apps"):
        for path in sorted((root / top).rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and "/flux-system/" not in rel:
                out[rel] = path.read_bytes()
    return out


def _push(root: Path, url: str, *extra: str) -> str:
    out = io.StringIO()
    from homelab_charts.cli import build_parser

    args = build_parser("push").parse_args(["push", url, "--insecure", "--root", str(root),
                                            *extra])
    assert args.func(args, out) == 0
    return out.getvalue()


def _manifest(registry_: RunningRegistry, tag: str) -> tuple[dict, str]:
    import urllib.request

    request = urllib.request.Request(f"http://{registry_.host}/v2/{REPO}/manifests/{tag}",
                                     headers={"Accept": MANIFEST_MEDIA_TYPE})
    with urllib.request.urlopen(request, timeout=10) as answer:
        raw = answer.read()
        assert answer.headers["Content-Type"] == MANIFEST_MEDIA_TYPE
    return json.loads(raw), f"sha256:{hashlib.sha256(raw).hexdigest()}"


def test_push_then_pull_gives_the_tree_back_byte_for_byte(
        committed_repo: Path, oci_registry: RunningRegistry, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # A file bootstrap owns never goes into the artifact.
    (committed_repo / "clusters/homelab/flux-system").mkdir()
    (committed_repo / "clusters/homelab/flux-system/gotk-sync.yaml").write_text("kind: X\n")
    git(committed_repo, "add", "-A")
    git(committed_repo, "commit", "-q", "-m", "bootstrap", date="2025-03-05T10:00:00+01:00")
    head = git(committed_repo, "rev-parse", "HEAD")
    printed = _push(committed_repo, oci_registry.url(REPO, "main"))
    assert f"at main@sha1:{head} to oci://{oci_registry.host}/{REPO}:main" in printed

    document, digest = _manifest(oci_registry, "main")
    assert printed.splitlines()[-1] == f"oci://{oci_registry.host}/{REPO}@{digest}"
    # Flux's media types and annotations.
    assert document["schemaVersion"] == 2 and document["mediaType"] == MANIFEST_MEDIA_TYPE
    assert document["config"]["mediaType"] == CONFIG_MEDIA_TYPE
    assert [layer["mediaType"] for layer in document["layers"]] == [CONTENT_MEDIA_TYPE]
    assert document["annotations"] == {
        "org.opencontainers.image.created": "2025-03-05T09:00:00Z",  # the commit's, in UTC
        "org.opencontainers.image.revision": f"main@sha1:{head}",
        # origin's URL without its credential
        "org.opencontainers.image.source": "https://github.com/example/homelab-charts.git",
    }

    # Pull it back (kept in a folder) and compare byte for byte with the commit's files.
    kept = tmp_path / "pulled"
    assert main(["pull", oci_registry.url(REPO, "main"), "--insecure", "--root",
                 str(committed_repo), "--keep", str(kept)]) == 0
    out = capsys.readouterr().out
    assert f"revision: main@sha1:{head}" in out and "identical" in out.lower()
    pulled = {p.relative_to(kept).as_posix(): p.read_bytes()
              for p in sorted(kept.rglob("*")) if p.is_file()}
    assert pulled == _committed(committed_repo)
    assert "clusters/homelab/flux-system/gotk-sync.yaml" not in pulled

    # The layer is a tarball as fluxcd/pkg writes it.
    artifact = pull_artifact(oci_registry.url(REPO, "main"), insecure=True)
    tar_bytes = gzip.decompress(artifact.layer)
    assert artifact.layer[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, mtime 0
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[0] == "." and names == _walk_order(names)
    assert all((m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 0) for m in members)
    assert {m.mode for m in members if m.isdir()} == {0o755}
    assert {m.mode for m in members if m.isfile()} == {0o644}
    assert len(tar_bytes) % 512 == 0 and tar_bytes[-1024:] == b"\0" * 1024
    config = json.loads(artifact.config)
    assert config["rootfs"] == {"type": "layers",
                                "diff_ids": [f"sha256:{hashlib.sha256(tar_bytes).hexdigest()}"]}


def _walk_order(names: list[str]) -> list[str]:
    """Go's filepath.WalkDir order: a folder, then its entries sorted by name."""
    def key(name: str) -> list[str]:
        return [] if name == "." else name.split("/")
    return sorted(names, key=key)


def test_pushing_the_same_commit_twice_gives_the_same_digest(
        committed_repo: Path, oci_registry: RunningRegistry) -> None:
    first = _push(committed_repo, oci_registry.url(REPO, "one")).splitlines()[-1]
    second = _push(committed_repo, oci_registry.url(REPO, "two")).splitlines()[-1]
    assert first == second  # same manifest digest: reproducible, created = commit time
    # Another commit with the same tree: a new revision, the very same layer.
    git(committed_repo, "commit", "-q", "--allow-empty", "-m", "nothing in the tree")
    third = _push(committed_repo, oci_registry.url(REPO, "three"))
    layer = [line for line in third.splitlines() if "layer sha256:" in line]
    doc_one, _ = _manifest(oci_registry, "one")
    doc_three, _ = _manifest(oci_registry, "three")
    assert doc_one["layers"] == doc_three["layers"] and layer
    assert doc_one["annotations"] != doc_three["annotations"]


def test_pull_shows_what_differs_from_the_working_tree(
        committed_repo: Path, oci_registry: RunningRegistry,
        capsys: pytest.CaptureFixture[str]) -> None:
    _push(committed_repo, oci_registry.url(REPO, "diff"))
    target = committed_repo / "apps/n8n/n8n.yaml"
    target.write_text(target.read_text().replace("replicas: 1", "replicas: 3", 1))
    assert main(["pull", oci_registry.url(REPO, "diff"), "--insecure", "--root",
                 str(committed_repo), "--output", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["artifact"]["cluster"] == "homelab"
    changed = [(g["kustomization"], c["kind"], c["name"], c["status"])
               for g in report["diff"]["groups"] for c in g["objects"]]
    assert changed == [("n8n", "Deployment", "n8n", "changed")]


def test_uncommitted_changes_are_never_pushed(committed_repo: Path,
                                              oci_registry: RunningRegistry,
                                              tmp_path: Path) -> None:
    target = committed_repo / "apps/n8n/n8n.yaml"
    committed = target.read_bytes()
    target.write_text("# changed on disk only\n")
    _push(committed_repo, oci_registry.url(REPO, "dirty"))
    files = pull_artifact(oci_registry.url(REPO, "dirty"), insecure=True).files()
    assert files["apps/n8n/n8n.yaml"] == committed


def test_bad_input_is_one_line(committed_repo: Path, oci_registry: RunningRegistry,
                               capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["push", "registry.lan/tree:main"], "must start with oci://"),
        (["push", f"oci://{oci_registry.host}/tree"], "name the tag to push"),
        (["push", f"oci://{oci_registry.host}/Tree:main", "--insecure"],
         "is not a valid repository name"),
        (["push", oci_registry.url(REPO), "--insecure", "--ref", "nope"],
         "nope: unknown git revision"),
        (["push", oci_registry.url(REPO), "--insecure", "--cluster", "other"],
         "clusters/other: not in the commit"),
        # TLS against a plain-HTTP registry: say --insecure is needed.
        (["push", oci_registry.url(REPO)], "needs --insecure"),
        (["pull", oci_registry.url(REPO, "never-pushed"), "--insecure"],
         "the manifest not found"),
        (["pull", "oci://127.0.0.1:1/tree:main", "--insecure"], "the registry does not answer"),
    ]
    for argv, message in cases:
        assert main([*argv, "--root", str(committed_repo)]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err, (argv, err)


def test_pull_refuses_what_is_not_a_flux_artifact(oci_registry: RunningRegistry,
                                                  committed_repo: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import urllib.request

    config = b"{}"
    digest = f"sha256:{hashlib.sha256(config).hexdigest()}"
    start = urllib.request.Request(f"http://{oci_registry.host}/v2/other/blobs/uploads/",
                                   method="POST")
    with urllib.request.urlopen(start, timeout=10) as answer:
        location = answer.headers["Location"]
    put = urllib.request.Request(f"{location}&digest={digest}", data=config, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(put, timeout=10).close()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": digest},
        "layers": []}).encode()
    put = urllib.request.Request(f"http://{oci_registry.host}/v2/other/manifests/v1",
                                 data=manifest, method="PUT",
                                 headers={"Content-Type": MANIFEST_MEDIA_TYPE})
    urllib.request.urlopen(put, timeout=10).close()
    assert main(["pull", f"oci://{oci_registry.host}/other:v1", "--insecure", "--root",
                 str(committed_repo)]) == 2
    err = capsys.readouterr().err
    assert "manifest.config.mediaType: not application/vnd.cncf.flux.config.v1+json" in err


def test_unpack_refuses_links_and_escapes() -> None:
    for name, kind in (("../evil.yaml", tarfile.REGTYPE), ("apps/link", tarfile.SYMTYPE)):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
            tar.addfile(info, io.BytesIO(b""))
        with pytest.raises(Exception, match=r"leaves the artifact|not a regular file"):
            unpack(buffer.getvalue())
    assert unpack(gzip.compress(pack([TreeFile("apps/a.yaml", b"a")]))) == {"apps/a.yaml": b"a"}


def test_references() -> None:
    ref = Reference.parse("oci://registry.homelab.lan:5000/homelab/tree:v1.2.0")
    assert (ref.registry, ref.repository, ref.tag) == ("registry.homelab.lan:5000",
                                                        "homelab/tree", "v1.2.0")
    digest = "sha256:" + "a" * 64
    assert Reference.parse(f"oci://r.lan/tree@{digest}").digest == digest
    assert Reference.parse("oci://r.lan/tree").tag == "latest"


# -- credentials from the Docker config ----------------------------------------------------

def _htpasswd(path: Path, user: str, password: str) -> bool:
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
    except ImportError:
        return False
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    if not hashed or not hashed.startswith("$2"):
        return False
    path.write_text(f"{user}:{hashed}\n")
    return True


@pytest.fixture
def auth_registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    need_registry()
    htpasswd = tmp_path / "htpasswd"
    if not _htpasswd(htpasswd, "pusher", "s3cret"):
        pytest.skip("no bcrypt on this Python (the crypt module) to write the registry's "
                    "htpasswd file")
    with registry(tmp_path / "auth", htpasswd=htpasswd) as running:
        yield running


def test_credentials_come_from_the_docker_config(committed_repo: Path,
                                                 auth_registry: RunningRegistry,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import base64

    docker = tmp_path / "docker"
    docker.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    monkeypatch.setenv("HOME", str(tmp_path))  # no other config to fall back on
    url = auth_registry.url(REPO, "main")
    assert main(["push", url, "--insecure", "--root", str(committed_repo)]) == 2
    err = capsys.readouterr().err
    assert f"has none for {auth_registry.host} (docker login {auth_registry.host})" in err
    token = base64.b64encode(b"pusher:wrong").decode()
    (docker / "config.json").write_text(json.dumps({"auths": {auth_registry.host: {
        "auth": token}}}))
    assert main(["push", url, "--insecure", "--root", str(committed_repo)]) == 2
    assert "access denied" in capsys.readouterr().err
    token = base64.b64encode(b"pusher:s3cret").decode()
    (docker / "config.json").write_text(json.dumps({"auths": {auth_registry.host: {
        "auth": token}}}))
    assert main(["push", url, "--insecure", "--root", str(committed_repo)]) == 0
    assert main(["pull", url, "--insecure", "--root", str(committed_repo)]) == 0
    capsys.readouterr()


# -- reconcile on push ----------------------------------------------------------------------

class _Hook(BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[str, str]]] = []

    def do_POST(self) -> None:
        type(self).calls.append(("POST", self.path))
        self.send_response(200 if self.path.startswith("/hook/") else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_push_then_calls_the_receiver_webhook(committed_repo: Path,
                                              oci_registry: RunningRegistry,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from homelab_charts.flux import webhook_path

    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        path = webhook_path("0123456789abcdef", "homelab")
        hook = f"http://127.0.0.1:{server.server_port}{path}"
        out = _push(committed_repo, oci_registry.url(REPO, "hooked"), "--reconcile", hook)
        assert "reconcile requested (the Receiver answered 200)" in out
        assert _Hook.calls == [("POST", path)]
        # A Receiver that does not answer: the push stands, the warning says so, exit 1.
        wrong = f"http://127.0.0.1:{server.server_port}/nope"
        assert main(["push", oci_registry.url(REPO, "hooked"), "--insecure", "--root",
                     str(committed_repo), "--reconcile", wrong]) == 1
        err = capsys.readouterr().err
        assert "warning: pushed, but --reconcile: the Receiver answered 404" in err
    finally:
        server.shutdown()
        server.server_close()


def test_the_release_script_pushes_through_the_cli(committed_repo: Path,
                                                   oci_registry: RunningRegistry) -> None:
    """`python -m homelab_charts push` in a subprocess, as the workflow runs it."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-m", "homelab_charts", "push",
                           oci_registry.url(REPO, "cli"), "--insecure"], cwd=committed_repo,
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith(f"oci://{oci_registry.host}/{REPO}@sha256:")
    shutil.rmtree(committed_repo / ".git")  # no repository: one-line error
    proc = subprocess.run([sys.executable, "-m", "homelab_charts", "push",
                           oci_registry.url(REPO, "cli"), "--insecure"], cwd=committed_repo,
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
