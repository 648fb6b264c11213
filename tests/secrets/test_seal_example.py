"""The example cluster's certificate and sealed secrets, as shipped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from homelab_charts.secrets.crypto import SealingCertificate
from homelab_charts.secrets.store import iter_store
from tests.apps.tree import homelab_tree
from tests.conftest import CERT_FILE as DEFAULT_CERT
from tests.conftest import STORE_DIR

REPO = Path(__file__).resolve().parents[2]


def test_packaged_certificate_is_like_the_controllers():
    cert = SealingCertificate.from_pem(DEFAULT_CERT.read_bytes(), str(DEFAULT_CERT))
    assert cert.key_size == 4096
    assert cert.validity_problem() is None
    c = cert.certificate
    assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "sealed-secret"
    lifetime = c.not_valid_after_utc - c.not_valid_before_utc
    assert 3600 <= lifetime.days <= 3700
    assert isinstance(c, x509.Certificate)


def test_every_example_secret_is_sealed_for_the_packaged_certificate():
    fingerprint = SealingCertificate.from_pem(DEFAULT_CERT.read_bytes(), "cert").fingerprint
    found = {doc.ident: doc for _, doc in iter_store(STORE_DIR)}
    # Every credential the tree uses is in the store (the tree's SealedSecrets).
    # (A credential two namespaces read is sealed once, cluster-wide: its ident is its name.)
    used = {d["metadata"]["name"] if d["metadata"].get("annotations", {}).get(
                "sealedsecrets.bitnami.com/cluster-wide") == "true"
            else f"{d['metadata']['namespace']}/{d['metadata']['name']}"
            for d in homelab_tree().of_kind("SealedSecret")}
    assert used and used <= set(found)
    assert {"redis-credentials", "qdrant-credentials", "postgresql-n8n",
            "postgresql-family-assistant"} <= used
    for doc in found.values():
        assert doc.key_fingerprint == fingerprint
        # Credentials two namespaces read are sealed once, cluster-wide; the rest strict.
        assert doc.scope.value == ("strict" if doc.namespace else "cluster-wide")


def test_no_private_key_is_committed():
    tracked = subprocess.run(["git", "ls-files", "homelab_charts", "scripts", "docs"],
                             cwd=REPO, capture_output=True, text=True, check=False).stdout
    paths = [REPO / p for p in tracked.split()] or list((REPO / "homelab_charts").rglob("*"))
    for path in paths:
        if path.is_file() and path.suffix in {".pem", ".yaml", ".key", ".json", ""}:
            assert b"PRIVATE KEY-----" not in path.read_bytes(), path


def test_sealing_does_not_load_cdk8s():
    code = ("import sys, homelab_charts.cli.seal, homelab_charts.secrets.store, "
            "homelab_charts.secrets; assert 'cdk8s' not in sys.modules, 'cdk8s loaded'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_make_example_secrets_adds_only_the_missing_ones(tmp_path: Path) -> None:
    """``--missing`` seals what the store lacks for the certificate there; nothing else."""
    import shutil

    from tests.helpers import as_project

    root = as_project(tmp_path / "repo")
    (root / "scripts").mkdir(exist_ok=True)
    script = root / "scripts" / "make-example-secrets.py"
    shutil.copy(REPO / "scripts" / "make-example-secrets.py", script)
    grafana = root / "sealed" / "observability" / "grafana-admin.yaml"
    grafana.unlink()
    before = {p: p.read_bytes() for p in (root / "sealed").rglob("*.yaml")}
    run = subprocess.run([sys.executable, str(script), "--missing"], cwd=root,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert "sealed observability/grafana-admin" in run.stdout
    fingerprint = SealingCertificate.from_pem(DEFAULT_CERT.read_bytes(), "cert").fingerprint
    found = {doc.ident: doc for _, doc in iter_store(root / "sealed")}
    assert found["observability/grafana-admin"].key_fingerprint == fingerprint
    assert set(found["observability/grafana-admin"].keys) == {"admin-user", "admin-password"}
    assert all(p.read_bytes() == data for p, data in before.items())
    again = subprocess.run([sys.executable, str(script), "--missing"], cwd=root,
                           capture_output=True, text=True, check=False)
    assert again.returncode == 0 and "every example secret is sealed already" in again.stdout
