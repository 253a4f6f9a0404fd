"""Reports and the ban they bring, through `chat` (in this process) against a real
`chat-server`."""

from __future__ import annotations

from pathlib import Path

from tests.client.real_server import ChatServer, connect
from tests.client.support import ok, one_json, refused, run_chat


def test_three_reports_ban_the_user_from_sending(tmp_path: Path, server: ChatServer) -> None:
    names = ("eve", "r1", "r2", "r3")
    homes = {name: tmp_path / name for name in names}
    for name in names:
        connect(homes[name], server, name)
    ok(run_chat(homes["eve"], "send", "before the reports"))
    refused(run_chat(homes["eve"], "report", "eve"))  # reporting yourself
    refused(run_chat(homes["r1"], "report", "nobody"))
    first = one_json(run_chat(homes["r1"], "report", "eve", "--reason", "spam", "--json"))
    assert first == {"user": "eve", "banned": False}
    assert "reported eve" in ok(run_chat(homes["r1"], "report", "eve")).out  # counts once
    assert one_json(run_chat(homes["r2"], "report", "eve", "--json"))["banned"] is False
    third = ok(run_chat(homes["r3"], "report", "eve"))
    assert "banned" in third.out

    sent = refused(run_chat(homes["eve"], "send", "after the reports"), "banned")
    assert sent.err.startswith("chat: ")
    refused(run_chat(homes["eve"], "schedule", "--in", "1h", "later"), "banned")
    ok(run_chat(homes["r1"], "send", "others still send"))
    # What eve's watch prints from her connect on, one event at a time, up to the ban.
    lines: list[str] = []
    for _ in range(12):
        lines += ok(run_chat(homes["eve"], "watch", "--count", "1")).out.splitlines()
        if lines and "banned" in lines[-1]:
            break
    assert any(line.endswith("[general] eve: before the reports") for line in lines), lines
    assert "* you are banned from sending until " in lines[-1]
