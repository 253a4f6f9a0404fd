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
the message. An edit changes a held message's text (and marks it `edited`);
a delete forgets the message and its comments at once. Each room also
keeps its ids by author, so that unread counts can leave out the reader's
own messages with bisections too; and `index` finds held messages by the
words they hold (`projections.search`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterator

from attrs import define, field

from domain import MessageCommented, MessageDeleted, MessageEdited, MessageSent, name_key
from projections.search import SearchIndex

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
    edited: float | None = None  # when it was last edited


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
    # room -> author key -> the ids of `rooms[room]` that author wrote, oldest first
    by_author: dict[str, dict[str, list[int]]] = field(factory=dict)
    index: SearchIndex = field(factory=SearchIndex)
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
        self.by_author.setdefault(event.room, {}).setdefault(name_key(event.author), []).append(
            offset
        )
        self.index.add(offset, event.text)
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
        forgotten: list[MessageRecord] = []
        self._drop_deleted_head()
        while by_age and self._expiry_minute(messages[by_age[0]].ts) < minute:
            record = messages.pop(by_age.popleft())
            forgotten.append(record)
            self._forget_keys(record)
            self._drop_deleted_head()
        # Times never go backwards, so a room (and each author in it) forgets a
        # prefix of its ids, and every posting list of the index too.
        by_room: dict[str, int] = {}
        by_author: dict[tuple[str, str], int] = {}
        for record in forgotten:
            by_room[record.room] = by_room.get(record.room, 0) + 1
            whose = (record.room, name_key(record.author))
            by_author[whose] = by_author.get(whose, 0) + 1
        for room, count in by_room.items():
            _drop_prefix(self.rooms, room, count)
        for (room, author_key), count in by_author.items():
            authors = self.by_author[room]
            _drop_prefix(authors, author_key, count)
            if not authors:
                del self.by_author[room]
        if forgotten:
            self.index.forget_below((r.text for r in forgotten), forgotten[-1].id + 1)
        self._set_expires_at()

    def _drop_deleted_head(self) -> None:
        """Drop the ids of deleted messages from the front of the age queue."""
        by_age, messages = self._by_age, self.messages
        while by_age and by_age[0] not in messages:
            by_age.popleft()

    def _set_expires_at(self) -> None:
        by_age = self._by_age
        self.expires_at = (
            (self._expiry_minute(self.messages[by_age[0]].ts) + 1) * FORGET_BATCH_S
            if by_age
            else NEVER
        )

    def _forget_keys(self, record: MessageRecord) -> None:
        """Forget what refers to a message beside its place in the lists."""
        if record.idempotency_key is not None:
            del self.by_key[(name_key(record.author), record.idempotency_key)]
        self.comments.pop(record.id, None)
        if record.file is not None:
            self._forget_file(name_key(record.author), record.id)

    def edited(self, ts: float, event: MessageEdited) -> None:
        record = self.messages.get(event.message)
        if record is None:
            return
        self.index.remove(record.id, record.text)
        self.index.add(record.id, event.text)
        record.text = event.text
        record.edited = ts

    def deleted(self, event: MessageDeleted) -> None:
        """Forget a message now, with its comments, its file and its words."""
        record = self.messages.pop(event.message, None)
        if record is None:
            return
        self._forget_keys(record)
        _remove_id(self.rooms, record.room, record.id)
        authors = self.by_author[record.room]
        _remove_id(authors, name_key(record.author), record.id)
        if not authors:
            del self.by_author[record.room]
        self.index.remove(record.id, record.text)
        self._drop_deleted_head()  # the id stays queued until it reaches the front
        self._set_expires_at()

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

    def count_between(
        self, room: str, after: int, upto: int, now: float, *, not_by: str | None = None
    ) -> int:
        """Unexpired messages of a room with after < id <= upto, not by author key `not_by`."""
        count = _count(self.rooms.get(room, []), after, upto, self._first_unexpired, now)
        if not_by is not None:
            own = self.by_author.get(room, {}).get(not_by, [])
            count -= _count(own, after, upto, self._first_unexpired, now)
        return count

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


def _count(
    ids: list[int],
    after: int,
    upto: int,
    first_unexpired: Callable[[list[int], float], int],
    now: float,
) -> int:
    lo = max(bisect_right(ids, after), first_unexpired(ids, now))
    return max(0, bisect_right(ids, upto, lo) - lo)


def _drop_prefix(lists: dict[str, list[int]], key: str, count: int) -> None:
    ids = lists[key]
    if count == len(ids):
        del lists[key]
    else:
        del ids[:count]


def _remove_id(lists: dict[str, list[int]], key: str, message_id: int) -> None:
    ids = lists[key]
    del ids[bisect_left(ids, message_id)]
    if not ids:
        del lists[key]
