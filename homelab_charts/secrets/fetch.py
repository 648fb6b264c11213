"""The controller's sealing certificate, fetched from the cluster with kubectl.

What ``kubeseal --fetch-cert`` does, without kubeseal: the controller serves its current
certificate at ``/v1/cert.pem``; ``kubectl get --raw`` reads it through the API server's
proxy to the controller's Service (``sealed-secrets-controller`` in ``kube-system``, the
names the controllers layer installs it under). Needs only permission to proxy to that
Service, not to read the key Secrets.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from homelab_charts.errors import ConfigError

CONTROLLER_NAME = "sealed-secrets-controller"
CONTROLLER_NAMESPACE = "kube-system"


def cert_path(name: str = CONTROLLER_NAME, namespace: str = CONTROLLER_NAMESPACE) -> str:
    """The API path of the certificate behind the controller Service's ``http`` port."""
    return f"/api/v1/namespaces/{namespace}/services/http:{name}:http/proxy/v1/cert.pem"


def fetch_certificate(*, kubectl: str | None = None, name: str = CONTROLLER_NAME,
                      namespace: str = CONTROLLER_NAMESPACE, timeout: float = 30) -> bytes:
    """The PEM the controller serves; a one-line ConfigError when kubectl cannot get it."""
    exe = kubectl or shutil.which("kubectl")
    where = f"service {namespace}/{name}"
    if exe is None:
        raise ConfigError("kubectl", None, "not found on PATH: install kubectl, or pass "
                          "--cert with the certificate `kubeseal --fetch-cert` prints")
    try:
        result = subprocess.run([exe, "get", "--raw", cert_path(name, namespace)],
                                capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(where, None, f"kubectl could not fetch the certificate: {exc}") from None
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = lines[-1] if lines else f"exit status {result.returncode}"
        raise ConfigError(where, None, f"kubectl could not fetch the certificate: {reason}")
    return result.stdout


def fetch_and_save(target: Path, *, kubectl: str | None = None) -> bool:
    """Fetch the controller's certificate, check it is one, and save it as ``target``
    (atomically) when it differs from what is there. Returns whether it was written;
    a one-line ConfigError, with nothing written, when it cannot be fetched or is not a
    certificate."""
    from homelab_charts.fsutil import atomic_write_text
    from homelab_charts.secrets.crypto import SealingCertificate

    pem = fetch_certificate(kubectl=kubectl)
    source = f"service {CONTROLLER_NAMESPACE}/{CONTROLLER_NAME} (kubectl)"
    SealingCertificate.from_pem(pem, source)  # a ConfigError unless it is one
    try:
        text = pem.decode("ascii")
    except UnicodeDecodeError:
        raise ConfigError(source, None, "the answer is not a PEM certificate") from None
    if target.is_file() and target.read_text(encoding="ascii", errors="replace") == text:
        return False
    atomic_write_text(target, text, mode=0o644, parents=True)
    return True
