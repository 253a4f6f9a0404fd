"""The search index: what it holds is always what the held messages' texts make."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain import MessageDeleted, MessageEdited, MessageSent
from projections import ReadModel, SearchIndex, fold, query_words, text_words

TTL_S = 100.0
words = st.sampled_from(["lunch", "Lunchtime", "noon", "Ω", "ωmega", "x_y", "12", "ünï"])
texts = st.lists(words, min_size=1, max_size=4).map(" ".join)
steps = st.lists(
    st.tuples(
        st.sampled_from(["send", "edit", "delete"]), texts, st.integers(0, 30), st.floats(0, 40)
    ),
    max_size=40,
)


def rebuilt(model: ReadModel) -> SearchIndex:
    index = SearchIndex()
    for record in sorted(model.timeline, key=lambda r: r.id):
        index.add(record.id, record.text)
    return index


@given(steps)
def test_the_index_holds_exactly_the_held_messages_words(
    script: list[tuple[str, str, int, float]],
) -> None:
    model = ReadModel(ttl_s=TTL_S)
    ts, offset = 1000.0, 0
    sent: list[int] = []
    for action, text, pick, wait in script:
        offset += 1
        ts += wait
        if action == "send" or not sent:
            fold(model, [(offset, ts, MessageSent(room="general", author="a", text=text))])
            sent.append(offset)
            continue
        target = sent[pick % len(sent)]
        event = (
            MessageEdited(message=target, room="general", author="a", text=text)
            if action == "edit"
            else MessageDeleted(message=target, room="general", author="a")
        )
        fold(model, [(offset, ts, event)])
        assert model.timeline.index == rebuilt(model)
    assert model.timeline.index == rebuilt(model)


def test_words_are_folded_and_found_by_their_prefixes() -> None:
    assert text_words("Ｌunch, LUNCH-time!") == {"lunch", "time"}
    assert query_words("lun LUN noon") == ["lun", "noon"]
    index = SearchIndex()
    index.add(1, "Lunch at noon")
    index.add(2, "lunchtime")
    index.add(3, "no")
    assert sorted(index.matching("lunch")) == ["lunch", "lunchtime"]
    assert sorted(index.matching("no")) == ["no", "noon"]
    assert list(index.newest_first("lun", before=10)) == [2, 1]
    assert list(index.newest_first("lun", before=2)) == [1]
    index.remove(2, "lunchtime")
    assert index.matching("lunch") == ["lunch"]
    index.forget_below(["Lunch at noon", "no"], below=4)
    assert index == SearchIndex()
