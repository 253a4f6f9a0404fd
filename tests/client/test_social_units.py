"""Parsers, file names, JSON shapes and event lines of the social and file commands."""

from __future__ import annotations

import time
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.commands import UsageError
from client.files import MAX_NAME_BYTES, disposition_name, safe_file_name
from client.http import BadResponseError
from client.models import Event, Message
from client.render import event_line, message_line
from client.schedule import parse_at, parse_duration, send_time
from client.slash import ScreenWriter
from client.social import join_token, members_list, room_id
from client.social_models import Comment, JoinLink, JoinRequest, ReportOutcome, Scheduled
from transport.api.disposition import content_disposition

UNITS = {"d": 86400, "h": 3600, "m": 60, "min": 60, "s": 1}


# -- durations and times --------------------------------------------------------------


@given(st.lists(st.tuples(st.integers(0, 1000), st.sampled_from(sorted(UNITS))), min_size=1))
def test_a_duration_is_the_sum_of_its_parts(parts: list[tuple[int, str]]) -> None:
    total = sum(n * UNITS[unit] for n, unit in parts)
    text = "".join(f"{n}{unit}" for n, unit in parts)
    if total == 0:
        with pytest.raises(ValueError, match="more than zero"):
            parse_duration(text)
    else:
        assert parse_duration(text) == total


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("15min", 900), ("2h", 7200), ("1d", 86400),
     ("1h30m", 5400), ("1.5h", 5400), (" 2H ", 7200), ("0.5", 0.5)],
)  # fmt: skip
def test_durations_people_type(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@given(st.text())
def test_anything_else_is_not_a_duration(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ValueError:
        return
    assert seconds > 0
    assert set(text.strip().lower().replace(" ", "")) <= set("0123456789.dhmins")


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(-14 * 60, 14 * 60),
)
def test_an_iso_time_with_an_offset_is_that_instant(moment: datetime, minutes: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    assert parse_at(aware.isoformat()) == aware.timestamp()


def test_an_iso_time_without_an_offset_is_local_and_z_is_utc() -> None:
    local = datetime(2030, 6, 1, 12, 30)
    assert parse_at("2030-06-01T12:30") == local.astimezone().timestamp()
    assert parse_at("2030-06-01 12:30:00Z") == datetime(2030, 6, 1, 12, 30, tzinfo=UTC).timestamp()


@given(st.integers(0, 23), st.integers(0, 59), st.floats(1e9, 3e9))
def test_a_clock_time_is_its_next_occurrence(hour: int, minute: int, now: float) -> None:
    at = parse_at(f"{hour:02d}:{minute:02d}", now)
    assert now < at <= now + 86400 + 3600  # a day, and an hour more across a DST change
    local = time.localtime(at)
    assert (local.tm_hour, local.tm_min) in {(hour, minute), ((hour + 1) % 24, minute)}


@pytest.mark.parametrize("text", ["tomorrow", "25:00", "12:60", "", "2026-13-01T00:00"])
def test_times_that_are_not(text: str) -> None:
    with pytest.raises(ValueError, match="not"):
        parse_at(text)


def test_send_time_takes_exactly_one_of_at_and_in() -> None:
    assert send_time(at=None, after="10m", now=1000.0) == 1600.0
    assert (
        send_time(at="2030-01-01T00:00Z", after=None)
        == datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    )
    for at, after in ((None, None), ("12:00", "10m"), ("never", None), (None, "-5m")):
        with pytest.raises(UsageError):
            send_time(at=at, after=after)


# -- join links, rooms, members ---------------------------------------------------------


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1)
)
def test_a_join_token_is_found_in_every_form_it_is_given(token: str) -> None:
    for form in (token, f"/join/{token}", f"http://127.0.0.1:8000/join/{token}/", f" {token} "):
        assert join_token(form) == token


@pytest.mark.parametrize("text", ["", "   ", "/join/", "a b", "x?y"])
def test_not_a_join_token(text: str) -> None:
    with pytest.raises(UsageError):
        join_token(text)


