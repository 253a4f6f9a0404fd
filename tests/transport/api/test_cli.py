"""`chat-server`: flags and environment -> Settings, logging, limits, and the real process."""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import re
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import MIB, Budget, Settings
from transport.cli import (
    OPTIONS,
    configure_logging,
    main,
    parse_command_line,
    parse_duration,
    parse_size,
    raise_open_file_limit,
)

ROOT = Path(__file__).resolve().parents[3]


def parse_error(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]) -> str:
    with pytest.raises(SystemExit) as exited:
        parse_command_line(argv, env)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one clear line, not a usage block
    assert err.startswith("chat-server: error: ")
    return err


# ------------------------------------------------------------- the parsers


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1048576", 1048576),
        ("5MiB", 5 * MIB),
        ("5M", 5 * MIB),
        ("5m", 5 * MIB),
        ("512KiB", 512 * 1024),
        ("512k", 512 * 1024),
        ("1.5GiB", 1536 * MIB),
        ("5 MiB", 5 * MIB),
        ("2MB", 2_000_000),
        ("3kB", 3000),
        ("7B", 7),
        ("0", 0),
    ],
)
def test_sizes_take_binary_and_decimal_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    "text",
    [
        "",
        "MiB",
        "-1",
        "+5",
        "1e3",
        "0x10",
        "1_000",
        "\uff15",  # fullwidth 5
        "\u0663",  # Arabic-Indic 3
        "inf",
        "nan",
        "5 XB",
        "5.MiB",
        "1,5M",
    ],
)
def test_sizes_refuse_anything_else(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3600", 3600.0),
        ("0.5", 0.5),
        ("250ms", 0.25),
        ("90s", 90.0),
        ("15m", 900.0),
        ("15min", 900.0),
        ("4h", 14400.0),
        ("1d", 86400.0),
    ],
)
def test_durations_take_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "h", "-1", "1e3", "inf", "nan", "4 hours", "1.h", "\u0663s", "9" * 400]
)
def test_durations_refuse_anything_else(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


SIZE_UNITS = {"": 1, "B": 1, "K": 1024, "KiB": 1024, "kB": 1000, "M": MIB, "MiB": MIB, "MB": 10**6}


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(sorted(SIZE_UNITS)))
def test_a_size_is_its_number_times_its_unit(number: int, unit: str) -> None:
    assert parse_size(f"{number}{unit}") == number * SIZE_UNITS[unit]
    assert parse_size(f"{number} {unit.lower()}") == number * SIZE_UNITS[unit]


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=999))
def test_fractional_sizes_are_exact(whole: int, thousandths: int) -> None:
    # 1.5GiB is 1610612736 bytes exactly: no float rounding on the way.
    assert parse_size(f"{whole}.{thousandths:03d}MiB") == (whole * 1000 + thousandths) * MIB // 1000


@given(st.text(max_size=12))
def test_any_text_is_a_size_or_a_clear_error(text: str) -> None:
    try:
        size = parse_size(text)
    except argparse.ArgumentTypeError:
        return
    else:
        assert isinstance(size, int)
        assert size >= 0


@given(st.text(max_size=12))
def test_any_text_is_a_duration_or_a_clear_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except argparse.ArgumentTypeError:
        return
    else:
        assert seconds >= 0
        assert seconds != float("inf")


# ------------------------------------------------------------ command line


def test_no_flags_and_no_environment_give_the_default_settings() -> None:
    command = parse_command_line([], {})
    assert command.settings == Settings()
    assert command.log_level == "INFO"


