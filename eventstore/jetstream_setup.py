"""Setting up a JetStream log: the connection, the stream, its genesis, the durability check.

The stream (`<name>`, one subject `<name>.log`, file storage, deduplication
window) is created by the first replica that finds it missing; its first
message, the genesis, holds the log id. `check_durability` refuses a stream
that cannot give durable acknowledgements.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Final

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js.api import PersistMode, StorageType, StreamConfig
from nats.js.client import JetStreamContext

from eventstore.errors import EventStoreError
from eventstore.jetstream_rounds import LOG_ID_HEADER, ROUND_HEADER, round_header

# Both codes mean "wrong last sequence": 10071 up to 2.11, 10164 on newer servers.
WRONG_LAST_SEQUENCE: Final = frozenset({10071, 10164})
DUPLICATE_WINDOW_S: Final = 120.0  # how long a retried publish is recognised
NETWORK_ERRORS: Final = (
    TimeoutError,
    nats.errors.Error,  # connection closed, no responders, timeouts, reconnecting...
    nats.js.errors.ServiceUnavailableError,
    OSError,
)


def subject_of(stream: str) -> str:
    return f"{stream}.log"


def check_durability(
    config: StreamConfig, *, allow_unsafe: bool, logger: logging.Logger
) -> list[str]:
    """What in a stream's configuration cannot give durable acknowledgements.

    Raises EventStoreError naming them unless `allow_unsafe` (then they are
    logged loudly and returned). The servers' `sync_interval` cannot be seen
    by a client: it is logged as the operator's duty.
    """
    problems = []
    if config.storage != StorageType.FILE:
        problems.append(f"storage is {config.storage}: a memory stream is lost with its server")
    if config.persist_mode == PersistMode.ASYNC:
        problems.append("persist_mode is async: acknowledged before it is written")
    if problems and not allow_unsafe:
        raise EventStoreError(
            f"stream {config.name} cannot give durable acknowledgements: {'; '.join(problems)} "
            "(fix the stream, or start with --nats-allow-unsafe to accept losing writes)"
        )
    for problem in problems:
        logger.warning("UNSAFE: stream %s runs without durable acks: %s", config.name, problem)
    if (config.num_replicas or 1) < 3:
        logger.warning(
            "stream %s has %d replica(s): losing its server loses the service (use R3)",
            config.name,
            config.num_replicas or 1,
        )
    logger.info(
        "stream %s: acknowledgements are durable only if every NATS server runs with "
        "`jetstream { sync_interval: always }` (a client cannot check it; see README)",
        config.name,
    )
    return problems


async def connect(url: str, timeout_s: float, logger: logging.Logger) -> NatsClient:
    async def error(exc: Exception) -> None:
        logger.warning("NATS: %r", exc)

    async def disconnected() -> None:
        logger.warning("NATS: disconnected from %s", url)

    async def reconnected() -> None:
        logger.warning("NATS: reconnected to %s", url)

    try:
        return await nats.connect(
            url,
            connect_timeout=timeout_s,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=error,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            name=f"chat pid {os.getpid()}",
        )
    except (*NETWORK_ERRORS, ValueError) as exc:
        raise EventStoreError(f"cannot reach NATS at {url}: {exc!r}") from exc


async def close_quietly(nc: NatsClient) -> None:
    with contextlib.suppress(*NETWORK_ERRORS):
        async with asyncio.timeout(5.0):
            await nc.close()


async def ensure_stream(
    js: JetStreamContext, stream: str, *, replicas: int, create: bool
) -> StreamConfig:
    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        if not create:
            raise EventStoreError(f"there is no stream {stream}") from None
        config = StreamConfig(
            name=stream,
            subjects=[subject_of(stream)],
            storage=StorageType.FILE,
            num_replicas=replicas,
            duplicate_window=DUPLICATE_WINDOW_S,
            allow_direct=True,
            deny_delete=True,
            deny_purge=True,
        )
        try:
            info = await js.add_stream(config)
        except nats.js.errors.BadRequestError:
            info = await js.stream_info(stream)  # another replica created it meanwhile
    except NETWORK_ERRORS as exc:
        raise EventStoreError(f"NATS: cannot read stream {stream}: {exc!r}") from exc
    config = info.config
    if subject_of(stream) not in (config.subjects or []):
        raise EventStoreError(
            f"stream {stream} is not a chat log (no subject {subject_of(stream)})"
        )
    if not config.allow_direct:
        raise EventStoreError(
            f"stream {stream} does not allow direct gets, which replicas read older "
            "offsets with: update it with allow_direct (`nats stream edit --allow-direct`)"
        )
    return config


async def log_id_of(js: JetStreamContext, stream: str) -> str | None:
    """The log id in the stream's genesis; None when the stream has no first message yet.

    Raises EventStoreError when the first message is not a chat log's genesis.
    """
    try:
        first = await js.get_msg(stream, seq=1, direct=True)
    except nats.js.errors.NotFoundError:
        return None
    log_id = (first.headers or {}).get(LOG_ID_HEADER)
    if not log_id:
        raise EventStoreError(f"stream {stream} does not start with a chat log's genesis")
    return str(log_id)


async def genesis(js: JetStreamContext, stream: str, new_id: str) -> str:
    """The log id in the stream's first message, publishing it first when the stream is new."""
    for _ in range(2):
        log_id = await log_id_of(js, stream)
        if log_id is not None:
            return log_id
        try:
            await js.publish(
                subject_of(stream),
                b"",
                stream=stream,
                headers={
                    LOG_ID_HEADER: new_id,
                    ROUND_HEADER: round_header(1, 0),
                    "Nats-Expected-Last-Sequence": "0",
                },
            )
        except nats.js.errors.APIError as exc:
            if exc.err_code not in WRONG_LAST_SEQUENCE:
                raise EventStoreError(f"cannot create the log in {stream}: {exc}") from exc
    raise EventStoreError(f"stream {stream}: no genesis after creating it")
