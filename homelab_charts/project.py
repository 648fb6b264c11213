"""Where a homelab repository keeps its own files.

A homelab repository is the folder holding ``cdk8s.yaml`` (found from the current folder
upwards). Its data file, sealed values and sealing certificate live there, never inside
the installed package, so one installed homelab-charts serves any number of repositories:

* ``homelab.yaml`` — the data file (versions, replicas, hosts, switches);
* ``sealed/<namespace>/<name>.yaml`` — the SealedSecrets ``homelab-charts seal`` writes;
* ``sealed/sealed-secrets-cert.pem`` — the controller's public certificate they are sealed for.
"""

from __future__ import annotations

from pathlib import Path

from homelab_charts.errors import ConfigError

#: The file that marks a homelab repository's root (the cdk8s app definition).
MARKER = "cdk8s.yaml"
#: The data file, relative to the root.
DATA_FILE = Path("homelab.yaml")
#: The sealed data store, relative to the root.
STORE_DIR = Path("sealed")
#: The sealing certificate, relative to the root.
CERT_FILE = STORE_DIR / "sealed-secrets-cert.pem"


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest folder (from ``start``, default cwd) with cdk8s.yaml."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / MARKER).is_file():
            return candidate
    raise ConfigError(str(here), None,
                      f"not inside a homelab-charts repository (no {MARKER} here or above); "
                      "pass --root, or create one with `homelab-charts init`")


def check_root(root: Path) -> Path:
    """``root`` resolved, if it is a repository root (a folder holding cdk8s.yaml)."""
    resolved = root.resolve()
    if not resolved.is_dir():
        raise ConfigError(str(root), None, f"no such folder: --root must be the repository "
                                           f"root (the folder holding {MARKER})")
    if not (resolved / MARKER).is_file():
        raise ConfigError(str(root), None, f"not a homelab-charts repository root (no {MARKER} "
                                           f"in it): --root must be the folder holding {MARKER}")
    return resolved


def is_root(path: Path) -> bool:
    """Whether ``path`` is a repository root (holds cdk8s.yaml)."""
    return (path / MARKER).is_file()


def data_file(root: Path | None = None) -> Path:
    """The data file of the repository at ``root`` (default: the one around cwd)."""
    return (root or find_root()) / DATA_FILE


def store_dir(root: Path | None = None) -> Path:
    """The sealed data store of the repository at ``root`` (default: the one around cwd)."""
    return (root or find_root()) / STORE_DIR


def cert_file(root: Path | None = None) -> Path:
    """The sealing certificate of the repository at ``root`` (default: the one around cwd)."""
    return (root or find_root()) / CERT_FILE