FLAGS: list[tuple[list[str], str, Any]] = [
    (["--host", "0.0.0.0"], "host", "0.0.0.0"),
    (["--port", "0"], "port", 0),
    (["--port", "65535"], "port", 65535),
    (["--data-dir", "/tmp/chat"], "data_dir", Path("/tmp/chat")),
    (["--history", "0"], "history_size", 0),
    (["--fsync", "interval"], "fsync", Settings().fsync.__class__("interval")),
    (["--fsync", "NONE"], "fsync", Settings().fsync.__class__("none")),
    (["--fsync-interval", "250ms"], "fsync_interval_s", 0.25),
    (["--max-text-length", "100"], "max_text_length", 100),
    (["--message-ttl", "2h"], "message_ttl_s", 7200.0),
    (["--rate-limit", "5"], "rate_limit", 5),
    (["--rate-window", "60"], "rate_window_s", 60.0),
    (["--report-threshold", "2"], "report_threshold", 2),
    (["--ban-duration", "1h"], "ban_duration_s", 3600.0),
    (["--max-file-size", "512KiB"], "max_file_bytes", 512 * 1024),
    (["--poll-timeout-max", "30"], "poll_timeout_max_s", 30.0),
    (["--online-window", "2m"], "online_window_s", 120.0),
    (["--stream-heartbeat", "5s"], "stream_heartbeat_s", 5.0),
    (["--event-stream", "no"], "event_stream", False),
    (["--stream-lifetime", "10m"], "stream_lifetime_s", 600.0),
    (["--max-connections", "100"], "max_connections", 100),
    (["--header-timeout", "5"], "header_timeout_s", 5.0),
    (["--keepalive-timeout", "2m"], "keepalive_timeout_s", 120.0),
    (["--write-timeout", "3"], "write_timeout_s", 3.0),
    (["--shutdown-grace", "0"], "shutdown_grace_s", 0.0),
    (["--cursor-flush-interval", "2s"], "cursor_flush_interval_s", 2.0),
    (["--nats", "nats://10.0.0.1:4222"], "nats_url", "nats://10.0.0.1:4222"),
    (["--nats-stream", "CHAT_2"], "nats_stream", "CHAT_2"),
    (["--nats-stream-replicas", "3"], "nats_stream_replicas", 3),
    (["--nats-allow-unsafe", "yes"], "nats_allow_unsafe", True),
    (["--nats-timeout", "2s"], "nats_timeout_s", 2.0),
    (["--nats-window", "16MiB"], "nats_window_bytes", 16 * 1024 * 1024),
    (["--nats-lease-ttl", "10s"], "nats_lease_ttl_s", 10.0),
    (["--metrics", "127.0.0.1:9100"], "metrics", "127.0.0.1:9100"),
    (["--metrics", "off"], "metrics", "off"),
    (["--budget-messages", "10"], "budget_messages", Budget(requests=10)),
    (["--budget-comments", "5,1KiB"], "budget_comments", Budget(requests=5, bytes=1024)),
    (
        ["--budget-uploads", "3,10MiB/1h"],
        "budget_uploads",
        Budget(requests=3, bytes=10 * 1024 * 1024, window_s=3600.0),
    ),
    (["--budget-schedule", "7/30s"], "budget_schedule", Budget(requests=7, window_s=30.0)),
    (["--budget-rooms", "9/m"], "budget_rooms", Budget(requests=9)),
    (["--budget-reports", "2/2m"], "budget_reports", Budget(requests=2, window_s=120.0)),
    (["--max-stored-per-user", "1MiB"], "max_stored_bytes_per_user", 1024 * 1024),
    (["--min-free-disk", "0"], "min_free_disk_bytes", 0),
    (["--max-polls-per-user", "4"], "max_parked_polls_per_user", 4),
    (
        ["--budget-registrations", "5/1h"],
        "budget_registrations",
        Budget(requests=5, window_s=3600.0),
    ),
    (["--report-min-account-age", "1d"], "report_min_account_age_s", 86400.0),
    (["--session-idle-expiry", "7d"], "session_idle_s", 7 * 86400.0),
    (["--min-password-length", "12"], "min_password_length", 12),
    (["--max-connections-per-peer", "8"], "max_connections_per_peer", 8),
    (["--response-min-rate", "4KiB"], "response_min_rate_bytes_per_s", 4096),
    (["--response-grace", "2s"], "response_grace_s", 2.0),
    (["--send-buffer", "0"], "send_buffer_bytes", 0),
    (["--shutdown-idle", "500ms"], "shutdown_idle_s", 0.5),
    (["--linger-body-max", "1MiB"], "linger_body_max_bytes", 1024 * 1024),
    (["--linger-body-max-time", "5s"], "linger_body_max_s", 5.0),
    (["--segment-max-size", "8MiB"], "segment_max_bytes", 8 * 1024 * 1024),
    (["--segment-max-age", "15m"], "segment_max_age_s", 900.0),
    (["--snapshot-every", "5000"], "snapshot_every_events", 5000),
    (["--snapshot-interval", "0"], "snapshot_interval_s", 0.0),
    (["--retain", "30d"], "retain_s", 30 * 86400.0),
]


