"""Schema checks in forked workers give exactly the serial output, in input order."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

from homelab_charts.validate import Options, parallel, validate
from homelab_charts.validate.output import render

from .helpers import CORPUS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The generated tree and the broken corpus, interleaved over many files."""
    root = tmp_path / "repo"
    for top in ("clusters", "infrastructure", "apps"):
        shutil.copytree(REPO / top, root / top)
    shutil.copytree(CORPUS, root / "apps" / "zz-corpus",
                    ignore=shutil.ignore_patterns("schemas", "expected.yaml"))
    return root


def _render(root: Path, workers: int, fmt: str, **kwargs: object) -> str:
    report = validate(Options(root=root, kustomize=False, workers=workers,
                              schema_locations=["default", "packaged-crds",
                                                str(CORPUS / "schemas")],
                              **kwargs))  # type: ignore[arg-type]
    out = io.StringIO()
    render(report, fmt, out, summary=True, verbose=True)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("checks", [{"flux": False, "policy": False}, {}],
                         ids=["schema-only", "all-checks"])
def test_parallel_output_is_the_serial_output(tree: Path, fmt: str,
                                              checks: dict[str, bool]) -> None:
    serial = _render(tree, 1, fmt, **checks)
    assert "invalid" in serial and "already set in map" in serial  # the corpus is in
    for workers in (2, 3):
        assert _render(tree, workers, fmt, **checks) == serial


def test_a_worker_that_dies_costs_only_time() -> None:
    parent = os.getpid()

    def square(n: int) -> int:
        if n == 7 and os.getpid() != parent:
            os._exit(3)  # the worker holding 7 dies
        return n * n

    items = list(range(20))
    assert parallel.map_ordered(square, items, [1] * 20, 3) == [n * n for n in items]


def test_split_is_contiguous_and_balanced() -> None:
    sizes = [5, 1, 1, 1, 1, 1, 5, 5]
    shares = parallel.split(sizes, 2)
    assert [i for share in shares for i in share] == list(range(len(sizes)))
    assert [sum(sizes[i] for i in share) for share in shares] == [10, 10]
    assert parallel.split([3], 4) == [range(0, 1)]


def test_small_inputs_stay_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "cpus", lambda: 2)
    assert parallel.workers_for(parallel.MIN_BYTES - 1) == 1
    assert parallel.workers_for(parallel.MIN_BYTES) == 2
    monkeypatch.setattr(parallel, "cpus", lambda: 1)
    assert parallel.workers_for(10 * parallel.MIN_BYTES) == 1


def test_a_result_travels_whole() -> None:
    """Results come back from the workers pickled: every field survives the trip."""
    import dataclasses
    import pickle

    from homelab_charts.validate.model import Problem, Result

    values: dict[str, object] = {
        "filename": "a.yaml", "document": 2, "line": 7, "kind": "Deployment", "name": "web",
        "namespace": "apps", "api_version": "apps/v1", "skipped": True,
        "problems": [Problem("schema", "bad", path="/spec", rule="R", error=True,
                             waived=True)],
        "obj": {"kind": "Deployment"}}
    assert {f.name for f in dataclasses.fields(Result)} == set(values)
    result = Result(**values)  # type: ignore[arg-type]
    assert pickle.loads(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)) == result
