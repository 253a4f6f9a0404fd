"""The shape of `client/`: no import circles, modules small enough to read in one sitting."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[2] / "client"
MAX_LINES = 500


def modules() -> dict[str, Path]:
    return {f"client.{path.stem}": path for path in sorted(CLIENT.glob("*.py"))}


def client_imports(path: Path, known: set[str]) -> Iterator[str]:
    """Every client module `path` imports, anywhere in it (`TYPE_CHECKING` blocks too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module in known:
                yield node.module
            for alias in node.names:  # `from client import files`
                if f"{node.module}.{alias.name}" in known:
                    yield f"{node.module}.{alias.name}"


def import_graph() -> dict[str, set[str]]:
    found = modules()
    return {name: set(client_imports(path, set(found))) for name, path in found.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import path that comes back to where it started (depth-first, one per back edge)."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        for target in sorted(graph[name]):
            if target in path:
                found.append([*path[path.index(target) :], target])
            elif target not in done:
                visit(target, [*path, target])
        done.add(name)

    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    return found


def test_no_module_of_the_client_imports_one_that_imports_it_back() -> None:
    assert circles(import_graph()) == []


def test_the_circle_check_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_every_module_is_small_enough_to_read_in_one_sitting() -> None:
    long = {
        name: lines
        for name, path in modules().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
