"""How a container reads a Secret's key (shared by SealedSecret and the workloads)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SecretKeyRef:
    """An environment value read from a key of a Secret (a SealedSecret's output)."""

    name: str
    key: str
