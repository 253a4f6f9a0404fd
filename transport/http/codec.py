"""Sans-IO HTTP/1.1 parsers: bytes in, events out (the writers are in `writers.py`).

How this works: a parser keeps one buffer. `feed()` appends bytes (`b""` is
end of input); `next_event()` returns the next event it can decode, or
`NEED_DATA`. A message is a head event (`RequestHead` / `ResponseHead`),
zero or more `Data` events and one `EndOfMessage`; then the parser starts on
the next message in the same buffer (pipelining). No I/O happens here.

Strictness (HTTP.md "Parsing"), applied the same way to heads, chunk lines
and trailers:

- Every line ends in CRLF. Bare LF and bare CR are rejected with 400 (we
  never guess where a line ends: that is how smuggling starts), as soon as
  they arrive: the bytes of a head or trailer section not yet complete are
  scanned once each (`_check_line_ends`), only as far as the size limit
  reaches, so that whole, split and byte-by-byte input get the same answer.
- Chunk extensions follow RFC 9112 section 7.1.1 (token names, token or
  quoted-string values); anything else in a chunk line, control characters
  included, is a 400.
- Numbers are matched with `[0-9]` / `[0-9a-fA-F]` regexes before converting,
  never `int()` on raw input (it accepts `+1`, `1_0`, ` 1`, non-ASCII digits).
- Framing: `Transfer-Encoding: chunked` (once, last) or `Content-Length`
  (equal duplicates allowed), never both. Requests without either have no
  body; responses without either are read until the connection closes.
- Any framing error raises `ProtocolError`; the parser is then dead.
"""

from __future__ import annotations

import re
from typing import Final

from attrs import frozen

from transport.http.errors import ProtocolError
from transport.http.headers import Headers

__all__ = [
    "NEED_DATA",
    "Data",
    "EndOfMessage",
    "NeedData",
    "RequestHead",
    "RequestParser",
    "ResponseHead",
    "ResponseParser",
]

# RFC 9112 sets no limits; these are the common server defaults (nginx, h11).
MAX_REQUEST_LINE_BYTES: Final = 8 * 1024
MAX_HEADER_BYTES: Final = 16 * 1024
MAX_HEADER_FIELDS: Final = 100
MAX_CHUNK_LINE_BYTES: Final = 1024  # 16 hex digits plus bounded extensions
MAX_CONTENT_LENGTH_DIGITS: Final = 19  # fits in a signed 64-bit integer

_HTTP_1_0: Final = "HTTP/1.0"
_HTTP_1_1: Final = "HTTP/1.1"
METHOD_PATTERN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
TARGET_PATTERN = re.compile(rb"[\x21-\x7e]+")
_SOME_VERSION = re.compile(r"HTTP/[0-9]\.[0-9]")
_FIELD = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*")
# Control characters other than HTAB, CR and LF (CR and LF are checked as line ends).
_CTL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DECIMAL = re.compile(rf"[0-9]{{1,{MAX_CONTENT_LENGTH_DIGITS}}}")
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# RFC 9110 section 5.6.4: DQUOTE *( qdtext / quoted-pair ) DQUOTE, no control characters.
_QUOTED_STRING = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_CHUNK_EXT = rb"(?:[ \t]*;[ \t]*%b(?:[ \t]*=[ \t]*(?:%b|%b))?)*" % (_TOKEN, _TOKEN, _QUOTED_STRING)
_CHUNK_LINE = re.compile(rb"([0-9a-fA-F]{1,16})(%b)" % _CHUNK_EXT)
# A CR not followed by LF, or an LF not preceded by CR.
_BARE_LINE_END = re.compile(rb"\r(?!\n)|(?<!\r)\n")
_STATUS_LINE = re.compile(r"HTTP/1\.([01]) ([0-9]{3})(?: (.*))?")
_METHOD_TEXT = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# The common case in one match: token method, origin-form target, HTTP/1.x. Anything
# else goes through the step-by-step checks, which tell which status to answer.
_ORIGIN_FORM_LINE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (/[\x21-\x7e]*) (HTTP/1\.[01])")
_TARGET_TEXT = re.compile(r"[\x21-\x7e]+")


