"""The shell scripts the backup and restore jobs run, shipped as package data.

They are mounted from the ``backup-scripts`` ConfigMap of each namespace with backups
(``/scripts``); the tests run the very same files against real servers
(tests/backup/). Every script sources ``lib.sh`` from ``$SCRIPTS_DIR``.

They never write ``!`` after a blank or bracket (``if ! cmd``, ``[ ! -f ]``, ``[!a-z]``):
in the generated YAML that could start a tag, so the validation loader would read the
whole file on its slow path (tests/validate/test_loader.py checks the tree loads fast).
"""

from __future__ import annotations

import functools
from pathlib import Path

SCRIPTS_DIR = Path(__file__).parent / "scripts"
#: Where the ConfigMap is mounted in the job pods.
MOUNT_PATH = "/scripts"


@functools.cache
def script_texts() -> dict[str, str]:
    """File name -> text, sorted by name (the ConfigMap's data)."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(SCRIPTS_DIR.glob("*.sh"))}


def command(script: str) -> tuple[str, ...]:
    """The container command running ``script`` from the mounted ConfigMap."""
    if script not in script_texts():
        raise KeyError(f"no backup script {script!r}")
    return ("sh", f"{MOUNT_PATH}/{script}")
