"""The forms of what requests carry (names, room ids, tokens, ids, texts) as JSON Schemas.

How this works: each form is stated as exactly as JSON Schema can state the
server's rule for it (`domain.names`, `domain.files`, `app.inputs`,
`transport.api.params`), so that the document admits every request the
server accepts and none it refuses with `400`. Patterns are ECMA-262
regular expressions, as JSON Schema wants. Unicode property escapes such as
`\\p{L}` are not used: jsonschema-rs reads them, but schemathesis rewrites
them into a Latin-only approximation before it generates or validates
(`schemathesis.core.jsonschema.patterns`), so it would refuse `Ωmega` in an
answer. The character sets the rules take from Unicode (letters and digits
as `str.isalnum` has them, whitespace as `str.strip` removes it, control and
format characters) are spelt out instead as code point ranges, computed
from the server's own Unicode database, so they are exactly the rules'.

What JSON Schema cannot say is in the descriptions and in `docs/api.md`:
the server reads names and room names after NFC normalisation (a decomposed
spelling that the pattern refuses may be accepted, and the 59 letters NFC
splits into a letter and a mark are refused); a file name's limit is in
UTF-8 bytes; `send_at` may be at most 30 days after the clock's now.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from typing import Final

from attrs import frozen

from app import Settings
from transport.api.openapi import Parameter, Schema
from transport.api.params import MAX_DIGITS

__all__ = [
    "MAX_NAME_CHARS",
    "MAX_NATURAL",
    "CharacterSets",
    "character_sets",
    "name_pattern",
    "ROOM_ID_PATTERN",
    "HEX64_PATTERN",
    "char_class",
    "text_schema",
    "natural_schema",
    "page_size_schema",
    "query_number",
    "nullable",
    "room_name_schema",
    "file_name_schema",
    "schemas",
]

# A rule of domain.names, which does not export it; a test compares the two.
MAX_NAME_CHARS: Final = 32
MAX_NATURAL: Final = 10**MAX_DIGITS - 1  # the most digits params.natural reads


@frozen
class CharacterSets:
    """Code point ranges of the character sets the server's rules take from Unicode."""

    alphanumeric: tuple[tuple[int, int], ...]  # `str.isalnum`: categories L and N
    marks: tuple[tuple[int, int], ...]  # categories Mn, Mc, Me (vowel signs, accents)
    whitespace: tuple[tuple[int, int], ...]  # `str.isspace`, which `str.strip` removes
    control_or_format: tuple[tuple[int, int], ...]  # categories Cc and Cf


def _ranges(codes: list[int]) -> tuple[tuple[int, int], ...]:
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return tuple(ranges)


@functools.cache
def character_sets() -> CharacterSets:
    """The sets as this Python's Unicode database has them: the very ones the rules use.

    One pass over every code point (about 0.3 s), once per process.
    """
    alphanumeric: list[int] = []
    marks: list[int] = []
    whitespace: list[int] = []
    control_or_format: list[int] = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char.isalnum():
            alphanumeric.append(code)
            continue
        if unicodedata.category(char).startswith("M"):
            marks.append(code)
        if char.isspace():
            whitespace.append(code)
        if unicodedata.category(char) in ("Cc", "Cf"):
            control_or_format.append(code)
    return CharacterSets(
        alphanumeric=_ranges(alphanumeric),
        marks=_ranges(marks),
        whitespace=_ranges(whitespace),
        control_or_format=_ranges(control_or_format),
    )


def _char(code: int) -> str:
    # BMP code points as \uXXXX escapes, which every regex dialect here reads the same;
    # the others as themselves (ECMA-262 spells them \u{...}, Python \U........).
    return f"\\u{code:04X}" if code <= 0xFFFF else chr(code)


def char_class(*ranges: tuple[tuple[int, int], ...]) -> str:
    """The inside of a regex character class (no brackets) holding these code point ranges."""
    return "".join(
        _char(low) if low == high else f"{_char(low)}-{_char(high)}"
        for group in ranges
        for low, high in group
    )


def name_pattern() -> str:
    """A user name: 1-32 letters and digits, `_`, `-`, `.`, and marks after the first.

    Letters and digits as `str.isalnum` has them; marks are the combining ones
    (Indic vowel signs, accents written apart).
    """
    sets = character_sets()
    first = f"{char_class(sets.alphanumeric)}_.\\-"
    rest = f"{first}{char_class(sets.marks)}"
    return f"^[{first}][{rest}]{{0,{MAX_NAME_CHARS - 1}}}$"


def _whitespace() -> str:
    return char_class(character_sets().whitespace)


def _control_or_format() -> str:
    return char_class(character_sets().control_or_format)