@pytest.mark.parametrize(("argv", "field", "value"), FLAGS, ids=str)
def test_each_flag_sets_its_field(argv: list[str], field: str, value: Any) -> None:
    settings = parse_command_line(argv, {}).settings
    assert getattr(settings, field) == value


def test_every_settings_option_is_tested() -> None:
    tested = {field for _, field, _ in FLAGS}
    assert {option.field for option in OPTIONS if option.field is not None} == tested


@pytest.mark.parametrize(("argv", "field", "value"), FLAGS, ids=str)
def test_the_environment_sets_the_same_fields(argv: list[str], field: str, value: Any) -> None:
    flag, text = argv
    env = "CHAT_" + flag[2:].replace("-", "_").upper()
    assert getattr(parse_command_line([], {env: text}).settings, field) == value


def test_a_flag_wins_over_the_environment() -> None:
    env = {"CHAT_PORT": "9000", "CHAT_MAX_FILE_SIZE": "1M", "CHAT_LOG_LEVEL": "debug"}
    command = parse_command_line(["--port", "9001", "--log-level", "error"], env)
    assert command.settings.port == 9001
    assert command.settings.max_file_bytes == MIB  # from the environment
    assert command.log_level == "ERROR"
    assert parse_command_line([], env).log_level == "DEBUG"


def test_a_lower_poll_maximum_lowers_the_default_wait() -> None:
    assert (
        parse_command_line(["--poll-timeout-max", "10"], {}).settings.poll_timeout_default_s == 10
    )
    assert (
        parse_command_line(["--poll-timeout-max", "90"], {}).settings.poll_timeout_default_s == 25
    )


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--port", "65536"], "port must be 0..65535"),
        (["--port", "-1"], "port must be"),
        (["--port", "http"], "not an integer"),
        (["--fsync", "sometimes"], "fsync must be one of always, interval, none"),
        (["--max-file-size", "5XB"], "unknown size unit"),
        (["--max-file-size=-5MiB"], "not a size"),
        (["--max-file-size", "0"], "must be at least 1"),
        (["--rate-limit", "0"], "must be at least 1"),
        (["--rate-limit", "2.5"], "not an integer"),
        (["--message-ttl", "0"], "must be greater than 0"),
        (["--message-ttl", "-5"], "not a duration"),
        (["--history", "-1"], "must be at least 0"),
        (["--nats-lease-ttl", "500ms"], "must be at least 1"),
        (["--nats-lease-ttl", "2m"], "must be at most 60"),
        (["--log-level", "LOUD"], "log level must be one of DEBUG, INFO, WARNING, ERROR"),
        (["--data-dir", ""], "may not be empty"),
        (["--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_bad_values_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    assert said in parse_error(capsys, argv, {})


def test_a_bad_environment_value_names_its_variable(capsys: pytest.CaptureFixture[str]) -> None:
    err = parse_error(capsys, [], {"CHAT_PORT": "eighty"})
    assert "CHAT_PORT" in err
    assert "not an integer" in err
    # The flag wins, so the environment's bad value is never read.
    assert parse_command_line(["--port", "80"], {"CHAT_PORT": "eighty"}).settings.port == 80


def test_help_explains_each_option_with_its_default_unit_and_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_command_line(["--help"], {})
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for option in OPTIONS:
        assert option.flag in text
        assert option.env in text
    for default in (
        "default: 127.0.0.1",
        "default: 8000",
        "default: data",
        "default: always",
        "default: INFO",
        "default: 20 messages",
        "default: 4000 characters",
        "default: 1h",  # durations as a person reads them
        "default: 4h",
        "default: 5 MiB",
        "default: 1m",
        "default: 60,512KiB/1m",
        "default: 10000 connections",
    ):
        assert default in text


# ------------------------------------------------------- logging and limits


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_logs_go_to_stderr_with_utc_iso_time(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING")
    logging.getLogger("transport.test").info("hidden")
    logging.getLogger("transport.test").warning("shown %d", 7)
    err = capsys.readouterr().err
    assert "hidden" not in err
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING transport\.test shown 7\n", err
    ), err


@pytest.mark.usefixtures("restore_logging")
def test_the_open_file_limit_is_raised_to_the_hard_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, 256)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        with caplog.at_level(logging.INFO, logger="transport.cli"):
            now = raise_open_file_limit(10)
        if hard == resource.RLIM_INFINITY:
            assert now == lowered
        else:
            assert now == hard
            assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
            assert f"raised from {lowered} to {hard}" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="transport.cli"):
            raise_open_file_limit(10**9)
        assert "below --max-connections" in caplog.text
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_main_reports_a_bad_command_line_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--port", "99999"])
    assert exited.value.code == 2
    assert "port must be" in capsys.readouterr().err


