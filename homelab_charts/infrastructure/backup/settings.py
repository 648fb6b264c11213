"""The data file's ``infrastructure.backup`` entry, typed: target, schedules, retention,
images.

The schema (homelab_charts/data/homelab.schema.json, ``$defs/backup``) has already
checked shapes and patterns; what is left here is what a pattern cannot say (a port out
of range) and the defaults, each error naming the data file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from homelab_charts.config import HomelabData, Image
from homelab_charts.errors import ConfigError

#: Default schedules (cron, in ``timeZone``): the dumps one after the other at night,
#: retention after them, the repository check once a week.
DEFAULT_SCHEDULES: Mapping[str, str] = {
    "postgresql": "15 2 * * *",
    "redis": "30 2 * * *",
    "qdrant": "45 2 * * *",
    "n8n": "0 3 * * *",
    "forget": "30 4 * * *",
    "check": "0 5 * * 0",
}
DEFAULT_RETENTION = (7, 4, 6)
#: The schedule of a data folder backup the data file cannot name (an app of the
#: repository's own modules backing up its folder).
DEFAULT_FOLDER_SCHEDULE = "15 3 * * *"
#: The data-file entry of the backups.
ENTRY = "infrastructure.backup"


@dataclass(frozen=True)
class Target:
    """Where the restic repository lives.

    ``kind`` is ``s3``, ``rest`` or ``nfs``. ``repository`` is restic's repository string
    as the jobs see it; ``credential_keys`` maps each environment variable restic reads
    to the key of the sealed ``restic-repository`` Secret holding it; ``cidr``/``port``
    is the network the jobs must reach (None for NFS, which the kubelet mounts).
    """

    kind: str
    repository: str
    credential_keys: Mapping[str, str]
    cidr: str | None = None
    port: int | None = None
    nfs_server: str | None = None
    nfs_path: str | None = None
    nfs_size: str = "100Gi"


#: Where an NFS repository is mounted inside the job pods.
NFS_MOUNT = "/repository"


@dataclass(frozen=True)
class Retention:
    daily: int = DEFAULT_RETENTION[0]
    weekly: int = DEFAULT_RETENTION[1]
    monthly: int = DEFAULT_RETENTION[2]


@dataclass(frozen=True)
class BackupSettings:
    target: Target
    restic_image: Image
    curl_image: Image
    schedules: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SCHEDULES))
    time_zone: str = "Etc/UTC"
    retention: Retention = field(default_factory=Retention)
    check_read_subset: str = "10%"
    scratch_size: str = "2Gi"

    def schedule(self, job: str) -> str:
        return self.schedules.get(job) or DEFAULT_SCHEDULES.get(job, DEFAULT_FOLDER_SCHEDULE)


def _url_port(source: str, where: str, url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(source, where, f"{url!r} has a port out of range") from None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return parts.hostname or "", port


def parse_target(raw: Mapping[str, Any], source: str) -> Target:
    kind, spec = next(iter(raw.items()))
    if kind == "s3":
        _, port = _url_port(source, f"{ENTRY}.target.s3.endpoint", spec["endpoint"])
        location = f"{spec['endpoint'].rstrip('/')}/{spec['bucket']}"
        if spec.get("prefix"):
            location += f"/{spec['prefix']}"
        return Target("s3", f"s3:{location}",
                      {"AWS_ACCESS_KEY_ID": "aws-access-key-id",
                       "AWS_SECRET_ACCESS_KEY": "aws-secret-access-key"},
                      cidr=spec["cidr"], port=port)
    if kind == "rest":
        _, port = _url_port(source, f"{ENTRY}.target.rest.url", spec["url"])
        # restic >= 0.17 reads the REST server's basic-auth user and password from these.
        return Target("rest", f"rest:{spec['url']}",
                      {"RESTIC_REST_USERNAME": "rest-username",
                       "RESTIC_REST_PASSWORD": "rest-password"},
                      cidr=spec["cidr"], port=port)
    return Target("nfs", NFS_MOUNT, {}, nfs_server=spec["server"], nfs_path=spec["path"],
                  nfs_size=spec.get("size", "100Gi"))


def from_data(data: HomelabData) -> BackupSettings | None:
    """The backup settings of the data file, or None when its ``infrastructure.backup``
    entry is missing or ``enabled: false``."""
    if not data.enabled(ENTRY):
        return None
    raw = data.entry_settings(ENTRY)
    source = str(data.path)
    images = raw["images"]
    retention = raw.get("retention", {})
    return BackupSettings(
        target=parse_target(raw["target"], source),
        restic_image=Image(images["restic"]["image"], images["restic"]["tag"]),
        curl_image=Image(images["curl"]["image"], images["curl"]["tag"]),
        schedules={**DEFAULT_SCHEDULES, **raw.get("schedules", {})},
        time_zone=raw.get("timeZone", "Etc/UTC"),
        retention=Retention(retention.get("daily", DEFAULT_RETENTION[0]),
                            retention.get("weekly", DEFAULT_RETENTION[1]),
                            retention.get("monthly", DEFAULT_RETENTION[2])),
        check_read_subset=raw.get("checkReadSubset", "10%"),
        scratch_size=raw.get("scratchSize", "2Gi"),
    )
