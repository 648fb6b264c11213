"""The synthesis guard: no Secret in clear may reach the generated tree.

Everything the tree writer is about to write passes through
:func:`check_no_plaintext_secrets`; a ``v1`` Secret with ``data`` or ``stringData`` fails
synthesis, naming the file and the object (never a key's value). Credentials go in
SealedSecrets (:class:`homelab_charts.secrets.SealedSecret`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from homelab_charts.errors import ConfigError


def _objects(obj: Any) -> Iterator[dict[str, Any]]:
    """``obj`` and, for a ``List`` kind, its items (recursively)."""
    if not isinstance(obj, dict):
        return
    yield obj
    if str(obj.get("kind", "")).endswith("List") and isinstance(obj.get("items"), list):
        for item in obj["items"]:
            yield from _objects(item)


def plaintext_secret(obj: Any) -> str | None:
    """``Secret <namespace>/<name>`` if ``obj`` is a v1 Secret holding data, else None."""
    if not isinstance(obj, dict) or obj.get("apiVersion") != "v1" or obj.get("kind") != "Secret":
        return None
    if not (obj.get("data") or obj.get("stringData")):
        return None
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name") or "<unnamed>"
    namespace = meta.get("namespace")
    return f"Secret {namespace}/{name}" if namespace else f"Secret {name}"


def check_no_plaintext_secrets(documents: Iterable[tuple[str, Any]]) -> None:
    """Raise ConfigError on the first plain Secret with ``data``/``stringData``.

    ``documents`` are ``(file path, rendered object)`` pairs, as the tree writer holds
    them. ``List`` objects are looked into. The error names the file and
    ``Secret <namespace>/<name>``; it shows no key and no value.
    """
    for file, document in documents:
        for obj in _objects(document):
            found = plaintext_secret(obj)
            if found is not None:
                fields = " and ".join(f for f in ("data", "stringData") if obj.get(f))
                raise ConfigError(
                    file, found,
                    f"a plain v1 Secret with {fields} would commit credentials to Git in "
                    "clear; declare a SealedSecret (homelab_charts.secrets.SealedSecret) and "
                    "seal the values with `homelab-charts seal`",
                )
