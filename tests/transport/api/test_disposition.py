"""Download headers: Content-Disposition gives every name back and never breaks the header."""

from __future__ import annotations

import email.message
import re
from urllib.parse import unquote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain import ValidationError
from domain.files import check_file_name
from transport.api.disposition import content_disposition, etag

# attachment; filename="<quoted-string>"[; filename*=UTF-8''<ext-value>]
HEADER = re.compile(
    r'attachment; filename="(?P<fallback>(?:[^"\\]|\\.)*)"'
    r"(?:; filename\*=UTF-8''(?P<ext>[A-Za-z0-9!#$&+\-.^_`|~%]*))?"
)
ATTR_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~")


def parts(value: str) -> tuple[str, str | None]:
    """The unescaped fallback and the raw `filename*` value of a header we wrote."""
    match = HEADER.fullmatch(value)
    assert match is not None, value
    return re.sub(r"\\(.)", r"\1", match["fallback"]), match["ext"]


def name_seen_by_an_rfc_6266_agent(value: str) -> str:
    """`filename*` when present (RFC 6266 section 4.3), else `filename`."""
    fallback, ext = parts(value)
    return fallback if ext is None else unquote(ext, errors="strict")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", 'attachment; filename="report.pdf"'),
        ("my notes (v2).txt", 'attachment; filename="my notes (v2).txt"'),
        ("a;b", 'attachment; filename="a;b"'),
        ("a,b=c", 'attachment; filename="a,b=c"'),
        (
            'say "hi".txt',
            'attachment; filename="say \\"hi\\".txt"; filename*=UTF-8\'\'say%20%22hi%22.txt',
        ),
        (
            "back\\slash",
            "attachment; filename=\"back\\\\slash\"; filename*=UTF-8''back%5Cslash",
        ),
        ("100%.txt", "attachment; filename=\"100%.txt\"; filename*=UTF-8''100%25.txt"),
        (
            "отчёт.pdf",
            'attachment; filename="_____.pdf"; '
            "filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf",
        ),
        ("😀.png", "attachment; filename=\"_.png\"; filename*=UTF-8''%F0%9F%98%80.png"),
        ("é", "attachment; filename=\"_\"; filename*=UTF-8''%C3%A9"),
        ("a'b*c", 'attachment; filename="a\'b*c"'),
        ("x!#$&+-.^_`|~y", 'attachment; filename="x!#$&+-.^_`|~y"'),
    ],
)
def test_content_disposition_examples(name: str, expected: str) -> None:
    value = content_disposition(name)
    assert value == expected
    assert name_seen_by_an_rfc_6266_agent(value) == name


@pytest.mark.parametrize(
    "name", ["a\r\nSet-Cookie: x=1", "a\rb", "a\nb", "\x00", "\x7f", "\x85", "tab\there", "\ud800"]
)
def test_no_name_can_break_the_header_line(name: str) -> None:
    value = content_disposition(name)
    assert all(" " <= c <= "~" for c in value), value
    assert HEADER.fullmatch(value) is not None


def test_the_standard_library_decodes_filename_star_to_the_same_name() -> None:
    name = "Отчёт 100% «финал» 😀.pdf"
    _, ext = parts(content_disposition(name))
    message = email.message.Message()
    message["Content-Disposition"] = f"attachment; filename*=UTF-8''{ext}"
    assert message.get_filename() == name


accepted_names = st.text(
    st.one_of(st.characters(), st.sampled_from("\"\\%;, '*=()")), min_size=1, max_size=80
)


@given(accepted_names)
@example('"')
@example("%41")
@example("a  b")
def test_every_accepted_name_comes_back_from_the_header(text: str) -> None:
    try:
        name = check_file_name(text)
    except ValidationError:
        return
    value = content_disposition(name)
    assert all(" " <= c <= "~" for c in value), value
    fallback, ext = parts(value)
    if ext is not None:
        assert unquote(ext, errors="strict") == name
        assert all(c in ATTR_CHARS or c == "%" for c in ext)
    else:
        assert fallback == name  # plain printable ASCII without " \ %
    assert len(fallback) == len(name)  # one fallback character per character of the name


@given(st.text(st.characters(codec=None, categories=None), max_size=40))
def test_any_text_at_all_gives_a_well_formed_header(text: str) -> None:
    value = content_disposition(text)
    assert all(" " <= c <= "~" for c in value), value
    assert HEADER.fullmatch(value) is not None


def test_etag_is_the_quoted_sha256() -> None:
    digest = "0123456789abcdef" * 4
    assert etag(digest) == f'"{digest}"'


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "A" * 64, "g" * 64, "a" * 63, "a" * 65, "a" * 63 + "\n", '"' + "a" * 62 + '"'],
)
def test_etag_refuses_what_is_not_a_sha256(bad: str) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        etag(bad)
