"""The terminal progress bar: only on a terminal, only for long runs, never for
machine-readable output."""

from __future__ import annotations

import io
import json

import pytest

from homelab_charts import progress as progress_module
from homelab_charts.progress import Progress, track


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_draws_on_a_terminal_and_erases_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERM", raising=False)
    stream, clock = FakeTerminal(), Clock()
    with Progress(400, "reading", stream=stream, delay=0.5, clock=clock, width=10) as bar:
        bar.advance(100)
        assert stream.getvalue() == ""  # not before the delay
        clock.now = 1.0
        bar.advance(100)
        assert stream.getvalue() == "\rreading [#####.....] 200/400  50%"
        bar.advance(1)  # no redraw within the refresh interval
        assert stream.getvalue().count("\r") == 1
        clock.now = 1.05
        bar.advance(199)  # the last step is always drawn
        assert stream.getvalue().endswith("\rreading [##########] 400/400 100%")
    assert stream.getvalue().endswith("\r\x1b[2K")


@pytest.mark.parametrize(("stream", "total", "enabled"), [
    (io.StringIO(), 1000, None),  # not a terminal (a pipe, a CI log)
    (FakeTerminal(), 1000, False),  # machine-readable output
    (FakeTerminal(), 10, None),  # too short to need a bar
])
def test_silent(stream: io.StringIO, total: int, enabled: bool | None) -> None:
    with Progress(total, "x", stream=stream, enabled=enabled, delay=0) as bar:
        for _ in range(total):
            bar.advance()
    assert stream.getvalue() == ""


def test_dumb_terminal_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    stream = FakeTerminal()
    assert list(track(range(500), "x", stream=stream, delay=0)) == list(range(500))
    assert stream.getvalue() == ""


def test_track_counts_a_sized_iterable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERM", raising=False)
    stream = FakeTerminal()
    assert list(track(list(range(300)), "items", stream=stream, delay=0)) == list(range(300))
    assert "300/300 100%" in stream.getvalue()


def big_trees(n: int) -> tuple[dict[str, str], dict[str, str]]:
    old = {f"apps/a/cm{i}.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n"
           f"  namespace: a\ndata:\n  k: '{i}'\n" for i in range(n)}
    new = dict(old)
    new["apps/a/cm0.yaml"] = new["apps/a/cm0.yaml"].replace("k: '0'", "k: changed")
    return old, new


@pytest.mark.parametrize(("output", "shown"), [("text", True), ("json", False),
                                               ("markdown", False)])
def test_diff_shows_progress_only_for_text_output(
        output: str, shown: bool, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from homelab_charts.cli import diff as diff_cli

    old, new = big_trees(400)
    monkeypatch.setattr(progress_module, "DEFAULT_DELAY", 0.0)
    monkeypatch.delenv("TERM", raising=False)
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr("homelab_charts.tree.resolve_commit", lambda root, ref: "f" * 40)
    monkeypatch.setattr("homelab_charts.tree.git_tree", lambda root, commit: old)
    monkeypatch.setattr("homelab_charts.tree.read_disk_tree", lambda root: new)
    args = diff_cli_args(tmp_path, output)
    out = io.StringIO()
    assert diff_cli.run(args, out=out) == 1
    assert ("comparing objects [" in terminal.getvalue()) is shown
    assert ("reading objects [" in terminal.getvalue()) is shown
    assert "\r" not in out.getvalue()
    if output == "json":
        assert json.loads(out.getvalue())["summary"]["changed"] == 1


def diff_cli_args(root, output: str):
    from homelab_charts.cli import build_parser

    return build_parser().parse_args(["diff", "--root", str(root), "--against", "main",
                                      "--tree", "--output", output, "--color", "never"])