def test_room_and_member_arguments() -> None:
    assert room_id("@Bob", "alice") == "dm:alice:bob"
    assert room_id("g12", "alice") == "g12"
    assert room_id("@", "alice") == "@"
    assert members_list("a, b,,c ") == ["a", "b", "c"]
    assert members_list(None) == []


# -- file names -------------------------------------------------------------------------


@given(st.text(min_size=1, max_size=300))
def test_a_file_name_from_the_server_is_recovered_from_its_header(name: str) -> None:
    assert disposition_name(content_disposition(name)) == name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ('attachment; filename="a b.txt"', "a b.txt"),
        ('attachment; filename="q\\"uote.txt"', 'q"uote.txt'),
        ("attachment; filename=plain.txt", "plain.txt"),
        ("attachment; filename*=UTF-8''%D0%B0.txt; filename=\"_.txt\"", "\u0430.txt"),
        ("attachment", None),
        (None, None),
        ("attachment; filename*=latin1''x.txt", None),
    ],
)
def test_content_disposition_values(header: str | None, name: str | None) -> None:
    assert disposition_name(header) == name


@given(st.text(max_size=400))
def test_a_safe_file_name_is_one_plain_name(name: str) -> None:
    safe = safe_file_name(name, "fallback")
    assert safe
    assert "/" not in safe
    assert "\\" not in safe
    assert not safe.startswith(".")
    assert safe not in {".", ".."}
    assert len(safe.encode()) <= MAX_NAME_BYTES
    assert all(unicodedata.category(c) not in {"Cc", "Cf", "Cs", "Zl", "Zp"} for c in safe)
    assert safe_file_name(safe, "fallback") == safe


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        (".bashrc", "bashrc"),
        ("..", "file-1"),
        ("", "file-1"),
        ("evil\u202etxt.exe", "evil_txt.exe"),
        ("line\nbreak.txt", "line_break.txt"),
        ("отчёт 1.txt", "отчёт 1.txt"),
    ],
)
def test_file_names_that_would_be_dangerous(name: str, safe: str) -> None:
    assert safe_file_name(name, "file-1") == safe


def test_a_long_name_keeps_its_extension() -> None:
    safe = safe_file_name("ж" * 300 + ".tar", "f")
    assert safe.endswith(".tar")
    assert len(safe.encode()) <= MAX_NAME_BYTES


# -- JSON shapes ------------------------------------------------------------------------

COMMENT = {"id": 9, "message": 3, "room": "general", "author": "bob", "text": "hi", "ts": 1.5}
SCHEDULED = {"id": 7, "author": "a", "text": "t", "send_at": 100, "status": "pending", "to": "b"}
REQUEST = {"room": "g4", "user": "carol", "status": "pending", "requested_at": 5.0}
LINK = {"room": "g4", "token": "tok", "path": "/join/tok"}
REPORT = {"user": "eve", "banned": True}
SHAPES: list[tuple[Any, dict[str, Any]]] = [
    (Comment, COMMENT),
    (Scheduled, SCHEDULED),
    (JoinRequest, REQUEST),
    (JoinLink, LINK),
    (ReportOutcome, REPORT),
]


@pytest.mark.parametrize(("model", "good"), SHAPES, ids=lambda v: getattr(v, "__name__", ""))
def test_each_shape_parses_and_keeps_its_raw_object(model: Any, good: dict[str, Any]) -> None:
    assert model.from_json(good).raw == good


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@pytest.mark.parametrize(("model", "good"), SHAPES, ids=lambda v: getattr(v, "__name__", ""))
@given(data=st.data())
def test_a_damaged_shape_is_a_bad_response_never_a_crash(
    model: Any, good: dict[str, Any], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(good)))
    value = data.draw(json_values)
    damaged = {**good, key: value}
    try:
        parsed = model.from_json(damaged)
    except BadResponseError:
        return
    assert parsed.raw == damaged


