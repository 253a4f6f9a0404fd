"""The line editor of interactive mode: keys in, lines out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from client.lineedit import EOF, LineEditor, complete_word

printable = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=40)
KEYS = [*"ab я 1", "\r", "\n", "\x7f", "\x08", "\x15", "\x17", "\x04", "\x1b", *"[OA~\t"]
keys = st.text(st.sampled_from(KEYS), max_size=60)


def feed_in_pieces(text: str, cuts: list[int]) -> tuple[list[str | None], str]:
    editor = LineEditor()
    done: list[str | None] = []
    start = 0
    for cut in [*sorted({c % (len(text) + 1) for c in cuts}), len(text)]:
        done += editor.feed(text[start:cut])
        start = cut
    return done, editor.buffer


@given(keys, st.lists(st.integers(min_value=0)))
def test_any_split_of_the_keys_gives_the_same_lines(text: str, cuts: list[int]) -> None:
    editor = LineEditor()
    whole = editor.feed(text)
    assert feed_in_pieces(text, cuts) == (whole, editor.buffer)


@given(st.lists(printable, max_size=5), st.sampled_from(["\r", "\n", "\r\n"]))
def test_typed_lines_come_out_as_typed(lines: list[str], enter: str) -> None:
    editor = LineEditor()
    assert editor.feed("".join(line + enter for line in lines)) == lines
    assert editor.buffer == ""


@given(printable, st.integers(0, 50))
def test_backspace_erases_from_the_end(text: str, erased: int) -> None:
    editor = LineEditor()
    editor.feed(text + "\x7f" * erased)
    assert editor.buffer == text[: max(0, len(text) - erased)]


def test_editing_keys() -> None:
    editor = LineEditor()
    assert editor.feed("helo\x7flo\r") == ["hello"]
    assert editor.feed("one two  \x17three\n") == ["one three"]
    assert editor.feed("gone\x15kept\r\n") == ["kept"]
    assert editor.feed("up\x1b[A\x1b[1;5Cdown\x1bOB!\r") == ["updown!"]
    assert editor.feed("\x1bx\tend\r") == [" end"]
    assert editor.feed("text\x04") == []  # Ctrl-D only ends an empty line
    assert editor.feed("\x15\x04") == [EOF]
    assert editor.feed("\x00\x07bell") == []
    assert editor.buffer == "bell"


def test_visible_tail_and_the_length_cap() -> None:
    editor = LineEditor(max_chars=5)
    editor.feed("abcdefgh")
    assert editor.buffer == "abcde"
    assert editor.visible_tail(3) == "cde"
    assert editor.visible_tail(0) == ""


def test_tab_completes_the_last_word() -> None:
    words = ["/history", "/help", "@bob", "@Bea", "bob"]
    assert complete_word("/hi", words) == "/history "
    assert complete_word("/h", words) == "/h"  # /help and /history: no common start beyond
    assert complete_word("hi @bo", words) == "hi @bob "
    assert complete_word("hi @b", words) == "hi @bob "  # @Bea: another case
    assert complete_word("hi @", words) == "hi @"  # @bob and @Bea
    assert complete_word("hi @x", words) == "hi @x"
    assert complete_word("@BO", words) == "@bob "  # case aside when nothing else matches
    editor = LineEditor(complete=lambda line: complete_word(line, words))
    assert editor.feed("/hi\t\r") == ["/history "]
    assert LineEditor().feed("a\tb\r") == ["a b"]  # no completer: a space