class NeedData:
    """The type of `NEED_DATA`: feed more bytes before asking again."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()


@frozen(kw_only=True)
class RequestHead:
    """A parsed request line and header section."""

    method: str
    target: str
    version: str
    headers: Headers
    content_length: int | None  # None: chunked, or no body
    chunked: bool


@frozen(kw_only=True)
class ResponseHead:
    """A parsed status line and header section (1xx heads come before the final one)."""

    status: int
    reason: str
    version: str
    headers: Headers


@frozen(kw_only=True)
class Data:
    """A piece of message body, already de-chunked."""

    data: bytes


@frozen(kw_only=True)
class EndOfMessage:
    """The end of a message body, with the trailer fields of a chunked one."""

    trailers: Headers


def _bad(message: str) -> ProtocolError:
    return ProtocolError(400, "bad_request", message)


def _check_head_bytes(block: bytes) -> list[str]:
    """Check line endings and control characters, then split into text lines."""
    # Every CR must be followed by LF and every LF preceded by CR.
    crlf = block.count(b"\r\n")
    if block.count(b"\r") != crlf or block.count(b"\n") != crlf:
        raise _bad("bare CR or LF in message head")
    if _CTL.search(block) is not None:
        raise _bad("control character in message head")
    # latin-1 maps every byte to one character: obs-text survives, nothing is guessed.
    return block.decode("latin-1").split("\r\n")


def _check_line_ends(buf: bytearray, start: int, end: int) -> int:
    """Raise 400 for a bare CR or LF in `buf[start:end]`; returns where to go on next time.

    A CR at the end may still be followed by LF: it is looked at again.
    """
    end = min(end, len(buf))
    if start >= end:
        return start
    match = _BARE_LINE_END.search(buf, start, end)
    if match is not None and (match[0] == b"\n" or match.start() < end - 1):
        raise _bad("bare CR or LF in message head")
    return end - 1 if buf[end - 1] == 0x0D else end


def _parse_fields(lines: list[str], max_fields: int) -> Headers:
    if len(lines) > max_fields:
        raise ProtocolError(431, "headers_too_large", "too many header fields")
    fields: list[tuple[str, str]] = []
    fullmatch = _FIELD.fullmatch
    for line in lines:
        match = fullmatch(line)
        if match is None:
            if line[:1] in (" ", "\t"):
                raise _bad("obsolete line folding in header section")
            raise _bad("malformed header field")
        fields.append((match[1], match[2]))
    return Headers(fields)


def _content_length(headers: Headers) -> int | None:
    values = headers.get_tokens("content-length")
    if not values:
        return None
    for value in values:
        if _DECIMAL.fullmatch(value) is None:
            raise _bad("invalid Content-Length")
    if len(set(values)) != 1:
        raise _bad("conflicting Content-Length values")
    return int(values[0])


def _is_chunked(headers: Headers) -> bool:
    codings = headers.get_tokens("transfer-encoding")
    if not codings:
        return False
    if codings[-1] != "chunked":
        raise _bad("chunked is not the final transfer coding")
    if codings.count("chunked") > 1 or "" in codings:
        raise _bad("malformed Transfer-Encoding")
    if len(codings) > 1:
        raise ProtocolError(501, "not_implemented", "unsupported transfer coding")
    return True


def _parse_request_line(line: str) -> tuple[str, str, str]:
    """Method, target and version of a request line, or the ProtocolError it deserves."""
    parts = line.split(" ")
    if len(parts) != 3:
        raise _bad("malformed request line")
    method, target, version = parts
    if version not in (_HTTP_1_1, _HTTP_1_0):
        if _SOME_VERSION.fullmatch(version):
            raise ProtocolError(505, "version_not_supported", "only HTTP/1.0 and 1.1")
        raise _bad("malformed HTTP version")
    if _METHOD_TEXT.fullmatch(method) is None:
        raise _bad("malformed method")
    if _TARGET_TEXT.fullmatch(target) is None:
        raise _bad("malformed request target")
    if target[0] != "/":
        if target == "*":
            if method != "OPTIONS":
                raise _bad("asterisk-form target is only for OPTIONS")
        elif not target.lower().startswith(("http://", "https://")):
            raise _bad("request target is neither origin-form nor absolute-form")
    return method, target, version


class _BodyReader:
    """Decodes one body (length, chunked, or until close) out of a shared buffer."""

    def __init__(self, *, length: int | None, chunked: bool, max_fields: int) -> None:
        self.remaining = length  # None with not chunked: until close
        self.chunked = chunked
        self.max_fields = max_fields
        self.state = "size" if chunked else "data"
        self.scanned = 0  # trailer bytes already checked for bare CR and LF

    def next_event(self, buf: bytearray, eof: bool) -> Data | EndOfMessage | NeedData:
        if not self.chunked:
            if self.remaining is None:  # read until close
                if buf:
                    data = bytes(buf)
                    del buf[:]
                    return Data(data=data)
                return EndOfMessage(trailers=Headers()) if eof else NEED_DATA
            if self.remaining == 0:
                return EndOfMessage(trailers=Headers())
            if not buf:
                if eof:
                    raise _bad("connection closed inside the body")
                return NEED_DATA
            data = bytes(buf[: self.remaining])
            del buf[: len(data)]
            self.remaining -= len(data)
            return Data(data=data)
        while True:
            event = self._chunked_step(buf)
            if event is not None:
                if event is NEED_DATA and eof:
                    raise _bad("connection closed inside the body")
                return event

    def _chunked_step(self, buf: bytearray) -> Data | EndOfMessage | NeedData | None:
        if self.state == "size":
            end = buf.find(b"\r\n", 0, MAX_CHUNK_LINE_BYTES + 2)
            if end < 0:
                _check_line_ends(buf, 0, MAX_CHUNK_LINE_BYTES + 2)
                if len(buf) > MAX_CHUNK_LINE_BYTES + 1:  # no CRLF can end it within the limit
                    raise _bad("chunk size line too long")
                return NEED_DATA
            line = bytes(buf[:end])
            match = _CHUNK_LINE.fullmatch(line)
            if match is None:
                raise _bad("invalid chunk size line")
            del buf[: end + 2]
            self.remaining = int(match[1], 16)
            self.state = "data" if self.remaining else "trailers"
            return None
        if self.state == "data":
            assert self.remaining is not None
            if not buf:
                return NEED_DATA
            data = bytes(buf[: self.remaining])
            del buf[: len(data)]
            self.remaining -= len(data)
            if self.remaining == 0:
                self.state = "crlf"
            return Data(data=data)
        if self.state == "crlf":
            if len(buf) < 2:
                if bytes(buf[:1]) not in (b"", b"\r"):
                    raise _bad("chunk data not followed by CRLF")
                return NEED_DATA
            if buf[:2] != b"\r\n":
                raise _bad("chunk data not followed by CRLF")
            del buf[:2]
            self.state = "size"
            return None
        # Trailers: an empty line, or fields up to an empty line.
        if buf[:2] == b"\r\n":
            del buf[:2]
            return EndOfMessage(trailers=Headers())
        end = buf.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES + 4)
        if end < 0:
            window = MAX_HEADER_BYTES + 4  # where the terminator must end
            self.scanned = _check_line_ends(buf, self.scanned, window)
            if len(buf) >= window:
                raise ProtocolError(431, "headers_too_large", "trailer section too large")
            return NEED_DATA
        block = bytes(buf[:end])
        del buf[: end + 4]
        return EndOfMessage(trailers=_parse_fields(_check_head_bytes(block), self.max_fields))


# Most requests have no body. A reader of length 0 never changes state (it only
# answers EndOfMessage), so one instance serves them all.
_NO_BODY: Final = _BodyReader(length=0, chunked=False, max_fields=0)


class _Parser:
    """Shared machinery: a buffer, head splitting, then a body reader."""

    def __init__(self, *, max_line_bytes: int, max_header_bytes: int, max_fields: int) -> None:
        self._buf = bytearray()
        self._eof = False
        self._body: _BodyReader | None = None
        self._skipped_empty_line = False
        self._scanned = 0  # head bytes already checked for bare CR and LF
        self.max_line_bytes = max_line_bytes
        self.max_header_bytes = max_header_bytes
        self.max_fields = max_fields

    @property
    def buffered_bytes(self) -> int:
        """How many received bytes are not yet decoded."""
        return len(self._buf)

    @property
    def in_body(self) -> bool:
        """True between a head and its `EndOfMessage`."""
        return self._body is not None

    def feed(self, data: bytes) -> None:
        """Append received bytes; `b""` means the peer closed its side."""
        if data:
            self._buf += data
        else:
            self._eof = True

    def _split_head(self) -> tuple[str, list[str]] | None:
        """The first line and the field lines of a whole head, or None for more data.

        Every limit is checked when the buffer reaches the size at which the
        line could no longer end within it, and bare CR and LF only up to
        there: the answer does not depend on how the bytes arrived.
        """
        buf = self._buf
        if not self._skipped_empty_line and buf.startswith(b"\r\n"):
            del buf[:2]  # RFC 9112 section 2.2: one empty line may precede a message
            self._skipped_empty_line = True
            self._scanned = 0
        window = self.max_line_bytes + 2  # where the first line's CRLF must end
        line_end = buf.find(b"\r\n", 0, window)
        if line_end < 0:
            self._scanned = _check_line_ends(buf, self._scanned, window)
            if len(buf) >= window:
                raise ProtocolError(414, "uri_too_long", "request line too long")
            if self._eof and buf:
                raise _bad("connection closed inside the message head")
            return None
        window = line_end + self.max_header_bytes + 4  # where the empty line must end
        end = buf.find(b"\r\n\r\n", line_end, window)
        if end < 0:
            self._scanned = _check_line_ends(buf, self._scanned, window)
            if len(buf) >= window:
                raise ProtocolError(431, "headers_too_large", "header section too large")
            if self._eof:
                raise _bad("connection closed inside the message head")
            return None
        block = bytes(buf[:end])  # when end == line_end: the first line alone, no fields
        del buf[: end + 4]
        self._skipped_empty_line = False
        self._scanned = 0
        lines = _check_head_bytes(block)
        return lines[0], lines[1:]

    def _body_event(self) -> Data | EndOfMessage | NeedData:
        assert self._body is not None
        event = self._body.next_event(self._buf, self._eof)
        if isinstance(event, EndOfMessage):
            self._body = None
        return event


class RequestParser(_Parser):
    """Server side: decodes requests (pipelined ones one after another)."""

    def __init__(
        self,
        *,
        max_request_line_bytes: int = MAX_REQUEST_LINE_BYTES,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_header_fields: int = MAX_HEADER_FIELDS,
    ) -> None:
        super().__init__(
            max_line_bytes=max_request_line_bytes,
            max_header_bytes=max_header_bytes,
            max_fields=max_header_fields,
        )

    def next_event(self) -> RequestHead | Data | EndOfMessage | NeedData:
        """Decode the next event, or return `NEED_DATA`.

        Raises ProtocolError (with the status to answer) on malformed input.
        """
        if self._body is not None:
            return self._body_event()
        if not self._buf:
            return NEED_DATA
        split = self._split_head()
        if split is None:
            return NEED_DATA
        head = self._parse_head(*split)
        if head.chunked or head.content_length:
            self._body = _BodyReader(
                length=head.content_length, chunked=head.chunked, max_fields=self.max_fields
            )
        else:
            self._body = _NO_BODY
        return head

    def _parse_head(self, line: str, field_lines: list[str]) -> RequestHead:
        match = _ORIGIN_FORM_LINE.fullmatch(line)
        if match is not None:
            method, target, version = match.groups()
        else:
            method, target, version = _parse_request_line(line)
        headers = _parse_fields(field_lines, self.max_fields)
        if version == _HTTP_1_1 and headers.count("host") != 1:
            raise _bad("HTTP/1.1 request needs exactly one Host")
        chunked = _is_chunked(headers)
        length = _content_length(headers)
        if chunked and length is not None:
            raise _bad("both Content-Length and Transfer-Encoding")
        if length is not None and len(headers.get_tokens("content-length")) > 1:
            # Equal duplicates ("5, 5"): RFC 9110 section 8.6 lets us keep one
            # instance, so that nobody downstream reads the list as a number.
            fields = [(n, v) for n, v in headers if n.lower() != "content-length"]
            headers = Headers([*fields, ("Content-Length", str(length))])
        if chunked and version == _HTTP_1_0:
            raise _bad("Transfer-Encoding in an HTTP/1.0 request")
        return RequestHead(
            method=method,
            target=target,
            version=version,
            headers=headers,
            content_length=length,
            chunked=chunked,
        )


class ResponseParser(_Parser):
    """Client side: decodes the responses to requests sent with `request_method`."""

    def __init__(self, request_method: str = "GET") -> None:
        super().__init__(
            max_line_bytes=MAX_REQUEST_LINE_BYTES,
            max_header_bytes=MAX_HEADER_BYTES,
            max_fields=MAX_HEADER_FIELDS,
        )
        self.request_method = request_method

    def start_next(self, request_method: str) -> None:
        """Expect the response to another request (keep-alive)."""
        self.request_method = request_method

    def next_event(self) -> ResponseHead | Data | EndOfMessage | NeedData:
        """Decode the next event, or return `NEED_DATA`.

        Raises ProtocolError on a malformed response.
        """
        if self._body is not None:
            return self._body_event()
        split = self._split_head()
        if split is None:
            return NEED_DATA
        line, field_lines = split
        match = _STATUS_LINE.fullmatch(line)
        if match is None:
            raise _bad("malformed status line")
        status = int(match[2])
        headers = _parse_fields(field_lines, self.max_fields)
        head = ResponseHead(
            status=status,
            reason=match[3] or "",
            version=f"HTTP/1.{match[1]}",
            headers=headers,
        )
        if 100 <= status < 200:
            return head  # interim response: the final head follows
        if self.request_method == "HEAD" or status in (204, 304):
            self._body = _BodyReader(length=0, chunked=False, max_fields=self.max_fields)
        else:
            chunked = _is_chunked(headers)
            length = None if chunked else _content_length(headers)
            self._body = _BodyReader(length=length, chunked=chunked, max_fields=self.max_fields)
        return head