# --------------------------------------------------------- the real process

LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


class ServerProcess:
    """`chat-server` in a subprocess; its stderr is read line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "transport.cli", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            bufsize=0,  # unbuffered: select() then sees every byte not yet read
            env={k: v for k, v in os.environ.items() if not k.startswith("CHAT_")},
        )
        self.lines: list[str] = []

    def wait_for_port(self, timeout_s: float = 30.0) -> int:
        assert self.process.stderr is not None
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            # Never block past the deadline on a server that hangs without a word.
            readable, _, _ = select.select([self.process.stderr], [], [], remaining)
            if not readable:
                break
            line = self.process.stderr.readline().decode("utf-8", "replace")
            if not line:
                break
            self.lines.append(line)
            found = LISTENING.search(line)
            if found:
                return int(found[1])
        raise AssertionError("no 'listening on' line:\n" + "".join(self.lines))

    def finish(self, timeout_s: float = 30.0) -> tuple[int, str]:
        _, err = self.process.communicate(timeout=timeout_s)
        return self.process.returncode, "".join(self.lines) + err.decode("utf-8", "replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_the_server_starts_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess("--port", "0", "--data-dir", str(data), "--fsync", "none")
    try:
        port = server.wait_for_port()
        status, health = get(port, "/health")
        assert status == 200
        assert health["status"] == "ok"
        # A second server on the same data directory cannot take the log.
        second = ServerProcess("--port", "0", "--data-dir", str(data), "--fsync", "none")
        try:
            code, err = second.finish()
        finally:
            second.kill()
        assert code == 1, err
        errors = [line for line in err.splitlines() if " ERROR " in line]
        assert len(errors) == 1, err
        assert "Traceback" not in err
        server.process.send_signal(signal.SIGTERM)
        code, err = server.finish()
    finally:
        server.kill()
    assert code == 0, err
    assert "open-file limit" in err
    assert re.search(r"^\d{4}-\d\d-\d\dT[\d:.]+Z INFO ", err, re.MULTILINE), err


def test_the_environment_configures_the_real_process(tmp_path: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "transport.cli"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "CHAT_PORT": "70000", "CHAT_DATA_DIR": str(tmp_path)},
        check=False,
    )
    assert process.returncode == 2
    assert process.stderr.strip().endswith("(see --help)")
    assert "CHAT_PORT" in process.stderr


def test_a_taken_port_is_one_error_line_and_status_1(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = ServerProcess("--port", str(port), "--data-dir", str(tmp_path), "--fsync", "none")
        try:
            code, err = server.finish()
        finally:
            server.kill()
    assert code == 1, err
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert len(errors) == 1, err
    assert "cannot start" in errors[0]
    assert "Traceback" not in err
