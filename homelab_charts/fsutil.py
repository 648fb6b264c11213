"""Replacing one file all at once: nothing half-written on error, even after a crash.

The content goes to a temporary file in the target's folder (same file system, so the
rename is atomic), is flushed and fsynced, gets its permission bits, and then
``os.replace`` puts it in place. On any error the temporary file is removed and the old
file, if there was one, is untouched.

(The tree writer, :mod:`homelab_charts.writer`, stages many files before renaming any and
does its own staging; this is for one file at a time.)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

#: Permission bits of a new file when no mode is given.
DEFAULT_MODE = 0o644


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None,
                       parents: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically.

    ``mode``: the permission bits of the result; ``None`` keeps those of the file being
    replaced (:data:`DEFAULT_MODE` for a new file). ``parents``: create missing parent
    folders first (otherwise a missing folder is an error, as for ``open``).
    """
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = DEFAULT_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str, *, mode: int | None = None,
                      parents: bool = False) -> None:
    """Replace ``path`` with ``text`` (UTF-8, line ends written as given) atomically.

    ``mode`` and ``parents`` as for :func:`atomic_write_bytes`.
    """
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode, parents=parents)
