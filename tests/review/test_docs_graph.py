"""The graph shown in docs/ARCHITECTURE.md and docs/flux-graph.svg is the tree's."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from homelab_charts.review.graph import build_graph, to_mermaid
from homelab_charts.tree import read_disk_tree

REPO_ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = REPO_ROOT / "docs" / "ARCHITECTURE.md"
SVG = REPO_ROOT / "docs" / "flux-graph.svg"
HOW = ("regenerate with `homelab-charts graph --output svg -o docs/flux-graph.svg` and paste "
       "`homelab-charts graph` into the mermaid block of docs/ARCHITECTURE.md")


@pytest.fixture(scope="module")
def graph():
    if not (REPO_ROOT / "clusters").is_dir():
        pytest.skip("no generated tree in this checkout")
    return build_graph(read_disk_tree(REPO_ROOT))


def test_mermaid_block_matches_the_tree(graph) -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    blocks = re.findall(r"^```mermaid\n(.*?)^```$", text, re.M | re.S)
    assert blocks, "docs/ARCHITECTURE.md has no mermaid block"
    assert to_mermaid(graph) in blocks, f"the mermaid graph is out of date: {HOW}"


def test_svg_shows_every_node(graph) -> None:
    svg = SVG.read_text(encoding="utf-8")
    texts = {html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)}
    names = {node.name for node in graph.nodes.values()}
    assert names <= texts, f"docs/flux-graph.svg lacks {sorted(names - texts)}: {HOW}"
    assert "![Flux dependency graph](flux-graph.svg)" in ARCHITECTURE.read_text(
        encoding="utf-8")
