"""The documented forms say exactly what the server's rules accept.

Each schema of `transport.api.forms` is compared with the rule it states, on
text from all of Unicode: a value the schema admits is accepted, and one it
refuses is refused. The rules normalise names to NFC first, which no schema
can state (docs/api.md), so those comparisons take text that NFC leaves alone.
"""

from __future__ import annotations

import sys
import unicodedata
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from app import Settings
from domain import (
    DIRECT_PREFIX,
    GENERAL,
    ValidationError,
    check_file_name,
    check_room_name,
    check_text,
    check_user_name,
    direct_room_id,
)
from domain.files import MAX_FILE_NAME_BYTES
from domain.names import MAX_NAME_CHARS, MAX_ROOM_NAME_CHARS
from transport.api import forms
from transport.api.params import natural

SETTINGS = Settings(max_text_length=40)
SCHEMAS = forms.schemas(SETTINGS)
NAME = jsonschema_rs.validator_for(SCHEMAS["Name"])
ROOM_ID = jsonschema_rs.validator_for(SCHEMAS["RoomId"])
TEXT = jsonschema_rs.validator_for(forms.text_schema(SETTINGS))
ROOM_NAME = jsonschema_rs.validator_for(forms.room_name_schema(MAX_ROOM_NAME_CHARS))
FILE_NAME = jsonschema_rs.validator_for(forms.file_name_schema(MAX_FILE_NAME_BYTES))

# Text from all of Unicode, and text made of the characters the rules care about.
TRICKY = (
    "\x00\t\n\r\x1c\x1f \x7f\x85\xa0\u00ad\u1680\u200b\u200e\u2028\u3000\ufeff"  # space, controls
    "._-:/\\é1\u0663\u2c66\u03a9\u0416\u5b57\U0001d518\U00010348\U000e0001\u0301"
)
texts = st.text(max_size=40) | st.text(alphabet=TRICKY, max_size=40)
nfc_texts = texts.filter(lambda text: unicodedata.is_normalized("NFC", text))


def accepts(rule: Any, value: object) -> bool:
    try:
        rule(value)
    except ValidationError:
        return False
    return True


def test_the_limits_are_the_rules_limits() -> None:
    assert forms.MAX_NAME_CHARS == MAX_NAME_CHARS
    assert natural(str(forms.MAX_NATURAL)) == forms.MAX_NATURAL
    assert natural(str(forms.MAX_NATURAL + 1)) is None


def test_the_character_sets_are_this_pythons() -> None:
    sets = forms.character_sets()

    def members(ranges: tuple[tuple[int, int], ...]) -> set[int]:
        return {code for low, high in ranges for code in range(low, high + 1)}

    every = range(sys.maxunicode + 1)
    assert members(sets.alphanumeric) == {c for c in every if chr(c).isalnum()}
    marks = {c for c in every if unicodedata.category(chr(c)).startswith("M")}
    assert members(sets.marks) == marks - members(sets.alphanumeric)
    assert members(sets.whitespace) == {c for c in every if chr(c).isspace()}
    control_or_format = {c for c in every if unicodedata.category(chr(c)) in ("Cc", "Cf")}
    assert members(sets.control_or_format) == control_or_format


@given(nfc_texts)
@example("alice")
@example("Алиса_1.-")
@example("ⱦ" * MAX_NAME_CHARS)
@example("ⱦ" * (MAX_NAME_CHARS + 1))
@example("a b")
@example("x\u0301")  # a mark after a letter: an accent written apart
@example("\u0301x")  # but never first
@example("аlice")  # a Cyrillic а among Latin letters
@example("ﬃ" * MAX_NAME_CHARS)  # ligatures, three letters each after NFKC
def test_the_name_schema_admits_every_name_the_rule_does(name: str) -> None:
    if accepts(check_user_name, name):
        assert NAME.is_valid(name)
    elif NAME.is_valid(name):
        # What the pattern cannot state (docs/api.md): one script, read after NFKC.
        folded = unicodedata.normalize("NFKC", name) != name
        with pytest.raises(ValidationError, match=None if folded else "several scripts"):
            check_user_name(name)


