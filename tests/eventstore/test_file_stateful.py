"""Random sequences of log operations against a list model (hypothesis stateful)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from eventstore import FileEventLog, FsyncPolicy, NewRecord, PendingAppend, Record

from .support import as_stored, new_records

T = TypeVar("T")


class FileLogAgainstAList(RuleBasedStateMachine):
    """The file log behaves like a list of records, across waits and reopenings."""

    def __init__(self) -> None:
        super().__init__()
        # Hypothesis builds the machine itself, so no tmp_path: a temporary
        # directory removed in teardown.
        self.directory = Path(tempfile.mkdtemp(prefix="eventstore-stateful-"))
        self.path = self.directory / "events.log"
        self.loop = asyncio.new_event_loop()
        self.log = self.run(FileEventLog.open(self.path, fsync=FsyncPolicy.NONE))
        self.model: list[Record] = []
        self.pending: list[PendingAppend] = []

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    @rule(batch=st.lists(new_records, max_size=4))
    def stage(self, batch: list[NewRecord]) -> None:
        pending = self.log.append_nowait(batch)
        expected = as_stored(batch, len(self.model) + 1)
        assert pending.records == expected
        self.model += expected
        self.pending.append(pending)

    @rule()
    def wait_for_everything(self) -> None:
        for pending in self.pending:
            self.run(pending.wait_durable())
        self.pending = []
        assert self.log.durable_head == len(self.model)

    @rule(batch=st.lists(new_records, min_size=1, max_size=3))
    def append(self, batch: list[NewRecord]) -> None:
        stored = self.run(self.log.append(batch))
        assert stored == as_stored(batch, len(self.model) + 1)
        self.model += stored

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def read_one(self, data: st.DataObject) -> None:
        offset = data.draw(st.integers(1, len(self.model)), label="offset")
        assert self.log.read(offset) == self.model[offset - 1]

    @rule(after=st.integers(-1, 40))
    def iterate(self, after: int) -> None:
        durable = self.log.durable_head
        assert list(self.log.iter_from(after)) == self.model[max(after, 0) : durable]

    @rule()
    def reopen(self) -> None:
        self.run(self.log.close())  # writes whatever is staged
        self.pending = []
        self.log = self.run(FileEventLog.open(self.path, fsync=FsyncPolicy.NONE))
        assert self.log.durable_head == len(self.model)
        assert list(self.log.iter_from(0)) == self.model

    @invariant()
    def heads_follow_the_model(self) -> None:
        assert self.log.head == len(self.model)
        assert self.log.durable_head <= self.log.head

    def teardown(self) -> None:
        try:
            self.run(self.log.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.directory)


FileLogAgainstAList.TestCase.settings = settings(
    FileLogAgainstAList.TestCase.settings, max_examples=25, stateful_step_count=30
)
test_file_log_against_a_list = FileLogAgainstAList.TestCase
