"""Reading credentials: a container's environment value from a SealedSecret's key."""

from __future__ import annotations

from typing import Protocol

from homelab_charts.base import Component
from homelab_charts.workloads.spec import SecretKeyRef


class Credentials(Protocol):
    """What a component needs of a SealedSecret construct (see homelab_charts.secrets)."""

    secret_name: str
    component: Component

    @property
    def digest(self) -> str:
        """A digest of the sealed data (it changes when a value is re-sealed)."""

    def key_ref(self, key: str) -> dict[str, str]: ...


def secret_key(credentials: Credentials, key: str) -> SecretKeyRef:
    """An environment value reading ``key`` of the Secret the SealedSecret becomes
    (checked to be a declared key)::

        Container(image=..., env={"API_TOKEN": secret_key(creds, "api-token")})
    """
    ref = credentials.key_ref(key)
    return SecretKeyRef(name=ref["name"], key=ref["key"])
