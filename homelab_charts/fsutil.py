"""Replacing one file all at once: nothing half-written on error, even after a crash.

The content goes to a temporary file in the target's folder (same file system, so the
rename is atomic), is flushed and fsynced, gets its permission bits, and then
``os.replace`` puts it in place (and the folder is fsynced). On any error the temporary
file is removed and the old file, if there was one, is untouched; the error is a
:class:`~homelab_charts.errors.ConfigError` naming the file and the reason (a folder at
that path, a missing folder, EACCES, ENOSPC...).

(The tree writer, :mod:`homelab_charts.writer`, stages many files before renaming any and
does its own staging; this is for one file at a time.)
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from homelab_charts.errors import ConfigError

#: Permission bits of a new file when no mode is given.
DEFAULT_MODE = 0o644


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None,
                       parents: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically.

    ``mode``: the permission bits of the result; ``None`` keeps those of the file being
    replaced (:data:`DEFAULT_MODE` for a new file). ``parents``: create missing parent
    folders first (otherwise a missing folder is an error, as for ``open``).
    """
    try:
        current = os.stat(path)
    except FileNotFoundError:
        current = None
    except OSError as exc:
        raise ConfigError(str(path), None, f"cannot write: {exc.strerror}") from None
    if current is not None and not stat.S_ISREG(current.st_mode):
        what = "a folder" if stat.S_ISDIR(current.st_mode) else "not a regular file"
        raise ConfigError(str(path), None, f"cannot write: it is {what}; give a file name")
    if mode is None:
        mode = DEFAULT_MODE if current is None else current.st_mode & 0o7777
    if not parents and not path.parent.is_dir():
        raise ConfigError(str(path), None,
                          f"cannot write: the folder {path.parent} does not exist")
    tmp = None
    try:
        if parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    except OSError as exc:
        raise ConfigError(str(path), None,
                          f"cannot write: {exc.strerror or exc}; the file is unchanged") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot fsync a folder
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: Path, text: str, *, mode: int | None = None,
                      parents: bool = False) -> None:
    """Replace ``path`` with ``text`` (UTF-8, line ends written as given) atomically.

    ``mode`` and ``parents`` as for :func:`atomic_write_bytes`.
    """
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode, parents=parents)


def project_work_tree(start: Path) -> Path | None:
    """The work tree holding ``start``: the nearest folder (``start`` or above) with a
    ``.git`` entry (a repository or a worktree) or a ``cdk8s.yaml``; None if there is none."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        if os.path.lexists(candidate / ".git") or (candidate / "cdk8s.yaml").is_file():
            return candidate
    return None


def write_new_private(path: Path, data: bytes) -> None:
    """Create ``path`` (mode 0600) holding ``data``; never through a symbolic link, never
    over an existing file. A failed write removes what it created."""
    if not path.parent.is_dir():
        raise ConfigError(str(path), None,
                          f"cannot write: the folder {path.parent} does not exist")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
    except FileExistsError:
        what = "a symbolic link" if os.path.islink(path) else "a file"
        raise ConfigError(str(path), None, f"{what} already exists there; it is never "
                                           "overwritten: remove it or choose another name"
                          ) from None
    except OSError as exc:
        raise ConfigError(str(path), None, f"cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise ConfigError(str(path), None, f"cannot write: {exc.strerror}; nothing was "
                                           "left there") from None
