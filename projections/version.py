"""The version of the fold: what a snapshot of the read model was made by.

A snapshot holds the read model as this code folded it. When the fold
changes (a projection's fields, what an event does to them, expiry, the
event codecs or name keys it relies on), a snapshot from the old code would
start the server in a state this code would never have reached: bump
PROJECTION_VERSION, and old snapshots are refused (the server replays the
whole log once and writes new ones). `tests/projections/test_version.py`
fails when that code changes without a new version.
"""

from __future__ import annotations

from typing import Final

PROJECTION_VERSION: Final = 3
