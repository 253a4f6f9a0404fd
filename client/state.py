"""The per-profile session file: server, log id, token, user, last processed offset.

Files live in `$CHAT_HOME` (or `~/.config/chat/`), one `<profile>.json` each,
readable by the owner only (0600: the token is a password). Writes go to a
temporary file in the same directory that is renamed over the old one, so a
crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from attrs import evolve, frozen

__all__ = ["PROFILE_PATTERN", "Session", "StateError", "StateStore", "state_dir"]

PROFILE_PATTERN: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_FILE_MODE: Final = 0o600
_DIR_MODE: Final = 0o700


class StateError(Exception):
    """The session file is unreadable, malformed, or cannot be written."""


@frozen(kw_only=True)
class Session:
    """What the client remembers between runs."""

    server: str
    log: str
    token: str
    user: str
    offset: int
    room: str = "general"

    def at(self, offset: int) -> Session:
        """The same session, having processed everything up to `offset`."""
        return evolve(self, offset=offset)

    def to_json(self) -> dict[str, object]:
        """The file's JSON object."""
        return {
            "server": self.server,
            "log": self.log,
            "token": self.token,
            "user": self.user,
            "offset": self.offset,
            "room": self.room,
        }

    @classmethod
    def from_json(cls, obj: object) -> Session:
        """Raises StateError when `obj` is not a session object."""
        if not isinstance(obj, dict):
            raise StateError("session file does not hold an object")
        try:
            server, log, token, user = (obj[k] for k in ("server", "log", "token", "user"))
            offset, room = obj["offset"], obj.get("room", "general")
        except KeyError as exc:
            raise StateError(f"session file lacks {exc.args[0]!r}") from exc
        if not all(isinstance(v, str) for v in (server, log, token, user, room)):
            raise StateError("session file has a field of the wrong type")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise StateError("session file has a bad offset")
        return cls(server=server, log=log, token=token, user=user, offset=offset, room=room)


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$CHAT_HOME`, else `~/.config/chat`."""
    env = os.environ if environ is None else environ
    home = env.get("CHAT_HOME")
    return Path(home) if home else Path.home() / ".config" / "chat"


class StateStore:
    """Reads and writes the session file of one profile."""

    def __init__(self, directory: Path, profile: str) -> None:
        if PROFILE_PATTERN.fullmatch(profile) is None:
            raise ValueError(f"profile names are 1-64 of A-Z a-z 0-9 _ . -, not {profile!r}")
        self.path = directory / f"{profile}.json"
        self.profile = profile

    def load(self) -> Session | None:
        """The stored session, or None when there is none.

        Raises StateError when the file exists but cannot be read or parsed.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read {self.path}: {exc.strerror}") from exc
        try:
            return Session.from_json(json.loads(text))
        except ValueError as exc:
            raise StateError(f"{self.path} is not valid JSON") from exc

    def save(self, session: Session) -> None:
        """Replace the stored session atomically, with mode 0600.

        Raises StateError when the file cannot be written.
        """
        data = json.dumps(session.to_json(), ensure_ascii=False, indent=1).encode("utf-8")
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
            try:
                os.fchmod(fd, _FILE_MODE)  # O_CREAT's mode is filtered by the umask
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            tmp.replace(self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StateError(f"cannot write {self.path}: {exc.strerror}") from exc

    def delete(self) -> bool:
        """Forget the session; True when there was one.

        Raises StateError when the file cannot be removed.
        """
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StateError(f"cannot remove {self.path}: {exc.strerror}") from exc
        return True
