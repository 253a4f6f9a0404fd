"""The blob store: uploads stream in durably by SHA-256, within a limit, or leave nothing."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.blobs import TMP_DIR_NAME, BlobStore, BlobTooLargeError, StoredBlob

KIB = 1024
MAX_BYTES = 5 * KIB * KIB  # the API's default limit


class ClientWentAwayError(ConnectionResetError):
    pass


async def chunks_of(data: bytes, chunk_bytes: int = 64 * KIB) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk_bytes):
        await asyncio.sleep(0)
        yield data[start : start + chunk_bytes]


async def from_list(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def endless(chunk_bytes: int) -> AsyncIterator[bytes]:
    while True:
        yield b"x" * chunk_bytes


async def failing_after(data: bytes, error: BaseException) -> AsyncIterator[bytes]:
    async for chunk in chunks_of(data):
        yield chunk
    raise error


def stored_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_file())


def temp_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / TMP_DIR_NAME).iterdir())


async def read_all(store: BlobStore, sha256: str, chunk_bytes: int = 64 * KIB) -> bytes:
    return b"".join([chunk async for chunk in store.read(sha256, chunk_bytes=chunk_bytes)])


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


# ---- storing and reading back -----------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, 64 * KIB - 1, 64 * KIB, 64 * KIB + 1, MAX_BYTES - 1, MAX_BYTES]
)
def test_bytes_come_back_as_stored(tmp_path: Path, size: int) -> None:
    data = random_bytes(size, seed=size)
    store = BlobStore(tmp_path / "blobs", max_bytes=MAX_BYTES)

    async def scenario() -> tuple[StoredBlob, bytes]:
        blob = await store.store(chunks_of(data))
        return blob, await read_all(store, blob.sha256)

    blob, read_back = asyncio.run(scenario())

    assert blob == StoredBlob(sha256=hashlib.sha256(data).hexdigest(), size=size)
    assert read_back == data
    assert store.has(blob.sha256)
    assert store.path(blob.sha256).read_bytes() == data
    assert stored_files(store.root) == [blob.sha256]
    assert temp_files(store.root) == []


def test_the_store_creates_its_directories(tmp_path: Path) -> None:
    root = tmp_path / "data" / "blobs"
    store = BlobStore(root, max_bytes=10)
    assert (root / TMP_DIR_NAME).is_dir()
    assert store.root == root
    assert store.max_bytes == 10
    BlobStore(root, max_bytes=10)  # a second start on the same directory is fine


def test_a_negative_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        BlobStore(tmp_path, max_bytes=-1)


def test_reading_yields_chunks_of_the_asked_size(tmp_path: Path) -> None:
    data = random_bytes(10 * KIB + 7)
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)

    async def scenario() -> list[bytes]:
        blob = await store.store(from_list([data]))
        return [chunk async for chunk in store.read(blob.sha256, chunk_bytes=KIB)]

    chunks = asyncio.run(scenario())
    assert [len(c) for c in chunks] == [KIB] * 10 + [7]
    assert b"".join(chunks) == data


def test_reading_a_missing_blob_fails_before_any_bytes(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)
    missing = hashlib.sha256(b"never stored").hexdigest()

    async def scenario() -> None:
        reader = store.read(missing)
        with pytest.raises(FileNotFoundError):
            await anext(reader)

    asyncio.run(scenario())
    assert not store.has(missing)


def test_a_reader_closed_early_closes_its_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)

    async def scenario() -> bytes:
        blob = await store.store(from_list([random_bytes(100 * KIB)]))
        reader = store.read(blob.sha256, chunk_bytes=KIB)
        first = await anext(reader)
        await reader.aclose()  # a leaked file would fail the test (ResourceWarning)
        return first

    assert len(asyncio.run(scenario())) == KIB


def _descriptors_open_on(path: Path) -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve()))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count open files")
def test_a_reader_abandoned_mid_file_is_closed_when_the_loop_ends(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)

    async def scenario() -> Path:
        blob = await store.store(from_list([random_bytes(100 * KIB)]))
        reader = store.read(blob.sha256, chunk_bytes=KIB)
        await anext(reader)
        assert _descriptors_open_on(store.path(blob.sha256)) == 1  # mid-file, left open
        return store.path(blob.sha256)

    path = asyncio.run(scenario())  # asyncio.run finalises the generator
    assert _descriptors_open_on(path) == 0


@pytest.mark.parametrize("chunk_bytes", [0, -1])
def test_reading_needs_a_positive_chunk_size(tmp_path: Path, chunk_bytes: int) -> None:
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)

    async def scenario() -> None:
        with pytest.raises(ValueError, match="chunk_bytes"):
            await anext(store.read("a" * 64, chunk_bytes=chunk_bytes))

    asyncio.run(scenario())


# ---- the limit --------------------------------------------------------------------------------


def test_one_byte_over_the_limit_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", max_bytes=MAX_BYTES)
    with pytest.raises(BlobTooLargeError) as caught:
        asyncio.run(store.store(chunks_of(random_bytes(MAX_BYTES + 1))))
    assert caught.value.max_bytes == MAX_BYTES
    assert stored_files(store.root) == []
    assert temp_files(store.root) == []


def test_an_endless_upload_is_stopped_as_soon_as_it_passes_the_limit(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)
    with pytest.raises(BlobTooLargeError):
        asyncio.run(store.store(endless(64 * KIB)))
    assert stored_files(store.root) == []
    assert temp_files(store.root) == []


def test_a_zero_limit_takes_only_empty_files(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=0)
    assert asyncio.run(store.store(from_list([b"", b""]))).size == 0
    with pytest.raises(BlobTooLargeError):
        asyncio.run(store.store(from_list([b"x"])))


# ---- deduplication ----------------------------------------------------------------------------


def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    data = random_bytes(300 * KIB)
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)

    async def scenario() -> list[StoredBlob]:
        first = await store.store(chunks_of(data, 1000))
        second = await store.store(chunks_of(data, 64 * KIB))
        concurrent = await asyncio.gather(*(store.store(chunks_of(data)) for _ in range(4)))
        return [first, second, *concurrent]

    blobs = asyncio.run(scenario())
    assert len(set(blobs)) == 1
    assert stored_files(store.root) == [blobs[0].sha256]
    assert temp_files(store.root) == []
    assert store.path(blobs[0].sha256).read_bytes() == data


def test_a_damaged_copy_is_replaced_by_a_new_upload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = random_bytes(10 * KIB)
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)
    blob = asyncio.run(store.store(from_list([data])))
    store.path(blob.sha256).write_bytes(data[:100])  # say, a disk that lost the tail

    with caplog.at_level(logging.WARNING, logger="app.blobs"):
        assert asyncio.run(store.store(from_list([data]))) == blob
    assert store.path(blob.sha256).read_bytes() == data
    assert "replaced" in caplog.text


# ---- failures leave nothing behind ------------------------------------------------------------


@pytest.mark.parametrize("sent", [0, 1, 64 * KIB, 600 * KIB])
def test_a_client_that_goes_away_leaves_nothing(tmp_path: Path, sent: int) -> None:
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)
    with pytest.raises(ClientWentAwayError):
        asyncio.run(store.store(failing_after(random_bytes(sent), ClientWentAwayError())))
    assert stored_files(store.root) == []
    assert temp_files(store.root) == []


def test_an_upload_cancelled_at_any_moment_leaves_a_blob_or_nothing(tmp_path: Path) -> None:
    """Cancel after 0, 1, 2, ... loop steps: in chunk waits, file writes, fsync and rename."""
    data = random_bytes(700 * KIB)
    sha256 = hashlib.sha256(data).hexdigest()
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)

    async def cancelled_after(steps: int) -> bool:
        upload = asyncio.create_task(store.store(chunks_of(data, 32 * KIB)))
        for _ in range(steps):
            await asyncio.sleep(0)
        upload.cancel()
        try:
            await upload
        except asyncio.CancelledError:
            return False
        return True

    async def scenario() -> list[bool]:
        outcomes: list[bool] = []
        steps = 0
        while not any(outcomes):  # until the upload is fast enough to finish
            assert len(outcomes) < 500, "an upload never finished"
            outcomes.append(await cancelled_after(steps))
            assert temp_files(store.root) == []
            assert stored_files(store.root) in ([], [sha256])
            if store.has(sha256):
                assert store.path(sha256).read_bytes() == data
                store.path(sha256).unlink()
            steps += 1 + steps // 10
        return outcomes

    outcomes = asyncio.run(scenario())
    assert outcomes.count(False) > 10  # cancelled at many points before it finished


def test_an_upload_past_its_deadline_raises_timeout_and_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)

    async def slow_client() -> AsyncIterator[bytes]:
        yield random_bytes(300 * KIB)  # one full write buffer reaches the disk
        await asyncio.sleep(3600)
        yield b"never"

    async def scenario() -> None:
        async with asyncio.timeout(0.2):
            await store.store(slow_client())

    with pytest.raises(TimeoutError):
        asyncio.run(scenario())
    assert stored_files(store.root) == []
    assert temp_files(store.root) == []


def test_a_download_cancelled_at_any_moment_closes_its_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)

    async def download(sha256: str) -> None:
        async for _ in store.read(sha256, chunk_bytes=KIB):
            pass

    async def scenario() -> None:
        blob = await store.store(from_list([random_bytes(64 * KIB)]))
        for steps in range(0, 200, 3):
            reading = asyncio.create_task(download(blob.sha256))
            for _ in range(steps):
                await asyncio.sleep(0)
            reading.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reading

    asyncio.run(scenario())  # an unclosed file would fail the test (ResourceWarning)


# ---- orphans ----------------------------------------------------------------------------------


def test_orphans_and_unfinished_uploads_are_removed_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "blobs"
    store = BlobStore(root, max_bytes=MAX_BYTES)

    async def upload_all() -> list[StoredBlob]:
        return [await store.store(from_list([f"file {n}".encode()])) for n in range(4)]

    kept_1, orphan_1, kept_2, orphan_2 = asyncio.run(upload_all())
    (root / TMP_DIR_NAME / "0123.part").write_bytes(b"cut short by a crash")
    (root / "README").write_text("not a blob")

    restarted = BlobStore(root, max_bytes=MAX_BYTES)
    referenced = [kept_1.sha256, kept_2.sha256, hashlib.sha256(b"gone").hexdigest()]
    with caplog.at_level(logging.INFO, logger="app.blobs"):
        assert restarted.remove_orphans(referenced) == 3

    assert stored_files(root) == sorted([kept_1.sha256, kept_2.sha256, "README"])
    assert temp_files(root) == []
    assert not restarted.has(orphan_1.sha256)
    assert not restarted.has(orphan_2.sha256)
    assert "removed 3" in caplog.text
    assert "README is not a blob" in caplog.text
    assert restarted.remove_orphans(referenced) == 0


def test_nothing_referenced_removes_every_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)
    asyncio.run(store.store(from_list([b"a"])))
    assert store.remove_orphans(set()) == 1
    assert stored_files(store.root) == []


# ---- hashes as names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "abc",
        "A" * 64,
        "g" * 64,
        "a" * 63,
        "a" * 65,
        "a" * 64 + "\n",
        "../" + "a" * 61,
        "tmp",
        "a" * 32 + "/" + "a" * 31,
    ],
)
def test_a_malformed_sha256_is_refused(tmp_path: Path, bad: str) -> None:
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)
    with pytest.raises(ValueError, match="SHA-256"):
        store.path(bad)
    with pytest.raises(ValueError, match="SHA-256"):
        store.has(bad)

    async def read_bad() -> None:
        with pytest.raises(ValueError, match="SHA-256"):
            await anext(store.read(bad))

    asyncio.run(read_bad())


def test_the_path_of_a_blob_is_its_sha256_under_the_root(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)
    digest = hashlib.sha256(b"").hexdigest()
    assert store.path(digest) == tmp_path / digest
    assert not store.has(digest)


# ---- bounded memory ---------------------------------------------------------------------------


def test_memory_stays_bounded_whatever_the_file_size(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_bytes=MAX_BYTES)
    chunk = random_bytes(64 * KIB)

    async def upload() -> AsyncIterator[bytes]:
        for _ in range(MAX_BYTES // len(chunk)):
            yield chunk  # the same object: the source holds 64 KiB, not 5 MiB

    async def scenario() -> tuple[int, int]:
        tracemalloc.start()
        try:
            blob = await store.store(upload())
            _, upload_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            total = 0
            async for piece in store.read(blob.sha256):
                total += len(piece)
            _, download_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert total == MAX_BYTES
        return upload_peak, download_peak

    upload_peak, download_peak = asyncio.run(scenario())
    assert upload_peak < 1024 * KIB, upload_peak  # 256 KiB buffer + a chunk, not 5 MiB
    assert download_peak < 512 * KIB, download_peak


# ---- property ---------------------------------------------------------------------------------


@given(st.lists(st.binary(max_size=3000), max_size=20))
def test_any_chunks_store_their_concatenation(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[bytes]
) -> None:
    store = BlobStore(tmp_path_factory.mktemp("blobs"), max_bytes=30_000)
    data = b"".join(pieces)

    async def scenario() -> tuple[StoredBlob, bytes]:
        blob = await store.store(from_list(pieces))
        return blob, await read_all(store, blob.sha256, chunk_bytes=1000)

    blob, read_back = asyncio.run(scenario())
    assert blob == StoredBlob(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    assert read_back == data
    assert stored_files(store.root) == [blob.sha256]
    assert temp_files(store.root) == []


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=10), st.integers(0, 200))
def test_any_upload_over_the_limit_leaves_nothing(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[bytes], max_bytes: int
) -> None:
    store = BlobStore(tmp_path_factory.mktemp("blobs"), max_bytes=max_bytes)
    size = sum(map(len, pieces))

    async def scenario() -> StoredBlob | None:
        try:
            return await store.store(from_list(pieces))
        except BlobTooLargeError:
            return None

    blob = asyncio.run(scenario())
    assert (blob is None) == (size > max_bytes)
    assert stored_files(store.root) == ([] if blob is None else [blob.sha256])
    assert temp_files(store.root) == []


# ---- the event loop never touches the disk ----------------------------------------------------

# Run in a child process: audit hooks (PEP 578) cannot be removed once added.
OFF_LOOP_SCRIPT = """
import asyncio, sys, threading
from pathlib import Path
from app.blobs import BlobStore

root = Path(sys.argv[1])
store = BlobStore(root, max_bytes=1 << 20)
loop_thread = threading.get_ident()
on_loop = []
off_loop = set()
watched = {"open", "os.rename", "os.remove"}  # os.replace audits as os.rename

def hook(event, args):
    if event in watched and str(root) in str(args):
        if threading.get_ident() == loop_thread:
            on_loop.append(event)
        else:
            off_loop.add(event)

async def chunks(n):
    for _ in range(n):
        yield b"x" * 100_000

async def main():
    sys.addaudithook(hook)
    first = await store.store(chunks(5))
    await store.store(chunks(5))  # deduplicated: the temp file is removed
    try:
        await store.store(chunks(20))
    except Exception:
        pass  # too large: the temp file is removed
    async for _ in store.read(first.sha256):
        pass
    print("on the loop thread:", on_loop, "in workers:", sorted(off_loop))
    sys.exit(1 if on_loop or off_loop != watched else 0)

asyncio.run(main())
"""


def test_files_are_opened_renamed_and_removed_off_the_event_loop(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", OFF_LOOP_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