# A room id; a direct room's holds the two names casefolded (which may add marks: İ -> i̇).
ROOM_ID_PATTERN: Final = (  # no control character (C0, DEL, C1): the HTTP layer refuses them
    r"^(?:general|g[0-9]+"
    r"|dm:[^:\u0000-\u001F\u007F-\u009F]+:[^:\u0000-\u001F\u007F-\u009F]+)$"
)
HEX64_PATTERN: Final = "^[0-9a-f]{64}$"  # 256 random bits: a session token, a link token


def text_schema(settings: Settings) -> Schema:
    """The text of a message or a comment (`domain.check_text`, `max_text_length`)."""
    # Something to show (not only whitespace, as `str.strip` sees it), and no NUL anywhere.
    pattern = f"^[^\\u0000]*[^\\u0000{_whitespace()}][^\\u0000]*$"
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": settings.max_text_length,
        "pattern": pattern,
        "description": f"1-{settings.max_text_length} characters, not only whitespace, no NUL.",
    }


def room_name_schema(max_chars: int) -> Schema:
    """A group room's name (`domain.check_room_name`): checked after trimming whitespace."""
    space, banned = _whitespace(), _control_or_format()
    inner = f"[^{space}{banned}]"
    pattern = f"^[{space}]*{inner}(?:[^{banned}]{{0,{max_chars - 2}}}{inner})?[{space}]*$"
    return {
        "type": "string",
        "pattern": pattern,
        "description": f"1-{max_chars} characters once surrounding whitespace is trimmed, "
        "none of them a control or format character (Unicode Cc, Cf); need not be unique.",
    }


def file_name_schema(max_bytes: int) -> Schema:
    """An uploaded file's name (`domain.check_file_name`)."""
    space = _whitespace()
    # Once surrounding whitespace is trimmed, something but dots is left: a character that is
    # neither, or whitespace between two characters that are not whitespace.
    anything = "[\\s\\S]*"
    pattern = (
        f"^(?:{anything}[^.{space}]{anything}|{anything}[^{space}][{space}]+[^{space}]{anything})$"
    )
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_bytes,
        "pattern": pattern,
        "description": f"At most {max_bytes} bytes of UTF-8 (so fewer characters when some "
        "are not ASCII); once surrounding whitespace is trimmed, not only dots; path "
        "separators and control characters become `_`.",
    }


# What the HTTP layer refuses in any query value (400 `bad_request`): C0, DEL and C1.
QUERY_TEXT_PATTERN: Final = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"


def in_query(schema: Schema) -> Schema:
    """A string schema as a query value: no control character may travel there."""
    return {"allOf": [schema, {"pattern": QUERY_TEXT_PATTERN}]}


def natural_schema(minimum: int, description: str | None = None) -> Schema:
    """A whole number as the server reads it: plain ASCII digits, at most 19 of them."""
    schema: Schema = {"type": "integer", "minimum": minimum, "maximum": MAX_NATURAL}
    if description is not None:
        schema["description"] = description
    return schema


def page_size_schema(default: int, maximum: int) -> Schema:
    """How many items one answer holds (`app.inputs.check_limit`)."""
    return {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}


def query_number(name: str, schema: Schema, description: str, example: float) -> Parameter:
    """An optional number in the query; given empty (`?limit=`), it counts as left out."""
    return Parameter(
        name=name,
        location="query",
        schema=schema,
        description=description,
        example=example,
        allow_empty_value=True,
    )


def nullable(schema: Schema) -> Schema:
    """`schema` or `null`: an optional field whose `null` the server reads as leaving it out."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def schemas(settings: Settings) -> dict[str, Schema]:
    """The component schemas of user names and room ids."""
    return {
        "Name": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_NAME_CHARS,
            "pattern": name_pattern(),
            "description": f"1-{MAX_NAME_CHARS} letters (any script), digits, `_`, `-`, `.`, "
            "and combining marks after the first character; unique case-insensitively. "
            "Letters, digits and marks are Unicode's categories L, N and M "
            f"(Unicode {unicodedata.unidata_version}), spelt out as ranges in the pattern. "
            "What the pattern cannot state: the server reads a name after NFKC "
            "normalisation (fullwidth and other compatibility forms fold into plain "
            "letters), a name's letters must come from one script (Han may go with kana "
            "or hangul), and a new name that looks like an existing one is refused "
            "(409 `conflict`).",
            "examples": ["alice"],
        },
        "RoomId": {
            "type": "string",
            "pattern": ROOM_ID_PATTERN,
            "description": "`general`, a direct room `dm:<a>:<b>` (the two names casefolded "
            "and sorted) or a group room `g<offset>`.",
            "examples": ["general", "dm:alice:bob"],
        },
    }
