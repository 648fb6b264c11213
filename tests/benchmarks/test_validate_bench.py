"""The validation benchmark's comparison with kubeconform, against a stand-in binary.

kubeconform cannot be installed here; a stand-in records how the benchmark calls it (its
schema cache filled by a first, untimed run, its own Kubernetes schemas, the packaged CRD
schemas) and the figures printed for both commands in one run.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import validate_bench

    return validate_bench


def test_ours_and_kubeconforms_figures_come_from_one_run(
        bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
        capsys: pytest.CaptureFixture[str]) -> None:
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "kubeconform"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n"
                    "echo 'Summary: 4000 resources found in 69 files - Valid: 4000'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    bench.realistic(1)
    out = capsys.readouterr().out
    assert "realistic tree: 4000 copies" in out
    assert "homelab-charts validate  median" in out and "kubeconform -strict" in out
    assert "x kubeconform's speed (target >= 4x)" in out
    runs = calls.read_text().splitlines()
    assert len(runs) == 2  # the untimed run that fills the cache, then the timed one
    for argv in runs:
        assert argv.startswith("-strict -summary -cache ")
        assert "-schema-location default -schema-location " in argv
        assert "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json" in argv
