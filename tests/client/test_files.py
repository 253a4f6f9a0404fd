"""`chat upload` and `chat download` against a real `chat-server`: streamed both ways,
checked by SHA-256, refused where they must be."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import mimetypes
import os
import re
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from client import files
from client.api import ApiError
from client.context import Context
from client.files import FilesApi
from client.files_local import Progress, file_chunks
from client.http import HttpClient, Origin
from client.state import StateStore
from client.streaming import BodyLengthError
from tests.client.real_server import ChatServer, connect
from tests.client.support import ok, one_json, refused, run_chat

MIB = 1024 * 1024


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_and_download_round_trip(tmp_path: Path, server: ChatServer) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    connect(alice, server, "alice")
    connect(bob, server, "bob")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(MIB))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    odd = tmp_path / "отчёт 1.txt"
    odd.write_text("привет\n", encoding="utf-8")

    saved = tmp_path / "saved"
    saved.mkdir()
    for source in (big, empty, odd):
        message = one_json(run_chat(alice, "upload", str(source), "--json"))
        assert message["room"] == "general"
        assert message["file"]["name"] == source.name
        assert message["file"]["size"] == source.stat().st_size
        assert message["file"]["sha256"] == sha256(source)
        got = one_json(run_chat(bob, "download", str(message["id"]), "-o", str(saved), "--json"))
        target = saved / source.name  # a directory: saved under the file's own name
        assert got["path"] == str(target)
        assert got["sha256"] == sha256(target) == sha256(source)
        assert got["size"] == source.stat().st_size
    assert sorted(p.name for p in saved.iterdir()) == sorted([big.name, empty.name, odd.name])

    text = one_json(run_chat(alice, "upload", str(odd), "--to", "bob", "--json"))
    assert text["room"] == "dm:alice:bob"
    assert text["file"]["content_type"].startswith("text/plain")
    to_stdout = ok(run_chat(bob, "download", str(text["id"]), "-o", "-"))
    assert to_stdout.out == "привет\n"
    assert run_chat(bob, "download", str(text["id"]), "-o", "-", "--json").rc == 2
    human = ok(run_chat(alice, "upload", str(empty), "--text", "see attached"))
    # The id to download it by, its name and its size, in human output.
    assert re.search(
        r" #[0-9]+ \[general\] alice: see attached \[file: empty\.txt, 0 B\]$", human.out.rstrip()
    ), human.out
    renamed = one_json(run_chat(alice, "upload", str(big), "--name", "data.csv", "--json"))
    assert renamed["file"]["name"] == "data.csv"
    assert renamed["file"]["content_type"] == "text/csv"  # the type follows the name given

    # Never overwrites without --force; the file stays as it was.
    exists = saved / big.name
    exists.write_bytes(b"mine")
    message_id = str(
        one_json(run_chat(alice, "history", "--json", "--limit", "5"))["messages"][4]["id"]
    )
    refused(run_chat(bob, "download", message_id, "-o", str(exists)), "--force")
    refused(run_chat(bob, "download", message_id, "-o", str(saved)), "--force")
    assert exists.read_bytes() == b"mine"
    ok(run_chat(bob, "download", message_id, "-o", str(exists), "--force"))
    assert sha256(exists) == sha256(big)
    in_the_way = tmp_path / "other"
    (in_the_way / big.name).mkdir(parents=True)  # a directory where the file would go
    refused(run_chat(bob, "download", message_id, "-o", str(in_the_way), "--force"), "cannot write")
    for directory in (saved, in_the_way):
        assert [p.name for p in directory.iterdir() if p.name.startswith(".")] == []  # no .part


def test_download_is_refused_to_a_non_member(tmp_path: Path, server: ChatServer) -> None:
    alice, bob, carol = tmp_path / "alice", tmp_path / "bob", tmp_path / "carol"
    for home, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        connect(home, server, name)
    secret = tmp_path / "plan.txt"
    secret.write_text("the plan")
    gid = one_json(run_chat(alice, "rooms", "create", "inner", "--members", "bob", "--json"))[
        "room"
    ]["id"]
    message = one_json(run_chat(alice, "upload", str(secret), "--room", gid, "--json"))
    out = tmp_path / "out"
    out.mkdir()
    refused(run_chat(carol, "download", str(message["id"]), "-o", str(out)))
    refused(run_chat(carol, "upload", str(secret), "--room", gid))
    refused(run_chat(carol, "download", "999999", "-o", str(out)))
    assert list(out.iterdir()) == []  # nothing written, not even a partial file
    ok(run_chat(bob, "download", str(message["id"]), "-o", str(out)))
    assert (out / "plan.txt").read_text() == "the plan"


def test_upload_refusals(tmp_path: Path, server: ChatServer) -> None:
    alice = tmp_path / "alice"
    connect(alice, server, "alice")
    too_big = tmp_path / "huge.bin"
    with too_big.open("wb") as file:
        file.truncate(5 * MIB + 1)  # one byte over the server's default limit
    # Checked before a byte is sent: the size, the limit, and that nothing went.
    refused(
        run_chat(alice, "upload", str(too_big)),
        "5242881 bytes",
        "at most 5242880 bytes",
        "nothing was sent",
    )
    missing = run_chat(alice, "upload", str(tmp_path / "nope.bin"))
    assert missing.rc == 2
    assert "cannot read" in missing.err
    directory = run_chat(alice, "upload", str(tmp_path))
    assert directory.rc == 2
    assert one_json(run_chat(alice, "history", "--json"))["messages"] == []


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_chunked_upload_of_unknown_size_is_stored_or_refused_past_the_limit(
    tmp_path: Path, server: ChatServer
) -> None:
    home = tmp_path / "alice"
    connect(home, server, "alice")
    session = StateStore(home, "default").load()
    assert session is not None
    data = os.urandom(MIB + 3)

    async def scenario() -> tuple[str, ApiError]:
        async with HttpClient(Origin.parse(session.server)) as http:
            api = FilesApi(http, session.token)
            stored = await api.upload(
                pieces(data, 50_000), name="stream.bin", size=None, idempotency_key="k1"
            )
            assert stored.raw["file"]["size"] == len(data)
            with pytest.raises(ApiError) as refused:
                await api.upload(
                    pieces(b"\0" * (6 * MIB), 65536),
                    name="huge.bin",
                    size=None,
                    idempotency_key="k2",
                )
            return stored.raw["file"]["sha256"], refused.value

    digest, too_large = asyncio.run(scenario())
    assert digest == hashlib.sha256(data).hexdigest()
    assert (too_large.status, too_large.code) == (413, "too_large")


def test_a_file_that_changes_while_it_is_sent(tmp_path: Path, server: ChatServer) -> None:
    home = tmp_path / "alice"
    connect(home, server, "alice")
    session = StateStore(home, "default").load()
    assert session is not None
    grown = tmp_path / "log.txt"
    grown.write_bytes(b"0123456789")

    async def scenario() -> list[bytes]:
        with grown.open("rb") as file:
            chunks = file_chunks(file, 4, Progress(io.StringIO(), "x", 4))
            sent = [chunk async for chunk in chunks]
        async with HttpClient(Origin.parse(session.server)) as http:
            api = FilesApi(http, session.token)
            with pytest.raises(BodyLengthError):  # it shrank: the length declared is not met
                await api.upload(pieces(b"short", 2), name="a.txt", size=10, idempotency_key="k")
        return sent

    assert b"".join(asyncio.run(scenario())) == b"0123"  # it grew: what it held at the start
    assert one_json(run_chat(home, "history", "--json"))["messages"] == []  # nothing stored


def test_uploads_and_downloads_never_hold_the_file_in_memory(
    tmp_path: Path, server: ChatServer
) -> None:
    home = tmp_path / "alice"
    connect(home, server, "alice")
    source = tmp_path / "four.bin"
    source.write_bytes(os.urandom(4 * MIB))
    out = tmp_path / "out"
    out.mkdir()
    output = io.StringIO()
    ctx = Context(store=StateStore(home, "default"), out=output, err=io.StringIO(), json=True)

    async def transfer() -> None:
        assert await files.upload(ctx, path=source, room=None, to=None) == 0
        message = json.loads(output.getvalue())["id"]
        assert await files.download(ctx, message=message, output=str(out), force=False) == 0

    mimetypes.guess_type("warm.txt")  # loads the system's type table once
    tracemalloc.start()
    try:
        asyncio.run(transfer())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sha256(out / "four.bin") == sha256(source)
    # Holding the file would take 4 MiB at least; streaming takes chunks (~0.8 MiB seen,
    # most of it the first use of asyncio's machinery).
    assert peak < 2 * MIB, f"{peak} bytes at the peak for a {4 * MIB}-byte file"
