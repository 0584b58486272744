"""The package's import graph stays one-way: sources and storage below the domains, the domains
below what presents them (serving, dashboard, reports, CLI), no cycles between packages and no
private name imported from another package."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ecoin_assets"
FOUNDATION = {"config", "errors", "sources", "storage", "processes", "bento_store"}
PRESENTATION = {"serving", "dashboard", "reports", "cli", "definitions", "__main__"}


def _unit(module: str) -> str:
    """`ecoin_assets.<unit>[...]`: a subpackage or a top-level module."""
    return module.split(".")[1] if "." in module else "<root>"


def _imports() -> tuple[dict[str, set[str]], list[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    private = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        source = _unit(".".join(relative.parts))
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(
                "ecoin_assets."
            ):
                continue
            target = _unit(node.module)
            if target == source:
                continue
            edges[source].add(target)
            private += [
                f"{relative}: {node.module}.{alias.name}"
                for alias in node.names
                if alias.name.startswith("_")
            ]
    return edges, private


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return [*path, node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = "done"
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_no_cycles_and_no_private_names_across_packages():
    edges, private = _imports()
    assert _cycle(edges) is None, f"an import cycle: {' -> '.join(_cycle(edges) or [])}"
    assert private == []


def test_layers_depend_downwards_only():
    edges, _ = _imports()
    for unit in FOUNDATION:
        above = edges.get(unit, set()) - FOUNDATION
        assert not above, f"{unit} (foundation) imports {sorted(above)}"
    domains = set(edges) - FOUNDATION - PRESENTATION
    for unit in domains:
        up = edges[unit] & PRESENTATION
        assert not up, f"the domain {unit} imports {sorted(up)}"
