"""The session file of a profile: round trips, broken files, names that cannot escape."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.state import Session, StateError, StateStore, state_dir
from tests.client.strategies import names, offsets

sessions = st.builds(
    Session,
    server=st.just("http://127.0.0.1:8000"),
    log=st.text(min_size=1),
    token=st.text(min_size=1),
    user=names,
    offset=offsets,
    room=st.sampled_from(["general", "dm:a:b", "g3"]),
)


@given(sessions)
def test_session_file_round_trip(session: Session) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = StateStore(Path(directory) / "nested", "work.1")
        assert store.load() is None
        store.save(session)
        assert store.load() == session
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
        store.save(session.at(session.offset + 1))
        loaded = store.load()
        assert loaded is not None
        assert loaded.offset == session.offset + 1
        assert [p.name for p in store.path.parent.iterdir()] == ["work.1.json"]
        assert store.delete()
        assert not store.delete()


@pytest.mark.parametrize(
    "content",
    ["", "[]", "{}", '{"server": "s", "log": "l", "token": "t", "user": "u", "offset": -1}'],
)
def test_a_broken_session_file_is_a_state_error(tmp_path: Path, content: str) -> None:
    store = StateStore(tmp_path, "default")
    store.path.write_text(content)
    with pytest.raises(StateError):
        store.load()


@pytest.mark.parametrize("profile", ["", "../x", "a/b", "x" * 65, "é"])
def test_profile_names_cannot_escape_the_directory(tmp_path: Path, profile: str) -> None:
    with pytest.raises(ValueError, match="profile"):
        StateStore(tmp_path, profile)


def test_state_dir() -> None:
    assert state_dir({"CHAT_HOME": "/x/y"}) == Path("/x/y")
    assert state_dir({}) == Path.home() / ".config" / "chat"
