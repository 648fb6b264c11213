"""Sealed Secrets: kubeseal-compatible sealing in Python, the sealed store, the construct.

* :mod:`~homelab_charts.secrets.crypto` — the wire format (seal, unseal, certificates);
* :mod:`~homelab_charts.secrets.store` — the repository's ``sealed/<ns>/<name>.yaml``;
* :mod:`~homelab_charts.secrets.sealed_secret` — the :class:`SealedSecret` construct;
* :mod:`~homelab_charts.secrets.guard` — no plain Secret with data in the generated tree.

See docs/SECRETS.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homelab_charts.secrets.crypto import (
    DecryptionError,
    SealingCertificate,
    SealScope,
    encryption_label,
    hybrid_decrypt,
    hybrid_encrypt,
    seal_value,
    unseal_value,
)
from homelab_charts.secrets.guard import check_no_plaintext_secrets
from homelab_charts.secrets.store import (
    SealedDocument,
    iter_store,
    store_path,
)

if TYPE_CHECKING:
    from homelab_charts.secrets.sealed_secret import SealedSecret


def __getattr__(name: str) -> Any:
    # The construct needs cdk8s (slow to load); `homelab-charts seal` does not.
    if name == "SealedSecret":
        from homelab_charts.secrets.sealed_secret import SealedSecret

        return SealedSecret
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DecryptionError",
    "SealScope",
    "SealedDocument",
    "SealedSecret",
    "SealingCertificate",
    "check_no_plaintext_secrets",
    "encryption_label",
    "hybrid_decrypt",
    "hybrid_encrypt",
    "iter_store",
    "seal_value",
    "store_path",
    "unseal_value",
]
