"""The shape of bot/: no import cycle, a handful of loose modules, no module too long to read.

The layers themselves are held by import-linter (``[tool.importlinter]`` in pyproject.toml, run by
``make test``); these are the properties it does not check. Imports under ``TYPE_CHECKING`` and
inside functions count like any other (grimp reads them all).
"""

from __future__ import annotations

from pathlib import Path

import grimp

BOT = Path(__file__).resolve().parents[1] / "bot"
MAX_LINES = 400
MAX_LOOSE = 3  # bot/__init__.py, __main__.py and errors.py (the one error tree under every layer)


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every group of modules that import each other, directly or through others (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules or imported == module:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


def test_bot_has_no_import_cycle() -> None:
    assert import_cycles(grimp.build_graph("bot")) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    graph.add_import(importer="a.d", imported="a.b")
    assert import_cycles(graph) == [["a.b", "a.c"]]


def test_few_modules_are_loose_at_the_top() -> None:
    loose = sorted(p.name for p in BOT.glob("*.py"))
    assert len(loose) <= MAX_LOOSE, loose


def test_no_module_is_too_long_to_read() -> None:
    lengths = {
        str(path.relative_to(BOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in BOT.rglob("*.py")
    }
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}
