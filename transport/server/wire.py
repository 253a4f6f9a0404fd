"""The socket side of one connection: flow control both ways, waits under a deadline, closing.

How this works: `Wire` wraps the asyncio transport of one `Connection`. The
connection's task waits on it for received bytes (`wait_data`) or for the
transport to take more output (`drain`). A wait for data records its
`deadline`, which the server's sweeper enforces through the connection
(`expire` wakes the waiter with "late"): no timer per wait. Reading is
paused while the connection has enough unparsed input. Closing never loses
an answer: `linger` writes it, half-closes and discards input for a while,
so that the kernel does not answer unread input with a reset that destroys
the response before the client reads it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from transport.server.limits import HttpLimits

__all__ = ["Transport", "Wire"]


class Transport(Protocol):
    """The parts of `asyncio.Transport` a connection uses (uvloop's transports have them too)."""

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...
    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    def write_eof(self) -> None: ...
    def can_write_eof(self) -> bool: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...


def _wake(waiter: asyncio.Future[bool] | None, value: bool) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(value)


class Wire:
    """One connection's transport, with its flow control, deadline and way of closing."""

    __slots__ = (
        "_data_waiter",
        "_drain_waiter",
        "_linger_bytes",
        "_linger_timer",
        "_loop",
        "_read_paused",
        "_write_paused",
        "closing",
        "deadline",
        "eof",
        "limits",
        "lingering",
        "lost",
        "transport",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, limits: HttpLimits) -> None:
        self._loop = loop
        self.limits = limits
        self.transport: Transport | None = None
        self.deadline = float("inf")  # of the wait in progress, if any
        self.eof = False  # the client closed its side
        self.lost = False  # the connection is gone
        self.closing = False  # we decided to close: further input is ignored
        self.lingering = False
        self._linger_bytes = 0
        self._linger_timer: asyncio.TimerHandle | None = None
        self._data_waiter: asyncio.Future[bool] | None = None  # True: data or EOF, False: late
        self._drain_waiter: asyncio.Future[bool] | None = None
        self._write_paused = False
        self._read_paused = False

    # -- events from the protocol --------------------------------------------------

    def connection_lost(self) -> None:
        """The transport is closed: wake every wait, cancel every deadline."""
        self.lost = self.eof = self.closing = True
        self.deadline = float("inf")
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        _wake(self._data_waiter, True)
        _wake(self._drain_waiter, True)

    def data_arrived(self) -> None:
        """Wake a wait for data (new bytes or EOF)."""
        _wake(self._data_waiter, True)

    def pause_writing(self) -> None:
        """The transport's buffer is over its high-water mark."""
        self._write_paused = True

    def resume_writing(self) -> None:
        """The transport's buffer drained to its low-water mark."""
        self._write_paused = False
        _wake(self._drain_waiter, True)

    def discard(self, size: int) -> None:
        """Count input discarded while lingering; close past `linger_max_bytes`."""
        self._linger_bytes += size
        if self._linger_bytes > self.limits.linger_max_bytes:
            self.close()

    def expire(self) -> bool:
        """Wake the wait whose deadline passed; False when no wait is in progress."""
        self.deadline = float("inf")
        if self._data_waiter is not None:
            _wake(self._data_waiter, False)
            return True
        return False

    # -- reading -------------------------------------------------------------------

    @property
    def waiting_for_data(self) -> bool:
        """True while the connection's task waits for received bytes."""
        return self._data_waiter is not None

    def pause_reading(self) -> None:
        """Stop reading from the socket (enough input is buffered)."""
        if not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read from the socket again."""
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()

    async def wait_data(self, deadline: float) -> None:
        """Wait for more received bytes or EOF.

        Raises TimeoutError when `deadline` (loop time) passes first.
        """
        if self.eof:
            return
        self.resume_reading()
        waiter: asyncio.Future[bool] = self._loop.create_future()
        self._data_waiter = waiter
        self.deadline = deadline
        try:
            if not await waiter:
                raise TimeoutError
        finally:
            self._data_waiter = None
            self.deadline = float("inf")

    # -- writing -------------------------------------------------------------------

    @property
    def must_drain(self) -> bool:
        """True when the writer has to wait (`drain`) before going on."""
        return self._write_paused or self.lost

    def write(self, data: bytes) -> None:
        """Queue `data` for sending (dropped once the connection is lost)."""
        if not self.lost and self.transport is not None:
            self.transport.write(data)

    async def drain(self) -> None:
        """Wait until the transport takes more data.

        Raises TimeoutError after write_timeout_s, ConnectionResetError when
        the connection is lost.
        """
        if self.lost:
            raise ConnectionResetError("connection lost")
        if not self._write_paused:
            return
        waiter: asyncio.Future[bool] = self._loop.create_future()
        self._drain_waiter = waiter
        try:
            async with asyncio.timeout(self.limits.write_timeout_s):
                await waiter
        finally:
            self._drain_waiter = None
        if self.lost:
            raise ConnectionResetError("connection lost")

    # -- closing -------------------------------------------------------------------

    def linger(self, data: bytes) -> None:
        """Write `data`, half-close, discard input until EOF or `linger_s`, then close.

        Closing with unread bytes makes the kernel send RST, which can destroy
        the response before the client reads it.
        """
        self.closing = self.lingering = True
        self.deadline = float("inf")
        transport = self.transport
        if transport is None or self.lost:
            return
        if data:
            transport.write(data)
        if transport.can_write_eof():
            transport.write_eof()
        self.resume_reading()
        if self.eof:
            self.close()
        else:
            self._linger_timer = self._loop.call_later(self.limits.linger_s, self.close)

    def close(self) -> None:
        """Close once what is queued is sent."""
        self.closing = True
        self.deadline = float("inf")
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection at once."""
        self.closing = True
        if self.transport is not None:
            self.transport.abort()
