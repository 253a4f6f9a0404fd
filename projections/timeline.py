"""Messages: each room's timeline, lookup by id, idempotency keys, expiry.

How this works: a message id is the offset of its `message.sent`. Each room
keeps its ids in a sorted list, so "after the cursor", "before an id" and
"the last N" are bisections. Messages live for `ttl_s`; since the service
stamps events with non-decreasing times, a message whose time is more than
`ttl_s` before the newest event can never be shown again, and `apply`
forgets it (deterministically: by event time, so replay forgets the same
ones). Queries also hide messages that expired by the caller's `now`.
The idempotency key of a message is remembered as long as the message.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterator

from attrs import define, field

from domain import MessageCommented, MessageSent, name_key

_COMPACT_AT = 4096  # drop forgotten ids from a room's list once this many piled up
FORGET_BATCH_S = 60.0  # expired messages are forgotten at most once per minute of event time


@define(kw_only=True)
class FileRecord:
    name: str
    size: int
    content_type: str
    sha256: str


@define(kw_only=True)
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


@define(kw_only=True)
class CommentRecord:
    id: int  # offset of `message.commented`
    message: int
    author: str
    text: str
    ts: float


@define(kw_only=True)
class RoomTimeline:
    """A room's message ids, oldest first; `start` skips forgotten ones."""

    ids: list[int] = field(factory=list)
    start: int = 0

    def forget_oldest(self, message_id: int) -> None:
        if self.start < len(self.ids) and self.ids[self.start] == message_id:
            self.start += 1
            if self.start >= _COMPACT_AT and self.start * 2 >= len(self.ids):
                del self.ids[: self.start]
                self.start = 0
            return
        index = bisect_left(self.ids, message_id, self.start)  # times went backwards
        if index < len(self.ids) and self.ids[index] == message_id:
            del self.ids[index]

    def __len__(self) -> int:
        return len(self.ids) - self.start


@define(kw_only=True)
class Timeline:
    ttl_s: float
    messages: dict[int, MessageRecord] = field(factory=dict)
    rooms: dict[str, RoomTimeline] = field(factory=dict)
    by_key: dict[tuple[str, str], int] = field(factory=dict)  # (user key, idem key) -> id
    comments: dict[int, list[CommentRecord]] = field(factory=dict)  # message id -> oldest first
    # Messages with a file that are not forgotten yet, by their authors' keys: id -> file.
    files_by_author: dict[str, dict[int, FileRecord]] = field(factory=dict)
    _by_age: deque[int] = field(factory=deque)
    # When the oldest message expires (event time); replay checks this one number per event.
    expires_at: float = float("inf")

    def sent(self, offset: int, ts: float, event: MessageSent) -> None:
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
        timeline = self.rooms.get(event.room)
        if timeline is None:
            timeline = self.rooms[event.room] = RoomTimeline()
        timeline.ids.append(offset)
        if not self._by_age:
            self.expires_at = ts + self.ttl_s
        self._by_age.append(offset)
        if event.idempotency_key is not None:
            self.by_key[(name_key(event.author), event.idempotency_key)] = offset

    def forget_expired(self, now: float) -> None:
        """Forget messages that expired before `now` (an event time)."""
        cutoff = now - self.ttl_s
        by_age = self._by_age
        while by_age and self.messages[by_age[0]].ts < cutoff:
            record = self.messages.pop(by_age.popleft())
            self.rooms[record.room].forget_oldest(record.id)
            if record.idempotency_key is not None:
                del self.by_key[(name_key(record.author), record.idempotency_key)]
            self.comments.pop(record.id, None)
            if record.file is not None:
                self._forget_file(name_key(record.author), record.id)
        # Forget in batches: queries hide expired messages by their own `now`, so
        # keeping them a little longer costs memory only, and replay saves a call
        # per message.
        oldest = self.messages[by_age[0]].ts if by_age else float("inf")
        self.expires_at = oldest + self.ttl_s + FORGET_BATCH_S

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
        timeline = self.rooms.get(room)
        if timeline is None:
            return []
        ids = timeline.ids
        lo = max(bisect_right(ids, after, timeline.start), self._first_unexpired(timeline, now))
        hi = bisect_right(ids, upto, lo)
        return ids[lo:hi]

    def count_between(self, room: str, after: int, upto: int, now: float) -> int:
        timeline = self.rooms.get(room)
        if timeline is None:
            return 0
        ids = timeline.ids
        lo = max(bisect_right(ids, after, timeline.start), self._first_unexpired(timeline, now))
        return max(0, bisect_right(ids, upto, lo) - lo)

    def ids_before(self, room: str, before: int, low: int, limit: int, now: float) -> list[int]:
        """Up to `limit` unexpired ids with low <= id < before, newest first."""
        timeline = self.rooms.get(room)
        if timeline is None:
            return []
        ids = timeline.ids
        lo = max(bisect_left(ids, low, timeline.start), self._first_unexpired(timeline, now))
        hi = bisect_left(ids, before, lo)
        return ids[max(lo, hi - limit) : hi][::-1]

    def _first_unexpired(self, timeline: RoomTimeline, now: float) -> int:
        cutoff = now - self.ttl_s
        messages = self.messages
        # Times are non-decreasing along a room: expired ids form a prefix.
        return bisect_left(
            timeline.ids, True, timeline.start, key=lambda i: messages[i].ts >= cutoff
        )

    def __iter__(self) -> Iterator[MessageRecord]:
        return iter(self.messages.values())
