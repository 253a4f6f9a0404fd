"""Rules for the metadata of an uploaded file: its name and its content type.

The bytes of a file live in a content-addressed store and are never saved
under the uploader's name, so the name is only shown to people and offered
to their downloads (`Content-Disposition`). It must therefore be safe to
print on a terminal and to use as a file name by a client that saves it:
path separators and characters that move the cursor, end a line or reorder
text are replaced with `_`, surrounding whitespace is dropped, and what
remains must be a real name (not `.`, `..`, or any other run of dots) of at
most 255 bytes of UTF-8, the limit of common file systems (ext4, APFS, NTFS).
A name that is too long is refused rather than cut: a cut could drop the
extension, and the client would not see which name the file really got.

The content type must be an RFC 9110 media type; anything else is refused,
since it would be sent back verbatim as a response header on download.
"""

from __future__ import annotations

import re
import unicodedata

from domain.errors import ValidationError

MAX_FILE_NAME_BYTES = 255
MAX_CONTENT_TYPE_CHARS = 255
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_NAME_REPLACEMENT = "_"
_PATH_SEPARATORS = frozenset("/\\")
# Unicode categories replaced in names: Cc holds C0, DEL and C1; Zl and Zp are
# the line and paragraph separators (U+2028, U+2029), which end a line too.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
# Bidirectional formatting characters (Unicode TR 9) let "invoice\u202efdp.exe"
# display as "invoiceexe.pdf". Other format characters (ZWJ in emoji) stay.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

# RFC 9110 section 5.6.2 (token), 5.6.4 (quoted-string), 8.3.1 (media-type):
#   media-type = type "/" subtype parameters
#   parameters = *( OWS ";" OWS [ parameter ] )
#   parameter  = parameter-name "=" parameter-value ; token or quoted-string
# obs-text (bytes 0x80-0xFF) is left out on purpose: it is obsolete, and the
# value is written back as a header, where only ASCII is unambiguous.
_TCHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED_STRING = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e]|\\[\t \x21-\x7e])*"'
_OWS = r"[ \t]*"
_MEDIA_TYPE = re.compile(
    rf"(?P<type>{_TCHARS})/(?P<subtype>{_TCHARS})"
    rf"(?P<parameters>(?:{_OWS};{_OWS}(?:{_TCHARS}=(?:{_TCHARS}|{_QUOTED_STRING}))?)*)"
)


def _safe_char(char: str) -> str:
    if (
        char in _PATH_SEPARATORS
        or char in _BIDI_CONTROLS
        or unicodedata.category(char) in _UNSAFE_CATEGORIES
    ):
        return _NAME_REPLACEMENT
    return char


def check_file_name(name: object) -> str:
    """Return the sanitised name of an uploaded file (from `POST /files?name=`).

    The name is NFC-normalised and stripped; path separators, control
    characters (C0, DEL, C1), line separators and bidi controls become `_`.
    Raises ValidationError(field="name") when the name is missing, not a
    string, not valid Unicode (lone surrogates), empty, only dots, or
    longer than MAX_FILE_NAME_BYTES bytes of UTF-8.
    """
    if not isinstance(name, str):
        raise ValidationError("a file name must be a string", field="name")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("a file name must be valid Unicode text", field="name") from None
    cleaned = "".join(map(_safe_char, unicodedata.normalize("NFC", name).strip()))
    if not cleaned:
        raise ValidationError("a file name must not be empty", field="name")
    if cleaned.strip(".") == "":
        raise ValidationError("a file name must not be made of dots only", field="name")
    if len(cleaned.encode("utf-8")) > MAX_FILE_NAME_BYTES:
        raise ValidationError(
            f"a file name has at most {MAX_FILE_NAME_BYTES} bytes of UTF-8", field="name"
        )
    return cleaned


def check_content_type(value: str | None) -> str:
    """Return the media type of an upload, `application/octet-stream` when absent.

    Surrounding whitespace is dropped and the type and subtype are lowercased
    (they are case-insensitive); parameters are kept as sent.
    Raises ValidationError(field="Content-Type") unless the value is an
    RFC 9110 media type in ASCII of at most MAX_CONTENT_TYPE_CHARS characters.
    """
    if value is None:
        return DEFAULT_CONTENT_TYPE
    value = value.strip(" \t")
    if len(value) > MAX_CONTENT_TYPE_CHARS:
        raise ValidationError(
            f"a content type has at most {MAX_CONTENT_TYPE_CHARS} characters",
            field="Content-Type",
        )
    match = _MEDIA_TYPE.fullmatch(value)
    if match is None:
        raise ValidationError(
            "the content type must be a media type such as 'image/png' or "
            "'text/plain; charset=utf-8'",
            field="Content-Type",
        )
    return f"{match['type'].lower()}/{match['subtype'].lower()}{match['parameters']}"
