"""Every limit and knob of the service, in one place, with its default.

`chat-server` fills this from flags and `CHAT_*` environment variables; tests
build it directly. Units are in the names.
"""

from __future__ import annotations

from pathlib import Path

from attrs import field, frozen

from eventstore import FsyncPolicy

MIB = 1024 * 1024


@frozen(kw_only=True)
class Settings:
    """Configuration of one server process."""

    # Where and how to listen.
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = field(default=Path("data"), converter=Path)

    # The log.
    fsync: FsyncPolicy = FsyncPolicy.ALWAYS
    fsync_interval_s: float = 1.0
    cursor_flush_interval_s: float = 1.0  # cursor events are coalesced per user

    # Chat rules (API.md "Limits").
    history_size: int = 20  # last-N general messages on connect
    max_text_length: int = 4000
    message_ttl_s: float = 3600.0
    rate_limit: int = 20  # messages per user to `general` per window
    rate_window_s: float = 3600.0
    report_threshold: int = 3
    ban_duration_s: float = 14400.0
    max_file_bytes: int = 5 * MIB
    max_schedule_ahead_s: float = 30 * 86400.0
    # Caps on what one client can pile up (each refusal is a 409 naming the cap).
    max_sessions_per_user: int = 100
    max_pending_scheduled_per_user: int = 100
    max_rooms_per_owner: int = 100
    max_links_per_room: int = 100
    max_unread_on_connect: int = 1000  # `/connect` lists at most this many unread messages

    # Secrets: scrypt's CPU/memory cost (2**14 is OWASP's minimum; tests lower it).
    scrypt_n: int = 2**14

    # Synchronisation.
    poll_timeout_default_s: float = 25.0
    poll_timeout_max_s: float = 60.0
    events_limit_default: int = 100
    events_limit_max: int = 1000
    history_limit_default: int = 50
    history_limit_max: int = 500

    # HTTP (HTTP.md "Connections").
    max_connections: int = 10_000
    max_requests_per_connection: int = 10_000
    header_timeout_s: float = 10.0
    body_min_rate_bytes_per_s: int = 1024
    body_grace_s: float = 10.0  # a body may take this long before the rate applies
    keepalive_timeout_s: float = 75.0
    write_timeout_s: float = 30.0
    shutdown_grace_s: float = 5.0
    max_json_body_bytes: int = 64 * 1024
