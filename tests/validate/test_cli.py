"""``homelab-charts validate``: output formats, summary, exit codes, engines."""

from __future__ import annotations

import json
import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from homelab_charts.cli import main

from .helpers import CORPUS, GOOD_DEPLOYMENT, write

BAD = """
apiVersion: v1
kind: ConfigMap
metadata: {name: bad, namespace: apps}
data: {a: 1}
"""


def tree(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "apps" / "web" / "web.yaml", GOOD_DEPLOYMENT)
    return tmp_path


def cli(tmp_path: Path, *args: str) -> int:
    return main(["validate", "--root", str(tmp_path), *args])


def test_valid_tree_exits_0_with_summary(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    tree(tmp_path)
    assert cli(tmp_path, "--summary", "--schema-location", "default") == 0
    out = capsys.readouterr().out
    assert out == ("Summary: 1 resource found in 1 file - Valid: 1, Invalid: 0, Errors: 0, "
                   "Skipped: 0\n")


def test_text_output_always_ends_with_a_summary_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree(tmp_path)
    assert cli(tmp_path, "--schema-location", "default") == 0
    assert capsys.readouterr().out == "valid: 1 resource in 1 file\n"
    write(tmp_path / "apps" / "bad.yaml", BAD)
    write(tmp_path / "apps" / "more.yaml", GOOD_DEPLOYMENT.replace("name: web", "name: web2"))
    assert cli(tmp_path, "--schema-location", "default") == 1
    lines = capsys.readouterr().out.splitlines()
    assert "ConfigMap apps/bad is invalid" in lines[0]
    assert lines[-1] == "not valid: 1 invalid, 0 not validated, of 3 resources in 3 files"
    assert cli(tmp_path, "--schema-location", "default", "--skip", "ConfigMap") == 0
    assert capsys.readouterr().out == "valid: 3 resources in 3 files (1 skipped)\n"


def test_default_paths_and_root_from_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    tree(tmp_path)
    write(tmp_path / "clusters" / "homelab" / "bad.yaml", BAD)
    monkeypatch.chdir(tmp_path / "apps")
    assert main(["validate", "--verbose", "--schema-location", "default"]) == 1
    out = capsys.readouterr().out
    assert "apps/web/web.yaml (document 1) - Deployment apps/web is valid" in out
    assert ("clusters/homelab/bad.yaml (document 1) - ConfigMap apps/bad is invalid: "
            "at '/data/a': got integer, want string") in out


def test_no_tree_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path) == 2
    assert "nothing to validate" in capsys.readouterr().err


def test_missing_path_and_bad_version_exit_2(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, str(tmp_path / "nope.yaml")) == 2
    assert "no such file or folder" in capsys.readouterr().err
    tree(tmp_path)
    assert cli(tmp_path, "--kubernetes-version", "one") == 2
    assert "--kubernetes-version" in capsys.readouterr().err


def test_unreadable_file_in_tree_exits_2(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    tree(tmp_path)
    (tmp_path / "apps" / "dead.yaml").symlink_to(tmp_path / "nowhere.yaml")
    assert cli(tmp_path, "--schema-location", "default") == 2
    assert "dead.yaml: cannot read" in capsys.readouterr().err


def test_parse_error_is_reported_with_line_not_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "--schema-location", "default", str(CORPUS / "malformed.yaml")) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert "malformed.yaml (document 2) - failed validation: error unmarshalling resource: " \
           "line 14:" in captured.out


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree(tmp_path)
    write(tmp_path / "apps" / "bad.yaml", BAD)
    assert cli(tmp_path, "--output", "json", "--summary", "--schema-location", "default") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["summary"] == {"resources": 2, "files": 2, "valid": 1, "invalid": 1,
                               "errors": 0, "skipped": 0}
    [bad] = data["resources"]
    assert bad["filename"] == "apps/bad.yaml" and bad["status"] == "statusInvalid"
    assert bad["document"] == 1 and bad["kind"] == "ConfigMap" and bad["name"] == "bad"
    assert bad["validationErrors"][0]["path"] == "/data/a"


def test_junit_output_is_well_formed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree(tmp_path)
    write(tmp_path / "apps" / "bad.yaml", BAD + "---\n" + BAD.replace("kind: ConfigMap",
                                                                       "kind: Gizmo"))
    assert cli(tmp_path, "--output", "junit", "--schema-location", "default",
               "--skip", "Deployment") == 1
    root = ET.fromstring(capsys.readouterr().out)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"),
            root.get("disabled")) == ("3", "1", "1", "1")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"apps/bad.yaml", "apps/web/web.yaml"}
    cases = list(suites["apps/bad.yaml"].iter("testcase"))
    assert cases[0].get("classname") == "ConfigMap@v1"
    assert cases[0].find("failure") is not None
    assert cases[1].find("error") is not None
    [web_case] = suites["apps/web/web.yaml"].iter("testcase")
    assert web_case.find("skipped") is not None


