"""File metadata: which names and content types an upload may carry, and how names are cleaned."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain import ValidationError
from domain.files import (
    DEFAULT_CONTENT_TYPE,
    MAX_CONTENT_TYPE_CHARS,
    MAX_FILE_NAME_BYTES,
    check_content_type,
    check_file_name,
)

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def outcome(check: Callable[[str], str], text: str) -> str | ValidationError:
    """What a check makes of `text`; any exception but ValidationError fails the test."""
    try:
        return check(text)
    except ValidationError as exc:
        return exc


def is_unsafe(char: str) -> bool:
    return (
        char in "/\\"
        or char in BIDI_CONTROLS
        or unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs")
    )


# ---- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("отчёт за май.docx", "отчёт за май.docx"),
        ("写真 2026.jpg", "写真 2026.jpg"),
        ("👨\u200d👩\u200d👧.png", "👨\u200d👩\u200d👧.png"),  # ZWJ joins the emoji: kept
        ("  notes.txt \n", "notes.txt"),
        ("\tnotes.txt", "notes.txt"),
        ("a/b\\c.txt", "a_b_c.txt"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("/", "_"),
        ("C:\\Windows\\win.ini", "C:_Windows_win.ini"),
        ("a\x00b", "a_b"),
        ("a\x1b[31mred", "a_[31mred"),  # a terminal escape loses its ESC
        ("line\r\nSet-Cookie: x", "line__Set-Cookie: x"),
        ("a\x7fb", "a_b"),
        ("a\x85b\x9fc", "a_b_c"),  # C1 controls
        ("invoice\u202efdp.exe", "invoice_fdp.exe"),  # right-to-left override
        ("a\u2028b\u2029c", "a_b_c"),
        ("e\u0301te\u0301.txt", "été.txt"),  # NFD from macOS becomes NFC
        (".bashrc", ".bashrc"),
        ("a..b", "a..b"),
        (". .", ". ."),
        ("x" * MAX_FILE_NAME_BYTES, "x" * MAX_FILE_NAME_BYTES),
        ("я" * 127 + "a", "я" * 127 + "a"),  # 255 bytes of UTF-8
    ],
)
def test_a_name_is_kept_or_cleaned(given_name: str, expected: str) -> None:
    assert check_file_name(given_name) == expected


@pytest.mark.parametrize(
    "bad",
    [
        None,
        42,
        b"report.pdf",
        ["report.pdf"],
        "",
        "   ",
        "\n",
        ".",
        "..",
        "...",
        " .. ",
        "x" * (MAX_FILE_NAME_BYTES + 1),
        "я" * 128,  # 128 characters, but 256 bytes: refused, never cut
        "😀" * 64,  # 256 bytes
        "a\ud800b",  # a lone surrogate is not text
    ],
)
def test_a_name_is_refused(bad: object) -> None:
    with pytest.raises(ValidationError) as caught:
        check_file_name(bad)
    assert caught.value.field == "name"


def test_a_cleaned_name_is_measured_after_cleaning() -> None:
    # Each C1 control is 2 bytes of UTF-8 and its "_" only one.
    name = "a" + "\x85" * 200 + "b"
    assert len(name.encode("utf-8")) > MAX_FILE_NAME_BYTES
    assert check_file_name(name) == "a" + "_" * 200 + "b"


any_text = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from("/\\.\x00\n\r\t \x7f\x85\u2028\u202e\ud800"),
    ),
    max_size=300,
)


@given(any_text)
@example("..")
@example("a" * 256)
@example(" \u0301a")
def test_any_text_gives_a_safe_name_or_a_validation_error(text: str) -> None:
    name = outcome(check_file_name, text)
    if isinstance(name, ValidationError):
        assert name.field == "name"
        return
    assert name
    assert name.strip(".")
    assert name == name.strip()
    assert len(name.encode("utf-8")) <= MAX_FILE_NAME_BYTES
    assert not any(is_unsafe(c) for c in name)
    assert unicodedata.is_normalized("NFC", name)
    assert check_file_name(name) == name  # cleaning is idempotent


@given(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=60))
def test_letters_and_digits_are_kept_as_they_are(text: str) -> None:
    assert check_file_name(text) == unicodedata.normalize("NFC", text)


# ---- content types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, DEFAULT_CONTENT_TYPE),
        ("application/octet-stream", "application/octet-stream"),
        ("image/png", "image/png"),
        ("Image/PNG", "image/png"),
        ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
        ("Text/HTML;Charset=UTF-8", "text/html;Charset=UTF-8"),  # parameters kept as sent
        ("  text/plain \t", "text/plain"),
        ('multipart/form-data; boundary="a b;c"', 'multipart/form-data; boundary="a b;c"'),
        ('text/plain; x="a\\"b"', 'text/plain; x="a\\"b"'),
        ('text/plain; x=""', 'text/plain; x=""'),
        ("text/plain;", "text/plain;"),
        ("text/plain ; a=1 ;; b=2", "text/plain ; a=1 ;; b=2"),
        ("application/vnd.api+json", "application/vnd.api+json"),
        ("a/" + "b" * (MAX_CONTENT_TYPE_CHARS - 2), "a/" + "b" * (MAX_CONTENT_TYPE_CHARS - 2)),
    ],
)
def test_a_content_type_is_accepted(value: str | None, expected: str) -> None:
    assert check_content_type(value) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "text",
        "text/",
        "/plain",
        "text/plain/x",
        "text /plain",
        "text/ plain",
        "text/plain; charset",
        "text/plain; =utf-8",
        "text/plain; charset=",
        "text/plain; charset = utf-8",
        'text/plain; x="unterminated',
        'text/plain; x="a"b',
        "text/plain, text/html",
        "text/plain\r\nX-Evil: 1",
        "text/plain\x00",
        "tëxt/plain",
        'text/plain; x="ë"',  # obs-text is obsolete and not taken
        "text/(plain)",
        "a/" + "b" * (MAX_CONTENT_TYPE_CHARS - 1),
    ],
)
def test_a_content_type_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_content_type(bad)
    assert caught.value.field == "Content-Type"


TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(TCHARS, min_size=1, max_size=12)
quoted_strings = st.lists(
    st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'),
        st.sampled_from(['\\"', "\\\\", "\t"]),
    ),
    max_size=10,
).map(lambda parts: '"' + "".join(parts) + '"')
parameters = st.lists(
    st.tuples(st.sampled_from(["", " ", "\t "]), tokens, st.one_of(tokens, quoted_strings)),
    max_size=4,
).map(lambda ps: "".join(f"{ows};{ows}{name}={value}" for ows, name, value in ps))


@given(tokens, tokens, parameters)
def test_every_rfc_9110_media_type_is_accepted(kind: str, subtype: str, params: str) -> None:
    value = f"{kind}/{subtype}{params}"
    if len(value) <= MAX_CONTENT_TYPE_CHARS:
        assert check_content_type(value) == f"{kind.lower()}/{subtype.lower()}{params}"


@given(st.text(max_size=80) | st.text('ab/;= \t"\\\r\n', max_size=30))
def test_any_text_gives_a_header_safe_content_type_or_a_validation_error(text: str) -> None:
    value = outcome(check_content_type, text)
    if isinstance(value, ValidationError):
        assert value.field == "Content-Type"
        return
    assert "/" in value
    assert all(c == "\t" or " " <= c <= "~" for c in value)
    assert len(value) <= MAX_CONTENT_TYPE_CHARS
    assert check_content_type(value) == value
