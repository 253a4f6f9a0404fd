"""Presenting records: secrets masked, bytes summarised, unsafe characters escaped."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from eventstore import NewRecord
from eventstore.present import human_line, json_line, redact, terminal_safe

from .support import as_stored


def test_secrets_and_bytes_are_masked_at_any_depth() -> None:
    data = {
        "user": "alice",
        "password_hash": "scrypt$0123456789",
        "nested": {"token_hash": b"\x01\x02\x03\x04\x05\x06", "ok": [b"\x00" * 3]},
        "salt": "short",
        "api_key_hash": 1234567890123,
    }
    assert redact(data) == {
        "user": "alice",
        "password_hash": "scrypt$0…",
        "nested": {"token_hash": "01020304…", "ok": ["<3 bytes>"]},
        "salt": "short…",
        "api_key_hash": "12345678…",
    }
    [record] = as_stored([NewRecord(ts=0.0, name="x.v1", data=data)])
    for line in (human_line(record), json_line(record)):
        assert "scrypt$0123456789" not in line
        assert "0102030405" not in line


@given(text=st.text())
def test_escaped_text_decodes_back_as_json_and_holds_no_control_character(text: str) -> None:
    [record] = as_stored([NewRecord(ts=0.0, name=text, data={text: text})])
    line = json_line(record)
    assert json.loads(line)["data"] == {text: text}
    assert json.loads(line)["name"] == text
    for shown in (line, human_line(record), terminal_safe(text)):
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in shown)
        assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in shown)
        assert "\u2028" not in shown
        assert "\u2029" not in shown
