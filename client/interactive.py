"""Interactive mode: a prompt, incoming messages printed above it, slash commands.

How this works: three things run at once on one event loop, each with its
own job. A reader thread blocks on the terminal and hands the keys typed to
the loop (so typing is never held up by the network); the terminal is in
cbreak mode and `LineEditor` keeps the line being typed, so that a message
arriving mid-line is printed above it and the half-typed text is drawn
again. The follower long-polls `/events` on its own connection and prints
what arrives. Typed messages go into an outbox that one sender task empties
in order on a second connection; a send that fails on the network is retried
with the same `Idempotency-Key` until it goes through, so nothing typed is
lost and nothing is sent twice. A sent message is shown when it comes back
as an event, like the ones sent from the user's other clients.

The commands of the session itself (`/room`, `/msg`, `/history`, `/quit`
...) are here; the slash forms of the features' subcommands (`/create`,
`/schedule`, `/upload` ...) come from the feature modules (`SLASH_FEATURES`)
and run through `client.slash`.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import shutil
import termios
import threading
import tty
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Final, TextIO

from attrs import evolve, frozen

from client import edits, files, messages, moderation, privacy, rooms, schedule, slash
from client.api import ApiError, refusal_text
from client.context import Context, UsageError, new_idempotency_key, session_api, until_interrupted
from client.http import HttpClientError
from client.identity import Status, status_lines
from client.lineedit import EOF, LineEditor, complete_word
from client.messages import MessagesApi, message_line
from client.polling import Event, Follower, PollingApi, alert_summary, event_line
from client.retry import Backoff, retrying
from client.room_book import RoomBook
from client.rooms import room_lines
from client.state import Session, StateError
from client.terminal import printable

__all__ = ["HELP", "SLASH_HELP", "SessionApi", "run", "slash_commands"]

HISTORY_ON_START: Final = 20
HISTORY_DEFAULT: Final = 20
READ_BYTES: Final = 4096
_CLEAR_LINE: Final = "\r\x1b[K"

# The features' slash forms of their subcommands, and their help in that order.
SLASH_FEATURES: Final[tuple[slash.SlashCommands, ...]] = (
    rooms.slash_commands,
    messages.slash_commands,
    edits.slash_commands,
    schedule.slash_commands,
    moderation.slash_commands,
    privacy.slash_commands,
    files.slash_commands,
)
SLASH_HELP: Final = "\n".join(
    (
        rooms.SLASH_HELP,
        messages.SLASH_HELP,
        edits.SLASH_HELP,
        schedule.SLASH_HELP,
        moderation.SLASH_HELP,
        privacy.SLASH_HELP,
        files.SLASH_HELP,
    )
)
HELP: Final = """\
Type a line to send it to the current room. Commands:
  /room <room>        switch to a room (its name, general, g42 or @bob)
  /msg <user> <text>  send a direct message
  /rooms              your rooms and unread counts
  /history [n]        the last n messages of the current room
  /status             who you are, cursor, who is online
  /who                who is online
  /help               this text
  /quit               leave (Ctrl-D works too)
Tab completes commands, @names and room names. A direct message or a mention
of you (@name) rings the bell."""


class SessionApi(MessagesApi, PollingApi):
    """What interactive mode calls: sending, history, status and the long poll."""


def slash_commands(shell: slash.Shell) -> dict[str, slash.Command]:
    """The slash forms of the features' subcommands, bound to `shell`."""
    return slash.bind(shell, SLASH_FEATURES)


@frozen(kw_only=True)
class Outgoing:
    """A typed message waiting to be sent; the key makes retries safe."""

    text: str
    room: str | None = None
    to: str | None = None
    key: str


