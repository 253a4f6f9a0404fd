"""A minimal line editor for a terminal in cbreak mode: keys in, lines out.

How this works: interactive mode turns off the terminal's own line editing
and echo, so that it always knows what has been typed so far and can redraw
it below a message that arrives mid-line. This module is the pure part: text
read from the terminal is fed in (in pieces of any size); it keeps the line
being typed and returns the lines completed with Enter, and `EOF` for Ctrl-D
on an empty line. Supported keys: printable characters, Backspace, Ctrl-U
(erase the line), Ctrl-W (erase a word), Enter, Ctrl-D, and Tab, which
completes the word being typed when the editor has a `complete` function
(`complete_word` is the usual one: the longest common start of the
candidates that begin with it). Escape sequences (arrow keys, function
keys) are recognised and ignored.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import Final

__all__ = ["EOF", "LineEditor", "complete_word"]

EOF: Final = None
_ENTER: Final = frozenset("\r\n")
_BACKSPACE: Final = frozenset("\x7f\x08")
_ERASE_LINE: Final = "\x15"  # Ctrl-U
_ERASE_WORD: Final = "\x17"  # Ctrl-W
_END_OF_FILE: Final = "\x04"  # Ctrl-D
_ESC: Final = "\x1b"
# ECMA-48: a CSI sequence ends with a byte in 0x40-0x7E.
_CSI_FINAL: Final = frozenset(chr(c) for c in range(0x40, 0x7F))


class LineEditor:
    """Keeps the line being typed; `feed` returns the lines finished meanwhile."""

    def __init__(
        self, max_chars: int = 16_000, complete: Callable[[str], str] | None = None
    ) -> None:
        self.buffer = ""
        self.max_chars = max_chars
        self.complete = complete  # the line typed so far -> the line completed
        self._escape = ""  # a partly read escape sequence
        self._after_cr = False

    def feed(self, text: str) -> list[str | None]:
        """Apply typed `text`; the completed lines, with `EOF` for Ctrl-D on an empty line."""
        done: list[str | None] = []
        for char in text:
            if self._escape:
                self._escape_step(char)
                continue
            after_cr, self._after_cr = self._after_cr, char == "\r"
            if char in _ENTER:
                if char == "\n" and after_cr:
                    continue  # CR LF is one Enter
                done.append(self.buffer)
                self.buffer = ""
            elif char in _BACKSPACE:
                self.buffer = self.buffer[:-1]
            elif char == _ERASE_LINE:
                self.buffer = ""
            elif char == _ERASE_WORD:
                self.buffer = self.buffer.rstrip(" ")
                self.buffer = self.buffer[: self.buffer.rfind(" ") + 1]
            elif char == _END_OF_FILE:
                if not self.buffer:
                    done.append(EOF)
            elif char == _ESC:
                self._escape = char
            elif char == "\t":
                if self.complete is None:
                    self._insert(" ")
                else:
                    self.buffer = self.complete(self.buffer)[: self.max_chars]
            elif unicodedata.category(char) != "Cc":  # any text, no control characters
                self._insert(char)
        return done

    def _insert(self, char: str) -> None:
        if len(self.buffer) < self.max_chars:
            self.buffer += char

    def _escape_step(self, char: str) -> None:
        if self._escape == _ESC:
            # ESC [ ... (CSI) and ESC O x (SS3) go on; any other pair ends here.
            self._escape = _ESC + char if char in "[O" else ""
        elif self._escape == _ESC + "O" or char in _CSI_FINAL:
            self._escape = ""
        else:
            self._escape += char

    def visible_tail(self, width: int) -> str:
        """The end of the line being typed that fits in `width` columns."""
        if width <= 0:
            return ""
        return self.buffer[-width:]


def complete_word(line: str, candidates: Iterable[str]) -> str:
    """`line` with its last word completed as far as the `candidates` agree.

    One match is completed with a space after it; several, up to their
    longest common start (case aside when the word's case differs); none
    leaves the line as it is.
    """
    head, _, word = line.rpartition(" ")
    prefix = f"{head} " if head or line.startswith(" ") else ""
    matches = sorted({c for c in candidates if c.startswith(word)}) or sorted(
        {c for c in candidates if c.casefold().startswith(word.casefold())}
    )
    if not matches:
        return line
    if len(matches) == 1:
        return f"{prefix}{matches[0]} "
    common = _common_start(matches)
    return f"{prefix}{common}" if len(common) >= len(word) else line


def _common_start(words: list[str]) -> str:
    first, last = min(words), max(words)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]
