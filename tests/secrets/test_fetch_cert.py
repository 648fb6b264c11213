"""``seal --fetch-cert``: the controller's certificate through kubectl (a fake one here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from homelab_charts.secrets.crypto import SealingCertificate
from homelab_charts.secrets.fetch import cert_path
from homelab_charts.secrets.store import SealedDocument
from tests.helpers import as_project

FAKE = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_FAIL"):
    sys.stderr.write(os.environ["FAKE_FAIL"] + "\\n")
    sys.exit(1)
sys.stdout.write(open(os.environ["FAKE_CERT"]).read())
"""


def setup(tmp_path: Path, cert_pem: bytes) -> tuple[Path, dict[str, str]]:
    root = as_project(tmp_path / "repo")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "kubectl"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    served = tmp_path / "served.pem"
    served.write_bytes(cert_pem)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "FAKE_LOG": str(tmp_path / "log"), "FAKE_CERT": str(served)}
    return root, env


def seal(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "homelab_charts", "seal", *args],
                          cwd=root, env=env, capture_output=True, text=True,
                          input="password=from-the-fetched-cert\n", timeout=60)


def test_seal_fetches_saves_and_uses_the_controllers_certificate(tmp_path, key2048) -> None:
    root, env = setup(tmp_path, key2048.cert_pem)
    result = seal(root, env, "--fetch-cert", "--scope", "cluster-wide", "--name",
                  "redis-credentials", "--from-env-file", "-")
    assert result.returncode == 0, result.stderr
    cert_file = root / "sealed" / "sealed-secrets-cert.pem"
    assert cert_file.read_bytes() == key2048.cert_pem
    fingerprint = SealingCertificate.from_pem(key2048.cert_pem, "t").fingerprint
    doc = SealedDocument.read(root / "sealed" / "_cluster" / "redis-credentials.yaml")
    assert doc.key_fingerprint == fingerprint
    assert doc.unseal(key2048.private_key)["password"] == b"from-the-fetched-cert"
    calls = [json.loads(line) for line in (tmp_path / "log").read_text().splitlines()]
    assert calls == [["get", "--raw", cert_path()]]
    assert cert_path() == ("/api/v1/namespaces/kube-system/services/"
                           "http:sealed-secrets-controller:http/proxy/v1/cert.pem")


def test_a_failed_fetch_is_one_line_and_writes_nothing(tmp_path, key2048) -> None:
    root, env = setup(tmp_path, key2048.cert_pem)
    before = (root / "sealed" / "sealed-secrets-cert.pem").read_bytes()
    env["FAKE_FAIL"] = ('Error from server (NotFound): services "sealed-secrets-controller" '
                        "not found")
    result = seal(root, env, "--fetch-cert", "-n", "n8n", "--name", "n8n-credentials",
                  "--from-env-file", "-")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "homelab-charts seal: error: service kube-system/sealed-secrets-controller: kubectl could "
        'not fetch the certificate: Error from server (NotFound): services '
        '"sealed-secrets-controller" not found']
    assert (root / "sealed" / "sealed-secrets-cert.pem").read_bytes() == before


def test_not_a_certificate_and_both_options_are_refused(tmp_path, key2048) -> None:
    root, env = setup(tmp_path, b"<html>proxy error</html>")
    before = (root / "sealed" / "sealed-secrets-cert.pem").read_bytes()
    result = seal(root, env, "--fetch-cert", "-n", "n8n", "--name", "n8n-credentials",
                  "--from-env-file", "-")
    assert result.returncode == 2 and "kubectl" in result.stderr
    assert (root / "sealed" / "sealed-secrets-cert.pem").read_bytes() == before
    both = seal(root, env, "--fetch-cert", "--cert", "x.pem", "-n", "n8n", "--name", "x")
    assert both.returncode == 2 and "not both" in both.stderr
