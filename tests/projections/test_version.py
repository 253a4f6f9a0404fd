"""A snapshot is only as good as the fold that made it: the fold's code carries a version.

The digest covers what decides the state a fold ends with: every module of
`projections`, the event codecs (`domain/events.py`), the name keys
(`domain/names.py`) and the one domain record the model holds
(`ScheduledState`). When this test fails, the fold changed: bump
PROJECTION_VERSION in `projections/version.py` and add a row below (never
edit an old row), so that snapshots taken by the old code are refused.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

from domain import ScheduledState
from projections import PROJECTION_VERSION

ROOT = Path(__file__).resolve().parents[2]

# PROJECTION_VERSION -> the digest of the fold's code it names.
KNOWN: dict[int, str] = {
    1: "4cbf1f69e5a9503882fbd07deb704ad36172dffad9a6b44aa5a252c1d8cf54d7",
    2: "9853f36b25a71b0993d7b35e996d7a0abddb42588ca25c960f0271782ae2e297",  # ScheduledState moved
    3: "984f37965d312bc2cc913eec970a3863313e01c7d0dd90ce18473cc140e25fa1",  # decoded by shape
}


def fold_code_digest() -> str:
    sources = sorted((ROOT / "projections").glob("*.py"))
    sources = [p for p in sources if p.name != "version.py"]
    digest = hashlib.sha256()
    for path in [*sources, ROOT / "domain" / "events.py", ROOT / "domain" / "names.py"]:
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    digest.update(inspect.getsource(ScheduledState).encode())
    digest.update(ScheduledState.__module__.encode())  # pickled by its module's name
    return digest.hexdigest()


def test_the_fold_code_has_not_changed_without_a_new_version() -> None:
    assert max(KNOWN) == PROJECTION_VERSION, "add a row for the new PROJECTION_VERSION"
    assert KNOWN[PROJECTION_VERSION] == fold_code_digest(), (
        "the projection code changed: bump PROJECTION_VERSION in projections/version.py "
        f"and add the row {PROJECTION_VERSION + 1}: {fold_code_digest()!r} to KNOWN here"
    )


def test_each_version_names_other_code() -> None:
    assert len(set(KNOWN.values())) == len(KNOWN)
