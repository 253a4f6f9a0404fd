"""The search index: which held messages hold a word, found by any prefix of it.

How this works: a text's *words* are its runs of letters, digits and `_`
after NFKC normalisation and case folding (`text_words`), each cut to
MAX_WORD_CHARS. `postings` maps each word to the ids of the held messages
that contain it, ascending; `by_prefix` maps each of a word's first one,
two and three characters to the words that start so. A query word is
looked up through the bucket of its first three characters (or the whole
word when it is shorter) and then by `startswith`, so a word is found by
any prefix of it, and a search touches only the posting lists of the words
it names.

The index holds exactly the messages the timeline holds, with their
current text: a message is added when sent, its words swapped when edited,
and removed when deleted or forgotten. Forgetting takes the oldest messages
first, and ids grow with time, so what one batch forgets is, in every
posting list, a prefix: one slice per word (`forget_below`).
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from heapq import merge

from attrs import define, field

MAX_WORD_CHARS = 40  # longer words are indexed (and looked up) by their first 40
PREFIX_CHARS = 3
_WORD = re.compile(r"\w+")


def _folded(text: str) -> str:
    # ASCII is its own NFKC form: most texts skip the normalisation.
    return (text if text.isascii() else unicodedata.normalize("NFKC", text)).casefold()


def text_words(text: str) -> set[str]:
    """The distinct words of `text` as the index keeps them."""
    return {word[:MAX_WORD_CHARS] for word in _WORD.findall(_folded(text))}


def query_words(text: str) -> list[str]:
    """The words of a query, in order, without repeats (each must match a word's prefix)."""
    return list(dict.fromkeys(word[:MAX_WORD_CHARS] for word in _WORD.findall(_folded(text))))


def _prefixes(word: str) -> Iterator[str]:
    return (word[:n] for n in range(1, min(len(word), PREFIX_CHARS) + 1))


@define(kw_only=True, getstate_setstate=False)
class SearchIndex:
    # word -> message ids, ascending; 8 bytes an id (a list would hold an int object each
    # once a snapshot is loaded)
    postings: dict[str, array[int]] = field(factory=dict)
    by_prefix: dict[str, set[str]] = field(factory=dict)  # 1-3 first characters -> words

    def add(self, message_id: int, text: str) -> None:
        for word in text_words(text):
            ids = self.postings.get(word)
            if ids is None:
                self.postings[word] = array("q", (message_id,))
                for prefix in _prefixes(word):
                    self.by_prefix.setdefault(prefix, set()).add(word)
            elif ids[-1] < message_id:
                ids.append(message_id)
            else:  # an edit gives an older message a new word
                insort(ids, message_id)

    def remove(self, message_id: int, text: str) -> None:
        for word in text_words(text):
            ids = self.postings.get(word)
            if ids is None:
                continue
            at = bisect_left(ids, message_id)
            if at < len(ids) and ids[at] == message_id:
                del ids[at]
                if not ids:
                    self._drop(word)

    def forget_below(self, texts: Iterable[str], below: int) -> None:
        """Forget every id below `below` from the words of `texts` (the messages forgotten)."""
        touched: set[str] = set()
        for text in texts:
            touched |= text_words(text)
        for word in touched:
            ids = self.postings.get(word)
            if ids is not None:
                del ids[: bisect_left(ids, below)]
                if not ids:
                    self._drop(word)

    def _drop(self, word: str) -> None:
        del self.postings[word]
        for prefix in _prefixes(word):
            bucket = self.by_prefix[prefix]
            bucket.discard(word)
            if not bucket:
                del self.by_prefix[prefix]

    def matching(self, prefix: str) -> list[str]:
        """The indexed words that start with `prefix`."""
        bucket = self.by_prefix.get(prefix[:PREFIX_CHARS], ())
        if len(prefix) <= PREFIX_CHARS:
            return list(bucket)
        return [word for word in bucket if word.startswith(prefix)]

    def size(self, prefix: str) -> int:
        """How many ids the words starting with `prefix` hold (repeats counted)."""
        return sum(len(self.postings[word]) for word in self.matching(prefix))

    def newest_first(self, prefix: str, before: int) -> Iterator[int]:
        """The ids below `before` of messages with a word starting with `prefix`, newest first."""
        lists = [self.postings[word] for word in self.matching(prefix)]
        runs = [_descending(ids, bisect_left(ids, before)) for ids in lists]
        previous = None
        for message_id in merge(*runs, reverse=True):
            if message_id != previous:  # two words of one message
                previous = message_id
                yield message_id


def _descending(ids: array[int], stop: int) -> Iterator[int]:
    return (ids[i] for i in range(stop - 1, -1, -1))
