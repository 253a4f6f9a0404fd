"""Download headers: Content-Disposition gives every name back and never breaks the header."""

from __future__ import annotations

import email.message
import hashlib
import re
from urllib.parse import unquote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain import ValidationError
from domain.files import check_content_type, check_file_name
from transport.api.disposition import content_disposition, etag, not_modified
from transport.http import ResponseHead, ResponseParser, write_response_head

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


@given(accepted_names)
def test_the_headers_pass_our_http_writer_and_parse_back(text: str) -> None:
    try:
        name = check_file_name(text)
    except ValidationError:
        return
    digest = hashlib.sha256(name.encode()).hexdigest()
    fields = [
        ("Content-Disposition", content_disposition(name)),
        ("ETag", etag(digest)),
        ("Content-Length", "0"),
    ]
    parser = ResponseParser()
    parser.feed(write_response_head(200, fields))  # raises ValueError on an injection
    head = parser.next_event()
    assert isinstance(head, ResponseHead)
    assert head.headers.get("content-disposition") == fields[0][1]
    assert head.headers.get("etag") == fields[1][1]
    assert name_seen_by_an_rfc_6266_agent(fields[0][1]) == name


content_types = st.builds(
    lambda kind, sub, params: f"{kind}/{sub}{params}",
    st.sampled_from(["text", "image", "Application", "x-y"]),
    st.sampled_from(["plain", "PNG", "vnd.a+json"]),
    st.text(st.characters(min_codepoint=0, max_codepoint=0xFF), max_size=30)
    | st.sampled_from(["; charset=utf-8", ';a="b\\"c"', " ;\tq=1 ;", '; x="\t y"']),
)


@given(content_types)
def test_an_accepted_content_type_passes_our_http_writer_and_parses_back(value: str) -> None:
    try:
        content_type = check_content_type(value)
    except ValidationError:
        return
    parser = ResponseParser()
    parser.feed(write_response_head(200, [("Content-Type", content_type), ("Content-Length", "0")]))
    head = parser.next_event()
    assert isinstance(head, ResponseHead)
    assert head.headers.get("content-type") == content_type


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


# ---- If-None-Match ----------------------------------------------------------------------------

DIGEST = "0123456789abcdef" * 4
OTHER = "f" * 64


@pytest.mark.parametrize(
    ("field_value", "expected"),
    [
        (None, False),
        ("", False),
        ("*", True),
        (" * ", True),
        (f'"{DIGEST}"', True),
        (f'W/"{DIGEST}"', True),  # If-None-Match compares weakly
        (f'"{OTHER}"', False),
        (f'"{OTHER}", "{DIGEST}"', True),
        (f'"{OTHER}",W/"{DIGEST}"', True),
        (f' , "{OTHER}" ,\t"{DIGEST}" , ', True),
        (f'"a,b", "{DIGEST}"', True),  # a tag may hold a comma
        (f'"{OTHER}", "a,b"', False),
        (DIGEST, False),  # not quoted: malformed, ignored
        (f'"{DIGEST}', False),
        (f'"{DIGEST}"x', False),
        (f'w/"{DIGEST}"', False),  # the weak prefix is case-sensitive
        (f'"{DIGEST.upper()}"', False),
        (f'"{DIGEST} "', False),
        (f'"{OTHER}" junk "{DIGEST}"', False),
    ],
)
def test_not_modified_follows_rfc_9110(field_value: str | None, expected: bool) -> None:
    assert not_modified(field_value, DIGEST) is expected


def test_not_modified_needs_a_real_sha256() -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        not_modified("*", "not a digest")


etag_chars = st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters='"\x7f')
entity_tags = st.tuples(st.booleans(), st.text(etag_chars, max_size=70)).map(
    lambda weak_tag: ("W/" if weak_tag[0] else "") + f'"{weak_tag[1]}"'
)
separators = st.sampled_from([",", ", ", " ,", "\t,\t", ",,"])


@given(st.lists(entity_tags, max_size=5), separators, st.booleans(), st.integers(0, 5))
def test_a_list_matches_exactly_when_it_holds_the_etag(
    others: list[str], separator: str, include: bool, at: int
) -> None:
    tags = [t for t in others if t.removeprefix("W/") != etag(DIGEST)]
    if include:
        tags.insert(min(at, len(tags)), etag(DIGEST))
    assert not_modified(separator.join(tags), DIGEST) is include


@given(st.text(max_size=100) | st.text(f'W/"*, \t{DIGEST[:3]}', max_size=30))
def test_no_field_value_matches_without_the_etag_or_a_star(field_value: str) -> None:
    if not_modified(field_value, DIGEST):  # never raises either
        assert field_value.strip(" \t") == "*" or etag(DIGEST) in field_value
