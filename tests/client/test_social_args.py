"""Argument handling of the room, link, comment, report, schedule and file subcommands,
in-process: help texts, usage errors (exit 2), a profile that is not connected."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.cli import main

SUBCOMMANDS = (
    "join", "requests", "approve", "reject", "leave", "comment", "comments", "report",
    "schedule", "scheduled", "cancel", "upload", "download",
)  # fmt: skip
ROOM_ACTIONS = ("list", "create", "invite", "link", "revoke")


def test_the_main_help_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert f"    {name} " in out


@pytest.mark.parametrize(
    "argv", [[name] for name in SUBCOMMANDS] + [["rooms", action] for action in ROOM_ACTIONS]
)
def test_each_has_help_that_explains_it(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: chat {' '.join(argv)}")
    description = out.split("\n\n")[1]
    assert len(description.split()) > 8


def test_rooms_help_lists_its_actions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rooms", "--help"]) == 0
    out = capsys.readouterr().out
    for action in ROOM_ACTIONS:
        assert f"    {action} " in out


@pytest.mark.parametrize(
    "argv",
    [
        ["rooms", "create"],
        ["rooms", "invite", "g1"],
        ["rooms", "link"],
        ["rooms", "revoke", "g1"],
        ["rooms", "nonsense"],
        ["join"],
        ["approve", "g1"],
        ["comment", "abc", "text"],
        ["comment", "0", "text"],
        ["comment", "5"],
        ["comments", "-1"],
        ["schedule", "text"],
        ["schedule", "--at", "12:00", "--in", "5m", "text"],
        ["schedule", "--in", "5m", "--room", "g1", "--to", "bob", "text"],
        ["cancel", "x"],
        ["upload"],
        ["upload", "f", "--room", "g1", "--to", "bob"],
        ["download"],
        ["download", "1.5"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: chat" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["schedule", "--in", "soon", "text"],
        ["schedule", "--in", "0", "text"],
        ["schedule", "--at", "not a time", "text"],
        ["join", "/join/"],
    ],
)
def test_values_that_do_not_parse_exit_2_in_one_line(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CHAT_HOME", str(tmp_path))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("chat: ")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["rooms", "create", "x"],
        ["rooms", "link", "g1"],
        ["join", "tok"],
        ["requests", "g1"],
        ["comment", "1", "hi"],
        ["scheduled"],
        ["upload", "f"],
        ["download", "1"],
    ],
)
def test_they_need_a_connected_profile(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CHAT_HOME", str(tmp_path))
    assert main(argv) == 2
    assert "is not connected" in capsys.readouterr().err
