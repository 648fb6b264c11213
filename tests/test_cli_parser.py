"""The top-level parser: unknown arguments are reported by the parser that owns them."""

from __future__ import annotations

import pytest

from homelab_charts.cli import build_parser, main


@pytest.mark.parametrize(
    ("argv", "usage", "message"),
    [
        (["--wrong"], "usage: homelab-charts [-h]", "homelab-charts: error: unrecognized "
                                                    "arguments: --wrong"),
        (["--wrong", "synth"], "usage: homelab-charts [-h]",
         "homelab-charts: error: unrecognized arguments: --wrong"),
        ([], "usage: homelab-charts [-h]",
         "homelab-charts: error: the following arguments are required: COMMAND"),
        (["validate", "--wrong"], "usage: homelab-charts validate [-h]",
         "homelab-charts validate: error: unrecognized arguments: --wrong"),
        (["synth", "--check", "extra"], "usage: homelab-charts synth [-h]",
         "homelab-charts synth: error: unrecognized arguments: extra"),
        (["version", "--wrong"], "usage: homelab-charts version [-h]",
         "homelab-charts version: error: unrecognized arguments: --wrong"),
        (["version"], "usage: homelab-charts version [-h]",
         "homelab-charts version: error: the following arguments are required: ACTION"),
        (["version", "next", "x", "--wrong"], "usage: homelab-charts version next [-h]",
         "homelab-charts version next: error: unrecognized arguments: --wrong"),
    ],
)
def test_usage_errors_name_the_argument_and_the_right_usage(argv, usage, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage)
    assert err.rstrip().endswith(message)


def test_valid_command_lines_still_parse():
    args = build_parser().parse_args(["version", "parse", "v1.0.0"])
    assert (args.command, args.action, args.tag) == ("version", "parse", "v1.0.0")
    args = build_parser().parse_args(["validate", "--summary", "apps"])
    assert args.summary and [str(p) for p in args.paths] == ["apps"]
