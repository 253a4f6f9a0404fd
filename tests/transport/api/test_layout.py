"""The layout of `transport/api/`: no import circles, modules one can read in one sitting.

Every import counts, wherever it stands: at the top, inside a function, or
under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

PACKAGE = "transport.api"
ROOT = Path(__file__).resolve().parents[3] / "transport" / "api"
MAX_MODULE_LINES = 500


def module_names() -> set[str]:
    return {path.stem for path in ROOT.glob("*.py")}


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The modules of the package that the file imports, wherever the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    found.add(alias.name.removeprefix(PACKAGE + ".").split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level > 0:
                base = PACKAGE if node.level == 1 else None
                module = f"{base}.{node.module}" if base and node.module else base
            else:
                module = node.module
            if module == PACKAGE:  # `from transport.api import files`: the submodule
                found |= {alias.name for alias in node.names if alias.name in modules}
            elif module is not None and module.startswith(PACKAGE + "."):
                found.add(module.removeprefix(PACKAGE + ".").split(".")[0])
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {path.stem: imported_modules(path, modules) for path in ROOT.glob("*.py")}


def find_circle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import circle of the graph, as the modules along it, or None."""
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> list[str] | None:
        if module in trail:
            return [*trail[trail.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            circle = visit(imported, [*trail, module])
            if circle is not None:
                return circle
        done.add(module)
        return None

    for module in sorted(graph):
        circle = visit(module, [])
        if circle is not None:
            return circle
    return None


def test_no_module_of_the_api_imports_itself_back() -> None:
    graph = import_graph()
    assert {"routes", "openapi", "messages", "chat_api"} <= set(graph)
    assert "openapi" in graph["messages"]
    assert find_circle(graph) is None


def test_the_circle_finder_finds_circles_and_only_circles() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"a"}}) == ["a", "a"]
    assert find_circle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_every_kind_of_import_counts(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import transport.api.auth\n"
        "from transport.api import files, ChatApi\n"
        "from . import params\n"
        "from .errors import guarded\n"
        "if TYPE_CHECKING:\n"
        "    from transport.api.routes import Route\n"
        "def later() -> None:\n"
        "    from transport.api.openapi import ref\n",
        encoding="utf-8",
    )
    imported = imported_modules(source, module_names())
    assert imported == {"auth", "files", "params", "errors", "routes", "openapi"}


def test_every_module_can_be_read_in_one_sitting() -> None:
    lengths = {
        path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in ROOT.glob("*.py")
    }
    assert not {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES}
