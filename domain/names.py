"""Names of users and rooms: what is valid, and the keys names are compared by.

A user name is 1-32 characters of letters (any script), digits, `_`, `-`
and `.` (API.md). Names are unique case-insensitively: the *key* of a name
is its `casefold()`, and every lookup goes through the key, while events and
answers carry the spelling of the user's first connect.

Look-alikes: a name is NFKC-normalised first, so compatibility forms fold
into their plain letters (fullwidth `ａlice` is `alice`); its letters must
come from one script (`аlice`, with a Cyrillic `а`, mixes two and is
refused; Japanese and Korean may mix Han with their own scripts); and a new
name whose `skeleton` (UTS #39's idea: each character replaced by the Latin
letter it looks like) equals an existing user's is refused by the rules.
"""

from __future__ import annotations

import unicodedata

from domain.errors import ValidationError

GENERAL = "general"
DIRECT_PREFIX = "dm:"
# What a new member of a group room sees of its past: the unexpired history, or
# only what comes after their join.
HISTORY_SHARED = "shared"
HISTORY_JOINED = "joined"
MAX_NAME_CHARS = 32
MAX_PASSWORD_CHARS = 1024  # scrypt hashes any length; this bounds the work per request
_NAME_PUNCTUATION = frozenset("_-.")


def name_key(name: str) -> str:
    """The key a user name is compared and looked up by."""
    return name.casefold()


def check_user_name(name: object, *, field: str = "name") -> str:
    """Return the name, NFKC-normalised, if it is a valid user name.

    Raises ValidationError naming `field`.
    """
    if not isinstance(name, str):
        raise ValidationError("a user name must be a string", field=field)
    name = unicodedata.normalize("NFKC", name)
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise ValidationError(f"a user name has 1 to {MAX_NAME_CHARS} characters", field=field)
    if not all(
        c.isalnum() or c in _NAME_PUNCTUATION or (i > 0 and _is_mark(c)) for i, c in enumerate(name)
    ):
        raise ValidationError(
            "a user name may hold only letters, digits, '_', '-' and '.'", field=field
        )
    scripts = {_script(c) for c in name} - {_COMMON}
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_MIXES):
        raise ValidationError(
            "a user name may not mix letters of several scripts ("
            + ", ".join(sorted(s.lower() for s in scripts))
            + ")",
            field=field,
        )
    return name


def _is_mark(char: str) -> bool:
    """A combining mark: the vowel signs of Indic scripts, accents written apart."""
    return unicodedata.category(char).startswith("M")


_COMMON = "COMMON"
# Scripts that are written together (UTS #39's "highly restrictive" level).
_SCRIPT_MIXES = (
    frozenset({"CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"CJK", "HANGUL"}),
    frozenset({"CJK", "BOPOMOFO"}),
)
# Words that begin character names without naming a script.
_NOT_SCRIPTS = frozenset(
    {"COMBINING", "DIGIT", "FULLWIDTH", "HALFWIDTH", "MATHEMATICAL", "MODIFIER"}
)


def _script(char: str) -> str:
    """The script of a character, as the first word of its Unicode name says (roughly)."""
    if char.isascii() and not char.isalpha():
        return _COMMON  # digits, `_`, `-`, `.`
    name = unicodedata.name(char, "")
    first = name.split(" ", 1)[0]
    if not first or first in _NOT_SCRIPTS:
        return _COMMON
    return first


# Characters that look like a Latin letter (or digit), and what they look like.
_LOOKS_LIKE: dict[str, str] = {
    # Cyrillic
    **dict(zip("аеорсухіјѕԁһԛԝɡӏ", "aeopcyxijsdhqwgl", strict=True)),
    **dict(zip("АВЕКМНОРСТУХІЈЅ", "abekmhopctyxijs", strict=True)),
    # Greek
    **dict(zip("αβεικνορτυχ", "abeiknoptux", strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "abezhikmnoptyx", strict=True)),
    # Latin and digits that pass for other letters
    "ı": "i",
    "ℓ": "l",
    "I": "l",
    "1": "l",
    "|": "l",
    "0": "o",
    "O": "o",
}
_LOOKS_LIKE_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"))


def name_skeleton(name: str) -> str:
    """What a name looks like: look-alike characters replaced by one prototype each.

    Two names with the same skeleton are confusable (`alice`, `аlice`, `aIice`).
    """
    shown = unicodedata.normalize("NFKC", name)
    skeleton = "".join(_LOOKS_LIKE.get(c) or c.casefold() for c in shown)
    for pair, single in _LOOKS_LIKE_PAIRS:
        skeleton = skeleton.replace(pair, single)
    return skeleton


def check_password(password: object) -> str:
    """Return the password if it is acceptable. Raises ValidationError."""
    if not isinstance(password, str) or not 1 <= len(password) <= MAX_PASSWORD_CHARS:
        raise ValidationError(
            f"a password is a string of 1 to {MAX_PASSWORD_CHARS} characters", field="password"
        )
    return password


def check_text(text: object, *, field: str = "text") -> str:
    """Return the text of a message if it is a string with something to show.

    Whitespace-only text is refused: it would show as an empty line. How long
    a text may be is a rule (`RulesConfig.max_text_length`).
    Raises ValidationError.
    """
    if not isinstance(text, str):
        raise ValidationError("text must be a string", field=field)
    if not text.strip():
        raise ValidationError("text must not be empty", field=field)
    if "\x00" in text:
        raise ValidationError("text must not contain NUL characters", field=field)
    return text


def direct_room_id(first: str, second: str) -> str:
    """The id of the direct room of two users: `dm:<key>:<key>`, keys sorted."""
    a, b = sorted((name_key(first), name_key(second)))
    return f"{DIRECT_PREFIX}{a}:{b}"


MAX_ROOM_NAME_CHARS = 64


def check_room_name(name: object) -> str:
    """Return a group room's name if it has 1-64 characters and no control characters.

    Raises ValidationError.
    """
    if not isinstance(name, str):
        raise ValidationError("a room name must be a string", field="name")
    name = unicodedata.normalize("NFC", name).strip()
    if not 1 <= len(name) <= MAX_ROOM_NAME_CHARS:
        raise ValidationError(
            f"a room name has 1 to {MAX_ROOM_NAME_CHARS} characters", field="name"
        )
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        raise ValidationError("a room name must not contain control characters", field="name")
    return name