def test_a_decomposed_name_is_read_after_normalisation() -> None:
    # The rule sees "é"; the pattern "e" and a combining mark, which it allows after a letter.
    assert accepts(check_user_name, "e\u0301")
    assert NAME.is_valid("e\u0301")
    assert check_user_name("ｅ") == "e"  # a fullwidth letter folds into the plain one


@given(texts)
@example(" \t")
@example("\x1c")  # whitespace to str.strip, though not to ECMA-262's \s
@example("\ufeff")  # the other way round
@example("a\x00")
@example("x" * SETTINGS.max_text_length)
@example("x" * (SETTINGS.max_text_length + 1))
def test_the_text_schema_is_the_text_rule(text: str) -> None:
    rule_accepts = accepts(check_text, text) and len(text) <= SETTINGS.max_text_length
    assert TEXT.is_valid(text) == rule_accepts


@given(nfc_texts | st.text(alphabet=" \tx\x00", min_size=60, max_size=70))
@example(" " * 10 + "x" * MAX_ROOM_NAME_CHARS + "\t")
@example("x" * (MAX_ROOM_NAME_CHARS + 1))
@example("\nx\n")
@example("x\ny")
@example("\u00ad")
def test_the_room_name_schema_is_the_room_name_rule(name: str) -> None:
    assert ROOM_NAME.is_valid(name) == accepts(check_room_name, name)


@given(nfc_texts)
@example("...")
@example(" . ")
@example(".\u1680.")  # whitespace inside is kept: not only dots
@example("\x00")  # a control character becomes `_`: a name
@example("\x1c")  # whitespace to str.strip: nothing is left
@example("a" * MAX_FILE_NAME_BYTES)
def test_the_file_name_schema_is_the_file_name_rule(name: str) -> None:
    fits = len(name.encode("utf-8", errors="surrogatepass")) <= MAX_FILE_NAME_BYTES
    if fits:
        assert FILE_NAME.is_valid(name) == accepts(check_file_name, name)
    else:  # the limit is in bytes, which the schema states in words only
        assert not accepts(check_file_name, name)


name_characters = st.characters(categories=("L", "N")) | st.sampled_from("_.-")
names = st.text(name_characters, min_size=1, max_size=MAX_NAME_CHARS).filter(
    lambda name: accepts(check_user_name, name)
)


@given(
    st.lists(names, min_size=2, max_size=2),
    st.integers(min_value=1, max_value=forms.MAX_NATURAL),
)
@example(["İbrahim", "bob"], 5)  # casefolding adds a mark: i̇brahim
def test_every_room_id_the_server_makes_is_a_room_id(names: list[str], offset: int) -> None:
    first, second = (check_user_name(name) for name in names)
    room = direct_room_id(first, second)
    assert room.startswith(DIRECT_PREFIX)
    assert ROOM_ID.is_valid(room)
    assert ROOM_ID.is_valid(f"g{offset}")
    assert ROOM_ID.is_valid(GENERAL)


@pytest.mark.parametrize("room", ["", "dm:a", "dm:a:b:c", "dm:a\x00:b", "g", "gx1", "General"])
def test_a_room_id_has_one_of_the_three_forms(room: str) -> None:
    assert not ROOM_ID.is_valid(room)


def test_nullable_admits_null_beside_the_schema() -> None:
    number = jsonschema_rs.validator_for(forms.nullable({"type": "number"}))
    assert number.is_valid(None)
    assert number.is_valid(1.5)
    assert not number.is_valid("1.5")
    named = forms.nullable({"$ref": "#/components/schemas/Name"})
    assert named == {"anyOf": [{"$ref": "#/components/schemas/Name"}, {"type": "null"}]}