class Screen:
    """Lines above, and the prompt with what is being typed on the last line."""

    def __init__(
        self, out: TextIO, err: TextIO, prompt: Callable[[], str], editor: LineEditor
    ) -> None:
        self.out = out
        self.err = err
        self.prompt = prompt
        self.editor = editor

    def show(self, line: str) -> None:
        """Print `line` above the input line."""
        self.out.write(f"{_CLEAR_LINE}{line}\n")
        self.redraw()

    def notice(self, line: str) -> None:
        """Print a status line on `err` above the input line."""
        self.out.write(_CLEAR_LINE)
        self.out.flush()
        self.err.write(f"-- {line}\n")
        self.err.flush()
        self.redraw()

    def entered(self, line: str) -> None:
        """The user pressed Enter: leave the typed line on the screen, whole."""
        self.out.write(f"{_CLEAR_LINE}{self.prompt()}{line}\n")
        self.out.flush()

    def redraw(self) -> None:
        """Draw the prompt and the end of the line being typed (as much as fits)."""
        prompt = self.prompt()
        width = shutil.get_terminal_size().columns - len(prompt) - 1
        self.out.write(f"{_CLEAR_LINE}{prompt}{self.editor.visible_tail(width)}")
        self.out.flush()


def _read_keys(fd: int, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    # os.read, not sys.stdin: a thread blocked inside the buffered reader would
    # hold its lock and could stall interpreter shutdown.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        while data := os.read(fd, READ_BYTES):
            if text := decoder.decode(data):
                loop.call_soon_threadsafe(queue.put_nowait, text)
        loop.call_soon_threadsafe(queue.put_nowait, None)
    except (OSError, RuntimeError):
        pass  # the terminal went away, or the loop is closed: the program is ending


@contextlib.contextmanager
def cbreak(fd: int) -> Iterator[None]:
    """Turn off the terminal's line editing and echo (keys arrive one by one; Ctrl-C still
    interrupts), and restore the terminal's settings afterwards."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd, termios.TCSANOW)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _why(exc: ApiError | HttpClientError) -> str:
    return refusal_text(exc) if isinstance(exc, ApiError) else str(exc)


class Interactive:
    """One interactive session; `run()` returns the exit status."""

    def __init__(
        self, ctx: Context, session: Session, cmd_api: SessionApi, poll_api: SessionApi
    ) -> None:
        self.ctx = ctx
        self.session = session
        self.me = session.user
        self.room = session.room
        self.cmd_api = cmd_api
        self.poll_api = poll_api
        self.book = RoomBook(cmd_api, ctx.display(self.me))
        self.display = self.book.display
        self.newest: dict[str, int] = {}  # room -> the newest message id shown
        self.online: tuple[str, ...] = ()
        self.start_head: int | None = None  # events up to here were missed while away
        self.editor = LineEditor(complete=self._complete)
        self.screen = Screen(ctx.out, ctx.err, self._prompt, self.editor)
        self.keys: asyncio.Queue[str | None] = asyncio.Queue()
        self.outbox: asyncio.Queue[Outgoing] = asyncio.Queue()
        self.unsent = 0  # typed, not yet answered by the server
        self.commands: dict[str, Callable[[str], Awaitable[bool]]] = {
            "/room": self._cmd_room,
            "/msg": self._cmd_msg,
            "/rooms": self._cmd_rooms,
            "/history": self._cmd_history,
            "/status": self._cmd_status,
            "/who": self._cmd_who,
            "/help": self._cmd_help,
            "/quit": self._cmd_quit,
        }
        self.commands.update(slash_commands(self))

    def _prompt(self) -> str:
        return f"[{printable(self.display.label(self.room))}] "

    def newest_message(self) -> int | None:
        """The newest message shown in the current room (`/comment last`)."""
        return self.newest.get(self.room)

    def _shown(self, room: str, message: int) -> None:
        self.newest[room] = max(self.newest.get(room, 0), message)

    def _complete(self, line: str) -> str:
        """Tab: a command, `@name`, a user's name, or a room's id or name (`/room`)."""
        words = line.split(" ")
        if len(words) == 1 and line.startswith("/"):
            return complete_word(line, self.commands)
        names = {*self.display.names.values(), *self.online}
        if words[-1].startswith("@"):
            return complete_word(line, [f"@{n}" for n in names])
        if words[0] == "/room" and len(words) == 2:
            rooms = {*self.book.rooms, *(r.name for r in self.book.rooms.values())}
            return complete_word(line, {*rooms, *(f"@{n}" for n in names)})
        return complete_word(line, names)

    def notice(self, line: str) -> None:
        """A status line (stderr), shown above the prompt."""
        self.screen.notice(line)

    async def run(self) -> int:
        """Show history, then read, send and follow until /quit, EOF or a signal."""
        with cbreak(0):
            return await self._run()

    async def _run(self) -> int:
        self.ctx.say(f"{self.me} on {self.session.server}; /help lists the commands")
        with contextlib.suppress(ApiError, HttpClientError):
            status = await self.cmd_api.status()
            self.book.learn(status.rooms)
            self.online = status.online
            if status.log == self.session.log and status.offset > self.session.offset:
                self.start_head = status.offset
        await self._show_recent()
        self.screen.redraw()
        loop = asyncio.get_running_loop()
        reader = threading.Thread(
            target=_read_keys, args=(0, loop, self.keys), name="stdin-reader", daemon=True
        )
        reader.start()
        follower = Follower(
            self.poll_api,
            self.session,
            self.ctx.store,
            on_event=self._on_event,
            notice=self.notice,
            stream=self.poll_api.event_stream,
        )
        tasks = [
            asyncio.ensure_future(follower.run()),
            asyncio.ensure_future(self._send_loop()),
            asyncio.ensure_future(self._read_loop()),
        ]

        async def first_to_end() -> None:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise why it ended (e.g. unauthorized)

        try:
            await until_interrupted(first_to_end())
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Remember the room for next time, unless the profile was disconnected meanwhile
            # (a revoked token may be met while `chat disconnect` is still deleting it).
            revoked = any(
                t.done() and not t.cancelled() and isinstance(t.exception(), ApiError)
                for t in tasks
            )
            with contextlib.suppress(StateError):
                if not revoked and self.ctx.store.load() is not None:
                    self.ctx.store.save(evolve(follower.session, room=self.room))
            self.ctx.out.write("\n")
            self.ctx.out.flush()
        return 0

    async def _show_recent(self) -> None:
        try:
            page = await self.ctx.retry(
                lambda: self.cmd_api.history(self.room, limit=HISTORY_ON_START)
            )
        except ApiError as exc:
            self.ctx.say(f"-- cannot show {self.room}: {exc.message}")
            return
        except HttpClientError as exc:
            # Go on: the follower and the sender keep trying until it is back.
            self.ctx.say(f"-- cannot show {self.room} now: {exc}")
            return
        # Newer ones come as events from the saved offset: shown once, in order.
        seen = [m for m in reversed(page.messages) if m.id <= self.session.offset]
        if seen:
            self.ctx.say(f"-- last messages in {self.display.label(self.room)} --")
            for message in seen:
                self._shown(message.room, message.id)
                self.ctx.say(message_line(message, self.display))

    async def _on_event(self, event: Event) -> None:
        if event.type == "room.created" and isinstance(event.raw.get("room"), dict):
            room = event.raw["room"]
            members = [m for m in room.get("members") or () if isinstance(m, str)]
            self.display.learn_room(
                str(room.get("id")), str(room.get("name")), str(room.get("kind")), members
            )
        line = event_line(event, self.display)
        if line is None:
            return
        if self.start_head is not None:
            if event.offset <= self.start_head:
                self.screen.show("-- new since last time --")
            self.start_head = None  # said once, and only when something follows
        if event.message is not None:
            self._shown(event.message.room, event.message.id)
        self.screen.show(line)
        summary = alert_summary(event, self.display)
        if summary is not None:
            self.ctx.ring(summary)

    async def _read_loop(self) -> None:
        while await self._read_some():
            self.screen.redraw()
        await self._drain_outbox()

    async def _read_some(self) -> bool:
        """Handle what was typed since last time; False when it is time to leave."""
        keys = await self.keys.get()
        if keys is None:
            return False  # the terminal is gone
        for line in self.editor.feed(keys):
            if line is EOF:
                return False
            self.screen.entered(line)
            text = line.strip()
            if text.startswith("/"):
                name, _, rest = text.partition(" ")
                command = self.commands.get(name)
                if command is None:
                    self.notice(f"unknown command {name}; /help lists them")
                elif not await command(rest.strip()):
                    return False
            elif text:
                room = None if self.room == "general" else self.room
                self._enqueue(Outgoing(text=line, room=room, key=new_idempotency_key()))
        return True

    def _enqueue(self, item: Outgoing) -> None:
        self.unsent += 1
        self.outbox.put_nowait(item)

    async def _drain_outbox(self) -> None:
        # Nothing typed is lost: leaving waits for the sends still under way.
        if self.unsent:
            self.notice("sending what you typed before leaving (Ctrl-C drops it)")
            await self.outbox.join()

    async def _send_loop(self) -> None:
        backoff = Backoff()
        while True:
            item = await self.outbox.get()
            try:
                await retrying(partial(self._send, item), self.notice, backoff=backoff)
            except ApiError as exc:
                self.notice(f"not sent: {refusal_text(exc)}")
                if exc.code == "unauthorized":
                    raise  # the session is over: nothing more can be sent or received
            except HttpClientError as exc:
                self.notice(f"not sent: {exc}")
            finally:
                self.unsent -= 1
                self.outbox.task_done()

    async def _send(self, item: Outgoing) -> None:
        await self.cmd_api.send(item.text, room=item.room, to=item.to, idempotency_key=item.key)

    async def _cmd_room(self, arg: str) -> bool:
        if not arg:
            label = self.display.label(self.room)
            self.notice(f"current room: {label} ({self.room}); /room <room> switches")
            return True
        try:
            room = await self.book.resolve(arg)
            page = await self.cmd_api.history(room, limit=HISTORY_DEFAULT)
        except UsageError as exc:
            self.notice(str(exc))
            return True
        except (ApiError, HttpClientError) as exc:
            hint = ""
            if isinstance(exc, ApiError) and exc.code == "not_found" and arg.startswith("@"):
                hint = f" (/msg {arg[1:]} <text> starts a conversation)"
            self.notice(f"cannot switch to {room}: {_why(exc)}{hint}")
            return True
        self.room = room
        self.notice(f"now in {self.display.label(room)}")
        for message in reversed(page.messages):
            self._shown(message.room, message.id)
            self.screen.show(message_line(message, self.display))
        return True

    async def _cmd_msg(self, arg: str) -> bool:
        user, _, text = arg.partition(" ")
        if not user or not text.strip():
            self.notice("usage: /msg <user> <text>")
            return True
        self._enqueue(Outgoing(text=text, to=user, key=new_idempotency_key()))
        return True

    async def _fetch_status(self) -> Status | None:
        try:
            return await self.cmd_api.status()
        except (ApiError, HttpClientError) as exc:
            self.notice(f"cannot get the status: {_why(exc)}")
            return None

    async def _cmd_rooms(self, arg: str) -> bool:
        info = await self._fetch_status()
        if info is not None:
            self.book.learn(info.rooms)
        for line in room_lines(info.rooms, self.display) if info else ():
            self.screen.show(line)
        return True

    async def _cmd_status(self, arg: str) -> bool:
        info = await self._fetch_status()
        for line in status_lines(info, self.session.server) if info else ():
            self.screen.show(line)
        return True

    async def _cmd_who(self, arg: str) -> bool:
        info = await self._fetch_status()
        if info is not None:
            self.online = info.online
            self.screen.show(f"online: {', '.join(info.online) or '-'}")
            for line in status_lines(info, self.session.server):
                if line.startswith("last seen: "):
                    self.screen.show(line)
        return True

    async def _cmd_history(self, arg: str) -> bool:
        limit = int(arg) if arg.isdecimal() and 0 < int(arg) <= 500 else HISTORY_DEFAULT
        try:
            page = await self.cmd_api.history(self.room, limit=limit)
        except (ApiError, HttpClientError) as exc:
            self.notice(f"cannot show the history: {_why(exc)}")
            return True
        for message in reversed(page.messages):
            self._shown(message.room, message.id)
            self.screen.show(message_line(message, self.display))
        return True

    async def _cmd_help(self, arg: str) -> bool:
        for line in (HELP + "\n" + SLASH_HELP).splitlines():
            self.screen.show(line)
        return True

    async def _cmd_quit(self, arg: str) -> bool:
        return False


async def run(ctx: Context) -> int:
    """Interactive mode for the profile's stored session (exit status)."""
    session = ctx.load()
    # Two connections: a send must never wait behind a parked long poll.
    async with (
        session_api(ctx, session, SessionApi) as cmd_api,
        session_api(ctx, session, SessionApi) as poll_api,
    ):
        return await Interactive(ctx, session, cmd_api, poll_api).run()
