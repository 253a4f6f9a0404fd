"""Messages: each room's timeline, lookup by id, idempotency keys, expiry.

How this works: a message id is the offset of its `message.sent`. Each room
keeps its ids in a sorted list, so "after the cursor", "before an id" and
"the last N" are bisections. Messages live for `ttl_s`; since the service
stamps events with non-decreasing times, a message whose time is more than
`ttl_s` before the newest event can never be shown again, and `apply`
forgets it, a minute of event time at a time (FORGET_BATCH_S). Which
messages are held is a function of the newest event time alone, not of
which events came in between: so replay forgets the same ones, a log
compacted of events that change nothing else folds to the same state, and a
replay that knows where it ends need not hold what will be forgotten by then
(`skip_expiring_before`). Queries also hide messages that expired by the
caller's `now`. The idempotency key of a message is remembered as long as
the message.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterator

from attrs import define, field

from domain import MessageCommented, MessageSent, name_key

# Expired messages are forgotten once per minute of event time: a message
# whose `ts + ttl_s` falls in minute k is forgotten by the first event in
# minute k + 1 or later. Both numbers are computed the same way everywhere
# (`_minute`), so what is held depends only on the newest event time.
FORGET_BATCH_S = 60.0
NEVER = float("inf")


@define(kw_only=True, getstate_setstate=False)
class FileRecord:
    name: str
    size: int
    content_type: str
    sha256: str


@define(kw_only=True, getstate_setstate=False)
class MessageRecord:
    id: int
    room: str
    author: str
    text: str
    ts: float
    idempotency_key: str | None = None
    scheduled: int | None = None
    file: FileRecord | None = None
    comments: int = 0


@define(kw_only=True, getstate_setstate=False)
class CommentRecord:
    id: int  # offset of `message.commented`
    message: int
    author: str
    text: str
    ts: float


def minute_of(ts: float) -> float:
    """The minute of event time `ts` falls in (what expiry counts in; see FORGET_BATCH_S)."""
    return ts // FORGET_BATCH_S


@define(kw_only=True, getstate_setstate=False)
class Timeline:
    ttl_s: float
    messages: dict[int, MessageRecord] = field(factory=dict)
    rooms: dict[str, list[int]] = field(factory=dict)  # room -> ids held, oldest first
    by_key: dict[tuple[str, str], int] = field(factory=dict)  # (user key, idem key) -> id
    comments: dict[int, list[CommentRecord]] = field(factory=dict)  # message id -> oldest first
    # Messages with a file that are not forgotten yet, by their authors' keys: id -> file.
    files_by_author: dict[str, dict[int, FileRecord]] = field(factory=dict)
    _by_age: deque[int] = field(factory=deque)
    # The event time from which the oldest message held is forgotten; replay
    # checks this one number per event.
    expires_at: float = NEVER
    # Messages that expire before this minute are not held at all (see `ReadModel.fold_until`).
    _skip_before_minute: float = field(default=-NEVER, eq=False)

    def _expiry_minute(self, ts: float) -> float:
        return minute_of(ts + self.ttl_s)

    def sent(self, offset: int, ts: float, event: MessageSent) -> None:
        if (ts + self.ttl_s) // FORGET_BATCH_S < self._skip_before_minute:  # `_expiry_minute`
            return  # it would be forgotten before the fold ends
        record = MessageRecord(
            id=offset,
            room=event.room,
            author=event.author,
            text=event.text,
            ts=ts,
            idempotency_key=event.idempotency_key,
            scheduled=event.scheduled,
        )
        if event.file_sha256 is not None:
            record.file = FileRecord(
                name=event.file_name or "",
                size=event.file_size or 0,
                content_type=event.file_type or "application/octet-stream",
                sha256=event.file_sha256,
            )
            self.files_by_author.setdefault(name_key(event.author), {})[offset] = record.file
        self.messages[offset] = record
        ids = self.rooms.get(event.room)
        if ids is None:
            self.rooms[event.room] = [offset]
        else:
            ids.append(offset)
        if not self._by_age:
            self.expires_at = (self._expiry_minute(ts) + 1) * FORGET_BATCH_S
        self._by_age.append(offset)
        if event.idempotency_key is not None:
            self.by_key[(name_key(event.author), event.idempotency_key)] = offset

    def skip_expiring_before(self, ts: float | None) -> None:
        """Do not hold messages forgotten by event time `ts` anyway (None: hold every one)."""
        self._skip_before_minute = -NEVER if ts is None else minute_of(ts)

    def forget_expired(self, now: float) -> None:
        """Forget the messages whose expiry minute is before the minute of `now` (an event time).

        What stays is a function of `now` alone: the messages whose
        `ts + ttl_s` falls in the minute of `now` or later.
        """
        minute = minute_of(now)
        by_age, messages = self._by_age, self.messages
        forgotten: dict[str, int] = {}  # room -> how many of its oldest ids go
        while by_age and self._expiry_minute(messages[by_age[0]].ts) < minute:
            record = messages.pop(by_age.popleft())
            forgotten[record.room] = forgotten.get(record.room, 0) + 1
            if record.idempotency_key is not None:
                del self.by_key[(name_key(record.author), record.idempotency_key)]
            self.comments.pop(record.id, None)
            if record.file is not None:
                self._forget_file(name_key(record.author), record.id)
        for room, count in forgotten.items():
            # Times never go backwards, so a room forgets a prefix of its ids.
            ids = self.rooms[room]
            if count == len(ids):
                del self.rooms[room]
            else:
                del ids[:count]
        self.expires_at = (
            (self._expiry_minute(messages[by_age[0]].ts) + 1) * FORGET_BATCH_S if by_age else NEVER
        )

    def _forget_file(self, author_key: str, message_id: int) -> None:
        files = self.files_by_author[author_key]
        del files[message_id]
        if not files:
            del self.files_by_author[author_key]

    def files_of(self, author_key: str, now: float) -> list[tuple[MessageRecord, FileRecord]]:
        """The unexpired messages with files of one author, oldest first."""
        found = []
        for message_id, file in self.files_by_author.get(author_key, {}).items():
            record = self.get(message_id, now)
            if record is not None:
                found.append((record, file))
        return found

    def live_blobs(self, now: float) -> set[str]:
        """The SHA-256 of every file an unexpired message carries."""
        return {
            file.sha256
            for files in self.files_by_author.values()
            for message_id, file in files.items()
            if self.get(message_id, now) is not None
        }

    def commented(self, offset: int, ts: float, event: MessageCommented) -> None:
        record = self.messages.get(event.message)
        if record is None:
            return
        record.comments += 1
        comment = CommentRecord(
            id=offset, message=event.message, author=event.author, text=event.text, ts=ts
        )
        self.comments.setdefault(event.message, []).append(comment)

    def comments_after(
        self, message_id: int, after: int, *, upto: int, limit: int
    ) -> list[CommentRecord]:
        """Up to `limit` comments of a message with after < id <= upto, oldest first."""
        comments = self.comments.get(message_id, [])
        start = bisect_right(comments, after, key=lambda c: c.id)
        stop = bisect_right(comments, upto, lo=start, key=lambda c: c.id)
        return comments[start : min(stop, start + limit)]

    def get(self, message_id: int, now: float) -> MessageRecord | None:
        record = self.messages.get(message_id)
        if record is None or now - record.ts > self.ttl_s:
            return None
        return record

    def ids_between(self, room: str, after: int, upto: int, now: float) -> list[int]:
        """Ids of unexpired messages of a room with after < id <= upto, oldest first."""
        ids = self.rooms.get(room, [])
        lo = max(bisect_right(ids, after), self._first_unexpired(ids, now))
        hi = bisect_right(ids, upto, lo)
        return ids[lo:hi]

    def count_between(self, room: str, after: int, upto: int, now: float) -> int:
        ids = self.rooms.get(room, [])
        lo = max(bisect_right(ids, after), self._first_unexpired(ids, now))
        return max(0, bisect_right(ids, upto, lo) - lo)

    def ids_before(self, room: str, before: int, low: int, limit: int, now: float) -> list[int]:
        """Up to `limit` unexpired ids with low <= id < before, newest first."""
        ids = self.rooms.get(room, [])
        lo = max(bisect_left(ids, low), self._first_unexpired(ids, now))
        hi = bisect_left(ids, before, lo)
        return ids[max(lo, hi - limit) : hi][::-1]

    def _first_unexpired(self, ids: list[int], now: float) -> int:
        cutoff = now - self.ttl_s
        messages = self.messages
        # Times are non-decreasing along a room: expired ids form a prefix.
        return bisect_left(ids, True, key=lambda i: messages[i].ts >= cutoff)

    def __iter__(self) -> Iterator[MessageRecord]:
        return iter(self.messages.values())
