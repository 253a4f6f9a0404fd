"""How rooms, times and other users' text read on the terminal."""

from __future__ import annotations

import json
import re
import time
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from client.display import Display, color_wanted, notification, osc9_supported
from client.terminal import json_line, printable, room_label, terminal_safe, wait_text, when
from tests.client.strategies import names


@given(names, names)
def test_room_label_names_the_other_participant(me: str, other: str) -> None:
    first, second = sorted((me.casefold(), other.casefold()))
    label = room_label(f"dm:{first}:{second}", me)
    assert label == "@" + (other.casefold() if other.casefold() != me.casefold() else first)
    assert room_label("general", me) == "general"


_ACTING = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029\x7f"


@given(st.text())
def test_printable_leaves_nothing_that_acts_on_a_terminal(text: str) -> None:
    shown = printable(text)
    assert not any((c != "\n" and unicodedata.category(c) == "Cc") or c in _ACTING for c in shown)
    assert len(shown) == len(text)


@given(st.text())
def test_json_lines_stay_json_and_plain(text: str) -> None:
    line = json_line({"text": text})
    assert json.loads(line) == {"text": text}
    assert not any(unicodedata.category(c) == "Cc" or c in _ACTING for c in line)


def test_terminal_safe_keeps_only_colour_sequences() -> None:
    assert terminal_safe("\x1b[1mbob\x1b[0m: \x1b]0;x\x07") == "\x1b[1mbob\x1b[0m: \ufffd]0;x\ufffd"


def test_times_and_waits_as_people_read_them() -> None:
    now = time.mktime((2026, 11, 24, 14, 0, 0, 0, 0, -1))
    assert when(now - 60, now) == time.strftime("%H:%M", time.localtime(now - 60))
    assert re.fullmatch(r"[A-Z][a-z]{2} [0-9]{2}:[0-9]{2}", when(now - 2 * 86400, now))
    assert re.fullmatch(r"2026-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}", when(now - 30 * 86400, now))
    assert [wait_text(s) for s in (3, 59 * 60, 3586, 2 * 3600 + 300)] == [
        "3 s",
        "59 min",
        "1 h",
        "2 h 5 min",
    ]


def test_colour_only_on_a_terminal_without_no_color() -> None:
    assert color_wanted("auto", isatty=True, environ={"TERM": "xterm"})
    assert not color_wanted("auto", isatty=False, environ={})
    assert not color_wanted("auto", isatty=True, environ={"NO_COLOR": "1"})
    assert not color_wanted("auto", isatty=True, environ={"TERM": "dumb"})
    assert color_wanted("always", isatty=False, environ={"NO_COLOR": "1"})
    assert not color_wanted("never", isatty=True, environ={})


def test_the_bell_and_the_desktop_notification() -> None:
    assert notification("bob: hi", osc9=False) == "\a"
    assert notification("bob: \x1b]hi", osc9=True) == "\x1b]9;bob:  ]hi\x07\a"
    assert osc9_supported({"TERM_PROGRAM": "iTerm.app"})
    assert not osc9_supported({"TERM_PROGRAM": "iTerm.app", "TMUX": "/tmp/t"})
    assert not osc9_supported({"TERM": "xterm"})
    display = Display(me="Alice")
    assert display.wants_alert(room="general", author="bob", text="hi @alice!")
    assert display.wants_alert(room="dm:alice:bob", author="bob", text="hi")
    assert not display.wants_alert(room="general", author="bob", text="hi @alicex")
    assert not display.wants_alert(room="dm:alice:bob", author="ALICE", text="@alice")
