"""What ``seal``, ``reseal`` and ``unseal`` do to the sealed data store, without their
argument parsing or printing (``homelab_charts.cli.seal`` does those).

* :func:`check_identity` refuses a file that holds another secret; :func:`seal_values`
  seals new values into a store document, keeping the ciphertext of
  every other key byte for byte, and refuses what would leave a key that no longer
  decrypts (a scope or certificate change);
* :func:`other_sealing_keys` finds stored secrets sealed for another certificate;
* :func:`reseal_documents` re-encrypts stored documents for a new certificate, in memory;
* :func:`env_file_text` and :func:`check_outside_work_tree` are ``unseal``'s output rules.

Nothing here imports cdk8s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from homelab_charts.errors import ConfigError
from homelab_charts.fsutil import project_work_tree
from homelab_charts.secrets.crypto import SealScope
from homelab_charts.secrets.store import SealedDocument, sealing_keys

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from homelab_charts.secrets.crypto import SealingCertificate


@dataclass(frozen=True)
class Sealed:
    """The result of :func:`seal_values`: the document to write, the keys whose
    ciphertext was kept and those removed (``replace``), and warnings for the user."""

    document: SealedDocument
    kept: list[str]
    dropped: list[str]
    warnings: list[str] = field(default_factory=list)


def check_identity(existing: SealedDocument | None, name: str, namespace: str | None, *,
                   where: str) -> None:
    """A ConfigError when the file ``where`` holds another SealedSecret than
    ``namespace/name`` (an ``--output`` file of another secret)."""
    if existing is not None and (existing.name, existing.namespace) != (name, namespace):
        raise ConfigError(where, "metadata",
                          f"holds SealedSecret {existing.ident}, not "
                          f"{namespace + '/' if namespace else ''}{name}")


def seal_values(existing: SealedDocument | None, *, name: str, namespace: str | None,
                scope: SealScope, values: Mapping[str, bytes], cert: SealingCertificate,
                secret_type: str | None = None, replace_all: bool = False,
                where: str = "") -> Sealed:
    """Seal ``values`` into ``existing`` (None: a new document). Keys not given keep their
    ciphertext, unless ``replace_all``. A ConfigError (naming ``where``) when kept keys
    would no longer decrypt: the scope changes, or the document was sealed for another
    certificate."""
    fingerprint = cert.fingerprint
    base = existing or SealedDocument(name=name, namespace=namespace, scope=scope)
    kept = [] if replace_all else [key for key in base.keys if key not in values]
    reasons = []
    if existing is not None and existing.scope is not scope:
        reasons.append(f"scope changes from {existing.scope.value} to {scope.value}")
    if existing is not None and existing.key_fingerprint not in (None, fingerprint):
        reasons.append(f"it was sealed for another key ({existing.key_fingerprint}, "
                       f"now {fingerprint})")
    if reasons and kept:
        raise ConfigError(where, "spec.encryptedData",
                          f"{' and '.join(reasons)}, so the stored ciphertext of "
                          f"{', '.join(kept)} would no longer decrypt; give their values too, "
                          "or --replace to drop them")
    warnings = []
    if existing is not None and existing.key_fingerprint is None and kept:
        warnings.append(f"{where}: kept {', '.join(kept)} without knowing which certificate "
                        "sealed them (a file not written by homelab-charts)")
    data = {key: base.encrypted_data[key] for key in kept}
    # The fingerprint is known only when every value of the file is sealed for it.
    new_fingerprint = fingerprint if (
        not kept or (existing is not None and existing.key_fingerprint == fingerprint)) else None
    document = replace(base, scope=scope, encrypted_data=data,
                       type=secret_type or base.type).with_values(
        cert.public_key, values, key_fingerprint=new_fingerprint)
    dropped = sorted(set(base.keys) - set(values) - set(kept))
    return Sealed(document, kept, dropped, warnings)


def other_sealing_keys(store: Path, existing: SealedDocument | None,
                       fingerprint: str) -> dict[str, list[str]]:
    """Key fingerprint -> the secrets (``namespace/name``) of ``existing`` and of the store
    sealed for a key other than ``fingerprint``: they need re-sealing when the
    controller's certificate changed."""
    others: dict[str, list[str]] = {}
    if existing is not None and existing.key_fingerprint not in (None, fingerprint):
        others.setdefault(existing.key_fingerprint, []).append(existing.ident)
    for key, idents in sealing_keys(store).items():
        if key != fingerprint:
            known = others.setdefault(key, [])
            known.extend(i for i in idents if i not in known)
    return others


def reseal_documents(targets: Iterable[tuple[Path, SealedDocument]],
                     private_keys: Sequence[rsa.RSAPrivateKey],
                     cert: SealingCertificate) -> list[tuple[Path, SealedDocument]]:
    """Every target decrypted with ``private_keys`` and sealed again for ``cert``, in
    memory: a value that does not decrypt is a ConfigError before anything is written."""
    updated = []
    for path, doc in targets:
        values = doc.unseal(private_keys, where=str(path))
        empty = replace(doc, encrypted_data={})
        updated.append((path, empty.with_values(cert.public_key, values,
                                                key_fingerprint=cert.fingerprint)))
    return updated


def env_file_text(values: Mapping[str, bytes]) -> str:
    """``KEY='value'`` lines, sorted by key (what ``seal --from-env-file`` reads back); a
    value that is not one line of UTF-8 text is a ConfigError naming its key."""
    lines = []
    for key, value in sorted(values.items()):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(key, None, "the value is not UTF-8 text; an env file cannot "
                                         "hold it") from None
        if "\n" in text or "\r" in text:
            raise ConfigError(key, None,
                              "the value spans several lines; an env file cannot hold it")
        lines.append(f"{key}='{text}'\n")
    return "".join(lines)


def check_outside_work_tree(out: Path, store: Path) -> None:
    """Plaintext goes nowhere `git add` could pick it up: not inside the work tree of the
    store's project, nor of the current folder's."""
    if not out.parent.is_dir():
        raise ConfigError(str(out), None,
                          f"cannot write: the folder {out.parent} does not exist")
    where = out.parent.resolve()
    for start in (store if store.exists() else store.parent, Path.cwd()):
        tree = project_work_tree(start)
        if tree is not None and (where == tree or tree in where.parents):
            raise ConfigError(str(out), None,
                              f"is inside the work tree {tree}, where `git add` would "
                              "commit the values in clear; write the env file outside it "
                              "(for instance under /tmp), or to standard output with -o -")
