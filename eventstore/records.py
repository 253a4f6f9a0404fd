"""The records the log stores, and the fsync policies of a durable log.

The event store knows nothing about chat: a record is an offset, a time, a
versioned name and a mapping of msgpack-compatible fields. Turning records
into domain events (and back) is the domain codec's job.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen


class FsyncPolicy(enum.Enum):
    """When appended data is forced to stable storage."""

    ALWAYS = "always"  # every batch is fdatasync'ed before its appends return
    INTERVAL = "interval"  # a background flush at most every `fsync_interval_s`
    NONE = "none"  # never; for tests and benchmarks only


@frozen(kw_only=True)
class NewRecord:
    """A record about to be appended: the log assigns its offset."""

    ts: float
    name: str
    data: Mapping[str, Any] = field(factory=dict)


@frozen(kw_only=True)
class Record:
    """A record as stored in the log, with its dense offset (from 1)."""

    offset: int
    ts: float
    name: str
    data: Mapping[str, Any] = field(factory=dict)
