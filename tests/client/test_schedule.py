"""Scheduled messages: durations and times as people type them, and `chat schedule`,
`scheduled` and `cancel` (in this process) against a real `chat-server`."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.context import UsageError
from client.schedule import parse_at, parse_duration, send_time
from tests.client.real_server import ChatServer, Watcher, connect
from tests.client.support import no_traceback, ok, one_json, refused, run_chat

UNITS = {"d": 86400, "h": 3600, "m": 60, "min": 60, "s": 1}


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


def test_schedule_scheduled_cancel(tmp_path: Path, server: ChatServer) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    later = one_json(run_chat(alice, "schedule", "--in", "1h", "--json", "in an hour"))
    first = later["scheduled"]
    assert first["status"] == "pending"
    assert first["room"] == "general"
    assert abs(first["send_at"] - (time.time() + 3600)) < 60
    at = datetime.fromtimestamp(time.time() + 7200, UTC).isoformat(timespec="seconds")
    dm = one_json(run_chat(alice, "schedule", "--at", at, "--to", "bob", "--json", "dm later"))
    second = dm["scheduled"]
    assert second["to"] == "bob"
    human = ok(run_chat(alice, "schedule", "--in", "3h", "much", "later"))
    assert human.out.startswith("scheduled #")
    assert re.search(r" \(in (2 h 59 min|3 h)\) to general: much later", human.out), human.out
    assert "chat cancel" in human.err

    pending = one_json(run_chat(alice, "scheduled", "--json"))["scheduled"]
    assert [s["text"] for s in pending] == ["in an hour", "dm later", "much later"]
    assert one_json(run_chat(bob, "scheduled", "--json"))["scheduled"] == []
    listing = ok(run_chat(alice, "scheduled")).out.splitlines()
    assert listing[1].startswith(f"#{second['id']} at ")
    assert listing[1].endswith("to @bob: dm later")

    cancelled = one_json(run_chat(alice, "cancel", str(first["id"]), "--json"))
    assert cancelled == {"scheduled": first["id"], "cancelled": True}
    refused(run_chat(alice, "cancel", str(first["id"])))  # already cancelled: 409
    refused(run_chat(bob, "cancel", str(second["id"])))  # not bob's: 404
    left = one_json(run_chat(alice, "scheduled", "--json"))["scheduled"]
    assert [s["id"] for s in left] == [second["id"], pending[2]["id"]]

    # Due soon: delivered by the server, seen by bob as an ordinary message.
    watcher = Watcher(bob)
    try:
        soon = one_json(run_chat(alice, "schedule", "--in", "1s", "--json", "right away"))
        events = watcher.wait_for(
            lambda evs: any(e.get("message", {}).get("text") == "right away" for e in evs)
        )
    finally:
        watcher.stop()
    delivered = next(e["message"] for e in events if e["type"] == "message.sent")
    assert delivered["scheduled"] == soon["scheduled"]["id"]

    past = one_json(run_chat(alice, "schedule", "--at", "2000-01-01T00:00:00Z", "--json", "now"))
    assert past["message"]["text"] == "now"  # a time that has passed: sent at once
    ok(run_chat(alice, "send", "--to", "bob", "hi"))
    direct = one_json(run_chat(alice, "schedule", "--in", "1h", "--room", "@bob", "--json", "x"))
    assert direct["scheduled"]["room"] == "dm:alice:bob"
    listed = ok(run_chat(alice, "scheduled")).out.splitlines()
    assert f"#{direct['scheduled']['id']} at " in next(
        line for line in listed if "to @bob: x" in line
    )
    refused(run_chat(alice, "schedule", "--in", "40d", "too far"))
    for bad in (("--in", "soon"), ("--at", "tomorrow"), ("--in", "0")):
        usage = run_chat(alice, "schedule", *bad, "text")
        assert usage.rc == 2, usage.err
        no_traceback(usage)
    assert run_chat(alice, "schedule", "no time given").rc == 2
