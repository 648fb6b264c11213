"""Shared fixtures: the repository root, the shared folder, a fresh cdk8s app."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = (REPO_ROOT / ".." / "shared").resolve()
CRD_SCHEMAS = SHARED_DIR / "schemas" / "crds"
#: The repository's own data file and sealed store (homelab_charts.project).
DATA_FILE = REPO_ROOT / "homelab.yaml"
STORE_DIR = REPO_ROOT / "sealed"
CERT_FILE = STORE_DIR / "sealed-secrets-cert.pem"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def crd_schemas() -> Path:
    """The CRD schemas shipped in the package (``<group>/<kind>_<version>.json``)."""
    from homelab_charts.validate.schemas import PACKAGED_CRD_FOLDER

    return PACKAGED_CRD_FOLDER
