"""Every limit and knob of the server, declared once, with its default and its help.

How this works: each field of `Settings` that an operator may set is made
with `setting(...)`, which records its help text, unit and lower bound in
the field's metadata. `chat-server` builds its flags and `CHAT_*`
environment variables from these fields (`transport.cli`), the rules get
`settings.rules` (a `RulesConfig` whose fields are picked by name), and the
HTTP server gets its limits the same way (`transport.serve`). A field made
with plain `field` is internal: tests may set it, the command line does not.
Units are in the names (`_s` seconds, `_bytes` bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
from attrs import AttrsInstance, field, frozen

from app.budgets import Budget
from domain import RulesConfig
from eventstore import FsyncPolicy

MIB = 1024 * 1024
_T = TypeVar("_T", bound=AttrsInstance)


@frozen(kw_only=True)
class Setting:
    """How one field appears on the command line."""

    help: str
    flag: str  # e.g. "--rate-limit"; the environment variable is derived from it
    unit: str = ""  # "s" parses durations (90s, 15m), "bytes" sizes (5MiB)
    minimum: float | None = None  # the smallest value accepted
    maximum: float | None = None  # the largest value accepted
    positive: bool = False  # greater than zero (for durations that divide or sleep)
    kind: str = ""  # a parser other than the type's: host, port, path, fsync, budget


def setting(
    default: Any,
    *,
    help: str,  # noqa: A002 - the argparse word
    flag: str,
    unit: str = "",
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    kind: str = "",
    converter: Callable[[Any], Any] | None = None,
) -> Any:
    """A field of `Settings` that `chat-server` exposes as `flag` and `CHAT_*`."""
    info = Setting(
        help=help,
        flag=flag,
        unit=unit,
        minimum=minimum,
        maximum=maximum,
        positive=positive,
        kind=kind,
    )
    return field(default=default, converter=converter, metadata={"setting": info})


def setting_of(attribute: attrs.Attribute[Any]) -> Setting | None:
    """The command-line description of a field, None for internal ones."""
    info = attribute.metadata.get("setting")
    return info if isinstance(info, Setting) else None


def pick(settings: Settings, cls: type[_T], *, partial: bool = False) -> _T:
    """An attrs class (`RulesConfig`, the HTTP limits) filled from the same-named settings.

    With `partial`, fields `Settings` does not declare keep `cls`'s own
    defaults (protocol constants of the HTTP layer, say). Raises
    AttributeError when, without `partial`, `cls` has a field `Settings` lacks.
    """
    names = [f.name for f in attrs.fields(cls) if f.init]
    if partial:
        names = [name for name in names if name in _DECLARED]
    return cls(**{name: getattr(settings, name) for name in names})


@frozen(kw_only=True)
class Settings:
    """Configuration of one server process."""

    # Where and how to listen.
    host: str = setting("127.0.0.1", flag="--host", kind="host", help="address to listen on")
    port: int = setting(8000, flag="--port", kind="port", help="TCP port; 0 picks a free one")
    data_dir: Path = setting(
        Path("data"),
        flag="--data-dir",
        kind="path",
        converter=Path,
        help="directory of the event log and uploaded files (created if missing)",
    )

    # The log.
    fsync: FsyncPolicy = setting(
        FsyncPolicy.ALWAYS,
        flag="--fsync",
        kind="fsync",
        help="when the log is forced to disk: always (before answering), "
        "interval (every --fsync-interval), none (tests and benchmarks only)",
    )
    fsync_interval_s: float = setting(
        1.0,
        flag="--fsync-interval",
        unit="s",
        positive=True,
        help="flush period with --fsync interval",
    )
    segment_max_bytes: int = setting(
        64 * MIB,
        flag="--segment-max-size",
        unit="bytes",
        minimum=4096,
        help="the log starts a new segment file before one would grow past this; a start "
        "never reads the older ones, and compaction and retention work on whole segments",
    )
    segment_max_age_s: float = setting(
        3600.0,
        flag="--segment-max-age",
        unit="s",
        positive=True,
        help="the log also starts a new segment file once the newest one is this old",
    )
    snapshot_every_events: int = setting(
        100_000,
        flag="--snapshot-every",
        unit="events",
        minimum=0,
        help="snapshot the read model in the background after this many events (0: not "
        "by count); a start replays only the events after the newest snapshot",
    )
    snapshot_interval_s: float = setting(
        600.0,
        flag="--snapshot-interval",
        unit="s",
        minimum=0,
        help="also snapshot in the background this often while events come (0: not by "
        "time); a snapshot is always written at a clean shutdown",
    )
    retain_s: float = setting(
        0.0,
        flag="--retain",
        unit="s",
        minimum=0,
        help="delete log segments older than this once snapshots cover them (0: keep the "
        "whole log); a client whose offset is older resynchronises",
    )
    # Several replicas on one NATS JetStream log (app.replica); empty: the file log.
    nats_url: str = setting(
        "",
        flag="--nats",
        kind="url",
        help="run as one of several replicas on a NATS JetStream stream at this URL "
        "(nats://HOST:PORT, several comma-separated) instead of the file log",
    )
    nats_stream: str = setting(
        "CHAT", flag="--nats-stream", kind="name", help="the JetStream stream of the log"
    )
    nats_stream_replicas: int = setting(
        1,
        flag="--nats-stream-replicas",
        unit="servers",
        minimum=1,
        help="copies of the stream when this replica creates it (3 in production)",
    )
    nats_allow_unsafe: bool = setting(
        False,
        flag="--nats-allow-unsafe",
        kind="bool",
        help="run on a stream that cannot give durable acknowledgements "
        "(memory storage, async persistence) instead of refusing to start",
    )
    nats_timeout_s: float = setting(
        5.0,
        flag="--nats-timeout",
        unit="s",
        positive=True,
        help="deadline of each request to NATS; a write not acknowledged within twice "
        "this is answered 503",
    )
    nats_window_bytes: int = setting(
        64 * MIB,
        flag="--nats-window",
        unit="bytes",
        minimum=64 * 1024,
        help="a replica keeps the stream's newest rounds up to this size in memory (a "
        "quarter more for older rounds it fetched); older offsets are read from the stream",
    )
    # 5 s, not 3 s: on an overloaded 2-core machine a writer's loop stalled for 2.1 s,
    # its renewals (fsynced KV puts) were slow, and a 3 s lease lapsed
    # (bench/RESULTS.md). 5 s tolerates that, and a writer that dies
    # is still replaced (TTL + a renewal tick + the fence) well within the 10 s
    # a forwarded command waits for a writer (2 x --nats-timeout), so sends
    # forwarded meanwhile wait instead of failing. Longer stalls cost a rebuild
    # of the stalled replica, not its process.
    nats_lease_ttl_s: float = setting(
        5.0,
        flag="--nats-lease-ttl",
        unit="s",
        minimum=1,
        maximum=60,
        help="the writer renews its lease every quarter of this; a writer that cannot "
        "renew for this long is replaced (writes wait meanwhile); every replica of a "
        "stream must use the same value (the lease bucket is made with it)",
    )
    replica_catch_up_s: float = 2.0  # how long a lagging replica waits to reach an offset

    # /metrics (Prometheus): "api" serves it on the API's port, "off" not at all,
    # HOST:PORT on an address of its own.
    metrics: str = setting(
        "api",
        flag="--metrics",
        kind="metrics",
        help="where GET /metrics is served: api (the API's port), off, or HOST:PORT",
    )

    cursor_flush_interval_s: float = setting(
        1.0,
        flag="--cursor-flush-interval",
        unit="s",
        minimum=0,
        help="at most one cursor event per user per this period",
    )

    # Chat rules (API.md "Limits"); the rules read them as `settings.rules`.
    history_size: int = setting(
        20,
        flag="--history",
        unit="messages",
        minimum=0,
        help="last general messages returned by /connect",
    )
    max_text_length: int = setting(
        4000, flag="--max-text-length", unit="characters", minimum=1, help="longest message text"
    )
    message_ttl_s: float = setting(
        3600.0,
        flag="--message-ttl",
        unit="s",
        positive=True,
        help="messages older than this are no longer shown",
    )
    rate_limit: int = setting(
        20,
        flag="--rate-limit",
        unit="messages",
        minimum=1,
        help="messages one user may send to general per window",
    )
    rate_window_s: float = setting(
        3600.0,
        flag="--rate-window",
        unit="s",
        positive=True,
        help="length of the fixed rate-limit window",
    )
    report_threshold: int = setting(
        3,
        flag="--report-threshold",
        unit="reports",
        minimum=1,
        help="reports from distinct users that ban a user",
    )
    report_min_account_age_s: float = setting(
        3600.0,
        flag="--report-min-account-age",
        unit="s",
        minimum=0,
        help="a report counts toward a ban only if the reporter's account is this old "
        "(0: every report counts, as the assignment has it)",
    )
    ban_duration_s: float = setting(
        14400.0,
        flag="--ban-duration",
        unit="s",
        positive=True,
        help="how long a ban from sending lasts",
    )
    max_file_bytes: int = setting(
        5 * MIB,
        flag="--max-file-size",
        unit="bytes",
        minimum=1,
        help="largest upload; accepts 1048576, 512KiB, 5MiB, 5M",
    )
    max_schedule_ahead_s: float = 30 * 86400.0
    # Caps on what one client can pile up (each refusal is a 409 naming the cap).
    max_sessions_per_user: int = 100
    max_pending_scheduled_per_user: int = 100
    max_rooms_per_owner: int = 100
    max_links_per_room: int = 100
    session_idle_s: float = setting(
        30 * 86400.0,
        flag="--session-idle-expiry",
        unit="s",
        positive=True,
        help="a session not used for this long is closed (its token stops working)",
    )
    session_touch_interval_s: float = 86400.0  # how often a used session's activity is written
    min_password_length: int = setting(
        8,
        flag="--min-password-length",
        unit="characters",
        minimum=1,
        help="shortest password a new account may have",
    )
    max_unread_on_connect: int = 1000  # `/connect` lists at most this many unread messages

    # Write budgets per user (app.budgets): requests[,bytes] per window, by kind of write.
    budget_messages: Budget = setting(
        Budget(requests=60, bytes=512 * 1024, window_s=60.0),
        flag="--budget-messages",
        kind="budget",
        help="messages (any room, direct too) and edits one user may send: "
        "REQUESTS[,BYTES][/WINDOW]",
    )
    budget_comments: Budget = setting(
        Budget(requests=60, bytes=512 * 1024, window_s=60.0),
        flag="--budget-comments",
        kind="budget",
        help="comments one user may write",
    )
    budget_uploads: Budget = setting(
        Budget(requests=30, bytes=200 * MIB, window_s=3600.0),
        flag="--budget-uploads",
        kind="budget",
        help="files one user may upload (count and bytes)",
    )
    budget_schedule: Budget = setting(
        Budget(requests=60, bytes=512 * 1024, window_s=60.0),
        flag="--budget-schedule",
        kind="budget",
        help="scheduled messages and cancellations one user may make",
    )
    budget_rooms: Budget = setting(
        Budget(requests=60, window_s=60.0),
        flag="--budget-rooms",
        kind="budget",
        help="room operations (create, invite, leave, links, join requests, decisions)",
    )
    budget_reports: Budget = setting(
        Budget(requests=30, window_s=60.0),
        flag="--budget-reports",
        kind="budget",
        help="reports one user may file",
    )
    budget_registrations: Budget = setting(
        Budget(requests=60, window_s=3600.0),
        flag="--budget-registrations",
        kind="budget",
        help="new accounts one network address may register",
    )
    max_stored_bytes_per_user: int = setting(
        500 * MIB,
        flag="--max-stored-per-user",
        unit="bytes",
        minimum=0,
        help="bytes of unexpired files one user may have stored at once",
    )
    min_free_disk_bytes: int = setting(
        100 * MIB,
        flag="--min-free-disk",
        unit="bytes",
        minimum=0,
        help="below this much free space on the data directory's disk, writes are "
        "refused with 507 (reads keep working)",
    )
    blob_sweep_interval_s: float = 60.0  # expired files are deleted this often
    blob_grace_s: float = 300.0  # a blob this young is never swept (an upload in flight)
    recent_events_max_bytes: int = 64 * MIB  # the decoded events polls read from memory
    max_parked_polls_per_user: int = setting(
        32,
        flag="--max-polls-per-user",
        unit="polls",
        minimum=1,
        help="long polls one user may have waiting at once; more are answered 429",
    )

    # Secrets: scrypt's CPU/memory cost (2**14 is OWASP's minimum; tests lower it).
    scrypt_n: int = 2**14

    # Synchronisation.
    poll_timeout_default_s: float = 25.0
    poll_timeout_max_s: float = setting(
        60.0,
        flag="--poll-timeout-max",
        unit="s",
        minimum=0,
        help="longest wait a long poll (/events?timeout=) may ask for; "
        "the default wait is the smaller of 25 s and this",
    )
    events_limit_default: int = 100
    events_limit_max: int = 1000
    online_window_s: float = setting(
        60.0,
        flag="--online-window",
        unit="s",
        positive=True,
        help="a user is online while a poll of theirs waits or they made a request "
        "within this (kept in memory, per server)",
    )
    last_seen_listed: int = 100  # users /status lists in `last_seen`, the most recent first
    stream_heartbeat_s: float = setting(
        15.0,
        flag="--stream-heartbeat",
        unit="s",
        positive=True,
        help="an event stream (/events/stream) with nothing to send sends a comment this "
        "often, so that proxies keep it open and a client that went away is noticed",
    )
    event_stream: bool = setting(
        True,
        flag="--event-stream",
        kind="bool",
        help="offer the event stream (/events/stream); with no, it answers 404 and "
        "clients long-poll (e.g. behind a proxy that buffers whole responses)",
    )
    stream_lifetime_s: float = setting(
        3600.0,
        flag="--stream-lifetime",
        unit="s",
        positive=True,
        help="an event stream ends after this long (the client resumes from its last "
        "event id); it also ends when its session is closed",
    )
    history_limit_default: int = 50
    history_limit_max: int = 500

    # HTTP (HTTP.md "Connections"); the server reads them as its HttpLimits.
    max_connections: int = setting(
        10_000,
        flag="--max-connections",
        unit="connections",
        minimum=1,
        help="open connections past this are answered 503",
    )
    max_connections_per_peer: int = setting(
        64,
        flag="--max-connections-per-peer",
        unit="connections",
        minimum=1,
        help="open connections from one address past this are answered 503; "
        "raise it behind a reverse proxy or a NAT",
    )
    max_requests_per_connection: int = 10_000
    header_timeout_s: float = setting(
        10.0,
        flag="--header-timeout",
        unit="s",
        positive=True,
        help="a request's header section must arrive within this time of its first byte",
    )
    body_min_rate_bytes_per_s: int = 1024
    body_grace_s: float = 10.0  # a body may take this long before the rate applies
    keepalive_timeout_s: float = setting(
        75.0,
        flag="--keepalive-timeout",
        unit="s",
        positive=True,
        help="idle keep-alive connections are closed after this",
    )
    write_timeout_s: float = setting(
        30.0,
        flag="--write-timeout",
        unit="s",
        positive=True,
        help="a response that cannot be sent within this closes the connection",
    )
    response_min_rate_bytes_per_s: int = setting(
        16 * 1024,
        flag="--response-min-rate",
        unit="bytes",
        minimum=1,
        help="a response must be taken at least this many bytes per second after "
        "--response-grace, or the connection is reset (a reader that stalls frees its memory)",
    )
    response_grace_s: float = setting(
        10.0,
        flag="--response-grace",
        unit="s",
        minimum=0,
        help="time a response may take before the minimum rate applies",
    )
    send_buffer_bytes: int = setting(
        128 * 1024,
        flag="--send-buffer",
        unit="bytes",
        minimum=0,
        help="kernel send buffer per connection (SO_SNDBUF); 0 keeps the kernel's choice",
    )
    shutdown_idle_s: float = setting(
        1.0,
        flag="--shutdown-idle",
        unit="s",
        minimum=0,
        help="on SIGINT/SIGTERM, idle keep-alive connections wait this long for a request "
        "already sent (answered with Connection: close)",
    )
    linger_body_max_bytes: int = setting(
        64 * MIB,
        flag="--linger-body-max",
        unit="bytes",
        minimum=0,
        help="after refusing an upload, read and drop up to this much of its declared body "
        "so that the client sees the answer",
    )
    linger_body_max_s: float = setting(
        30.0,
        flag="--linger-body-max-time",
        unit="s",
        minimum=0,
        help="... for at most this long",
    )
    shutdown_grace_s: float = setting(
        5.0,
        flag="--shutdown-grace",
        unit="s",
        minimum=0,
        help="on SIGINT/SIGTERM, in-flight requests get this long to finish",
    )
    default_max_body_bytes: int = 64 * 1024  # a JSON request body

    @property
    def rules(self) -> RulesConfig:
        """The limits the domain rules enforce."""
        return pick(self, RulesConfig)


_DECLARED = frozenset(f.name for f in attrs.fields(Settings))
