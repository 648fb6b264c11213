"""A credential several namespaces need, sealed once: one sealing input, many Secrets.

A database password is read by the database (to set the role's password) and by every
app that logs in with it, each in its own namespace. Sealing the value separately for
each namespace means several store files that must be kept equal by hand; instead the
value is sealed once, **cluster-wide** (kubeseal's ``--scope cluster-wide``: the
ciphertext is bound to no namespace or name), into one store file
``sealed/_cluster/<name>.yaml``::

    homelab-charts seal --scope cluster-wide --name redis-credentials \\
        --from-env-file redis.env     # password=...

and every namespace that needs it gets a SealedSecret with that same ciphertext
(:meth:`SharedCredential.copy_in`), which the controller turns into the same Secret
there. Re-sealing or rotating the one file updates every copy at the next synthesis:
they cannot drift apart. The price of the cluster-wide scope: whoever may create a
SealedSecret in some namespace may copy this ciphertext there and read the value, so
only credentials shared between the homelab's own namespaces are sealed this way; the
others stay ``strict``.

In a cluster, components ask for a copy with ``ctx.credentials(scope, name, keys,
shared=True)`` (:class:`homelab_charts.registry.ClusterContext`); a component holding
one copy hands the credential on with ``copy.shared.copy_in(...)`` (PostgreSQL does so
for an app's role password).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from homelab_charts.base import Component
from homelab_charts.errors import ConfigError
from homelab_charts.secrets.crypto import SealScope
from homelab_charts.secrets.sealed_secret import SealedSecret


class SharedCredential:
    """The credential ``name`` (keys ``keys``), sealed once, copied where it is needed;
    ``store``: the sealed store holding it (default: the app's)."""

    def __init__(self, name: str, keys: Sequence[str], *, store: Path | None = None) -> None:
        self.name = name
        self.keys = tuple(keys)
        self.store = store
        #: namespace -> its copy.
        self.copies: dict[str, SealedSecret] = {}

    def copy_in(self, component: Component, *, keys: Sequence[str] | None = None,
                template_data: Mapping[str, str] | None = None) -> SealedSecret:
        """The SealedSecret of this credential in ``component``'s namespace, in
        ``component``'s file (made once per namespace; asking again returns that copy,
        with ``keys`` declared on it). ``template_data`` adds keys the controller renders
        from the values (Sealed Secrets' ``spec.template.data``), e.g. a config file; a
        second request for the same namespace may not ask for other ones."""
        namespace = component.default_namespace
        if namespace is None:
            raise ConfigError(component.where, "namespace",
                              f"a copy of {self.name} needs a component with a namespace")
        wanted = tuple(keys) if keys is not None else self.keys
        existing = self.copies.get(namespace)
        if existing is not None:
            if dict(template_data or {}) != existing.body["spec"]["template"].get("data", {}):
                raise ConfigError(component.where, "template_data",
                                  f"{self.name} is already copied into {namespace} with "
                                  "other template data")
            existing.declare(*wanted)
            return existing
        copy = SealedSecret(component, self.name, name=self.name, keys=list(wanted),
                            scope=SealScope.CLUSTER_WIDE, template_data=template_data,
                            store=self.store)
        copy.shared = self
        self.copies[namespace] = copy
        return copy
