"""checkov skips shared by the database StatefulSets (docs/CHECKOV.md)."""

from __future__ import annotations

from collections.abc import Mapping

#: Why the official database images run as they do.
DATABASE_SKIPS: Mapping[str, str] = {
    "CKV_K8S_40": "the official image runs as its own low uid (postgres 70, redis 999, qdrant "
                  "1000) owning the data folder; non-root, every capability dropped",
    "CKV_K8S_35": "the official image reads its password from an environment variable; the "
                  "Secret is per namespace and the pod mounts no service account token",
}