def test_reject_and_skip_take_kinds_or_gvks(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    tree(tmp_path)
    assert cli(tmp_path, "--schema-location", "default", "--reject", "apps/v1/Deployment") == 1
    assert "prohibited resource kind Deployment" in capsys.readouterr().out
    assert cli(tmp_path, "--schema-location", "default", "--skip", "Service,Deployment",
               "--verbose") == 0
    assert "is valid" not in capsys.readouterr().out


def test_policy_findings_and_waivers_in_cli(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    tree(tmp_path)
    path = tmp_path / "apps" / "web" / "web.yaml"
    path.write_text(path.read_text().replace("v1.2.3-abcdef0-prod", "latest"))
    assert cli(tmp_path, "--schema-location", "default") == 1
    assert ("is invalid: IMG-001: at '/spec/template/spec/containers/0/image': container web "
            "image 'ghcr.io/example/web:latest' is not pinned") in capsys.readouterr().out
    path.write_text(path.read_text().replace(
        "  namespace: apps\n",
        "  namespace: apps\n  annotations:\n"
        "    policy.homelab-charts.io/waive: IMG-001\n"
        "    policy.homelab-charts.io/waive-reason: upstream publishes latest only\n", 1))
    assert cli(tmp_path, "--schema-location", "default", "--verbose") == 0
    assert "is valid (waived: IMG-001)" in capsys.readouterr().out
    assert cli(tmp_path, "--schema-location", "default", "--no-policy") == 0


def test_non_strict_accepts_unknown_fields_and_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path / "cm.yaml", """
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: a, namespace: b}
    extra: 1
    data: {a: x}
    data: {a: z}
    """)
    assert cli(tmp_path, "--schema-location", "default", str(path)) == 1
    assert cli(tmp_path, "--schema-location", "default", "--no-strict", str(path)) == 0


def test_broken_schema_file_is_an_error_result(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "schemas" / "example.io" / "widget_v1.json", "{oops")
    path = write(tmp_path / "w.yaml", "apiVersion: example.io/v1\nkind: Widget\n"
                                      "metadata: {name: w}\n")
    assert cli(tmp_path, "--schema-location", str(tmp_path / "schemas"), str(path)) == 1
    assert "failed validation: cannot read schema" in capsys.readouterr().out


def fake_kubeconform(bin_dir: Path, log: Path) -> None:
    """A stand-in kubeconform: logs its argv and answers like ``-output json -verbose``."""
    script = bin_dir / "kubeconform"
    script.write_text(f"""#!/usr/bin/env python3
import json, sys
args = sys.argv[1:]
open({str(log)!r}, "a").write(json.dumps(args) + "\\n")
files = [a for a in args if a.endswith(".yaml")]
out = []
for f in files:
    out.append({{"filename": f, "kind": "Deployment", "name": "web", "version": "apps/v1",
                "status": "statusInvalid", "msg": "x",
                "validationErrors": [{{"path": "/spec/replicas",
                                      "msg": "got string, want integer"}}]}})
    out.append({{"filename": f, "kind": "", "name": "", "version": "", "status": "statusEmpty",
                "msg": ""}})
print(json.dumps({{"resources": out}}))
sys.exit(1)
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_kubeconform_engine_passes_equivalent_flags(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    tree(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.log"
    fake_kubeconform(bin_dir, log)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    code = cli(tmp_path, "--engine", "kubeconform", "--schema-location", "default",
               "--schema-location", str(tmp_path / "crds"), "--skip", "Secret",
               "--ignore-missing-schemas", "--kubernetes-version", "1.32", "--no-kustomize")
    assert code == 1
    out = capsys.readouterr().out
    assert ("apps/web/web.yaml (document 1) - Deployment apps/web is invalid: "
            "at '/spec/replicas': got string, want integer") in out
    args = json.loads(log.read_text().splitlines()[0])
    assert args[:5] == ["-output", "json", "-verbose", "-kubernetes-version", "1.32.0"]
    for flag in ("-strict", "-ignore-missing-schemas"):
        assert flag in args
    assert args[args.index("-skip") + 1] == "Secret"
    locations = [args[i + 1] for i, a in enumerate(args) if a == "-schema-location"]
    assert locations == ["default", str(tmp_path / "crds"), str(tmp_path / "crds")
                         + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"]


def test_kubeconform_engine_without_binary_exits_2(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tree(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cli(tmp_path, "--engine", "kubeconform") == 2


def test_the_executable_flushes_everything_before_its_quick_exit(tmp_path: Path) -> None:
    """``homelab-charts validate`` ends without the interpreter's teardown: its whole
    output (to a pipe, so block-buffered), its notes and its exit status arrive."""
    import subprocess
    import sys

    tree(tmp_path)
    for n in range(300):  # more output than one pipe buffer
        write(tmp_path / "apps" / f"bad{n:03}.yaml", BAD.replace("name: bad", f"name: bad{n}"))
    exe = Path(sys.executable).with_name("homelab-charts")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run([str(exe), "validate", "--root", str(tmp_path), "--output", "json",
                           "--verbose", "--summary", "--schema-location", "default",
                           "--no-kustomize"],
                          capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert len(data["resources"]) == 301 and data["summary"]["invalid"] == 300
    missing = subprocess.run([str(exe), "validate", "--root", str(tmp_path),
                              str(tmp_path / "nowhere")],
                             capture_output=True, text=True, check=False, env=env)
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
