"""A real OCI registry for the tests: Debian's ``docker-registry`` (CNCF distribution 2.8),
started on 127.0.0.1 at a free port with a temporary storage folder, stopped afterwards."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

EXE = "docker-registry"
INSTALL = "apt-get install docker-registry (Debian's CNCF distribution registry)"


@dataclass(frozen=True)
class RunningRegistry:
    host: str  # 127.0.0.1:PORT
    storage: Path

    def url(self, repository: str, tag: str = "main") -> str:
        return f"oci://{self.host}/{repository}:{tag}"


def need_registry() -> str:
    exe = shutil.which(EXE) or (f"/usr/bin/{EXE}" if Path(f"/usr/bin/{EXE}").exists() else None)
    if exe is None:
        pytest.skip(f"{EXE} is not installed: the push/pull tests need a real registry "
                    f"({INSTALL})")
    return exe


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def registry(folder: Path, *, htpasswd: Path | None = None) -> Iterator[RunningRegistry]:
    """``docker-registry serve CONFIG`` on a free port; with ``htpasswd``, basic auth."""
    exe = need_registry()
    storage = folder / "storage"
    storage.mkdir(parents=True)
    port = _free_port()
    auth = (f"auth:\n  htpasswd:\n    realm: homelab-test\n    path: {htpasswd}\n"
            if htpasswd is not None else "")
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: homelab-charts-tests\n"
        + auth)
    log = (folder / "registry.log").open("wb")
    proc = subprocess.Popen([exe, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{EXE} exited: {(folder / 'registry.log').read_text()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401: up, asking for credentials
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{EXE} did not start on port {port}") from None
                time.sleep(0.1)
        yield RunningRegistry(f"127.0.0.1:{port}", storage)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
