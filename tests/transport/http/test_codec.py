"""Sans-IO codec: the same input parses the same whole, split, or byte by byte."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transport.http import (
    LAST_CHUNK,
    NEED_DATA,
    Data,
    EndOfMessage,
    Headers,
    ProtocolError,
    RequestHead,
    RequestParser,
    ResponseHead,
    ResponseParser,
    codec,
    encode_chunk,
    write_request,
    write_request_head,
    write_response_head,
)

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=12)
field_values = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20).map(
    lambda v: v.strip()
)
targets = st.text("abcXYZ019-._~%/?=&", max_size=30).map(lambda t: "/" + t)
header_fields = st.lists(
    st.tuples(
        tokens.filter(lambda n: n.lower() not in ("host", "content-length", "transfer-encoding")),
        field_values,
    ),
    max_size=8,
)
bodies = st.binary(max_size=300)


@st.composite
def chunkings(draw: st.DrawFn, body: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=6)))
    pieces, last = [], 0
    for cut in [*cuts, len(body)]:
        pieces.append(body[last:cut])
        last = cut
    return [p for p in pieces if p]


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, tuple[str, str, list[tuple[str, str]]], bytes]:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]) | tokens)
    target = draw(targets)
    fields = [("Host", "example"), *draw(header_fields)]
    body = draw(bodies)
    if draw(st.booleans()):
        head = write_request_head(method, target, fields, content_length=len(body))
        wire = head + body
    else:
        head = write_request_head(method, target, fields, chunked=True)
        wire = head + b"".join(encode_chunk(p) for p in draw(chunkings(body))) + LAST_CHUNK
    return wire, (method, target, fields), body


def requests_in(
    parser: RequestParser, chunks: list[bytes]
) -> Iterator[tuple[RequestHead, bytes, Headers]]:
    """Feed `chunks` one by one; yield (head, body, trailers) per complete request."""
    head: RequestHead | None = None
    body = b""
    for chunk in chunks:
        parser.feed(chunk)
        while (event := parser.next_event()) is not NEED_DATA:
            if isinstance(event, RequestHead):
                head, body = event, b""
            elif isinstance(event, Data):
                body += event.data
            elif isinstance(event, EndOfMessage):
                assert head is not None
                yield head, body, event.trailers
            if not parser.buffered_bytes and not parser.in_body:
                break


def parse_all(chunks: list[bytes]) -> list[tuple[RequestHead, bytes, Headers]]:
    """Feed `chunks` then EOF; (head, body, trailers) per request."""
    return list(requests_in(RequestParser(), [*chunks, b""]))


def splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    pieces, last = [], 0
    for p in [*points, len(data)]:
        pieces.append(data[last:p])
        last = p
    return [p for p in pieces if p]


@given(requests(), st.lists(st.integers(0, 2000), max_size=10))
def test_request_parses_the_same_whole_split_and_byte_by_byte(
    request: tuple[bytes, tuple[str, str, list[tuple[str, str]]], bytes], cuts: list[int]
) -> None:
    wire, (method, target, fields), body = request
    whole = parse_all([wire])
    assert len(whole) == 1
    head, parsed_body, _ = whole[0]
    assert (head.method, head.target, head.version) == (method, target, "HTTP/1.1")
    assert [
        (n, v) for n, v in head.headers if n not in ("Content-Length", "Transfer-Encoding")
    ] == [(n, v) for n, v in fields]
    assert parsed_body == body
    assert parse_all(splits(wire, cuts)) == whole
    assert parse_all([wire[i : i + 1] for i in range(len(wire))]) == whole


@given(st.lists(requests(), min_size=1, max_size=4), st.lists(st.integers(0, 3000), max_size=8))
def test_pipelined_requests_parse_in_order(
    batch: list[tuple[bytes, tuple[str, str, list[tuple[str, str]]], bytes]], cuts: list[int]
) -> None:
    wire = b"".join(w for w, _, _ in batch)
    parsed = parse_all(splits(wire, cuts))
    assert [(h.method, h.target, b) for h, b, _ in parsed] == [
        (m, t, body) for _, (m, t, _), body in batch
    ]


@given(bodies.flatmap(lambda b: st.tuples(st.just(b), chunkings(b))), st.integers(1, 7))
def test_chunked_body_decodes_to_the_original_for_any_chunking(
    body_and_chunks: tuple[bytes, list[bytes]], step: int
) -> None:
    body, pieces = body_and_chunks
    wire = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"".join(encode_chunk(p) for p in pieces)
        + b"0\r\nX-Trailer: yes\r\n\r\n"
    )
    parsed = parse_all([wire[i : i + step] for i in range(0, len(wire), step)])
    assert parsed[0][1] == body
    assert parsed[0][2].get("x-trailer") == "yes"


@given(
    st.sampled_from([200, 201, 204, 304, 404, 500]),
    bodies,
    st.sampled_from(["length", "chunked", "close"]),
    st.lists(st.integers(0, 600), max_size=6),
)
def test_response_parser_reads_every_framing(
    status: int, body: bytes, framing: str, cuts: list[int]
) -> None:
    no_body = status in (204, 304)
    fields = [("Content-Type", "application/octet-stream")]
    if framing == "length":
        fields.append(("Content-Length", str(len(body))))
        payload = body
    elif framing == "chunked":
        fields.append(("Transfer-Encoding", "chunked"))
        payload = encode_chunk(body) + LAST_CHUNK
    else:
        payload = body
    wire = write_response_head(status, fields) + (b"" if no_body else payload)
    parser = ResponseParser("GET")
    got = b""
    heads: list[ResponseHead] = []
    done = False
    for piece in [*splits(wire, cuts), b""]:
        parser.feed(piece)
        while not done and (event := parser.next_event()) is not NEED_DATA:
            if isinstance(event, ResponseHead):
                heads.append(event)
            elif isinstance(event, Data):
                got += event.data
            else:
                done = True
    assert done
    assert [h.status for h in heads] == [status]
    assert got == (b"" if no_body else body)


def test_response_to_head_has_no_body_and_interim_heads_come_first() -> None:
    parser = ResponseParser("HEAD")
    parser.feed(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
        b"HTTP/1.1 204 No Content\r\n\r\n"
    )
    first, second, end = parser.next_event(), parser.next_event(), parser.next_event()
    assert isinstance(first, ResponseHead)
    assert first.status == 100
    assert isinstance(second, ResponseHead)
    assert second.headers.get("content-length") == "5"
    assert isinstance(end, EndOfMessage)
    parser.start_next("GET")
    last = parser.next_event()
    assert isinstance(last, ResponseHead)
    assert last.status == 204
    assert isinstance(parser.next_event(), EndOfMessage)


def test_write_request_adds_content_length() -> None:
    wire = write_request("POST", "/send", [("Host", "h")], b'{"a":1}')
    assert wire == b'POST /send HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n{"a":1}'
    assert write_request("GET", "/x", [("Host", "h")]) == b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-A", "a\r\nSet-Cookie: 1"), ("X-A", "a\nb"), ("X-A", "a\x00"), ("Bad Name", "v")],
)
def test_writers_refuse_header_injection(name: str, value: str) -> None:
    with pytest.raises(ValueError, match="header"):
        write_response_head(200, [(name, value)])
    with pytest.raises(ValueError, match="header"):
        write_request("GET", "/", [(name, value)])


def test_one_leading_empty_line_is_ignored_but_not_two() -> None:
    ok = parse_all([b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert ok[0][0].target == "/"
    with pytest.raises(ProtocolError) as caught:
        parse_all([b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert caught.value.status == 400


def test_header_values_trim_only_space_and_tab() -> None:
    head = parse_all([b"GET / HTTP/1.1\r\nHost: x\r\nX-A: \t \xa0v\xa0 \t\r\n\r\n"])[0][0]
    assert head.headers.get("x-a") == "\xa0v\xa0"


def test_equal_content_length_duplicates_are_accepted_and_become_one() -> None:
    wire = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nab"
    head, body, _ = parse_all([wire])[0]
    assert body == b"ab"
    assert head.headers.get_all("content-length") == ["2"]  # nobody downstream sees "2, 2"


# Pieces of request lines near the valid ones: every separator, version and target
# shape that the step-by-step checks tell apart.
_LINE_PARTS = [
    "GET", "G(T", "OPTIONS", "*", "/", "/a?b", "/\xff", "http://x/y", "x", "",
    "HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/2.0", "http/1.1", "HTTP/1.1 ", "/a b", "/\x7f",
]  # fmt: skip


def test_the_request_line_fast_path_agrees_with_the_full_checks() -> None:
    # Every line of up to three pieces: the fast path takes only lines the full
    # checks accept and reads them the same; the parser answers as the checks do.
    lines = {
        separator.join(parts)
        for separator in (" ", "  ", "\t")
        for size in (1, 2, 3)
        for parts in itertools.product(_LINE_PARTS, repeat=size)
    }
    for line in lines:
        fast = codec._ORIGIN_FORM_LINE.fullmatch(line)
        try:
            checked: tuple[str, str, str] | int = codec._parse_request_line(line)
        except ProtocolError as exc:
            checked = exc.status
        if fast is not None:
            assert checked == fast.groups(), line
        expected = 400 if "\x7f" in line else checked  # control characters: 400 first
        assert _parsed_request_line(f"{line}\r\nHost: x\r\n\r\n".encode("latin-1")) == expected


def _parsed_request_line(raw: bytes) -> tuple[str, str, str] | int:
    parser = RequestParser()
    parser.feed(raw)
    try:
        head = parser.next_event()
    except ProtocolError as exc:
        return exc.status
    assert isinstance(head, RequestHead)
    return head.method, head.target, head.version


Message = tuple[str, str, list[tuple[str, str]], bytes, list[tuple[str, str]]]


def answer(chunks: list[bytes], **limits: int) -> tuple[list[Message], int | None]:
    """Feed `chunks` without EOF: every complete message, then the status of the error if any."""
    messages: list[Message] = []
    try:
        for head, body, trailers in requests_in(RequestParser(**limits), chunks):
            fields = list(head.headers)
            messages.append((head.method, head.target, fields, body, list(trailers)))
    except ProtocolError as exc:
        return messages, exc.status
    return messages, None


# What hostile input inserts: line-end pieces, control characters, extension syntax.
_INSERTS = [b"\n", b"\r", b"\r\n", b"\r\n\r\n", b"\x00", b"\x01", b"\x7f", b";", b"=", b'"', b" "]


@st.composite
def hostile_requests(draw: st.DrawFn) -> bytes:
    wire = bytearray(draw(requests())[0])
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(wire)))
        wire[at:at] = draw(st.sampled_from(_INSERTS))
    return bytes(wire)


@given(
    st.lists(hostile_requests(), min_size=1, max_size=3),
    st.lists(st.integers(0, 2000), max_size=8),
    st.integers(16, 80),
    st.integers(16, 200),
)
def test_hostile_input_gets_the_same_answer_whole_split_and_byte_by_byte(
    batch: list[bytes], cuts: list[int], max_line: int, max_header: int
) -> None:
    # Small limits: the checks against them meet the bare CR/LF checks near the edges.
    limits = {"max_request_line_bytes": max_line, "max_header_bytes": max_header}
    wire = b"".join(batch)
    whole = answer([wire], **limits)
    assert answer(splits(wire, cuts), **limits) == whole
    assert answer([wire[i : i + 1] for i in range(len(wire))], **limits) == whole


CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "partial",
    [
        b"GET / HTTP/1.1\r\nHost: x\nX-A: 1",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\rX",
        b"GET / HTTP/1.1\r\nHost: x\r\n\n",
        b"GET / HTTP/1.1\n",
        b"GET / HTTP/1.1\rX",
        CHUNKED_HEAD + b"1\n",
        CHUNKED_HEAD + b"0\r\nX-T: 1\nX",
        CHUNKED_HEAD + b"0\r\nX-T: 1\r\nX-U: 2\rX",
    ],
    ids=[
        "LF in fields",
        "CR in fields",
        "LF ending the fields",
        "LF after the request line",
        "CR in the request line",
        "LF after a chunk size",
        "LF in trailers",
        "CR in trailers",
    ],
)
def test_a_bare_line_end_is_refused_as_soon_as_it_arrives(partial: bytes) -> None:
    # No end of the section, no EOF: nothing to wait for once a bare CR or LF is seen.
    for pieces in ([partial], [partial[i : i + 1] for i in range(len(partial))]):
        assert answer(pieces)[1] == 400


@pytest.mark.parametrize(
    "extension",
    [b";a", b";a=b", b" ; a = b", b';a="q \\" x";b', b";a;b=c", b';n="\xff"'],
)
def test_chunk_extensions_of_the_rfc_grammar_are_accepted(extension: bytes) -> None:
    wire = CHUNKED_HEAD + b"1" + extension + b"\r\nz\r\n0\r\n\r\n"
    assert answer([wire])[0][0][3] == b"z"


@pytest.mark.parametrize(
    "extension",
    [b";a=\x01", b";a\x00", b";a=b\x7f", b";", b";a=", b';a="open', b";a b", b";a=\tb\x1f"],
)
def test_chunk_extensions_with_control_characters_or_bad_syntax_are_refused(
    extension: bytes,
) -> None:
    wire = CHUNKED_HEAD + b"1" + extension + b"\r\nz\r\n0\r\n\r\n"
    assert answer([wire]) == ([], 400)
