"""`chat` argument handling in-process: help texts, usage errors, not connected."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.cli import main

SUBCOMMANDS = ("connect", "send", "history", "status", "rooms", "watch", "disconnect")


def test_the_main_help_lists_every_subcommand_and_the_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert f"    {name} " in out
    assert "3 cannot reach the server" in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_its_own_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: chat {name}")
    description = out.split("\n\n")[1]
    assert len(description.split()) > 8  # a sentence or two, not just the summary


@pytest.mark.parametrize(
    "argv",
    [
        ["history", "--limit", "0"],
        ["history", "--limit", "501"],
        ["history", "--before", "x"],
        ["watch", "--poll", "61"],
        ["watch", "--count", "-1"],
        ["--profile", "../etc", "status"],
        ["--timeout", "0", "status"],
        ["send"],
        ["send", "--room", "g1", "--to", "bob", "hi"],
        ["connect"],
        ["nonsense"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: chat" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["status"], ["send", "hi"], ["watch"], ["disconnect"]])
def test_commands_need_a_connected_profile(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CHAT_HOME", str(tmp_path))
    assert main(["--profile", "work", *argv]) == 2
    err = capsys.readouterr().err
    assert err == (
        "chat: profile 'work' is not connected; run `chat connect NAME [--server URL]` first\n"
    )


def test_a_broken_session_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHAT_HOME", str(tmp_path))
    (tmp_path / "default.json").write_text("{not json")
    assert main(["status"]) == 1
    assert capsys.readouterr().err == f"chat: {tmp_path / 'default.json'} is not valid JSON\n"
