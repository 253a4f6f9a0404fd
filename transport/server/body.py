"""Reading the body of the request being served, when (and only if) its handler asks.

How this works: the body is decoded by the connection's `RequestParser`
from bytes the connection has already buffered; when none are left,
`read_body_chunk` waits for more under a minimum-rate deadline
(`body_grace_s + bytes_read / body_min_rate_bytes_per_s` after the head:
a slow trickle cannot hold the connection) and sends `100 Continue` first
when the client asked for it. Whatever the handler leaves unread is
consumed from the buffer afterwards (`finish_nowait`) or makes the
connection close.
"""

from __future__ import annotations

from transport.http import (
    Data,
    EndOfMessage,
    HttpError,
    ProtocolError,
    RequestHead,
    RequestParser,
)
from transport.server.limits import HttpLimits
from transport.server.wire import Wire

__all__ = ["BodyReader"]

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class BodyReader:
    """The body of one connection's current request (the `BodySource` of its `Request`)."""

    __slots__ = (
        "_continue_pending",
        "_declared",
        "_parser",
        "_start",
        "_wire",
        "done",
        "limit",
        "limits",
        "read",
    )

    def __init__(self, parser: RequestParser, wire: Wire, limits: HttpLimits) -> None:
        self._parser = parser
        self._wire = wire
        self.limits = limits
        self.limit = 0
        self.read = 0
        self.done = True
        self._start = 0.0
        self._declared = 0
        self._continue_pending = False

    def start(self, head: RequestHead, now: float) -> None:
        """Begin the body of a new request (its head arrived at `now`)."""
        self._declared = head.content_length or 0
        self.read = 0
        self.done = False
        self._start = now
        self.limit = self.limits.default_max_body_bytes
        self._continue_pending = False

    def expect_continue(self) -> None:
        """Send `100 Continue` before waiting for the first body byte."""
        self._continue_pending = True

    async def read_body_chunk(self) -> bytes:
        """The next piece of the current request body, `b""` at its end.

        Raises ProtocolError 413 past the route's limit, 408 when the body is
        slower than the minimum rate, 400 when it is malformed or cut short.
        """
        if self.done:
            return b""
        wire = self._wire
        while True:
            event = self._parser.next_event()
            if isinstance(event, Data):
                self.read += len(event.data)
                if self.read > self.limit:
                    raise ProtocolError(
                        413,
                        "too_large",
                        f"the body is over the {_bytes(self.limit)} this request may have",
                        extra={"max_bytes": self.limit},
                    )
                return event.data
            if isinstance(event, EndOfMessage):
                self.done = True
                return b""
            if wire.eof:
                self._parser.feed(b"")  # the parser now raises 400: cut short
                continue
            if self._continue_pending:
                self._continue_pending = False
                wire.write(_CONTINUE)
                await wire.drain()
            rate = self.limits.body_min_rate_bytes_per_s
            deadline = self._start + self.limits.body_grace_s + self.read / rate
            try:
                await wire.wait_data(deadline)
            except TimeoutError:
                self._declared = 0  # what is left will not come in time: no linger for it
                raise ProtocolError(408, "timeout", "request body too slow") from None

    def finish_nowait(self) -> bool:
        """Consume what is buffered of an unread body; True when the body is complete."""
        try:
            while not self.done:
                event = self._parser.next_event()
                if isinstance(event, EndOfMessage):
                    self.done = True
                elif isinstance(event, Data):
                    self.read += len(event.data)
                    if self.read > self.limit:
                        return False
                else:
                    return False
        except ProtocolError:
            return False
        return True

    def declared_rest(self) -> int:
        """How much of the declared body (Content-Length) has not arrived yet."""
        return max(0, self._declared - self.read - self._parser.buffered_bytes)

    def check_head(self, head: RequestHead) -> None:
        """Refuse a body from the head alone, before any of it is asked for.

        Raises HttpError 413 when the declared length is over the limit.
        """
        size = head.content_length
        if size is not None and size > self.limit:
            raise HttpError(
                413,
                "too_large",
                f"the body has {_bytes(size)}; this request may have at most {_bytes(self.limit)}",
                extra={"max_bytes": self.limit, "size": size},
            )


def _bytes(count: int) -> str:
    """`5242880 bytes (5.0 MiB)`: exact, and as a person reads it."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= factor:
            return f"{count} bytes ({count / factor:.1f} {unit})"
    return f"{count} bytes"