def test_a_scheduled_message_needs_a_target_and_a_report_a_boolean() -> None:
    with pytest.raises(BadResponseError):
        Scheduled.from_json({k: v for k, v in SCHEDULED.items() if k != "to"})
    with pytest.raises(BadResponseError):
        ReportOutcome.from_json({"user": "eve", "banned": 1})
    with pytest.raises(BadResponseError):
        Comment.from_json({**COMMENT, "id": True})


# -- event lines ------------------------------------------------------------------------


def line(obj: dict[str, Any], me: str = "alice") -> str | None:
    return event_line(Event.from_json({"offset": 1, "ts": 0.0, **obj}), me)


def test_new_events_read_as_lines() -> None:
    def text(obj: dict[str, Any], me: str = "alice") -> str:
        rendered = line(obj, me)
        assert rendered is not None
        return rendered.split(" ", 1)[1]  # after the clock

    request = {"room": "g4", "user": "carol", "status": "pending", "requested_at": 0}
    assert text({"type": "message.commented", "comment": COMMENT}) == "[general] re #3 bob: hi"
    assert text({"type": "room.join_requested", "request": request}) == (
        "* carol asks to join g4 (chat approve g4 carol)"
    )
    assert text({"type": "room.join_requested", "request": request}, "carol") == (
        "* you asked to join g4; its owner decides"
    )
    decided = {**request, "status": "approved"}
    assert text({"type": "room.join_decided", "request": decided}, "carol") == (
        "* your request to join g4 was approved"
    )
    assert text({"type": "room.join_decided", "request": decided}) == (
        "* carol's request to join g4 was approved"
    )
    scheduled = text({"type": "message.scheduled", "scheduled": SCHEDULED})
    assert scheduled.startswith("* scheduled #7 at ")
    assert scheduled.endswith(" to @b: t")
    assert text({"type": "message.cancelled", "scheduled": 7}) == "* scheduled message #7 cancelled"
    assert text({"type": "message.schedule_failed", "scheduled": 7, "reason": "banned"}) == (
        "* scheduled message #7 was not sent: banned"
    )
    banned = text({"type": "user.banned", "user": "alice", "until": 0})
    assert banned.startswith("* you are banned from sending until ")
    assert text({"type": "room.member_left", "room": "g4", "user": "bob"}) == "* bob left g4"


def test_damaged_new_events_still_read_as_lines() -> None:
    for kind in ("message.commented", "room.join_requested", "room.join_decided",
                 "message.scheduled", "user.banned"):  # fmt: skip
        rendered = line({"type": kind})
        assert rendered is not None
        assert "*" in rendered


def test_a_comment_cannot_carry_control_characters_to_the_terminal() -> None:
    evil = {**COMMENT, "text": "x\x1b[2Jy", "author": "b\x07"}
    rendered = line({"type": "message.commented", "comment": evil})
    assert rendered is not None
    assert "\x1b" not in rendered
    assert "\x07" not in rendered


def test_the_screen_writer_hands_over_whole_lines() -> None:
    lines: list[str] = []
    writer = ScreenWriter(lines.append)
    writer.write("one\ntw")
    writer.write("o\n")
    print("three", file=writer, flush=True)
    assert lines == ["one", "two", "three"]
    assert not writer.isatty()


def test_a_file_message_names_its_file_once() -> None:
    def shown(text: str) -> str:
        message = Message.from_json(
            {"id": 4, "room": "g2", "author": "bob", "text": text, "ts": 0.0,
             "file": {"name": "a.pdf", "size": 1, "content_type": "x/y", "sha256": "0" * 64}}
        )  # fmt: skip
        return message_line(message, "alice").split(" ", 1)[1]

    assert shown("a.pdf") == "[g2] bob: [file: a.pdf]"
    assert shown("the slides") == "[g2] bob: the slides [file: a.pdf]"


@given(st.text(max_size=200))
def test_any_content_disposition_gives_a_name_or_none(value: str) -> None:
    name = disposition_name("attachment; " + value)
    assert name is None or isinstance(name, str)
    if name is not None:
        assert safe_file_name(name, "f")  # and it can always be made safe
