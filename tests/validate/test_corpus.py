"""The corpus of broken manifests: each file gets its expected verdict."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from homelab_charts.cli import main
from homelab_charts.validate import Status

from .helpers import CORPUS, run

EXPECTED: dict[str, Any] = yaml.safe_load((CORPUS / "expected.yaml").read_text())


def _locations(flux: bool) -> tuple[list[str], bool]:
    locations = ["default", str(CORPUS / "schemas")]
    if flux:
        return [*locations, "packaged-crds"], False
    return locations, False


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_gets_expected_verdict(name: str) -> None:
    spec = EXPECTED[name]
    flux = isinstance(spec, dict) and spec.get("flux", False)
    expected = spec["results"] if isinstance(spec, dict) else spec
    locations, ignore = _locations(bool(flux))
    report = run([CORPUS / name], CORPUS, schema_locations=locations,
                 ignore_missing_schemas=ignore)
    assert [r.status.value for r in report.results] == [e["status"] for e in expected], [
        (r.where, r.message()) for r in report.results]
    for result, want in zip(report.results, expected, strict=True):
        assert result.filename == name
        for fragment in want.get("problems", []):
            assert fragment in result.message(), result.message()


def test_corpus_covers_every_required_case() -> None:
    required = {"unknown_field.yaml", "wrong_type.yaml", "missing_required.yaml",
                "bad_enum.yaml", "duplicate_key.yaml", "missing_schema.yaml", "malformed.yaml",
                "dangling_sourceref.yaml", "dependency_cycle.yaml"}
    assert required <= set(EXPECTED)
    for name in required:
        assert (CORPUS / name).is_file()


def test_corpus_messages_name_file_document_kind_and_path(capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    code = main(["validate", "--root", str(CORPUS), "--no-policy", "--no-kustomize",
                 "--schema-location", "default", "--schema-location", str(CORPUS / "schemas"),
                 str(CORPUS / "wrong_type.yaml")])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines() == [
        "wrong_type.yaml (document 1) - Deployment apps/web is invalid: "
        "at '/spec/replicas': got string, want integer",
        "not valid: 1 invalid, 0 not validated, of 1 resource in 1 file"]


def test_whole_corpus_exits_1_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(CORPUS / n) for n in sorted(EXPECTED)]
    code = main(["validate", "--root", str(CORPUS), "--no-policy", "--no-kustomize",
                 "--ignore-missing-schemas", "--schema-location", "default",
                 "--schema-location", str(CORPUS / "schemas"), "--summary", *files])
    out = capsys.readouterr().out
    assert code == 1
    total = sum(len(s["results"] if isinstance(s, dict) else s) for s in EXPECTED.values())
    assert f"Summary: {total} resources found in {len(files)} files" in out
    assert "Traceback" not in out


def test_missing_schema_is_skipped_with_ignore_missing_schemas() -> None:
    report = run([CORPUS / "missing_schema.yaml"], CORPUS, ignore_missing_schemas=True)
    assert [r.status for r in report.results] == [Status.SKIPPED]
    assert report.ok
