"""The local side of transfers: names from the server made safe, the progress line,
and the last step of a download."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from client.files_local import (
    MAX_NAME_BYTES,
    Progress,
    RefusedError,
    disposition_name,
    move_into_place,
    safe_file_name,
)
from transport.api.disposition import content_disposition

MIB = 1024 * 1024


@given(st.text(min_size=1, max_size=300))
def test_a_file_name_from_the_server_is_recovered_from_its_header(name: str) -> None:
    assert disposition_name(content_disposition(name)) == name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ('attachment; filename="a b.txt"', "a b.txt"),
        ('attachment; filename="q\\"uote.txt"', 'q"uote.txt'),
        ("attachment; filename=plain.txt", "plain.txt"),
        ("attachment; filename*=UTF-8''%D0%B0.txt; filename=\"_.txt\"", "\u0430.txt"),
        ("attachment", None),
        (None, None),
        ("attachment; filename*=latin1''x.txt", None),
    ],
)
def test_content_disposition_values(header: str | None, name: str | None) -> None:
    assert disposition_name(header) == name


@given(st.text(max_size=400))
def test_a_safe_file_name_is_one_plain_name(name: str) -> None:
    safe = safe_file_name(name, "fallback")
    assert safe
    assert "/" not in safe
    assert "\\" not in safe
    assert not safe.startswith(".")
    assert safe not in {".", ".."}
    assert len(safe.encode()) <= MAX_NAME_BYTES
    assert all(unicodedata.category(c) not in {"Cc", "Cf", "Cs", "Zl", "Zp"} for c in safe)
    assert safe_file_name(safe, "fallback") == safe


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        (".bashrc", "bashrc"),
        ("..", "file-1"),
        ("", "file-1"),
        ("evil\u202etxt.exe", "evil_txt.exe"),
        ("line\nbreak.txt", "line_break.txt"),
        ("отчёт 1.txt", "отчёт 1.txt"),
    ],
)
def test_file_names_that_would_be_dangerous(name: str, safe: str) -> None:
    assert safe_file_name(name, "file-1") == safe


def test_a_long_name_keeps_its_extension() -> None:
    safe = safe_file_name("ж" * 300 + ".tar", "f")
    assert safe.endswith(".tar")
    assert len(safe.encode()) <= MAX_NAME_BYTES


@given(st.text(max_size=200))
def test_any_content_disposition_gives_a_name_or_none(value: str) -> None:
    name = disposition_name("attachment; " + value)
    assert name is None or isinstance(name, str)
    if name is not None:
        assert safe_file_name(name, "f")  # and it can always be made safe


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_for_large_files_only() -> None:
    terminal = FakeTerminal()
    progress = Progress(terminal, "uploading big.bin", 4 * MIB)
    for _ in range(4):
        progress.add(MIB)
    progress.finish()
    drawn = terminal.getvalue()
    assert drawn.startswith("\r\x1b[Kuploading big.bin: 1.0 MiB of 4.0 MiB (25%)")
    assert drawn.endswith("\r\x1b[Kuploading big.bin: 4.0 MiB of 4.0 MiB (100%)\n")
    small = FakeTerminal()
    quiet = Progress(small, "uploading small.txt", 1000)
    quiet.add(1000)
    quiet.finish()
    piped = io.StringIO()
    hidden = Progress(piped, "uploading big.bin", 4 * MIB)
    hidden.add(4 * MIB)
    hidden.finish()
    assert small.getvalue() == piped.getvalue() == ""


def test_the_last_step_never_replaces_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    part, dest = tmp_path / ".part", tmp_path / "report.pdf"
    part.write_bytes(b"downloaded")
    dest.write_bytes(b"written by someone else during the download")
    with pytest.raises(RefusedError, match="--force"):
        move_into_place(part, dest, force=False)
    assert dest.read_bytes() == b"written by someone else during the download"
    move_into_place(part, dest, force=True)
    assert dest.read_bytes() == b"downloaded"
    assert not part.exists()
