"""The synthesis guard: no credential in clear may reach the generated tree.

Everything the tree writer is about to write passes through
:func:`check_no_plaintext_secrets`. It fails synthesis, naming the file, the object and
the field (never a value), on:

* a ``v1`` Secret with ``data`` or ``stringData`` (never waivable);
* a password-like value in clear (:func:`credential_findings`): a ConfigMap's ``data``
  entry, a container's ``env[].value`` (any ``{name, value}`` item of a list, anywhere
  in any object: chart values' ``extraEnv`` too), a
  HelmRelease's ``spec.values`` at any depth, a Flux Kustomization's
  ``spec.postBuild.substitute``, and any PEM private key in those places.

A key is password-like when one of its words (``DB_PASSWORD``, ``apiKey``,
``x-api-key`` and ``clientSecret`` split into words) is password, passwd, passphrase,
secret, token, credential(s), apikey / api key, private key or access key, unless it
names *where* a credential is rather than the credential: ``secretKeyRef``,
``existingSecret``, ``passwordFile``, ``DB_PASSWORD_FILE``, ``secretName``,
``tokenPath``, ``passwordKey``, ``tokenTTL`` and the like. Values that cannot be a
credential are left alone: empty, true/false/yes/no, a lone ``${VAR}`` or ``$(VAR)``
reference (Flux substitution, Kubernetes env expansion) or a Helm ``{{ }}`` template.

Credentials go in SealedSecrets (:class:`homelab_charts.secrets.SealedSecret`), read
through ``secretKeyRef``, HelmRelease ``valuesFrom`` or Kustomization
``postBuild.substituteFrom``. A value that only looks like one (a public client id
called ``token``...) is waived on its object with the policy waiver of rule SEC-001::

    metadata:
      annotations:
        policy.homelab-charts.io/waive: "SEC-001"
        policy.homelab-charts.io/waive-reason: "PUBLIC_TOKEN_URL is a URL, not a token"
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from homelab_charts.errors import ConfigError

#: The waiver annotations of the policy rules (``homelab_charts.validate.policy``).
WAIVE_ANNOTATION = "policy.homelab-charts.io/waive"
REASON_ANNOTATION = "policy.homelab-charts.io/waive-reason"
RULE = "SEC-001"

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
#: A key holding one of these words (or pairs of words) names a credential ...
_SENSITIVE = frozenset({"password", "passwords", "passwd", "passphrase", "secret", "secrets",
                        "token", "tokens", "credential", "credentials", "apikey",
                        "privatekey", "accesskey", "secretkey"})
_SENSITIVE_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"),
                              ("secret", "key"), ("auth", "key"), ("client", "secret"),
                              ("encryption", "key"), ("signing", "key"), ("master", "key")})
#: ... unless its last word says it is about one (where it is, how long it lives...)
_ABOUT = frozenset({
    "file", "files", "path", "paths", "dir", "ref", "refs", "name", "names", "namespace",
    "env", "from", "source", "selector", "template", "mount", "volume", "provider",
    "ttl", "timeout", "expiry", "expiration", "expires", "lifetime", "duration", "interval",
    "age", "seconds", "minutes", "hours", "days", "length", "size", "min", "max", "count",
    "limit", "policy", "policies", "mode", "type", "method", "methods", "header", "url",
    "uri", "endpoint", "issuer", "audience", "algorithm", "rotation", "enabled", "enable",
    "required", "annotations", "labels", "format", "hash", "hashed", "salt", "prefix",
    "suffix", "store", "manager", "field", "fields", "id", "ids", "location",
})
#: ... or its first word does (existingSecret: the name of a Secret).
_ABOUT_FIRST = frozenset({"existing", "use", "enable", "disable", "require", "allow", "skip",
                          "create", "generate", "auto"})
#: A key ending in one of these + "key" names a key of a Secret (bitnami's passwordKey).
_KEY_NAME_OF = frozenset({"password", "passwd", "passphrase", "token", "credential",
                          "credentials", "user", "username"})
_HARMLESS = re.compile(r"^(?:true|false|yes|no|on|off|null|none|"
                       r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$\([A-Za-z_][A-Za-z0-9_]*\))$",
                       re.IGNORECASE)
_PEM_PRIVATE = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")


def words(key: str) -> list[str]:
    """``DB_PASSWORD`` -> ``['db', 'password']``; ``secretKeyRef`` -> ``secret key ref``."""
    return [w.lower() for w in _WORDS.findall(key)]


def is_credential_key(key: object) -> bool:
    """Whether ``key`` names a credential itself (not where one is, nor a setting of it)."""
    if not isinstance(key, str):
        return False
    parts = words(key)
    if not parts or parts[-1] in _ABOUT or parts[0] in _ABOUT_FIRST:
        return False
    if len(parts) >= 2 and parts[-1] == "key":
        before = parts[-2]
        if before in _KEY_NAME_OF:
            return False  # passwordKey, userPasswordKey: which key of a Secret
        if before == "secret" and any(p in _SENSITIVE for p in parts[:-2]):
            return False  # passwordSecretKey
    if any(p in _SENSITIVE for p in parts):
        return True
    return any(pair in _SENSITIVE_PAIRS for pair in itertools.pairwise(parts))


def is_credential(key: object, value: object) -> bool:
    """Whether ``key: value`` looks like a credential in clear."""
    if not isinstance(value, str):
        return False
    if _PEM_PRIVATE.search(value):
        return True
    text = value.strip()
    if not text or _HARMLESS.match(text) or ("{{" in text and "}}" in text):
        return False
    return is_credential_key(key)


def _pointer(parts: Iterable[object]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _group(obj: Mapping[str, Any]) -> str:
    return str(obj.get("apiVersion") or "").rpartition("/")[0]


def credential_findings(obj: Any) -> list[tuple[str, str]]:
    """``(JSON pointer, key)`` of every password-like value in clear in ``obj``.

    Looks at a v1 ConfigMap's ``data``, ``env[].value`` anywhere, a HelmRelease's
    ``spec.values`` (nested) and a Flux Kustomization's ``spec.postBuild.substitute``.
    The value itself is never returned.
    """
    if not isinstance(obj, Mapping):
        return []
    found: dict[str, str] = {}
    kind = obj.get("kind")
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    if kind == "ConfigMap" and obj.get("apiVersion") == "v1":
        data = obj.get("data")
        if isinstance(data, Mapping):
            for key, value in data.items():
                if is_credential(key, value):
                    found[_pointer(("data", key))] = str(key)
    elif kind == "HelmRelease" and _group(obj) == "helm.toolkit.fluxcd.io":
        for path, key in _walk_pairs(spec.get("values"), ("spec", "values")):
            found[path] = key
    elif kind == "Kustomization" and _group(obj) == "kustomize.toolkit.fluxcd.io":
        post = spec.get("postBuild")
        substitute = post.get("substitute") if isinstance(post, Mapping) else None
        if isinstance(substitute, Mapping):
            for key, value in substitute.items():
                if is_credential(key, value):
                    found[_pointer(("spec", "postBuild", "substitute", key))] = str(key)
    for path, key in _env_values(obj, ()):
        found[path] = key
    return sorted(found.items())


def _walk_pairs(node: Any, at: tuple[object, ...]) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if is_credential(key, value):
                yield _pointer((*at, key)), str(key)
            elif isinstance(value, Mapping | list):
                yield from _walk_pairs(value, (*at, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, str) and _PEM_PRIVATE.search(item):
                yield _pointer((*at, index)), str(at[-1]) if at else ""
            else:
                yield from _walk_pairs(item, (*at, index))


#: Value types that hold nothing to walk (checked first: an isinstance test against
#: Mapping, an abstract class, costs more than the whole walk of a string).
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _env_values(node: Any, at: tuple[object, ...]) -> Iterator[tuple[str, str]]:
    """``{name, value}`` items of any list: ``env`` of containers, ``extraEnv`` and the
    like of chart values."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if value.__class__ not in _SCALARS and isinstance(value, Mapping | list):
                yield from _env_values(value, (*at, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if item.__class__ in _SCALARS:
                continue
            if (isinstance(item, Mapping) and "value" in item
                    and is_credential(item.get("name"), item.get("value"))):
                yield _pointer((*at, index, "value")), str(item.get("name"))
            elif isinstance(item, Mapping | list):
                yield from _env_values(item, (*at, index))


def waived(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` waives rule SEC-001 with a reason (the policy waiver)."""
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if not isinstance(annotations, Mapping):
        return False
    rules = {r.strip() for r in str(annotations.get(WAIVE_ANNOTATION) or "").split(",")}
    return RULE in rules and bool(str(annotations.get(REASON_ANNOTATION) or "").strip())


def _objects(obj: Any) -> Iterator[dict[str, Any]]:
    """``obj`` and, for a ``List`` kind, its items (recursively)."""
    if not isinstance(obj, dict):
        return
    yield obj
    if str(obj.get("kind", "")).endswith("List") and isinstance(obj.get("items"), list):
        for item in obj["items"]:
            yield from _objects(item)


def describe(obj: Mapping[str, Any]) -> str:
    """``Kind namespace/name`` of an object."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    name = meta.get("name") or "<unnamed>"
    namespace = meta.get("namespace")
    kind = obj.get("kind") or "object"
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def plaintext_secret(obj: Any) -> str | None:
    """``Secret <namespace>/<name>`` if ``obj`` is a v1 Secret holding data, else None."""
    if not isinstance(obj, dict) or obj.get("apiVersion") != "v1" or obj.get("kind") != "Secret":
        return None
    if not (obj.get("data") or obj.get("stringData")):
        return None
    return describe(obj)


def check_no_plaintext_secrets(documents: Iterable[tuple[str, Any]]) -> None:
    """Raise ConfigError on the first credential in clear (see the module doc).

    ``documents`` are ``(file path, rendered object)`` pairs, as the tree writer holds
    them. ``List`` objects are looked into. The error names the file, the object and the
    field; it never shows a value.
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
            findings = credential_findings(obj)
            if findings and not waived(obj):
                path, key = findings[0]
                more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
                raise ConfigError(
                    file, f"{describe(obj)}: {path}",
                    f"{key!r} looks like a credential written in clear{more}; seal it "
                    "(`homelab-charts seal`) and read it through a SealedSecret "
                    "(secretKeyRef, HelmRelease valuesFrom, postBuild.substituteFrom), or "
                    f"waive rule {RULE} on the object with annotations {WAIVE_ANNOTATION} "
                    f"and {REASON_ANNOTATION} if it is not a secret",
                )
