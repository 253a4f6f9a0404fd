"""The socket side of one connection: flow control both ways, waits under a deadline, closing.

How this works: `Wire` wraps the asyncio transport of one `Connection`. The
connection's task waits on it for received bytes (`wait_data`) or for the
transport to take more output (`drain`). Each wait records its `deadline`,
which the server's sweeper enforces through the connection (`expire` wakes
the waiter with "late"): no timer per wait. Reading is paused while the
connection has enough unparsed input. Output is bounded twice: the kernel's
send buffer (SO_SNDBUF, which Linux would otherwise grow to megabytes for a
client that does not read) and the transport's high-water mark; an answer
must be taken at a minimum rate (`answer_deadline`). Closing never hangs
and never loses an answer: `linger` writes it, half-closes and discards
input for a while (long enough for a declared body, within caps), so
that the kernel does not answer unread input with a reset that destroys
the response before the client reads it; `close` lets queued output go,
for at most `write_timeout_s`; `reset` (for a client that stopped reading)
aborts with SO_LINGER 0, so that the kernel drops at once what it still
holds for it. A linger's and a close's deadlines are swept like the waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import struct
from typing import Any, Final, Protocol

from transport.server.limits import HttpLimits

__all__ = ["Transport", "Wire"]

_RESET_ON_CLOSE: Final = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close sends RST


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
    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None: ...
    def get_write_buffer_size(self) -> int: ...


def _wake(waiter: asyncio.Future[bool] | None, value: bool) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(value)


class Wire:
    """One connection's transport, with its flow control, deadline and way of closing."""

    __slots__ = (
        "_data_waiter",
        "_drain_waiter",
        "_flushing",
        "_linger_end",
        "_linger_left",
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
        self.deadline = math.inf  # of the wait in progress, if any
        self.eof = False  # the client closed its side
        self.lost = False  # the connection is gone
        self.closing = False  # we decided to close: further input is ignored
        self.lingering = False
        self._flushing = False  # closed: what is queued is still being sent
        self._linger_left = 0  # bytes still to discard
        self._linger_end = 0.0
        self._data_waiter: asyncio.Future[bool] | None = None  # True: data or EOF, False: late
        self._drain_waiter: asyncio.Future[bool] | None = None
        self._write_paused = False
        self._read_paused = False

    def attach(self, transport: Transport) -> None:
        """Take the transport of a new connection and bound its output buffers."""
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is None:  # not a socket (tests): nothing to bound
            return
        if self.limits.send_buffer_bytes:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.limits.send_buffer_bytes)
        high = self.limits.write_buffer_bytes
        transport.set_write_buffer_limits(high=high, low=high // 4)

    # -- events from the protocol --------------------------------------------------

    def connection_lost(self) -> None:
        """The transport is closed: wake every wait, cancel every deadline."""
        self.lost = self.eof = self.closing = True
        self.deadline = math.inf
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
        """Count input discarded while lingering: close past the budget, else wait on."""
        self._linger_left -= size
        if self._linger_left < 0:
            self.close()
        else:
            self.deadline = min(self._linger_end, self._loop.time() + self.limits.linger_s)

    def expire(self) -> bool:
        """Act on a deadline of the wire's own that passed (a wait, a close).

        False when the deadline is the connection's (idle, request head).
        """
        self.deadline = math.inf
        if self._data_waiter is not None:
            _wake(self._data_waiter, False)
        elif self._drain_waiter is not None:
            _wake(self._drain_waiter, False)
        elif self._flushing:
            self.reset()  # the client does not take what is left
        elif self.lingering:
            self.close()
        else:
            return False
        return True

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
            self.deadline = math.inf

    # -- writing -------------------------------------------------------------------

    @property
    def must_drain(self) -> bool:
        """True when the writer has to wait (`drain`) before going on."""
        return self._write_paused or self.lost

    def write(self, data: bytes) -> None:
        """Queue `data` for sending (dropped once the connection is lost)."""
        if not self.lost and self.transport is not None:
            self.transport.write(data)

    @property
    def queued_bytes(self) -> int:
        """Bytes written that the transport has not yet handed to the kernel."""
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def answer_deadline(self, started: float, written: int) -> float:
        """When an answer begun at `started` must be taken, `written` bytes into it.

        `response_grace_s`, plus one second per `response_min_rate_bytes_per_s`
        that left the transport's buffer (what the client could have taken).
        """
        limits = self.limits
        taken = max(0, written - self.queued_bytes)
        return started + limits.response_grace_s + taken / limits.response_min_rate_bytes_per_s

    async def drain_answer(self, started: float, written: int) -> None:
        """`drain` under the minimum-rate deadline of an answer (`answer_deadline`).

        Raises the errors of `drain`.
        """
        deadline = self.answer_deadline(started, written) if self._write_paused else math.inf
        await self.drain(deadline)

    async def drain(self, deadline: float = math.inf) -> None:
        """Wait until the transport takes more data.

        Raises TimeoutError past `deadline` (loop time) or after
        write_timeout_s, ConnectionResetError when the connection is lost.
        """
        if self.lost:
            raise ConnectionResetError("connection lost")
        if not self._write_paused:
            return
        waiter: asyncio.Future[bool] = self._loop.create_future()
        self._drain_waiter = waiter
        self.deadline = min(deadline, self._loop.time() + self.limits.write_timeout_s)
        try:
            if not await waiter:
                raise TimeoutError
        finally:
            self._drain_waiter = None
            self.deadline = math.inf
        if self.lost:
            raise ConnectionResetError("connection lost")

    # -- closing -------------------------------------------------------------------

    def linger(self, data: bytes, declared_rest: int = 0) -> None:
        """Write `data`, half-close, discard input for a while, then close.

        Closing with unread bytes makes the kernel send RST, which can destroy
        the response before the client reads it. The linger ends at EOF, after
        `linger_s` of silence, or past `linger_max_bytes`; `declared_rest`,
        what is left of a declared body, adds up to `linger_body_max_bytes`
        and `linger_body_max_s`, for clients that send it all before reading.
        """
        self.closing = self.lingering = True
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
            return
        limits = self.limits
        rest = min(declared_rest, limits.linger_body_max_bytes)
        self._linger_left = limits.linger_max_bytes + rest
        now = self._loop.time()
        self._linger_end = now + (limits.linger_body_max_s if rest else limits.linger_s)
        self.deadline = min(self._linger_end, now + limits.linger_s)

    def close(self) -> None:
        """Close once what is queued is sent; reset it if that takes past write_timeout_s."""
        if self._flushing or self.lost:
            return
        self.closing, self.lingering, self._flushing = True, False, True
        self.deadline = self._loop.time() + self.limits.write_timeout_s
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection at once, and what is queued for it."""
        self.closing, self.lingering = True, False
        self.deadline = math.inf
        if self.transport is not None and not self.lost:
            self.transport.abort()

    def reset(self) -> None:
        """Abort with a reset: the kernel also drops what it still holds for the client.

        A plain close leaves unsent bytes to the kernel, which keeps the socket
        and its buffers for minutes when the client does not read.
        """
        if self.transport is not None and not self.lost:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        self.abort()
