"""The import rules of ARCHITECTURE.md, checked by reading every import."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> the project packages (or sub-packages) it may import.
ALLOWED: dict[str, frozenset[str]] = {
    "eventstore": frozenset(),
    "domain": frozenset(),
    "projections": frozenset({"domain"}),
    "app": frozenset({"domain", "projections", "eventstore"}),
    "transport": frozenset({"app", "domain"}),
    "client": frozenset({"transport.http"}),
}
PROJECT = frozenset(ALLOWED)
# Third-party modules, and who may use them. Everything else must be stdlib.
THIRD_PARTY: dict[str, frozenset[str]] = {
    "attrs": PROJECT,
    "msgpack": frozenset({"eventstore"}),
    # The JetStream backend of the log (stream, writer lease, object store): only the
    # event store talks to NATS; the app reaches it through the EventLog contract.
    "nats": frozenset({"eventstore"}),
    # /metrics: the transport serves it, the app layer feeds it.
    "prometheus_client": frozenset({"app", "transport"}),
}


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def sources() -> Iterator[tuple[str, Path]]:
    for package in sorted(PROJECT):
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


def violation(package: str, module: str) -> str | None:
    top = module.split(".", maxsplit=1)[0]
    if top == package:
        return None
    if top in PROJECT:
        allowed = ALLOWED[package]
        public = next((a for a in allowed if module == a), None)
        if public is not None:
            return None
        if any(module.startswith(a + ".") for a in allowed):
            return "reaches into a private module; import the package's public names"
        return f"{package} may not import {top}"
    if top in THIRD_PARTY:
        return None if package in THIRD_PARTY[top] else f"{package} may not use {top}"
    if top in sys.stdlib_module_names or top == "__future__":
        return None
    return f"{top} is neither stdlib nor an allowed dependency"


@pytest.mark.parametrize(("package", "path"), list(sources()), ids=str)
def test_imports_follow_the_architecture(package: str, path: Path) -> None:
    problems = [
        f"{path.relative_to(ROOT)}:{line}: import {module}: {why}"
        for line, module in imports_of(path)
        if (why := violation(package, module)) is not None
    ]
    assert not problems, "\n".join(problems)


def test_the_rule_catches_a_forbidden_import() -> None:
    assert violation("domain", "eventstore") is not None
    assert violation("projections", "app") is not None
    assert violation("client", "transport.api") is not None
    assert violation("app", "eventstore.records") is not None
    assert violation("domain", "msgpack") is not None
    assert violation("domain", "requests") is not None
    assert violation("app", "eventstore") is None
    assert violation("client", "transport.http") is None


def test_no_print_in_library_code() -> None:
    offenders = []
    for package, path in sources():
        if package == "client" or path.name == "cli.py":
            continue  # terminal programs print by design
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [
            f"{path.relative_to(ROOT)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "print"
        ]
    assert not offenders


def test_the_client_loads_the_codec_without_the_server() -> None:
    # `chat` starts on every command: the server's connection machinery would
    # cost it tens of milliseconds for nothing.
    probe = (
        "import sys, client.cli; "
        "heavy = ('transport.server', 'transport.api', 'app'); "
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "[]"


def test_a_server_on_the_file_log_starts_without_nats_or_the_unicode_pass() -> None:
    # nats-py (~0.25 s to import) is for replicas only, and the pass over every
    # code point behind the OpenAPI patterns (~0.3 s) waits for the first
    # request of the document: together they were most of a clean start.
    probe = (
        "import sys, transport.cli; from transport.api import forms; "
        "print(sorted(m for m in sys.modules if m == 'nats' or m.startswith('nats.')), "
        "forms.character_sets.cache_info().currsize)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "[] 0"


# -- the shape of the tree: no import circles, modules small enough to read ----------

# "A few hundred lines": about 500; a module this much longer must be split.
MAX_MODULE_LINES = 550


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, anywhere in it (TYPE_CHECKING too).

    `from pkg import mod` names the submodule `pkg.mod` when there is one, else
    the package `pkg` (whose `__init__` then is what is imported).
    """
    modules = {module_name(path): path for _, path in sources()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    if sub in modules:
                        targets.add(sub)
                    elif node.module in modules:
                        targets.add(node.module)
        targets.discard(name)
        graph[name] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import path that comes back to where it started (one per back edge)."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        for target in sorted(graph.get(name, ())):
            if target in path:
                found.append([*path[path.index(target) :], target])
            elif target not in done:
                visit(target, [*path, target])
        done.add(name)

    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    # A package's __init__ re-exporting its modules is not a circle with them: the
    # modules import each other by their own names, never through the package.
    graph = {
        name: {t for t in targets if not name.startswith(t + ".")}
        for name, targets in import_graph().items()
    }
    assert circles(graph) == []


def test_the_circle_check_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_every_module_is_small_enough_to_read_in_one_sitting() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for _, path in sources()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_the_http_limits_an_operator_sets_have_one_default() -> None:
    # The HTTP layer keeps defaults of its own (it is usable alone); the server's
    # settings declare what an operator sets. Where both name a limit, one number.
    from app import Settings  # noqa: PLC0415 - only this test needs the layers together
    from transport.server import HttpLimits  # noqa: PLC0415

    settings = Settings()
    differing = {
        field.name: (field.default, getattr(settings, field.name))
        for field in attrs.fields(HttpLimits)
        if hasattr(settings, field.name) and getattr(settings, field.name) != field.default
    }
    # The JSON body limit is the one the server chooses deliberately lower.
    assert differing == {"default_max_body_bytes": (1024 * 1024, 64 * 1024)}
