"""Test configuration shared by the whole suite: hypothesis profiles, and a clean checkout.

`ci` is derandomised so that a red run can be reproduced; `dev` is quick for
local iteration; `soak` runs long. Pick one with HYPOTHESIS_PROFILE; CI=true
selects `ci` by default. Hypothesis keeps its example database in the
system's temporary directory, not in the checkout: no test may write there
(`_the_checkout_stays_clean` fails the run when one does).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

from tests.nats_support import NatsServer, require_nats_server

ROOT = Path(__file__).resolve().parent.parent
# Hypothesis's database and caches, out of the checkout (the default is ./.hypothesis).
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / f"eventchat-hypothesis-{os.getuid()}"))

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("soak", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# What tools (not tests) write into the checkout.
_TOOL_CACHES = frozenset(
    {".git", ".pytest_cache", ".venv", ".mypy_cache", ".ruff_cache", ".hypothesis", ".coord"}
)


def _paths() -> set[str]:
    """Every file and directory of the checkout but the tools' caches."""
    found: set[str] = set()
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = [
            d
            for d in subdirectories
            if d not in _TOOL_CACHES and d != "__pycache__" and not d.endswith(".egg-info")
        ]
        relative = os.path.relpath(directory, ROOT)
        found.update(os.path.join(relative, name) for name in (*subdirectories, *files))
    return found


@pytest.fixture(autouse=True, scope="session")
def _the_checkout_stays_clean() -> Iterator[None]:
    before = _paths()
    yield
    written = _paths() - before
    assert not written, f"tests wrote into the checkout: {sorted(written)}"


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One nats-server (JetStream, `sync_interval: always`) for the session; tests use
    streams of their own on it. Skips without the binary (fails under REQUIRE_NATS=1)."""
    server = NatsServer(require_nats_server(), tmp_path_factory.mktemp("nats")).start()
    yield server
    server.stop()
